"""Protecting computed cells: primary and complementary suppression, then the attacker audit that gates them.

The gate is not a step a caller can leave out: `protect` always ends with a full attacker audit of
the final pattern (every hidden cell, earlier publications included, with the true values of the
published cells: the strictest case), and `gate` refuses the publication unless it passed. The
ledger entries a publication adds (cells, sums, at-most constraints) come from the same pattern.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from linkhaven.publish import ledger as ledger_store
from linkhaven.publish.audit import AuditResult, Knowledge, audit, clusters_of
from linkhaven.publish.cells import LEDGER_LABELS, Status, SumKind
from linkhaven.publish.indicators import Computed
from linkhaven.publish.ledger import Ledger
from linkhaven.publish.settings import PublicationRefused, Settings
from linkhaven.publish.suppress import StatusArray, SuppressionStats, primary, secondary


@dataclass
class Protected:
    computed: Computed
    status: StatusArray
    audit: AuditResult
    stats: SuppressionStats
    current: NDArray[np.bool_]
    timings: dict[str, float] = field(default_factory=dict)
    earlier: list[str] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)
    """The earlier publications this one was protected with; the reader's audit reads them too."""

    def hidden_counts(self) -> dict[str, int]:
        """Internal figures for the officer (CLI, register): never written to a published file."""
        current = self.current
        return {
            "hidden_by_rules": int(((self.status == Status.PRIMARY) & current).sum()),
            "hidden_as_complements": int(((self.status == Status.SECONDARY) & current).sum()),
        }


def _merge_ledger(
    computed: Computed, ledger: Ledger
) -> tuple[NDArray[np.bool_], NDArray[np.float64], NDArray[np.float64]]:
    """Add earlier cells and constraints; return (published earlier, known low, known high)."""
    system = computed.system
    for cell in ledger.cells:
        system.add_cell(cell.key, math.nan, f"{cell.publication}:{cell.table}")
    for total, parts in ledger.sums:
        system.add_sum(system.index[total], [system.index[p] for p in parts], SumKind.BREAKDOWN)
    for small, big in ledger.at_most:
        system.add_at_most(system.index[small], system.index[big])
    n = len(system)
    earlier_published = np.zeros(n, dtype=bool)
    low = np.full(n, -math.inf)
    high = np.full(n, math.inf)
    for cell in ledger.cells:
        if cell.value is None:
            continue
        index = system.index[cell.key]
        slack = (cell.rounding_base or 1) // 2 if cell.rounding_base else 0
        earlier_published[index] = True
        low[index] = max(low[index], max(cell.value - slack, 0.0))
        high[index] = min(high[index], cell.value + slack)
    return earlier_published, low, high


