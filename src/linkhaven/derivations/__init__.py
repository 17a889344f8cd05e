"""Named derivations a project spec refers to: periods, orderings, generalised values and column groups.

A spec names a derivation (`derive: age_in_period`, `period: {derivation: school_year}`) instead of
the code carrying a project's rules, so another unit writes another spec, not other code. Each
derivation is a documented function registered under its name (`registry.py`); `describe()` lists
them for `docs/spec.md` and error messages. Generic derivations live in `periods.py` and
`values.py`; the Ontario ones (school year, grade order, assessment outcomes, child-welfare
status by year) only in `ontario.py`, parameterised by the spec's source and field names.
"""

from linkhaven.derivations import ontario, periods, values
from linkhaven.derivations.registry import (
    ColumnInfo,
    Contribution,
    Derivation,
    Kind,
    Period,
    PeriodPlan,
    TableContext,
    ValueContext,
    describe,
    get,
    names,
)

__all__ = [
    "ColumnInfo",
    "Contribution",
    "Derivation",
    "Kind",
    "Period",
    "PeriodPlan",
    "TableContext",
    "ValueContext",
    "describe",
    "get",
    "names",
    "ontario",
    "periods",
    "values",
]
