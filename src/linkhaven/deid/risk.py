"""Re-identification risk, the IPC 2016 way: data risk from equivalence classes, context risk, overall risk.

- Equivalence class: the rows that share every quasi-identifier value (R26); a row's risk is 1 / the
  class size. The panel has one row per person per school year and the school year is always a
  quasi-identifier, so a class never holds the same person twice and rows count persons.
- Data risk (R27): the maximum row risk for public and semi-public releases; for non-public ones the
  strict average: the average row risk, unless some row is above the cap (0.33), in which case the
  maximum (El Emam's definition). The cap is compared literally: 1/3 = 0.333 is above 0.33, so the
  smallest class a 0.33 cap allows is 4. A unit may only be stricter than the IPC (R6).
- Context risk (R28): 1 for public; otherwise the largest of the insider-attack probability from the
  IPC table (controls x motive), acquaintance recognition 1-(1-p)^m, and a breach at the recipient.
  Semi-public releases assume high motive and low controls at best.
- Overall risk (R29) = data risk x context risk, compared with the threshold of the invasion level. A
  non-public release also never keeps a row above the cap, whatever the context (R27 "every row capped").
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import duckdb
import numpy as np
import numpy.typing as npt

from linkhaven.spec.releases import Rating, ReleaseContext, ReleaseModel
from linkhaven.sqlquote import q as _q

EPSILON = 1e-12

INSIDER_ATTACK: dict[Rating, dict[Rating, float]] = {
    Rating.HIGH: {Rating.LOW: 0.05, Rating.MEDIUM: 0.1, Rating.HIGH: 0.2},
    Rating.MEDIUM: {Rating.LOW: 0.2, Rating.MEDIUM: 0.3, Rating.HIGH: 0.4},
    Rating.LOW: {Rating.LOW: 0.4, Rating.MEDIUM: 0.5, Rating.HIGH: 0.6},
}
"""IPC 2016 Step 5: probability of a deliberate insider attack, by the recipient's controls, then motive."""


@dataclass(frozen=True)
class ContextRisk:
    release_model: str
    controls: str | None
    motive: str | None
    insider_attack: float | None
    acquaintance: float | None
    breach: float | None
    context_risk: float
    binding: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def context_risk(model: ReleaseModel, context: ReleaseContext | None) -> ContextRisk:
    """IPC Step 5. Public: an attack is certain (1). Otherwise the largest of the three attack probabilities."""
    if model is ReleaseModel.PUBLIC or context is None:
        return ContextRisk(str(model), None, None, None, None, None, 1.0, "public release: an attack is assumed")
    controls, motive = context.controls, context.motive
    if model is ReleaseModel.SEMI_PUBLIC:
        # Terms of use cannot be enforced like an agreement: high motive, low controls at best.
        controls, motive = Rating.LOW, Rating.HIGH
    insider = INSIDER_ATTACK[controls][motive]
    acquaintance = 1.0 - (1.0 - context.acquaintance_prevalence) ** context.acquaintances
    breach = context.breach_probability
    candidates = {"insider attack": insider, "acquaintance recognition": acquaintance, "breach": breach}
    binding = max(candidates, key=lambda k: candidates[k])
    risk = candidates[binding]
    return ContextRisk(str(model), str(controls), str(motive), insider, acquaintance, breach, risk, binding)


@dataclass(frozen=True)
class Criterion:
    """What a release must meet: derived from the threshold, the release model and the context."""

    measure: str  # "maximum" or "strict_average"
    threshold: float
    context_risk: float
    data_risk_target: float
    row_cap: float | None
    min_class_size: int

    @classmethod
    def build(cls, model: ReleaseModel, threshold: float, context: float, row_cap: float) -> Criterion:
        target = min(1.0, threshold / context)
        if model is ReleaseModel.NON_PUBLIC:
            k = smallest_class(min(row_cap, 1.0))
            return cls("strict_average", threshold, context, target, row_cap, k)
        return cls("maximum", threshold, context, target, None, smallest_class(target))

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def smallest_class(max_row_risk: float) -> int:
    """The smallest class size whose row risk 1/k does not exceed `max_row_risk` (compared literally)."""
    k = max(1, math.ceil(1.0 / max_row_risk - EPSILON))
    while 1.0 / k > max_row_risk + EPSILON:
        k += 1
    return k


