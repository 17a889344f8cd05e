"""Generalisation hierarchies compiled against the data: every distinct value, at every level.

A spec hierarchy (`linkhaven.spec.releases.QuasiIdentifier`) says how a column may be coarsened;
compiling it against the column's distinct values gives, for each level, the label of every base
value and a small integer code. The lattice search then works on codes only (a few arrays of the
size of the distinct values, never the rows), and the release is written by joining the chosen
level's labels back onto the rows. Compiling also proves the hierarchy is one: each level must be
a function of the level below, or generalising could split a group and raise the risk.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from linkhaven.errors import SpecError
from linkhaven.spec.releases import SUPPRESSED, Generalisation, QuasiIdentifier

Value = str | int | float | None
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Hierarchy:
    """One quasi-identifier compiled: labels and codes of every distinct value at every level.

    `up[level][b]` is the code, at `level`, of base value `b`; `labels[level][code]` its label
    (None stays None, a missing value, until the top level `*`); `loss[level][b]` is the
    generalisation loss of a cell holding base value `b` at that level (ARX's "Loss" metric:
    (base values in the group - 1) / (distinct base values - 1)).
    """

    column: str
    fixed: bool
    base_values: tuple[Value, ...]
    base_counts: IntArray
    names: tuple[str, ...]
    labels: tuple[tuple[str | None, ...], ...]
    up: tuple[IntArray, ...]
    loss: tuple[FloatArray, ...]
    weight: float = 1.0
    """What generalising this column costs against the others (ARX's attribute weights)."""

    @property
    def levels(self) -> int:
        return len(self.labels)

    def cardinality(self, level: int) -> int:
        return len(self.labels[level])

    def mean_loss(self, level: int) -> float:
        """Average loss over all rows at `level`: the generalisation-only lower bound of the search."""
        total = int(self.base_counts.sum())
        return float((self.loss[level] * self.base_counts).sum() / total) if total else 0.0

    def rollup(self, lower: int, higher: int) -> IntArray:
        """Map codes of `lower` to codes of `higher` (a function, since the hierarchy is checked)."""
        mapping = np.zeros(self.cardinality(lower), dtype=np.int64)
        mapping[self.up[lower]] = self.up[higher]
        return mapping


def _is_number(value: Value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def _bin_label(value: Value, level: Generalisation, column: str) -> str | None:
    if value is None:
        return None
    if not _is_number(value):
        raise SpecError(f"Release quasi-identifier '{column}': a bin level needs numbers, and the column holds text.")
    number = float(value)
    if level.top is not None and number >= level.top:
        return f"{_fmt(level.top)}+"
    if level.bottom is not None and number < level.bottom:
        return f"<{_fmt(level.bottom)}"
    width = level.bin or 1
    low = math.floor(number / width) * width
    if width == 1 and number.is_integer():
        return _fmt(low)
    if number.is_integer() or isinstance(value, int):
        return f"{_fmt(low)}-{_fmt(low + width - 1)}"
    return f"[{_fmt(low)}, {_fmt(low + width)})"


def _apply(
    level: Generalisation,
    previous: Sequence[Value],
    base: Sequence[Value],
    counts: IntArray,
    column: str,
    attributes: Mapping[str, Mapping[str, object]] | None,
) -> list[str | None]:
    kind = level.kind
    if kind == "bin":
        return [_bin_label(v, level, column) for v in base]
    if kind == "prefix":
        n = level.prefix or 1
        return [None if v is None else str(v)[:n] for v in previous]
    if kind == "attribute":
        if attributes is None:
            raise SpecError(f"Release quasi-identifier '{column}': its code_list is not declared under code_lists.")
        name = level.attribute or ""
        out: list[str | None] = []
        for v in previous:
            if v is None:
                out.append(None)
                continue
            entry = attributes.get(str(v))
            if entry is None or name not in entry:
                raise SpecError(
                    f"Release quasi-identifier '{column}': code list attribute '{name}' is missing for a code "
                    "found in the data; give every code of the list that attribute."
                )
            out.append(str(entry[name]))
        return out
    if kind == "map":
        groups = level.map or {}
        return [None if v is None else groups.get(str(v), str(v)) for v in previous]
    # rare: merge the values (at the previous level) held by fewer than `rare` rows.
    totals: dict[Value, int] = {}
    for v, n in zip(previous, counts.tolist(), strict=True):
        totals[v] = totals.get(v, 0) + int(n)
    threshold = level.rare or 0
    return [None if v is None else (level.other if totals[v] < threshold else str(v)) for v in previous]


def _codes(labels: Sequence[str | None]) -> tuple[tuple[str | None, ...], IntArray]:
    distinct = sorted({lab for lab in labels if lab is not None})
    ordered: list[str | None] = list(distinct) + ([None] if any(lab is None for lab in labels) else [])
    index = {lab: i for i, lab in enumerate(ordered)}
    return tuple(ordered), np.array([index[lab] for lab in labels], dtype=np.int64)


def _describe(level: Generalisation) -> str:
    kind = level.kind
    if kind == "bin":
        tails = "".join(
            part
            for part in (
                f", top-coded at {_fmt(level.top)}" if level.top is not None else "",
                f", bottom-coded below {_fmt(level.bottom)}" if level.bottom is not None else "",
            )
        )
        return f"bands of {level.bin}{tails}"
    if kind == "prefix":
        return f"first {level.prefix} character(s)"
    if kind == "attribute":
        return f"code list attribute '{level.attribute}'"
    if kind == "map":
        return f"grouped ({len(level.map or {})} values mapped)"
    return f"values under {level.rare} rows merged into '{level.other}'"


def compile_hierarchy(
    qi: QuasiIdentifier,
    base_values: Sequence[Value],
    base_counts: IntArray,
    attributes: Mapping[str, Mapping[str, object]] | None = None,
) -> Hierarchy:
    """Compile `qi` over the column's distinct values (and their row counts); refuse a non-hierarchy."""
    base = list(base_values)
    level0 = [None if v is None else (_fmt(float(v)) if _is_number(v) else str(v)) for v in base]
    steps: list[list[str | None]] = [level0]
    names = ["as collected"]
    for level in qi.levels:
        steps.append(_apply(level, steps[-1], base, base_counts, qi.column, attributes))
        names.append(_describe(level))
    if not qi.fixed:
        steps.append([SUPPRESSED] * len(base))
        names.append("withheld (*)")
    labels: list[tuple[str | None, ...]] = []
    up: list[IntArray] = []
    for index, step in enumerate(steps):
        ordered, codes = _codes(step)
        if index > 0 and not _is_function(up[-1], codes):
            raise SpecError(
                f"Release quasi-identifier '{qi.column}': level {index} ({names[index]}) is not a generalisation "
                f"of level {index - 1} ({names[index - 1]}): some group below would be split. Align bin widths, "
                "top and bottom codes, or the map, so that each level only merges groups of the one below."
            )
        labels.append(ordered)
        up.append(codes)
    distinct = len(base)
    loss: list[FloatArray] = []
    for codes in up:
        leaves = np.bincount(codes, minlength=int(codes.max()) + 1 if len(codes) else 0)
        per_base = (leaves[codes] - 1) / (distinct - 1) if distinct > 1 else np.zeros(len(codes))
        loss.append(per_base.astype(np.float64))
    return Hierarchy(
        column=qi.column,
        fixed=qi.fixed,
        base_values=tuple(base),
        base_counts=np.asarray(base_counts, dtype=np.int64),
        names=tuple(names),
        labels=tuple(labels),
        up=tuple(up),
        loss=tuple(loss),
        weight=qi.weight,
    )


def _is_function(lower: IntArray, higher: IntArray) -> bool:
    if len(lower) == 0:
        return True
    seen = np.full(int(lower.max()) + 1, -1, dtype=np.int64)
    seen[lower] = higher
    return bool((seen[lower] == higher).all())
