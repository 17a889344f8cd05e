"""Generic period derivations: the periods a panel has one row per person for."""

from __future__ import annotations

import datetime as dt

from linkhaven.derivations.registry import DerivationError, Kind, Params, Period, PeriodPlan, SpecFacts, register


@register("calendar_year", Kind.PERIOD)
def calendar_year(params: Params, _spec: SpecFacts) -> PeriodPlan:
    """Calendar years `first` to `last` (1 January to 31 December), labelled '2021'.

    A source places a record in a year by a period field holding the label, or by its episode
    dates overlapping the year.
    """
    try:
        first, last = int(params["first"]), int(params["last"])
    except (KeyError, TypeError, ValueError):
        raise DerivationError("needs integer parameters 'first' and 'last' (years)") from None
    if first > last:
        raise DerivationError("'last' must not come before 'first'")
    periods = tuple(Period(str(y), dt.date(y, 1, 1), dt.date(y, 12, 31)) for y in range(first, last + 1))
    return PeriodPlan(periods, periods[-1].end)
