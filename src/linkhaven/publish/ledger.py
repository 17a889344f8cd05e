"""The release ledger (R47): every cell ever published, hidden, and the constraints that tie them.

A reader holds every earlier publication, so a new one is audited together with them: cells
published earlier are facts the attacker knows (as published, i.e. within the rounding error if
they were rounded), cells hidden earlier must stay protected, and the earlier constraints still
hold. The ledger stores keys, statuses and published values only, never the true value of a
hidden cell: those are small counts of children, and the metadata store is not encrypted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, insert, select

from linkhaven.schema import ledger_cells, ledger_constraints, publications


@dataclass
class LedgerCell:
    key: str
    table: str
    status: str
    value: float | None
    """The value as published (rounded if the publication rounded), None where hidden."""
    rounding_base: int | None
    publication: str


@dataclass
class Ledger:
    """Everything earlier publications made public, as the audit of a new one needs it."""

    cells: list[LedgerCell] = field(default_factory=list)
    sums: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    at_most: list[tuple[str, str]] = field(default_factory=list)
    publications: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.cells


def load(engine: Engine) -> Ledger:
    ledger = Ledger()
    with engine.connect() as conn:
        rounding = {
            row.id: row.rounding_base
            for row in conn.execute(select(publications.c.id, publications.c.rounding_base).order_by(publications.c.id))
        }
        ledger.publications = list(rounding)
        for row in conn.execute(select(ledger_cells)):
            ledger.cells.append(
                LedgerCell(
                    row.cell,
                    row.table_name,
                    row.status,
                    row.value,
                    rounding.get(row.publication_id),
                    row.publication_id,
                )
            )
        for row in conn.execute(
            select(ledger_constraints).order_by(ledger_constraints.c.publication_id, ledger_constraints.c.seq)
        ):
            others = tuple(json.loads(row.others))
            if row.kind == "sum":
                ledger.sums.append((row.cell, others))
            else:
                ledger.at_most.append((row.cell, others[0]))
    return ledger


def record(
    conn: Connection,
    publication_id: str,
    cells: Iterable[tuple[str, str, str, float | None]],
    sums: Iterable[tuple[str, Iterable[str]]],
    at_most: Iterable[tuple[str, str]],
) -> None:
    """Add a publication's cells (key, table, status, published value) and constraints to the ledger."""
    conn.execute(
        insert(ledger_cells),
        [
            {"publication_id": publication_id, "cell": key, "table_name": table, "status": status, "value": value}
            for key, table, status, value in cells
        ],
    )
    rows = [{"kind": "sum", "cell": total, "others": json.dumps(list(parts))} for total, parts in sums]
    rows += [{"kind": "at_most", "cell": small, "others": json.dumps([big])} for small, big in at_most]
    if rows:
        conn.execute(
            insert(ledger_constraints),
            [{"publication_id": publication_id, "seq": seq, **row} for seq, row in enumerate(rows)],
        )
