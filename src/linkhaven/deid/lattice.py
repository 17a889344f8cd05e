"""Choosing the transformation: suppression first, else the generalisation lattice, as ARX does.

A node of the lattice is one level per quasi-identifier. Evaluating a node groups a histogram of
the panel (one row per distinct combination of base values, with its row count, built once by
DuckDB) by the node's codes, so no evaluation touches the 12 million rows. At a node, the classes
that cannot be kept are suppressed whole (their rows withheld from the release):

1. classes below the smallest size the criterion allows (1/k within the cap or the threshold);
2. classes that hold a sensitive column's values but fewer than l distinct ones (l-diversity);
3. for the strict average, further classes, smallest first, until the average meets the target.

A node is acceptable when the suppressed rows stay within the suppression limit overall and
within every group of each protected column. IPC Step 8 order: if the ungeneralised data are
acceptable (at most the limit suppressed), suppression alone is used. Otherwise the search looks
for the acceptable node of least information loss (ARX's "Loss": per cell, the share of the
column's distinct values merged into its group, weighted by the column's weight in the spec as in
ARX's attribute weights; a suppressed row loses everything).

The search is exact branch and bound. The loss of a node is at least its generalisation-only
loss, which is a sum of per-column terms known in advance and grows with every generalisation,
so nodes are visited in order of that bound and the search stops when the bound reaches the best
loss found. Monotonicity prunes the rest: if a node is unacceptable, so is everything below it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from linkhaven.deid.hierarchy import Hierarchy
from linkhaven.deid.risk import EPSILON, Criterion
from linkhaven.errors import SpecError

IntArray = npt.NDArray[np.int64]
MAX_NODES = 2_000_000
"""A lattice larger than this is refused: declare fewer levels (the spec, not the search, is wrong)."""


@dataclass(frozen=True)
class Histogram:
    """Distinct combinations of base codes of the quasi-identifiers, with their row counts.

    `sensitive` holds, per l-diverse column, the distinct (base codes..., value code) combinations
    of the rows where that column has a value.
    """

    codes: tuple[IntArray, ...]
    counts: IntArray
    sensitive: dict[str, tuple[tuple[IntArray, ...], IntArray]] = field(default_factory=dict)
    strata: dict[str, IntArray] = field(default_factory=dict)
    """Per protected column, the code of its value on each histogram row (not part of any class key)."""

    @property
    def rows(self) -> int:
        return int(self.counts.sum())


@dataclass(frozen=True)
class NodeResult:
    levels: tuple[int, ...]
    acceptable: bool
    rows: int
    suppressed_rows: int
    suppressed_classes: int
    classes_kept: int
    loss: float
    generalisation_bound: float
    protected_share: dict[str, float]
    reason: str
    kept_sizes: IntArray | None = None
    suppressed_codes: tuple[IntArray, ...] | None = None
    """Per quasi-identifier, the node-level codes of each suppressed class (only when asked)."""
    l_found: dict[str, int] | None = None
    """Smallest distinct count of each l-diverse column over the kept classes that hold it (only when asked)."""


@dataclass(frozen=True)
class SearchResult:
    strategy: str
    chosen: NodeResult
    bottom: NodeResult
    lattice_size: int
    evaluations: int
    pruned_by_monotonicity: int
    optimal: bool


class Lattice:
    """The generalisation lattice of a release, evaluated on a histogram of its panel."""

    def __init__(
        self,
        hierarchies: list[Hierarchy],
        histogram: Histogram,
        criterion: Criterion,
        l_required: dict[str, int],
        suppression_limit: float,
        protect: list[str],
    ) -> None:
        self.h = hierarchies
        self.hist = histogram
        self.criterion = criterion
        self.l_required = l_required
        self.limit = suppression_limit
        self.protect = list(protect)
        self.q = sum(h.weight for h in hierarchies if not h.fixed)
        """A row's whole loss: the weights of the columns that can be generalised."""
        self.total = histogram.rows
        # Main rows first, then each sensitive column's rows: one pass groups them all consistently.
        segments = [histogram.codes] + [codes for codes, _ in histogram.sensitive.values()]
        self.stacked = tuple(np.concatenate([seg[i] for seg in segments]) for i in range(len(hierarchies)))
        self.main = len(histogram.counts)
        bounds = [self.main]
        for codes, _ in histogram.sensitive.values():
            bounds.append(bounds[-1] + len(codes[0]))
        self.bounds = bounds
        self.mean_loss = [h.weight * np.array([h.mean_loss(level) for level in range(h.levels)]) for h in hierarchies]
        self.evaluations = 0

    # -- one node ---------------------------------------------------------------------------------
    def bound(self, levels: tuple[int, ...]) -> float:
        if self.q == 0:
            return 0.0
        return float(sum(self.mean_loss[i][lv] for i, lv in enumerate(levels)) / self.q)

    def _classes(self, levels: tuple[int, ...]) -> tuple[IntArray, int]:
        n = len(self.stacked[0])
        key = np.zeros(n, dtype=np.int64)
        span = 1
        for i, h in enumerate(self.h):
            card = h.cardinality(levels[i])
            if card == 1:
                continue
            if span * card >= 2**62:
                key, uniques = pd.factorize(key)
                key = key.astype(np.int64)
                span = len(uniques)
            key = key * card + h.up[levels[i]][self.stacked[i]]
            span *= card
        inverse, uniques = pd.factorize(key)
        return inverse.astype(np.int64), len(uniques)

    def evaluate(self, levels: tuple[int, ...], detail: bool = False) -> NodeResult:
        """Which classes must go at this node, and whether that is acceptable."""
        self.evaluations += 1
        inverse, count = self._classes(levels)
        main = inverse[: self.main]
        counts = self.hist.counts
        sizes = np.bincount(main, weights=counts, minlength=count).astype(np.int64)
        fail = sizes < self.criterion.min_class_size
        reasons = []
        if fail.any():
            reasons.append("classes below the smallest size")
        for index, (column, (_, values)) in enumerate(self.hist.sensitive.items()):
            seg = inverse[self.bounds[index] : self.bounds[index + 1]]
            width = int(values.max()) + 1 if len(values) else 1
            pairs = pd.unique(seg * width + values)
            distinct = np.bincount(pairs // width, minlength=count)
            lacking = (distinct > 0) & (distinct < self.l_required.get(column, 1))
            if lacking.any():
                reasons.append(f"{column} not {self.l_required.get(column, 1)}-diverse")
            fail |= lacking
        if self.criterion.measure == "strict_average":
            fail |= self._average(sizes, fail)
        row_fail = fail[main]
        suppressed = int(counts[row_fail].sum())
        protected: dict[str, float] = {}
        for column in self.protect:
            groups = self.hist.strata[column]
            totals = np.bincount(groups, weights=counts)
            lost = np.bincount(groups, weights=counts * row_fail, minlength=len(totals))
            share = np.where(totals > 0, lost / np.maximum(totals, 1), 0.0)
            protected[column] = float(share.max()) if len(share) else 0.0
        over = [c for c, s in protected.items() if s > self.limit + EPSILON]
        kept_rows = self.total - suppressed
        acceptable = suppressed <= self.limit * self.total + EPSILON and not over and kept_rows > 0
        if suppressed > self.limit * self.total + EPSILON:
            reasons.append("suppression above the limit")
        if over:
            reasons.append(f"suppression above the limit within {', '.join(over)}")
        loss = 1.0
        if acceptable or detail:  # the loss of a failing node is never needed
            row_loss = np.zeros(self.main, dtype=np.float64)
            for i, h in enumerate(self.h):
                if not h.fixed:
                    row_loss += h.weight * h.loss[levels[i]][self.hist.codes[i]]
            kept_loss = float((row_loss * counts * ~row_fail).sum())
            loss = (kept_loss + suppressed * self.q) / (self.total * self.q) if self.q else suppressed / self.total
        suppressed_codes = None
        l_found = None
        if detail:
            _, first = np.unique(main, return_index=True)
            failing = np.flatnonzero(fail)
            rows = first[failing]
            suppressed_codes = tuple(h.up[levels[i]][self.hist.codes[i][rows]] for i, h in enumerate(self.h))
            l_found = self.l_found(inverse, count, ~fail)
        return NodeResult(
            levels=levels,
            acceptable=acceptable,
            rows=self.total,
            suppressed_rows=suppressed,
            suppressed_classes=int(fail.sum()),
            classes_kept=int((~fail).sum()),
            loss=float(loss),
            generalisation_bound=self.bound(levels),
            protected_share=protected,
            reason="; ".join(reasons) if not acceptable else "",
            kept_sizes=sizes[~fail] if detail else None,
            suppressed_codes=suppressed_codes,
            l_found=l_found,
        )

    def l_found(self, inverse: IntArray, count: int, kept: npt.NDArray[np.bool_]) -> dict[str, int]:
        """Smallest distinct count of each l-diverse column over the kept classes that hold any value."""
        found: dict[str, int] = {}
        for index, (column, (_, values)) in enumerate(self.hist.sensitive.items()):
            seg = inverse[self.bounds[index] : self.bounds[index + 1]]
            mask = kept[seg]
            if not mask.any():
                continue
            width = int(values.max()) + 1
            pairs = pd.unique(seg[mask] * width + values[mask])
            distinct = np.bincount(pairs // width, minlength=count)
            found[column] = int(distinct[distinct > 0].min())
        return found

    def before(self) -> tuple[IntArray, dict[str, int]]:
        """Class sizes and l-diversity of the data as they are (the bottom node, nothing suppressed)."""
        levels = tuple(0 for _ in self.h)
        inverse, count = self._classes(levels)
        sizes = np.bincount(inverse[: self.main], weights=self.hist.counts, minlength=count).astype(np.int64)
        return sizes, self.l_found(inverse, count, np.ones(count, dtype=bool))

    def _average(self, sizes: IntArray, fail: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        """The smallest kept classes to drop so the average risk meets the target (removing small ones first)."""
        extra = np.zeros(len(sizes), dtype=bool)
        kept = np.flatnonzero(~fail)
        if len(kept) == 0:
            return extra
        order = kept[np.argsort(sizes[kept], kind="stable")]
        ordered = sizes[order]
        n_classes, n_rows = len(order), int(ordered.sum())
        removed_rows = np.concatenate([[0], np.cumsum(ordered)[:-1]])
        remaining_classes = n_classes - np.arange(n_classes)
        with np.errstate(divide="ignore", invalid="ignore"):
            average = remaining_classes / (n_rows - removed_rows)
        good = np.flatnonzero(average <= self.criterion.data_risk_target + EPSILON)
        drop = int(good[0]) if len(good) else n_classes
        extra[order[:drop]] = True
        return extra

    # -- the search ----------------------------------------------------------------------------------
    def search(self, max_evaluations: int = 5000) -> SearchResult:
        """Suppression alone if it is enough (IPC Step 8); else the least-loss acceptable node."""
        shape = [h.levels for h in self.h]
        size = int(np.prod(shape, dtype=np.int64))
        if size > MAX_NODES:
            raise SpecError(
                f"The release's generalisation lattice has {size:,} nodes (more than {MAX_NODES:,}); declare fewer "
                "levels or fewer quasi-identifiers in the release section."
            )
        bottom_levels = tuple(0 for _ in shape)
        bottom = self.evaluate(bottom_levels, detail=True)
        if bottom.acceptable:
            return SearchResult("suppression only", bottom, bottom, size, self.evaluations, 0, True)
        nodes = np.array(list(itertools.product(*[range(n) for n in shape])), dtype=np.int16).reshape(size, len(shape))
        bounds = np.zeros(size)
        if self.q:
            for i, losses in enumerate(self.mean_loss):
                bounds += losses[nodes[:, i]]
            bounds /= self.q
        order = np.lexsort((nodes.sum(axis=1), bounds))
        self._failing = np.array([nodes[0]], dtype=np.int16)
        self._results: dict[tuple[int, ...], NodeResult] = {}
        best: NodeResult | None = None
        pruned = 0
        optimal = True
        for index in order:
            if best is not None and bounds[index] >= best.loss - EPSILON:
                break
            node = tuple(int(x) for x in nodes[index])
            if self._known_failing(node):
                pruned += 1
                continue
            if self.evaluations >= max_evaluations:
                optimal = False
                break
            result = self._results.get(node) or self._probe(node, shape)
            if result.acceptable and (best is None or result.loss < best.loss - EPSILON):
                best = result
        if best is None:
            best = self.evaluate(tuple(n - 1 for n in shape))
            if not best.acceptable:
                raise _Infeasible(best)
            optimal = False
        chosen = self.evaluate(best.levels, detail=True)
        return SearchResult("generalisation and suppression", chosen, bottom, size, self.evaluations, pruned, optimal)

    def _known_failing(self, node: tuple[int, ...]) -> bool:
        return bool((self._failing >= np.array(node, dtype=np.int16)).all(axis=1).any())

    def _record(self, result: NodeResult) -> NodeResult:
        self._results[result.levels] = result
        if not result.acceptable:
            self._failing = np.vstack([self._failing, np.array(result.levels, dtype=np.int16)])
        return result

    def _probe(self, node: tuple[int, ...], shape: list[int]) -> NodeResult:
        """Evaluate `node`; if it fails, find the highest failing node on a cheap chain above it (binary
        search, acceptability being monotone), so one failure prunes a whole region below."""
        result = self._record(self.evaluate(node))
        if result.acceptable:
            return result
        chain = [node]
        current = list(node)
        while True:
            options = [i for i in range(len(shape)) if current[i] < shape[i] - 1]
            if not options:
                break
            step = min(options, key=lambda i: self.mean_loss[i][current[i] + 1] - self.mean_loss[i][current[i]])
            current[step] += 1
            chain.append(tuple(current))
        low, high = 0, len(chain) - 1  # chain[low] fails; find the last failing position
        if self._status(chain[high]):
            while high - low > 1:
                middle = (low + high) // 2
                if self._status(chain[middle]):
                    high = middle
                else:
                    low = middle
        return result

    def _status(self, node: tuple[int, ...]) -> bool:
        known = self._results.get(node)
        if known is None:
            if self._known_failing(node):
                return False
            known = self._record(self.evaluate(node))
        return known.acceptable


class _Infeasible(Exception):
    def __init__(self, result: NodeResult) -> None:
        super().__init__(result.reason)
        self.result = result


Infeasible = _Infeasible
