"""The attacker audit: the gate no publication can skip.

For every hidden cell, the attacker's best knowledge is the interval between the smallest and
the largest value the cell can take while every published cell keeps its published value, every
total still adds up, every sub-population stays within its population, and every count is a
non-negative number. Each end is a linear program (HiGHS). A publication is released only if
every interval is at least `protection_level` wide; anything narrower means the hidden cell can
be recovered, exactly or nearly, by subtracting published figures, this year's or earlier ones'.

The programs are solved per cluster: published cells are constants, so only hidden cells linked
through some constraint interact, and a provincial publication falls apart into many small
independent programs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import bmat, csr_matrix, diags, vstack
from scipy.sparse.csgraph import connected_components

from linkhaven.publish.cells import CellSystem, Status
from linkhaven.publish.lp import TOLERANCE, Program

FloatArray = NDArray[np.float64]


@dataclass
class Knowledge:
    """What the attacker knows of each cell: published cells lie in [low, high]; hidden ones in [0, inf).

    For a cell published exactly, low == high == its value. A cell published rounded to base b
    (nearest) lies within b // 2 of the rounded value; the gate itself always audits with exact
    values, the strictest case, so rounding can only widen what the report states.
    """

    hidden: NDArray[np.bool_]
    low: FloatArray
    high: FloatArray

    @classmethod
    def exact(cls, values: FloatArray, status: NDArray[np.int8]) -> Knowledge:
        hidden = status != Status.PUBLISHED
        return cls(hidden, np.where(hidden, 0.0, values), np.where(hidden, np.inf, values))


@dataclass
class AuditResult:
    protection_level: float
    lower: FloatArray
    """Attacker's smallest value per cell (NaN for cells not audited)."""
    upper: FloatArray
    audited: NDArray[np.bool_]
    clusters: int
    programs: int
    exact: NDArray[np.bool_]
    """Cells whose interval was solved exactly; the others were shown at least protection-level wide by
    feasible points, so their true interval contains the one given."""

    @property
    def width(self) -> FloatArray:
        return self.upper - self.lower

    @property
    def failing(self) -> NDArray[np.intp]:
        """Audited cells whose interval is narrower than the protection level."""
        narrow = self.audited & ~(self.width >= self.protection_level - TOLERANCE)
        return np.flatnonzero(narrow)

    @property
    def passed(self) -> bool:
        return len(self.failing) == 0


def _variables(knowledge: Knowledge) -> NDArray[np.bool_]:
    """Cells the attacker does not know exactly: hidden, or published only as an interval."""
    return knowledge.hidden | (knowledge.high - knowledge.low > TOLERANCE)


def clusters_of(system: CellSystem, variable: NDArray[np.bool_]) -> tuple[int, NDArray[np.int32]]:
    """Connected groups of unknown cells (linked through any constraint); -1 for known cells."""
    n_cells = len(system)
    rows = vstack([system.sum_matrix(), system.at_most_matrix()], format="csr")
    keep = (rows @ diags(variable.astype(np.float64))).tocsr()
    keep.eliminate_zeros()
    n_rows = keep.shape[0]
    graph = bmat([[None, keep], [keep.T, None]], format="csr") if n_rows else csr_matrix((n_cells, n_cells))
    _, labels = connected_components(graph, directed=False)
    cell_labels = labels[n_rows:]
    out = np.full(n_cells, -1, dtype=np.int32)
    uniques, compact = np.unique(cell_labels[variable], return_inverse=True)
    out[variable] = compact.astype(np.int32)
    return len(uniques), out


def audit(
    system: CellSystem,
    knowledge: Knowledge,
    protection_level: float,
    check: NDArray[np.bool_] | None = None,
    values: FloatArray | None = None,
    exact_only: bool = False,
) -> AuditResult:
    """Solve both attacker programs for every hidden cell in `check` (all hidden cells by default).

    With `values` (the true cells, which the unit knows) large clusters are first settled by
    feasible points (`Program.certify`); `exact_only` solves two programs for every cell.
    """
    n = len(system)
    check = knowledge.hidden.copy() if check is None else (check & knowledge.hidden)
    lower = np.full(n, np.nan)
    upper = np.full(n, np.nan)
    variable = _variables(knowledge)
    count, labels = clusters_of(system, variable)
    a = system.sum_matrix()
    g = system.at_most_matrix()
    known_value = np.where(variable, 0.0, knowledge.low)
    a_const = -(a @ known_value)  # rows: parts - total = 0  =>  A_var y = -A_known x
    g_const = -(g @ known_value)
    members_by_cluster: dict[int, list[int]] = {}
    for cell in np.flatnonzero(check):
        members_by_cluster.setdefault(int(labels[cell]), [])
    exact = np.zeros(n, dtype=bool)
    if not members_by_cluster:
        return AuditResult(protection_level, lower, upper, check, 0, 0, exact)
    wanted = np.isin(labels, list(members_by_cluster))
    for cell in np.flatnonzero(wanted):
        members_by_cluster[int(labels[cell])].append(int(cell))
    a_csc, g_csc = a.tocsc(), g.tocsc()
    programs = 0
    for members in members_by_cluster.values():
        cols = np.asarray(members)
        a_sub = a_csc[:, cols].tocsr()
        g_sub = g_csc[:, cols].tocsr()
        a_rows = np.flatnonzero(np.diff(a_sub.indptr))
        g_rows = np.flatnonzero(np.diff(g_sub.indptr))
        program = Program(
            a_sub[a_rows],
            a_const[a_rows],
            g_sub[g_rows],
            g_const[g_rows],
            knowledge.low[cols],
            knowledge.high[cols],
        )
        targets = [position for position, cell in enumerate(members) if check[cell]]
        # The true values are a feasible point only if every one is known (cells from the ledger are not).
        truth = None if values is None or np.isnan(values[cols]).any() else values[cols]
        if exact_only:
            low, high = program.extremes(targets)
            solved_exactly = np.ones(len(targets), dtype=bool)
        else:
            low, high, solved_exactly = program.certify(targets, protection_level, truth)
        programs += 2 * int(solved_exactly.sum())
        chosen = cols[targets]
        lower[chosen] = np.round(low, 6)
        upper[chosen] = np.round(high, 6)
        exact[chosen] = solved_exactly
    return AuditResult(protection_level, lower, upper, check, count, programs, exact)
