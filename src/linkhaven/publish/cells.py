"""Cells and what an attacker knows about them: the linked system every protection step works on.

A table is cells plus additivity constraints. Cells are named by a canonical key, the sorted
conditions that define the persons counted ("board=B66001|care_status=in_care|school_year=2021-22"),
so the same quantity published in two tables (a margin shared by the gender and the board table,
or a cell of last year's publication) is one variable, and linked tables need no special case.

Constraints are of two kinds, both facts anyone can state from the table design alone:
- `sums`: a total equals the sum of its parts (a margin, a status total, students = meeting + not meeting);
- `at_most`: a count of a sub-population is at most the count of the population it is drawn from
  (grade 10 students with credits counted in board X <= students in board X).
Every cell is a non-negative integer. Nothing else is assumed known, which is exactly the
attacker model of tau-Argus' audit and sdcTable's `attack()`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix, csr_matrix

from linkhaven.errors import LinkhavenError


class Status(IntEnum):
    """Why a cell is shown or hidden. Internal: the ledger and the register keep it for the privacy
    officer; nothing published does (see `public_mark`)."""

    PUBLISHED = 0
    PRIMARY = 1
    SECONDARY = 2

    @property
    def label(self) -> str:
        return LEDGER_LABELS[self]


LEDGER_LABELS = {
    Status.PUBLISHED: "published",
    Status.PRIMARY: "suppressed-primary",
    Status.SECONDARY: "suppressed-secondary",
}
"""The internal labels, for the ledger and the register only; never written to a published file."""

PUBLISHED = "published"
SUPPRESSED = "suppressed"
PUBLIC_MARKS = (PUBLISHED, SUPPRESSED)
"""The only marks a reader sees. One mark for every hidden cell, whatever hid it: a label saying a
cell is primary tells the reader it is between 1 and the minimum cell size minus 1, and with that
most complements can be narrowed below the protection level (the audit models hidden cells as
anything from 0 up)."""


def public_mark(status: Status | int) -> str:
    return PUBLISHED if int(status) == Status.PUBLISHED else SUPPRESSED


class SumKind(IntEnum):
    """Why a total adds up: it tells the primary rules which totals describe a group's attribute."""

    BREAKDOWN = 0
    """Over the codes of a breakdown (gender, board): a part equal to its total is not an attribute disclosure."""
    STATUS = 1
    """Over the care-status hierarchy: a part equal to its total says everyone in the group has that status."""
    OUTCOME = 2
    """Meeting + not meeting = students: a part equal to its total is a 0 % or 100 % rate."""


def cell_key(conditions: Mapping[str, str]) -> str:
    """The canonical name of the persons satisfying every condition; order-free by construction."""
    return "|".join(f"{name}={conditions[name]}" for name in sorted(conditions))


def parse_key(key: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in key.split("|")) if key else {}


class InconsistentCells(LinkhavenError):
    """Two tables give one cell different values; the indicator definitions overlap wrongly."""


@dataclass
class CellSystem:
    """Every cell of a publication (and of earlier ones, from the ledger) with what links them."""

    keys: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    """True values of this publication's cells; NaN for cells known only from the ledger."""
    tables: list[set[str]] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    """Cost of suppressing the cell as a complement: totals cost more, so headline figures survive."""
    sums: list[tuple[int, tuple[int, ...], SumKind]] = field(default_factory=list)
    at_most: list[tuple[int, int]] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    _sum_seen: set[tuple[int, tuple[int, ...]]] = field(default_factory=set)
    _at_most_seen: set[tuple[int, int]] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.keys)

    def add_cell(self, key: str, value: float, table: str, weight: float = 1.0) -> int:
        """Register a cell (or find it again, checking that the value agrees)."""
        found = self.index.get(key)
        if found is not None:
            if np.isnan(value):  # a cell known only from the ledger joins one of this publication
                self.tables[found].add(table)
                return found
            if not np.isnan(self.values[found]) and self.values[found] != value:
                raise InconsistentCells(
                    f"cell {key} has two values in tables {sorted(self.tables[found] | {table})}; "
                    "the indicator definitions must describe one population per key"
                )
            self.values[found] = value
            self.tables[found].add(table)
            self.weights[found] = max(self.weights[found], weight)
            return found
        self.index[key] = len(self.keys)
        self.keys.append(key)
        self.values.append(float(value))
        self.tables.append({table})
        self.weights.append(weight)
        return len(self.keys) - 1

    def add_sum(self, total: int, parts: Iterable[int], kind: SumKind) -> None:
        ordered = tuple(sorted(parts))
        signature = (total, ordered)
        if signature in self._sum_seen or not ordered:
            return
        self._sum_seen.add(signature)
        self.sums.append((total, ordered, kind))

    def add_at_most(self, small: int, big: int) -> None:
        if (small, big) in self._at_most_seen or small == big:
            return
        self._at_most_seen.add((small, big))
        self.at_most.append((small, big))

    # -- matrices ------------------------------------------------------------------------------
    def value_array(self) -> NDArray[np.float64]:
        return np.asarray(self.values, dtype=np.float64)

    def sum_matrix(self) -> csr_matrix:
        """Rows `parts - total`; every row equals 0 on the true values."""
        rows: list[int] = []
        cols: list[int] = []
        data: list[float] = []
        for row, (total, parts, _) in enumerate(self.sums):
            rows.append(row)
            cols.append(total)
            data.append(-1.0)
            rows.extend([row] * len(parts))
            cols.extend(parts)
            data.extend([1.0] * len(parts))
        return coo_matrix((data, (rows, cols)), shape=(len(self.sums), len(self))).tocsr()

    def at_most_matrix(self) -> csr_matrix:
        """Rows `small - big`; every row is <= 0 on the true values."""
        n = len(self.at_most)
        rows = np.repeat(np.arange(n), 2)
        cols = np.array([c for pair in self.at_most for c in pair], dtype=np.int64)
        data = np.tile([1.0, -1.0], n)
        return coo_matrix((data, (rows, cols)), shape=(n, len(self))).tocsr()

    def check_additive(self) -> None:
        """Refuse a system whose true values break a stated constraint: its audit would prove nothing."""
        values = self.value_array()
        known = ~np.isnan(values)
        for total, parts, _ in self.sums:
            members = [total, *parts]
            if known[members].all() and abs(values[list(parts)].sum() - values[total]) > 1e-9:
                raise InconsistentCells(
                    f"the parts of {self.keys[total]} do not add up to it; a person is counted twice "
                    "or a code is missing from the breakdown"
                )
