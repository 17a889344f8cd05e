"""Column helpers shared by the three extract builders (`extract_onsis.py`, `extract_eqao.py`,
`extract_cpin.py`).

Each builder returns an Arrow table whose columns are exactly the layout's (in the layout's order,
see `docs/extract-layouts.md`) plus hidden truth columns whose names start with `_` (the true
person, and for CPIN the home postal code and exit reason). The writer drops the hidden columns;
tests and `truth.csv` use them. The helpers here turn recorded values into the layouts' text forms.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from linkhaven.synth.arrays import BoolArray, IntArray
from linkhaven.synth.noise import RecordedIdentity
from linkhaven.synth.rates import ErrorRates


def date_strings(year: IntArray, month: IntArray, day: IntArray, missing: BoolArray, compact: bool) -> pa.Array:
    """%Y%m%d (compact) or %Y-%m-%d, null where missing."""
    if compact:
        text = pa.array(year * 10000 + month * 100 + day, pa.int64()).cast(pa.string())
    else:
        months = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
        days = months.astype("datetime64[D]") + (day - 1)
        text = pa.array(days, pa.date32()).cast(pa.string())
    return pc.if_else(pa.array(missing), pa.nulls(len(year), pa.string()), text)


def postal_column(rng: np.random.Generator, postal: pa.StringArray, source: str, rates: ErrorRates) -> pa.Array:
    """Apply the source's missing and unspaced postal-code rates (per record)."""
    n = len(postal)
    missing = rng.random(n) < rates.postal_code_missing.for_source(source)
    unspaced = rng.random(n) < rates.postal_code_unspaced.for_source(source)
    if unspaced.any():
        postal = pc.if_else(pa.array(unspaced), pc.replace_substring(postal, " ", ""), postal)
    return pc.if_else(pa.array(missing), pa.nulls(n, pa.string()), postal)


def code_column(values: tuple[str, ...] | list[str], index: IntArray) -> pa.Array:
    """A code column, dictionary-encoded: 1-2 bytes a row instead of a string each."""
    kind = pa.int8() if len(values) < 128 else pa.int16() if len(values) < 32768 else pa.int32()
    return pa.DictionaryArray.from_arrays(pa.array(index, kind), pa.array(list(values), pa.string()))


def expand_to_rows(recorded: RecordedIdentity, unit: IntArray) -> RecordedIdentity:
    """Broadcast unit-level recorded identities to rows."""
    take = pa.array(unit)
    return RecordedIdentity(
        given=recorded.given.take(take),
        family=recorded.family.take(take),
        birth_year=recorded.birth_year[unit],
        birth_month=recorded.birth_month[unit],
        birth_day=recorded.birth_day[unit],
        birth_missing=recorded.birth_missing[unit],
        oen=recorded.oen.take(take),
    )