def protect(computed: Computed, settings: Settings, ledger: Ledger | None = None) -> Protected:
    """Primary and complementary suppression, then the full attacker audit (the gate's evidence)."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    system = computed.system
    n_current = len(system)
    ledger = ledger or Ledger()
    earlier_published, known_low, known_high = _merge_ledger(computed, ledger)
    n = len(system)
    current = np.zeros(n, dtype=bool)
    current[:n_current] = True
    values = system.value_array()
    no_attribute = np.zeros(n, dtype=bool)
    no_attribute[:n_current] = computed.no_attribute
    stats = SuppressionStats()
    status = primary(system, settings.rules, current, no_attribute, stats)
    # The ledger: what was published stays published (and must still be true), what was hidden stays hidden.
    revised = current & earlier_published & ((values < known_low - 1e-9) | (values > known_high + 1e-9))
    if revised.any():
        raise PublicationRefused(
            f"{int(revised.sum())} cells differ from what earlier publications showed (the release revises them); "
            "publishing both would let readers subtract one from the other. Publish from a release of the same data."
        )
    reexposed = current & earlier_published & (status != Status.PUBLISHED)
    if reexposed.any():
        raise PublicationRefused(
            f"{int(reexposed.sum())} cells an earlier publication showed now fall under a primary rule; they cannot "
            "be hidden again. Keep the earlier rules, or withdraw the earlier publication first."
        )
    hidden_before = {system.index[c.key] for c in ledger.cells if c.value is None}
    for index in hidden_before:
        if index < n_current and status[index] == Status.PUBLISHED:
            status[index] = Status.SECONDARY
    ledger_only = ~current
    status[ledger_only & ~earlier_published] = Status.SECONDARY  # unknown to the attacker
    timings["primary_seconds"] = time.perf_counter() - started

    exact = np.nan_to_num(values)

    def knowledge_of(pattern: StatusArray) -> Knowledge:
        hidden = pattern != Status.PUBLISHED
        low = np.where(hidden, 0.0, exact)
        high = np.where(hidden, math.inf, exact)
        earlier_only = ledger_only & earlier_published
        low[earlier_only] = known_low[earlier_only]
        high[earlier_only] = known_high[earlier_only]
        return Knowledge(hidden & ~earlier_only, low, high)

    allowed = current & ~earlier_published
    started = time.perf_counter()
    if settings.secondary:
        status = secondary(
            system, status, settings.rules, allowed, knowledge_of=knowledge_of, stats=stats, current=current
        )
    timings["secondary_seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    knowledge = knowledge_of(status)
    if ledger.empty:
        check = knowledge.hidden
    else:  # earlier hidden cells are audited again where this publication touches them
        variable = knowledge.hidden | (knowledge.high - knowledge.low > 1e-6)
        _, labels = clusters_of(system, variable)
        touched = np.unique(labels[current & variable])
        check = knowledge.hidden & (current | np.isin(labels, touched[touched >= 0]))
    result = audit(system, knowledge, settings.protection_level, check, values=values)
    timings["audit_seconds"] = time.perf_counter() - started
    return Protected(computed, status, result, stats, current, timings, list(ledger.publications), ledger)


def gate(protected: Protected) -> None:
    """Refuse unless every audited hidden cell's interval is at least the protection level wide."""
    result = protected.audit
    hidden = protected.status != Status.PUBLISHED
    unaudited = hidden & protected.current & ~result.audited
    if unaudited.any():
        raise PublicationRefused(f"{int(unaudited.sum())} hidden cells were not audited; the gate refuses.")
    failing = result.failing
    if len(failing):
        earlier = int((~protected.current[failing]).sum())
        raise PublicationRefused(
            f"The attacker audit refuses the publication: {len(failing)} hidden cells can be narrowed below the "
            f"protection level of {result.protection_level:g}"
            + (f" ({earlier} of them hidden by earlier publications)" if earlier else "")
            + ". Complementary suppression must run (and did not succeed); see the audit for the cells."
        )


# -- values as published ------------------------------------------------------------------------


def _round(value: float, base: int | None) -> float:
    if base is None:
        return value
    return float(base * math.floor(value / base + 0.5))


def published_values(protected: Protected, base: int | None) -> NDArray[np.float64]:
    values = np.nan_to_num(protected.computed.system.value_array())
    out = np.array([_round(v, base) for v in values]) if base else values.copy()
    out[protected.status != Status.PUBLISHED] = np.nan
    return out


LedgerEntries = tuple[list[tuple[str, str, str, float | None]], list[tuple[str, list[str]]], list[tuple[str, str]]]


def ledger_entries(protected: Protected, settings: Settings) -> LedgerEntries:
    """What the ledger keeps of a publication: (key, table, status, published value), sums, at-most bounds."""
    system = protected.computed.system
    shown = published_values(protected, settings.rounding_base)
    in_current = protected.current
    cells = [
        (
            system.keys[i],
            sorted(system.tables[i])[0],
            LEDGER_LABELS[Status(int(protected.status[i]))],
            None if math.isnan(shown[i]) else float(shown[i]),
        )
        for i in np.flatnonzero(in_current)
    ]
    sums = [
        (system.keys[t], [system.keys[p] for p in parts])
        for t, parts, _ in system.sums
        if in_current[t] and all(in_current[p] for p in parts)
    ]
    at_most = [(system.keys[s], system.keys[b]) for s, b in system.at_most if in_current[s] and in_current[b]]
    return cells, sums, at_most


def extend_ledger(ledger: Ledger, publication_id: str, protected: Protected, settings: Settings) -> Ledger:
    """The in-memory ledger after a publication (rehearsals and tests; the workspace keeps it in the store)."""
    cells, sums, at_most = ledger_entries(protected, settings)
    return Ledger(
        [
            *ledger.cells,
            *(
                ledger_store.LedgerCell(key, table, status, value, settings.rounding_base, publication_id)
                for key, table, status, value in cells
            ),
        ],
        [*ledger.sums, *((total, tuple(parts)) for total, parts in sums)],
        [*ledger.at_most, *at_most],
        [*ledger.publications, publication_id],
    )


