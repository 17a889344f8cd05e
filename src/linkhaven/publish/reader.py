"""What a reader of the publications knows, and the attacker audit run on exactly that.

The gate of a publication and `linkhaven publish verify` both build the attacker's knowledge here,
from what is published and nothing else: each table's rows (published values, and one mark for
every hidden cell), its constraints file (sums, at-most bounds, the rounding rule), and every
earlier publication. Nothing the unit knows internally enters: not the true values, not which
rule hid a cell. So if a published file ever says more than the audit assumes, the audit reads
it too, and a mark it cannot model stops the publication instead of slipping past it.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from linkhaven.errors import LinkhavenError
from linkhaven.publish.audit import AuditResult, Knowledge, audit, clusters_of
from linkhaven.publish.cells import PUBLIC_MARKS, PUBLISHED, CellSystem, SumKind
from linkhaven.publish.ledger import Ledger
from linkhaven.publish.lp import TOLERANCE

TABLES_DIR = "tables"

LEGACY_PRIMARY = "suppressed-primary"
LEGACY_MARKS = {LEGACY_PRIMARY, "suppressed-secondary"}
"""Marks of publications written before one mark replaced them. A reader of such a file knows a
`suppressed-primary` count is at least 1 (small or equal to its total, never 0); the audit uses
that bound. That it is also below the minimum cell size when small is not linear (a full cell is
not small) and is not modelled: those publications told readers more than any audit here credits."""


class UnknownMark(LinkhavenError):
    """A published row carries a status the audit cannot turn into knowledge."""


@dataclass
class ReaderView:
    """Every cell a reader can name, what they know of it, and the constraints they are told."""

    system: CellSystem = field(default_factory=CellSystem)
    low: dict[int, float] = field(default_factory=dict)
    high: dict[int, float] = field(default_factory=dict)
    hidden: set[int] = field(default_factory=set)
    floor: dict[int, float] = field(default_factory=dict)
    current: set[int] = field(default_factory=set)
    protection_level: float = 0.0

    # -- what is read -----------------------------------------------------------------------------
    def add_table(
        self, description: Mapping[str, Any], rows: Iterable[Mapping[str, str]], source: str, current: bool
    ) -> None:
        """One published table: its rows (`cell`, `status`, `value`) and its constraints file."""
        table = f"{source}:{description['table']}" if source else str(description["table"])
        slack = float((description.get("rounding") or {}).get("max_error", 0))
        if current:
            self.protection_level = max(self.protection_level, float(description["protection_level"]))
        for line, row in enumerate(rows, start=2):
            mark = row.get("status", "")
            if mark not in PUBLIC_MARKS and mark not in LEGACY_MARKS:
                raise UnknownMark(
                    f"table {description['table']}, line {line}: the status '{mark}' is not a mark the attacker "
                    f"audit can interpret; a published status must be one of {', '.join(PUBLIC_MARKS)}."
                )
            key = row.get("cell") or ""
            if not key:  # a rate or a mean: computed from the counts, or hidden with them
                continue
            index = self.system.add_cell(key, math.nan, table)
            if current:
                self.current.add(index)
            if mark == PUBLISHED:
                self.publish(index, float(row["value"]), slack)
            else:
                self.hidden.add(index)
                if mark == LEGACY_PRIMARY:
                    self.floor[index] = max(self.floor.get(index, 0.0), 1.0)
        for constraint in description.get("sums", ()):
            self.system.add_sum(
                self.system.add_cell(constraint["total"], math.nan, table),
                [self.system.add_cell(p, math.nan, table) for p in constraint["parts"]],
                SumKind.BREAKDOWN,
            )
        for bound in description.get("at_most", ()):
            self.system.add_at_most(
                self.system.add_cell(bound["cell"], math.nan, table),
                self.system.add_cell(bound["at_most"], math.nan, table),
            )

    def publish(self, index: int, value: float, slack: float) -> None:
        """A published value: exact, or within the rounding error."""
        self.low[index] = max(self.low.get(index, 0.0), value - slack, 0.0)
        self.high[index] = min(self.high.get(index, math.inf), value + slack)

    def add_folder(self, folder: Path, current: bool, source: str = "") -> None:
        """A publication folder as anyone holding it reads it: every table's CSV and constraints JSON."""
        for json_path in sorted((folder / TABLES_DIR).glob("*.json")):
            description = json.loads(json_path.read_text(encoding="utf-8"))
            with (folder / TABLES_DIR / description["csv"]).open(encoding="utf-8", newline="") as handle:
                self.add_table(description, csv.DictReader(handle), source, current)

    def add_ledger(self, ledger: Ledger) -> None:
        """Earlier publications as the ledger recorded them: the value each showed (None where hidden),
        its rounding, and its constraints; never the internal reason a cell was hidden."""
        for cell in ledger.cells:
            index = self.system.add_cell(cell.key, math.nan, f"{cell.publication}:{cell.table}")
            if cell.value is None:
                self.hidden.add(index)
            else:
                self.publish(index, cell.value, float((cell.rounding_base or 0) // 2))
        for total, parts in ledger.sums:
            self.system.add_sum(
                self.system.index[total], [self.system.index[p] for p in parts], SumKind.BREAKDOWN
            )
        for small, big in ledger.at_most:
            self.system.add_at_most(self.system.index[small], self.system.index[big])

    # -- what follows ---------------------------------------------------------------------------
    def knowledge(self) -> Knowledge:
        """Published cells lie in their published range; hidden ones are anything from 0 (1 for a legacy
        primary mark) up; a cell only named by a constraint is an unknown non-negative number."""
        n = len(self.system)
        hidden = np.zeros(n, dtype=bool)
        hidden[sorted(self.hidden - set(self.low))] = True
        low = np.zeros(n)
        high = np.full(n, math.inf)
        for index, value in self.low.items():
            low[index] = value
        for index, value in self.high.items():
            high[index] = value
        for index, value in self.floor.items():
            if hidden[index]:
                low[index] = value
        return Knowledge(hidden, low, high)

    def to_check(self, knowledge: Knowledge) -> NDArray[np.bool_]:
        """The hidden cells of the current publication, and earlier hidden cells it is linked to."""
        current = np.zeros(len(self.system), dtype=bool)
        current[sorted(self.current)] = True
        variable = knowledge.hidden | (knowledge.high - knowledge.low > TOLERANCE)
        _, labels = clusters_of(self.system, variable)
        touched = np.unique(labels[current & variable])
        return knowledge.hidden & (current | np.isin(labels, touched[touched >= 0]))

    def audit(self, protection_level: float | None = None) -> AuditResult:
        knowledge = self.knowledge()
        level = self.protection_level if protection_level is None else protection_level
        return audit(self.system, knowledge, level, self.to_check(knowledge))


def read_publications(folder: Path, earlier: Iterable[Path] = ()) -> ReaderView:
    """The view of a reader holding `folder` and the earlier publication folders."""
    view = ReaderView()
    for pub in earlier:
        view.add_folder(pub, current=False, source=pub.name)
    view.add_folder(folder, current=True)
    return view
