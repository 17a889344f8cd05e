"""Generic value, ordering, pick and linkage-quality derivations any panel can use.

Value derivations compute one panel column on the panel row. The identity ones (`age_in_period`,
`postcode_prefix`) are how an identity value reaches a panel at all: generalised in the same
SQL expression that reads it, so the value itself is never a panel column.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from linkhaven.derivations.registry import DerivationError, Kind, Params, ValueContext, param, register
from linkhaven.sqlquote import lit

METHOD_RANK = {"unlinked": 0, "probabilistic": 1, "clerical": 2, "deterministic": 3}
"""Linkage methods from weakest to strongest; a row's quality is its weakest record's."""


def _field(context: ValueContext, name: str) -> str:
    if context.field is None:
        raise DerivationError(f"'{name}' needs the column's `field`")
    return context.field


@register("age_in_period", Kind.VALUE)
def age_in_period(context: ValueContext, params: Params) -> str:
    """Age on 31 December of the calendar year the row's period starts in, from a birth date.

    Without periods, give `as_of: YYYY-MM-DD`: the age in whole years on that day. The birth date
    is read from the base record's identity values and only the age is written.
    """
    born = _field(context, "age_in_period")
    if context.period_start is not None:
        return f"(year({context.period_start}) - year({born}))::SMALLINT"
    as_of = param(params, "as_of", required=True)
    try:
        day = dt.date.fromisoformat(str(as_of))
    except ValueError:
        raise DerivationError("'as_of' must be a date such as 2024-01-01") from None
    return f"date_sub('year', {born}, DATE {lit(day.isoformat())})::SMALLINT"


@register("postcode_prefix", Kind.VALUE)
def postcode_prefix(context: ValueContext, params: Params) -> str:
    """The first `length` characters of a postcode, upper case, spaces removed (Canadian FSA: 3).

    The postcode is read from the base record's identity values and only the prefix is written.
    """
    code = _field(context, "postcode_prefix")
    length = param(params, "length", required=True)
    if not isinstance(length, int) or length < 1:
        raise DerivationError("'length' must be a positive integer")
    return f"upper(left(regexp_replace({code}::VARCHAR, '\\s', '', 'g'), {length}))"


@register("cumulative_sum", Kind.VALUE)
def cumulative_sum(context: ValueContext, params: Params) -> str:
    """Running total of panel column `column` over the unit's periods up to and including the row's.

    Empty values count as 0 once the unit has had a value; empty until then.
    """
    column = param(params, "column", required=True)
    if context.window is None:
        raise DerivationError("a cumulative sum needs a panel with periods")
    value = context.column(str(column))
    w = context.window
    return f"CASE WHEN count({value}) OVER {w} = 0 THEN NULL ELSE sum(coalesce({value}, 0)) OVER {w} END"


@register("natural", Kind.ORDER)
def natural(value: str, _params: Params) -> str:
    """A field's values in their own order (numbers by size, text alphabetically, dates by time)."""
    return value


@register("link_method", Kind.QUALITY)
def link_method(mrank: str, _p: str) -> str:
    """The weakest linkage method among the records of the row (or of the unit's records of `source`)."""
    unrank = " ".join(f"WHEN {r} THEN {lit(m)}" for m, r in METHOD_RANK.items())
    return f"CASE {mrank} {unrank} END"


@register("link_probability", Kind.QUALITY)
def link_probability(_mrank: str, p: str) -> str:
    """The lowest match probability among the records of the row (or of the unit's records of `source`).

    A deterministic link has probability 1.
    """
    return p


def _latest(field: str, order: str | None) -> str:
    """The value of the record with the greatest `order_by` (a date, usually)."""
    return f"arg_max({field}, {_need(order, 'latest')})"


def _first(field: str, order: str | None) -> str:
    """The value of the record with the smallest `order_by`."""
    return f"arg_min({field}, {_need(order, 'first')})"


def _need(order: str | None, pick: str) -> str:
    if order is None:
        raise DerivationError(f"pick '{pick}' needs `order_by`")
    return order


PICKS: dict[str, Callable[[str, str | None], str]] = {
    "latest": _latest,
    "first": _first,
    "min": lambda field, _order: f"min({field})",
    "max": lambda field, _order: f"max({field})",
}
"""How a column takes one value from several records of a unit (and period). Besides these:
`any` (with `value`: whether any record holds that value, else false) and `exists` (whether the
unit has any record of the source in the period, else false)."""


def pick_sql(pick: str, field: str | None, order: str | None, value: str | None) -> str:
    """The aggregate of a pick over the records of one unit (and period)."""
    if pick == "exists":
        return "true"
    if field is None:
        raise DerivationError(f"pick '{pick}' needs a `field`")
    if pick == "any":
        if value is None:
            raise DerivationError("pick 'any' needs the `value` it looks for")
        return f"bool_or({field} = {lit(value)})"
    if pick not in PICKS:
        raise DerivationError(f"unknown pick '{pick}'; known: any, exists, {', '.join(PICKS)}")
    return PICKS[pick](field, order)