@dataclass(frozen=True)
class RiskMeasure:
    """Risk figures of one dataset (before or after de-identification); counts only, never values."""

    rows: int
    classes: int
    smallest_class: int
    max_risk: float
    average_risk: float
    rows_above_cap: int
    data_risk: float
    overall_risk: float
    meets_threshold: bool
    records_at_risk: int
    """Rows whose own risk is above the data-risk target (ARX's 'records at risk')."""
    class_sizes: dict[str, int]
    """Classes by size band: how many classes of 1, 2-3, 4-9, 10-19, 20-49, 50+ rows."""
    l_diversity: dict[str, int]
    """Smallest number of distinct values of each sensitive column in a class that holds any."""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


SIZE_BANDS = ((1, 1), (2, 3), (4, 9), (10, 19), (20, 49), (50, None))


def measure(
    sizes: npt.NDArray[np.int64],
    criterion: Criterion,
    l_diversity: dict[str, int] | None = None,
    l_required: dict[str, int] | None = None,
) -> RiskMeasure:
    """Risk of a dataset given its class sizes; `l_diversity` are the smallest distinct counts found."""
    sizes = np.asarray(sizes, dtype=np.int64)
    sizes = sizes[sizes > 0]
    rows = int(sizes.sum())
    classes = int(len(sizes))
    if rows == 0:
        return RiskMeasure(0, 0, 0, 0.0, 0.0, 0, 0.0, 0.0, True, 0, {}, dict(l_diversity or {}))
    smallest = int(sizes.min())
    max_risk = 1.0 / smallest
    average = classes / rows
    cap = criterion.row_cap
    above_cap = int(sizes[(1.0 / sizes) > cap + EPSILON].sum()) if cap is not None else 0
    # Strict average: the average, unless a row is above the cap, which makes it the maximum.
    data_risk = max_risk if criterion.measure == "maximum" or above_cap else average
    overall = data_risk * criterion.context_risk
    at_risk = int(sizes[(1.0 / sizes) > criterion.data_risk_target + EPSILON].sum())
    found = l_diversity or {}
    diverse = all(found.get(column, need) >= need for column, need in (l_required or {}).items())
    bands = {}
    for low, high in SIZE_BANDS:
        mask = sizes >= low if high is None else (sizes >= low) & (sizes <= high)
        bands[f"{low}+" if high is None else (str(low) if low == high else f"{low}-{high}")] = int(mask.sum())
    return RiskMeasure(
        rows=rows,
        classes=classes,
        smallest_class=smallest,
        max_risk=max_risk,
        average_risk=average,
        rows_above_cap=above_cap,
        data_risk=data_risk,
        overall_risk=overall,
        meets_threshold=bool(overall <= criterion.threshold + EPSILON and diverse and not above_cap),
        records_at_risk=at_risk,
        class_sizes=bands,
        l_diversity=dict(l_diversity or {}),
    )


def measure_relation(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    quasi_identifiers: list[str],
    criterion: Criterion,
    l_required: dict[str, int] | None = None,
) -> RiskMeasure:
    """Risk of a table as it stands (the released file itself, R29): classes by GROUP BY, in DuckDB."""
    keys = ", ".join(_q(c) for c in quasi_identifiers)
    sizes = np.array(
        [r[0] for r in con.execute(f"SELECT count(*) FROM {relation} GROUP BY {keys}").fetchall()], dtype=np.int64
    )
    found: dict[str, int] = {}
    for column, _ in (l_required or {}).items():
        value = con.execute(
            f"""SELECT min(d) FROM (SELECT count(DISTINCT {_q(column)}) AS d FROM {relation}
            WHERE {_q(column)} IS NOT NULL GROUP BY {keys})"""
        ).fetchone()
        if value and value[0] is not None:  # no class holds a value: nothing to disclose
            found[column] = int(value[0])
    return measure(sizes, criterion, found, l_required)
