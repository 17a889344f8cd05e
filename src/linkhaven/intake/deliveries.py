"""Reading the collection register: what later stages take as their input, and the steward's view."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
from sqlalchemy import select

from linkhaven.errors import WorkspaceError
from linkhaven.governance.permissions import Action
from linkhaven.governance.session import open_session
from linkhaven.schema import deliveries
from linkhaven.workspace.workspace import Workspace


@dataclass(frozen=True)
class Delivery:
    id: str
    source: str
    file_name: str
    status: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    quarantined_by_reason: dict[str, int]
    values_set_null: dict[str, int]
    columns_dropped: list[str]
    identity_table: str
    content_table: str
    quarantine_table: str
    supersedes: str | None
    superseded_by: str | None
    received_at: str
    received_by: str
    notice_version: int
    agreement_id: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


_PLAIN = [
    "id", "source", "file_name", "status", "rows_read", "rows_loaded", "rows_quarantined", "identity_table",
    "content_table", "quarantine_table", "supersedes", "superseded_by", "received_at", "received_by",
    "notice_version", "agreement_id",
]  # fmt: skip


def _deliveries(ws: Workspace, source: str | None = None) -> list[Delivery]:
    query = select(deliveries).order_by(deliveries.c.id)
    if source is not None:
        query = query.where(deliveries.c.source == source)
    with ws.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        Delivery(
            **{k: r[k] for k in _PLAIN},
            quarantined_by_reason=json.loads(r["quarantined_by_reason"]),
            values_set_null=json.loads(r["values_set_null"]),
            columns_dropped=json.loads(r["columns_dropped"]),
        )
        for r in rows
    ]


def current_deliveries(ws: Workspace, source: str) -> list[Delivery]:
    """The loaded, not superseded, deliveries of `source`: the input of linkage and the panel."""
    return [d for d in _deliveries(ws, source) if d.status == "loaded"]


def delivery_status(ws: Workspace) -> list[Delivery]:
    """Every delivery in the collection register (steward and privacy officer)."""
    with open_session(ws, Action.INTAKE_STATUS, "deliveries") as act:
        found = _deliveries(ws)
        act.detail["deliveries"] = len(found)
    return found


def _find(ws: Workspace, delivery_id: str) -> Delivery:
    for delivery in _deliveries(ws):
        if delivery.id == delivery_id:
            return delivery
    raise WorkspaceError(f"There is no delivery {delivery_id}; see `linkhaven intake status`.")


def quarantine_summary(ws: Workspace, delivery_id: str | None = None) -> list[dict[str, object]]:
    """Counts of quarantined rows by delivery, reason and field, with their line numbers (no values)."""
    with open_session(ws, Action.QUARANTINE_LIST, f"delivery:{delivery_id or 'all'}") as act:
        chosen = [_find(ws, delivery_id)] if delivery_id else _deliveries(ws)
        summary: list[dict[str, object]] = []
        zone = ws.zone("content")
        for delivery in chosen:
            if not delivery.rows_quarantined:
                continue
            table = zone.read(delivery.quarantine_table).select(["line", "reason", "field"]).to_pylist()
            groups: dict[tuple[str, str], list[int]] = {}
            for row in table:
                groups.setdefault((row["reason"], row["field"]), []).append(row["line"])
            for (reason, field), lines in sorted(groups.items()):
                summary.append(
                    {"delivery": delivery.id, "source": delivery.source, "reason": reason, "field": field,
                     "rows": len(lines), "lines": lines[:20]}
                )  # fmt: skip
        act.detail["groups"] = len(summary)
    return summary


def export_quarantine(ws: Workspace, delivery_id: str, out: Path) -> int:
    """Write a delivery's quarantined rows, with their values, to a file the steward names (audited).

    The file is new and readable by its owner only (mode 0600), and no value in it runs as a
    formula when it is opened in a spreadsheet (see `linkhaven.csvsafe`)."""
    with open_session(ws, Action.QUARANTINE_EXPORT, f"delivery:{delivery_id}") as act:
        delivery = _find(ws, delivery_id)
        if out.exists() or out.is_symlink():
            raise WorkspaceError(f"{out} already exists; name a new file for the export.")
        if ws.root.resolve() in out.resolve().parents:
            raise WorkspaceError("Export outside the workspace: the workspace holds only encrypted zone files.")
        content = ws.zone("content").read(delivery.quarantine_table)
        identity = ws.zone("identity").read(delivery.quarantine_table)
        joined = content.join(identity, "line", join_type="full outer").sort_by("line")
        _write_csv(joined, out)
        act.detail.update(rows=joined.num_rows)
    return int(joined.num_rows)


def _write_csv(table: pa.Table, out: Path) -> None:
    """A new file, mode 0600, every formula-like cell neutralised; a failed write leaves no partial file."""
    from linkhaven.csvsafe import neutralised, open_private

    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        handle = open_private(out)
    except FileExistsError:
        raise WorkspaceError(f"{out} already exists; name a new file for the export.") from None
    try:
        with handle:
            writer = csv.writer(handle)
            writer.writerow(neutralised(table.column_names))
            for row in table.to_pylist():
                writer.writerow(neutralised(row.values()))
    except BaseException:
        out.unlink(missing_ok=True)
        raise
