"""Linear programs for the attacker audit and for complementary suppression, solved by HiGHS.

The audit asks, for every hidden cell, the smallest and largest value compatible with what is
published: two LPs per cell over the same feasible set. Rebuilding the model for each of them
(`scipy.optimize.linprog(method="highs")`) costs about a millisecond of set-up per call, which
dominates at the tens of thousands of hidden cells of a provincial publication. So the audit
keeps one HiGHS model per cluster and only changes the objective between solves, letting the
simplex restart from the previous basis: the same solver, the same answers, about thirty times
faster. That uses the HiGHS object SciPy ships (`scipy.optimize._highspy`), which is not public
SciPy API; when it is missing or changes shape, `extremes` falls back to `linprog`, and a test
checks that both give the same intervals.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog
from scipy.sparse import csr_matrix

from linkhaven.errors import LinkhavenError

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
TOLERANCE = 1e-6
"""Cell values are integers; LP answers are rounded to this before comparison."""

_core: Any = None
try:  # pragma: no cover - exercised implicitly on every supported SciPy
    import scipy.optimize._highspy._core as _highs_core

    _core = _highs_core
except ImportError:  # pragma: no cover
    pass
_WARM = _core is not None and all(
    hasattr(_core._Highs, name) for name in ("addVars", "addRows", "changeColCost", "run", "setOptionValue")
)

USE_WARM_START = _WARM
"""Whether `extremes` keeps one HiGHS model per problem; tests switch it off to compare with linprog."""


HIGHS_OPTIONS: dict[str, object] = {"presolve": "off", "simplex_strategy": 4}
"""Warm restarts: presolve would rebuild the problem at every objective change, and after a change of
objective the previous optimal basis is still primal feasible, so the primal simplex (strategy 4) resumes
from it; measured about three times faster than the default on a provincial cluster."""


CERTIFY_ABOVE = 200
"""Clusters with more hidden cells than this are first settled by feasible points (see `Program.certify`)."""


class SolverError(LinkhavenError):
    """HiGHS could not solve a program that must be solvable (the published values contradict each other)."""


class Program:
    """The feasible set {A_eq y = b_eq, A_ub y <= b_ub, lower <= y <= upper} of one cluster of cells."""

    def __init__(
        self,
        a_eq: csr_matrix,
        b_eq: FloatArray,
        a_ub: csr_matrix,
        b_ub: FloatArray,
        lower: FloatArray,
        upper: FloatArray,
    ) -> None:
        self.a_eq, self.b_eq, self.a_ub, self.b_ub = a_eq, b_eq, a_ub, b_ub
        self.lower, self.upper = lower, upper
        self.n = len(lower)

    def extremes(self, columns: Sequence[int] | None = None) -> tuple[FloatArray, FloatArray]:
        """Smallest and largest feasible value of each column (inf where unbounded)."""
        columns = list(range(self.n)) if columns is None else list(columns)
        if USE_WARM_START:
            return self._extremes_warm(columns)
        return self._extremes_linprog(columns)

    # -- scipy.optimize.linprog: the reference path -------------------------------------------
    def _extremes_linprog(self, columns: list[int]) -> tuple[FloatArray, FloatArray]:
        low = np.empty(len(columns))
        high = np.empty(len(columns))
        bounds = list(zip(self.lower, [None if math.isinf(u) else u for u in self.upper], strict=True))
        kwargs: dict[str, Any] = {"bounds": bounds, "method": "highs"}
        if self.a_eq.shape[0]:
            kwargs.update(A_eq=self.a_eq, b_eq=self.b_eq)
        if self.a_ub.shape[0]:
            kwargs.update(A_ub=self.a_ub, b_ub=self.b_ub)
        for position, column in enumerate(columns):
            for sign, out in ((1.0, low), (-1.0, high)):
                cost = np.zeros(self.n)
                cost[column] = sign
                result = linprog(cost, **kwargs)
                if result.status == 3:  # unbounded
                    out[position] = -sign * math.inf
                elif result.status != 0:
                    raise SolverError(f"the attacker program could not be solved ({result.message})")
                else:
                    out[position] = sign * float(result.fun)
        return low, high

    def certify(
        self,
        columns: Sequence[int],
        width: float,
        truth: FloatArray | None = None,
        rounds: int = 24,
        seed: int = 0,
    ) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
        """Show each column's feasible range is at least `width`, solving as few programs as possible.

        Each program maximises a random signed sum of the columns not yet shown wide enough; its
        optimum is a feasible point, and two feasible points whose values of a cell differ by
        `width` prove that cell's interval is at least that wide, whatever its exact ends. A few
        such programs settle most cells of a large cluster at once; the remaining cells get their
        two exact programs. Returns (low, high, exact): for a cell settled by points, [low, high]
        is the range seen, which the exact attacker interval contains.

        Without `truth` every point seen, the first included, is a vertex found from the program
        alone, so the ranges it returns depend on nothing but what defines the feasible set: they
        may be published. With `truth` (the unit's own audit) they start from the true values and
        must not be.
        """
        columns = list(columns)
        if not USE_WARM_START or len(columns) <= CERTIFY_ABOVE:
            low, high = self.extremes(columns)
            return low, high, np.ones(len(columns), dtype=bool)
        highs = self._model()
        cols = np.asarray(columns)
        anchor = truth.astype(np.float64) if truth is not None else self._feasible_point(highs)
        if anchor is None:  # no point to start from: every cell gets its two exact programs
            low, high = self._solve_extremes(highs, columns)
            return low, high, np.ones(len(columns), dtype=bool)
        seen_low, seen_high = anchor.copy(), anchor.copy()
        # Finite boxes keep every random direction bounded; points inside them are still feasible.
        box = np.minimum(self.upper, anchor + 100.0 * max(width, 1.0))
        highs.changeColsBounds(self.n, np.arange(self.n, dtype=np.int32), self.lower, box)
        rng = np.random.default_rng(seed)
        optimal = _core.HighsModelStatus.kOptimal
        for _ in range(rounds):
            open_ = cols[~(seen_high[cols] - seen_low[cols] >= width - TOLERANCE)]
            if len(open_) == 0:
                break
            weights = np.zeros(self.n)
            weights[open_] = rng.choice([-1.0, 1.0], len(open_))
            highs.changeColsCost(self.n, np.arange(self.n, dtype=np.int32), weights)
            highs.run()
            if highs.getModelStatus() != optimal:
                break
            point = np.asarray(highs.getSolution().col_value, dtype=np.float64)
            np.minimum(seen_low, point, out=seen_low)
            np.maximum(seen_high, point, out=seen_high)
        highs.changeColsCost(self.n, np.arange(self.n, dtype=np.int32), np.zeros(self.n))
        highs.changeColsBounds(self.n, np.arange(self.n, dtype=np.int32), self.lower, self._inf_upper())
        settled = seen_high[cols] - seen_low[cols] >= width - TOLERANCE
        low = np.round(seen_low[cols], 6)
        high = np.round(seen_high[cols], 6)
        rest = [int(c) for c in cols[~settled]]
        if rest:
            exact_low, exact_high = self._solve_extremes(highs, rest)
            low[~settled], high[~settled] = exact_low, exact_high
        return low, high, ~settled

    def _feasible_point(self, highs: Any) -> FloatArray | None:
        """A vertex of the feasible set, found with a zero objective (the model is left as it was)."""
        highs.changeColsCost(self.n, np.arange(self.n, dtype=np.int32), np.zeros(self.n))
        highs.run()
        if highs.getModelStatus() != _core.HighsModelStatus.kOptimal:
            return None
        return np.asarray(highs.getSolution().col_value, dtype=np.float64)

    def _inf_upper(self) -> FloatArray:
        inf = float(_core.kHighsInf)
        return np.where(np.isinf(self.upper), inf, self.upper).astype(np.float64)

    # -- one HiGHS model, objective changed in place ------------------------------------------
    def _extremes_warm(self, columns: list[int]) -> tuple[FloatArray, FloatArray]:
        return self._solve_extremes(self._model(), columns)

    def _model(self) -> Any:
        highs = _core._Highs()
        highs.setOptionValue("output_flag", False)
        for option, setting in HIGHS_OPTIONS.items():
            highs.setOptionValue(option, setting)
        inf = float(_core.kHighsInf)
        highs.addVars(self.n, self.lower.astype(np.float64), self._inf_upper())
        for matrix, row_low, row_high in (
            (self.a_eq, self.b_eq, self.b_eq),
            (self.a_ub, np.full(self.a_ub.shape[0], -inf), self.b_ub),
        ):
            if matrix.shape[0] == 0:
                continue
            matrix = matrix.tocsr()
            highs.addRows(
                matrix.shape[0],
                np.asarray(row_low, dtype=np.float64),
                np.asarray(row_high, dtype=np.float64),
                matrix.nnz,
                matrix.indptr[:-1].astype(np.int32),
                matrix.indices.astype(np.int32),
                matrix.data.astype(np.float64),
            )
        return highs

    def _solve_extremes(self, highs: Any, columns: list[int]) -> tuple[FloatArray, FloatArray]:
        optimal = _core.HighsModelStatus.kOptimal
        unbounded = {_core.HighsModelStatus.kUnbounded, _core.HighsModelStatus.kUnboundedOrInfeasible}
        low = np.empty(len(columns))
        high = np.empty(len(columns))
        for position, column in enumerate(columns):
            for sign, out in ((1.0, low), (-1.0, high)):
                highs.changeColCost(column, sign)
                highs.run()
                status = highs.getModelStatus()
                if status == optimal:
                    out[position] = sign * float(highs.getInfo().objective_function_value)
                elif status in unbounded:
                    out[position] = -sign * math.inf
                else:
                    raise SolverError(f"the attacker program could not be solved ({highs.modelStatusToString(status)})")
            highs.changeColCost(column, 0.0)
        return low, high


def minimise(
    cost: FloatArray,
    a_eq: csr_matrix,
    b_eq: FloatArray,
    a_ub: csr_matrix | None,
    b_ub: FloatArray | None,
    lower: FloatArray,
    upper: FloatArray,
) -> FloatArray | None:
    """One LP (`linprog`, HiGHS); the solution, or None if infeasible. Used by complementary suppression."""
    bounds = list(zip(lower, [None if math.isinf(u) else u for u in upper], strict=True))
    kwargs: dict[str, Any] = {"bounds": bounds, "method": "highs"}
    if a_eq.shape[0]:
        kwargs.update(A_eq=a_eq, b_eq=b_eq)
    if a_ub is not None and a_ub.shape[0]:
        kwargs.update(A_ub=a_ub, b_ub=b_ub)
    result = linprog(cost, **kwargs)
    if result.status == 2:
        return None
    if result.status != 0:
        raise SolverError(f"the protection program could not be solved ({result.message})")
    return np.asarray(result.x, dtype=np.float64)
