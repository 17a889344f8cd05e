"""Primary and complementary (secondary) cell suppression.

Primary rules say which cells may not be published: counts below the minimum cell size, and
cells equal to their total where that tells an attribute of everyone in a group (every involved
child of a board is in care; 100 % or 0 % of a group met a standard).

Complementary suppression then hides further cells until no hidden cell can be recovered from
the published ones. It works in two passes, both checked by the same attacker audit that gates
the release, so its correctness never rests on the heuristic:

1. a line rule: every total with a hidden member gets at least two hidden members, whose values
   add up to at least the protection level (the classic singleton and "small sum" problems);
2. for every cell the audit still finds too narrow, a protection linear program in the spirit of
   Fischetti and Salazar-Gonzalez (tau-Argus' MOD and OPT build on the same idea): find two
   value assignments compatible with every cell left published whose values of the cell differ
   by at least the protection level, cheapest in the cells they move, and hide the cells they
   move. The two assignments are a proof that the cell is protected once those cells are hidden.

Hiding more never narrows an interval, so cells protected in an earlier round stay protected.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import bmat, csr_matrix, hstack, vstack
from scipy.sparse.csgraph import connected_components

from linkhaven.publish.audit import AuditResult, Knowledge, audit, clusters_of
from linkhaven.publish.cells import CellSystem, Status, SumKind
from linkhaven.publish.lp import minimise

logger = logging.getLogger(__name__)

StatusArray = NDArray[np.int8]
KnowledgeFactory = Callable[[StatusArray], Knowledge]
"""What the attacker knows under a given suppression pattern (exact published values, or ledger intervals)."""


@dataclass(frozen=True)
class Rules:
    min_cell_size: int
    protection_level: int
    full_cells: bool = True


@dataclass
class SuppressionStats:
    primary_small: int = 0
    primary_full: int = 0
    secondary_line_rule: int = 0
    secondary_programs: int = 0
    secondary_by_programs: int = 0
    secondary_republished: int = 0
    rounds: int = 0
    unprotected: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "primary_small": self.primary_small,
            "primary_full": self.primary_full,
            "secondary_line_rule": self.secondary_line_rule,
            "secondary_protection_programs": self.secondary_programs,
            "secondary_by_programs": self.secondary_by_programs,
            "secondary_republished_as_known": self.secondary_republished,
            "rounds": self.rounds,
            "unprotected_after_secondary": len(self.unprotected),
        }


def primary(
    system: CellSystem,
    rules: Rules,
    current: NDArray[np.bool_],
    no_attribute: NDArray[np.bool_],
    stats: SuppressionStats | None = None,
) -> StatusArray:
    """Mark the cells no rule allows to publish.

    `no_attribute` flags cells whose being equal to their total discloses nothing (a group made
    entirely of students not involved with a society says nothing about anyone's care).
    """
    values = system.value_array()
    status = np.zeros(len(system), dtype=np.int8)
    small = current & (values > 0) & (values < rules.min_cell_size)
    status[small] = Status.PRIMARY
    full = 0
    if rules.full_cells:
        for total, parts, kind in system.sums:
            if kind is SumKind.BREAKDOWN or len(parts) < 2 or not values[total] > 0:
                continue
            for part in parts:
                if current[part] and not no_attribute[part] and values[part] == values[total]:
                    if status[part] == Status.PUBLISHED:
                        full += 1
                    status[part] = Status.PRIMARY
    if stats is not None:
        stats.primary_small = int(small.sum())
        stats.primary_full = full
    return status


def line_rule(
    system: CellSystem,
    status: StatusArray,
    rules: Rules,
    allowed: NDArray[np.bool_],
) -> int:
    """Give every total with a hidden member at least two hidden members worth the protection level."""
    values = system.value_array()
    hidden = status != Status.PUBLISHED
    added = 0
    p = rules.protection_level
    for _ in range(50):
        changed = False
        for total, parts, _kind in system.sums:
            members = (total, *parts)
            hidden_members = [m for m in members if hidden[m]]
            if not hidden_members:
                continue
            if hidden[total]:
                if len(hidden_members) >= 2:
                    continue
                mass = 0.0
            else:
                mass = float(sum(values[m] for m in parts if hidden[m]))
                if len(hidden_members) >= 2 and mass >= p:
                    continue
            # A zero adds no mass (it can only grow), so hiding one cannot help; go up to the total instead.
            candidates = [m for m in parts if not hidden[m] and allowed[m] and values[m] > 0]
            if not candidates and not hidden[total] and allowed[total]:
                candidates = [total]
            if not candidates:
                continue  # nothing can be hidden here; the audit and the programs decide
            enough = [m for m in candidates if values[m] >= p - mass]
            choice = (
                min(enough, key=lambda m: (system.weights[m], values[m]))
                if enough
                else max(candidates, key=lambda m: values[m])
            )
            hidden[choice] = True
            status[choice] = Status.SECONDARY
            added += 1
            changed = True
        if not changed:
            break
    return added


def sum_components(system: CellSystem) -> NDArray[np.int32]:
    """Cells linked through totals (one measure in one year, across its breakdowns): a protection
    program moves cells within one such component and holds every other cell still."""
    a = system.sum_matrix()
    n_rows = a.shape[0]
    graph = bmat([[None, a], [a.T, None]], format="csr") if n_rows else csr_matrix((len(system), len(system)))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels[n_rows:], dtype=np.int32)


def protect_cell(
    system: CellSystem,
    status: StatusArray,
    cell: int,
    rules: Rules,
    allowed: NDArray[np.bool_],
    local: NDArray[np.intp],
    a_full: csr_matrix,
    g_full: csr_matrix,
    current: NDArray[np.bool_] | None = None,
) -> list[int] | None:
    """Hide the cheapest set of cells around `cell` that gives it an interval of the protection level.

    Two deviations from the true values, `up` and `down`, keep every constraint and leave every
    published cell alone outside the hidden set; their difference at `cell` is the protection
    level. Cells outside `local` (the tables `cell` is in) do not move, which only makes the
    found pattern more conservative. Returns the newly hidden cells ([] if already protected),
    or None if no pattern exists within `local` (everything around it is already public).
    """
    values = system.value_array()
    hidden = status != Status.PUBLISHED
    n = len(local)
    position = {int(c): i for i, c in enumerate(local)}
    a_cols = a_full[:, local]
    a_rows = np.flatnonzero(np.diff(a_cols.tocsr().indptr))
    a_loc = a_cols.tocsr()[a_rows]
    g_cols = g_full.tocsr()
    g_loc_all = g_cols[:, local].tocsr()
    g_rows = np.flatnonzero(np.diff(g_loc_all.indptr))
    g_loc = g_loc_all[g_rows]
    slack = -(g_cols[g_rows] @ np.nan_to_num(values))  # x_big - x_small >= 0
    # Cells known only from the ledger keep their (unknown) values: they never move.
    in_current = np.ones(len(system), dtype=bool) if current is None else current
    movable = (allowed[local] | hidden[local]) & in_current[local]
    x = np.nan_to_num(values[local])
    weight = np.array([0.0 if hidden[c] else system.weights[c] for c in local])
    # variables: [up+, up-, down+, down-], each n long
    plus_bound = np.where(movable, np.inf, 0.0)
    minus_bound = np.where(movable, x, 0.0)
    lower = np.zeros(4 * n)
    upper = np.concatenate([plus_bound, minus_bound, plus_bound, minus_bound])
    cost = np.tile(weight, 4) + 1e-6  # the tiny term keeps deviations from wandering through free cells
    zero_a = csr_matrix(a_loc.shape)
    eq = vstack(
        [
            hstack([a_loc, -a_loc, zero_a, zero_a]),
            hstack([zero_a, zero_a, a_loc, -a_loc]),
        ],
        format="csr",
    )
    zero_g = csr_matrix(g_loc.shape)
    width_row = np.zeros((1, 4 * n))
    i = position[cell]
    width_row[0, i], width_row[0, n + i], width_row[0, 2 * n + i], width_row[0, 3 * n + i] = -1, 1, 1, -1
    ub = bmat(
        [
            [hstack([g_loc, -g_loc, zero_g, zero_g])],
            [hstack([zero_g, zero_g, g_loc, -g_loc])],
            [csr_matrix(width_row)],
        ],
        format="csr",
    )
    b_ub = np.concatenate([slack, slack, [-float(rules.protection_level)]])
    solution = minimise(cost, eq, np.zeros(eq.shape[0]), ub, b_ub, lower, upper)
    if solution is None:
        return None
    moved = solution.reshape(4, n).sum(axis=0) > 1e-6
    fresh = [int(local[j]) for j in np.flatnonzero(moved) if not hidden[local[j]]]
    for c in fresh:
        status[c] = Status.SECONDARY
    return fresh


def secondary(
    system: CellSystem,
    status: StatusArray,
    rules: Rules,
    allowed: NDArray[np.bool_],
    knowledge_of: KnowledgeFactory | None = None,
    stats: SuppressionStats | None = None,
    max_rounds: int = 20,
    current: NDArray[np.bool_] | None = None,
) -> StatusArray:
    """Hide complements until the attacker audit finds every hidden cell at least protection-level wide.

    `allowed` marks cells that may be hidden (not those an earlier publication already published).
    Returns the new status array; cells still unprotected are listed in `stats.unprotected`, and
    the gate will refuse the publication.
    """
    stats = stats if stats is not None else SuppressionStats()
    status = status.copy()
    stats.secondary_line_rule = line_rule(system, status, rules, allowed)
    factory = knowledge_of or _exact_knowledge(system)
    components = sum_components(system)
    members: dict[int, NDArray[np.intp]] = {}
    a_full, g_full = system.sum_matrix().tocsc(), system.at_most_matrix().tocsc()
    check: NDArray[np.bool_] | None = None
    result: AuditResult | None = None
    hopeless: set[int] = set()
    for round_number in range(1, max_rounds + 1):
        stats.rounds = round_number
        knowledge = factory(status)
        result = audit(system, knowledge, rules.protection_level, check, values=system.value_array())
        failing = result.failing
        if len(failing) == 0:
            stats.unprotected = []
            return status
        logger.info("round %d: %d hidden cells too narrow", round_number, len(failing))
        fresh: list[int] = []
        # A complement the attacker already knows exactly tells nothing more when shown: publish it.
        known = [c for c in failing.tolist() if status[c] == Status.SECONDARY and result.width[c] <= 1e-6]
        status[known] = Status.PUBLISHED
        stats.secondary_republished += len(known)
        order = sorted(set(failing.tolist()) - set(known) - hopeless, key=lambda c: (result.width[c], c))
        for cell in order:
            if status[cell] == Status.PUBLISHED:
                continue
            label = int(components[cell])
            if label not in members:
                members[label] = np.flatnonzero(components == label)
            added = protect_cell(system, status, cell, rules, allowed, members[label], a_full, g_full, current)
            stats.secondary_programs += 1
            if added is None:
                hopeless.add(cell)
                continue
            stats.secondary_by_programs += len(added)
            fresh.extend(added)
        if not fresh and not known and not order:
            stats.unprotected = failing.tolist()
            return status
        # re-audit only the clusters that changed: hiding cells elsewhere cannot narrow an interval
        hidden_now = factory(status)
        _, labels = clusters_of(system, hidden_now.hidden | (hidden_now.high - hidden_now.low > 1e-6))
        touched = set(labels[fresh].tolist()) | set(labels[order].tolist()) if (fresh or order) else set()
        touched.discard(-1)
        check = np.isin(labels, list(touched)) & hidden_now.hidden
    stats.unprotected = [] if result is None else result.failing.tolist()
    return status


def _exact_knowledge(system: CellSystem) -> KnowledgeFactory:
    values = np.nan_to_num(system.value_array())

    def make(status: StatusArray) -> Knowledge:
        return Knowledge.exact(values, status)

    return make


def suppression_rate(status: StatusArray, current: NDArray[np.bool_]) -> float:
    total = int(current.sum())
    return math.nan if total == 0 else float((status[current] != Status.PUBLISHED).sum()) / total
