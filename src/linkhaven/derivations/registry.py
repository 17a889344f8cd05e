"""The registry of named derivations and the small interfaces they are written against.

Five kinds, each a function registered under a name with its docstring as its documentation:

- `period`: the periods a panel has one row per (label, first and last day), e.g. school years;
- `order`: a ranking of a field's values, e.g. grades JK < K < 1 ... 12, for choosing one record;
- `value`: one panel column computed on the panel row (generalised identity values, running sums);
- `table`: several panel columns computed from one source's linked records, per unit and period
  or per unit, into a DuckDB table the panel joins (e.g. care status by school year);
- `quality`: a linkage-quality column from the weakest link among the records of a row.

Derivations produce DuckDB SQL text; they never see the workspace, and they read no identity
value except the ones a `value` derivation generalises at once. They must not import the spec
package (the spec validates names against this registry), so what they need of the spec comes
through the `SpecFacts` protocol.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import duckdb

Params = Mapping[str, Any]


class Kind(StrEnum):
    PERIOD = "period"
    ORDER = "order"
    VALUE = "value"
    TABLE = "table"
    QUALITY = "quality"


class WindowFacts(Protocol):
    """What a period derivation may read of the spec's `window:`."""

    @property
    def school_years(self) -> tuple[str, ...]: ...
    @property
    def start_date(self) -> dt.date: ...
    @property
    def end_date(self) -> dt.date: ...


class SpecFacts(Protocol):
    """What derivations may read of the project spec (code lists and the collection window)."""

    @property
    def code_lists(self) -> Mapping[str, Mapping[str, Any]]: ...
    @property
    def window(self) -> WindowFacts: ...


class DerivationError(ValueError):
    """A derivation's parameters do not fit; the message names the parameter, never a data value."""


@dataclass(frozen=True)
class Period:
    label: str
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class PeriodPlan:
    """The periods of a panel, in order, and the last day anything is counted (the window end)."""

    periods: tuple[Period, ...]
    window_end: dt.date


@dataclass(frozen=True)
class ColumnInfo:
    """A panel column as the data dictionary describes it."""

    name: str
    description: str
    origin: str


@dataclass(frozen=True)
class ValueContext:
    """SQL expressions a `value` derivation builds on: the row's field, its period, a column's neighbours.

    `field` is the (already typed) expression of the field the column names, `period_start` the first
    day of the row's period (None in a panel without periods), `window` the SQL window clause name
    ordering a unit's rows by period, and `column(name)` the expression of another panel column.
    """

    field: str | None
    period_start: str | None
    window: str | None
    column: Callable[[str], str]


@dataclass(frozen=True)
class TableContext:
    """What a `table` derivation builds from, inside the panel builder's DuckDB connection.

    `source` is a table of the column's source, one row per linked record: `person_key`,
    `record_code`, `mrank` (linkage method rank, 3 = deterministic), `p` (match probability,
    1 for deterministic links), every field it reads by its spec name and type, and `__period`
    (the record's period label) when the source names a period field. `periods` is a table of
    `period`, `p_start`, `p_end` (None without periods). `out` is the name of the table to create.
    """

    con: duckdb.DuckDBPyConnection
    source: str
    source_name: str
    periods: str | None
    window_end: dt.date | None
    out: str
    by_period: bool


ALIAS = "__t__"
"""The placeholder table alias in a `Contribution`'s select expressions (`__t__.care_status`); the
panel builder replaces it by the alias it joins the table under."""


@dataclass(frozen=True)
class Contribution:
    """A table derivation's result: for each panel column, its SQL over the table aliased `ALIAS`.

    The table (`TableContext.out`) has `person_key`, and `period` when `per_period`; the expressions
    are evaluated after the panel row LEFT JOINs it, so they say what a row without records gets.

    `quality`: the table has `mrank` and `p` and its records count towards the row's linkage quality.
    """

    per_period: bool
    selects: tuple[tuple[str, str], ...]
    quality: bool = False


@dataclass(frozen=True)
class Derivation:
    """A named derivation: its kind, its function, and for `table` ones what it reads and yields."""

    name: str
    kind: Kind
    function: Callable[..., Any]
    reads: Callable[[Params], tuple[str, ...]] = field(default=lambda _params: ())
    """Fields of the column's source (for `value`: none; the column's `field` is read by the builder)."""
    columns: Callable[[Params, SpecFacts], tuple[ColumnInfo, ...]] | None = None
    """For `table` derivations: the panel columns it yields, known before any data is read."""

    @property
    def doc(self) -> str:
        return inspect.cleandoc(self.function.__doc__ or "")

    @property
    def summary(self) -> str:
        return self.doc.split("\n", 1)[0]


_REGISTRY: dict[str, Derivation] = {}


def register(
    name: str,
    kind: Kind,
    *,
    reads: Callable[[Params], tuple[str, ...]] | None = None,
    columns: Callable[[Params, SpecFacts], tuple[ColumnInfo, ...]] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as derivation `name`; a name is registered once."""

    def add(function: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY:
            raise RuntimeError(f"derivation '{name}' is registered twice")
        if not function.__doc__:
            raise RuntimeError(f"derivation '{name}' needs a docstring: it is its documentation")
        _REGISTRY[name] = Derivation(name, kind, function, reads or (lambda _params: ()), columns)
        return function

    return add


def get(name: str, kind: Kind | None = None) -> Derivation:
    """The derivation `name` (of `kind`, if given); KeyError with the known names otherwise."""
    found = _REGISTRY.get(name)
    if found is None or (kind is not None and found.kind is not kind):
        raise KeyError(f"no {kind or ''} derivation '{name}'; known: {', '.join(names(kind))}".replace("  ", " "))
    return found


def names(kind: Kind | None = None) -> tuple[str, ...]:
    return tuple(sorted(n for n, d in _REGISTRY.items() if kind is None or d.kind is kind))


def describe() -> list[dict[str, str]]:
    """Every derivation with its kind and documentation, for the docs and `spec` tooling."""
    return [
        {"name": d.name, "kind": str(d.kind), "doc": d.doc} for d in sorted(_REGISTRY.values(), key=lambda d: d.name)
    ]


def param(params: Params, key: str, default: Any = None, *, required: bool = False) -> Any:
    """A parameter, or DerivationError naming it when it is required and missing."""
    if key in params:
        return params[key]
    if required:
        raise DerivationError(f"needs parameter '{key}'")
    return default
