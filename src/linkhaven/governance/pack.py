"""The review pack for the Commissioner (R5): every register, the audit verification, the notices,
agreements, reports, audit results, certificates and incidents, with an index page.

Everything in it is already free of personal information by construction (registers hold counts,
codes and hashes; reports hold aggregates); the zones are never read. A test checks the pack
against the extracts' identifier values anyway.

The pack's manifest (`manifest.json`) and its index record the audit head at the time, as
`SEQ:HASH`: the log can be rewritten by someone who holds the audit key, but not this copy, so
`linkhaven audit verify --anchor SEQ:HASH` shows later whether the log still holds that event.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import MetaData, select

from linkhaven.csvsafe import neutralised
from linkhaven.errors import LinkhavenError, WorkspaceError
from linkhaven.governance.audit import AuditHead, anchored_head
from linkhaven.governance.permissions import MATRIX, Action, Role
from linkhaven.governance.session import audit_log, open_session
from linkhaven.governance.verification import Verification, verify_store
from linkhaven.workspace.workspace import Workspace, now

SKIPPED_TABLES = {"alembic_version", "audit_events"}
REPORT_FOLDERS = ("reports", "releases", "publications")
REPORT_SUFFIXES = {".json", ".html", ".csv", ".md", ".svg"}
DATA_NAMES = {"data", "panel"}


MANIFEST = "manifest.json"


@dataclass(frozen=True)
class PackEntry:
    section: str
    title: str
    path: str
    rows: int | None = None


@dataclass(frozen=True)
class PackHead:
    """The audit head the pack records, and whether the key store's anchor vouches for it."""

    head: AuditHead | None
    anchored: bool
    note: str

    def as_dict(self) -> dict[str, object]:
        return {
            "seq": self.head.seq if self.head else None,
            "hash": self.head.hash if self.head else None,
            "anchored": self.anchored,
            "note": self.note,
            "check": f"linkhaven audit verify --anchor {self.head}" if self.head else None,
        }


def build_pack(ws: Workspace, out: Path, period_from: date | None, period_to: date | None) -> list[PackEntry]:
    if out.exists() and any(out.iterdir()):
        raise WorkspaceError(f"{out} is not empty; name a new folder for the review pack.")
    if ws.root.resolve() in out.resolve().parents or out.resolve() == ws.root.resolve():
        raise WorkspaceError("Write the review pack outside the workspace.")
    with open_session(ws, Action.OVERSIGHT_PACK, "oversight-pack") as act:
        out.mkdir(parents=True, exist_ok=True)
        entries: list[PackEntry] = []
        entries += _registers(ws, out)
        verification = verify_store(ws)
        head = _head(ws, verification)
        entries += _audit(ws, out, verification, period_from, period_to)
        entries += _notices(ws, out)
        entries.append(_matrix(out))
        entries += _reports(ws, out)
        _index(out, entries, ws, head, period_from, period_to)
        _manifest(out, entries, ws, head, verification, period_from, period_to)
        act.detail.update(files=len(entries) + 2, audit_head_seq=head.head.seq if head.head else None)
    return entries


def _head(ws: Workspace, verification: Verification) -> PackHead:
    """The anchored head when the key store vouches for it, else the log's last event, saying why."""
    try:
        head = anchored_head(audit_log(ws))
    except LinkhavenError as err:
        return PackHead(verification.head, False, f"not anchored: {err}")
    if verification.head is not None and head != verification.head:
        return PackHead(verification.head, False, f"the key store's anchor is at event {head.seq}, behind the log")
    return PackHead(head, True, "anchored in the key store")


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(neutralised(header))
        writer.writerows(neutralised(row) for row in rows)


def _registers(ws: Workspace, out: Path) -> list[PackEntry]:
    """Every register in the metadata store, whichever stage created it, as CSV."""
    reflected = MetaData()
    reflected.reflect(ws.engine)
    entries = []
    with ws.engine.connect() as conn:
        for name, table in sorted(reflected.tables.items()):
            if name in SKIPPED_TABLES:
                continue
            rows = [list(r) for r in conn.execute(select(table))]
            _write_csv(out / "registers" / f"{name}.csv", [c.name for c in table.columns], rows)
            entries.append(PackEntry("Registers", name.replace("_", " "), f"registers/{name}.csv", len(rows)))
    return entries


def _audit(
    ws: Workspace, out: Path, result: Verification, period_from: date | None, period_to: date | None
) -> list[PackEntry]:
    verification = result.as_dict()
    (out / "audit").mkdir(parents=True, exist_ok=True)
    (out / "audit" / "verification.json").write_text(json.dumps(verification, indent=2) + "\n")
    low = period_from.isoformat() if period_from else ""
    high = period_to.isoformat() + "\uffff" if period_to else "\uffff"
    events = [e for e in audit_log(ws).events() if low <= e.ts <= high]
    _write_csv(
        out / "audit" / "events.csv",
        ["seq", "ts", "actor", "role", "action", "object", "outcome", "detail"],
        [[e.seq, e.ts, e.actor, e.role, e.action, e.target, e.outcome, json.dumps(e.detail)] for e in events],
    )
    return [
        PackEntry("Audit", f"audit log verification ({'intact' if verification['ok'] else 'BROKEN'})",
                  "audit/verification.json"),
        PackEntry("Audit", "audit events in the period", "audit/events.csv", len(events)),
    ]  # fmt: skip


def _notices(ws: Workspace, out: Path) -> list[PackEntry]:
    from linkhaven.schema import notices

    entries = []
    with ws.engine.connect() as conn:
        for row in conn.execute(select(notices).order_by(notices.c.version)).mappings():
            path = out / "notices" / f"notice-v{row['version']}.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(row["text"])
            entries.append(
                PackEntry("Notices", f"notice version {row['version']}, published {row['published_on']}",
                          f"notices/{path.name}")
            )  # fmt: skip
    return entries


def _matrix(out: Path) -> PackEntry:
    roles = list(Role)
    rows: list[list[object]] = [
        [action.value, *("yes" if r in MATRIX[action] else "" for r in roles)] for action in Action
    ]
    _write_csv(out / "permission-matrix.csv", ["action", *(r.value for r in roles)], rows)
    return PackEntry("Governance", "permission matrix (role by action)", "permission-matrix.csv", len(rows))


def _reports(ws: Workspace, out: Path) -> list[PackEntry]:
    """Linkage, de-identification and publication reports and audit results: aggregates only, no data files."""
    entries = []
    for folder in REPORT_FOLDERS:
        base = ws.root / folder
        if not base.exists():
            continue
        for path in sorted(base.rglob("*")):
            relative = path.relative_to(ws.root)
            if not path.is_file() or path.suffix not in REPORT_SUFFIXES or DATA_NAMES & set(relative.parts):
                continue
            target = out / "reports" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            entries.append(PackEntry(f"Reports: {folder}", str(relative.relative_to(folder)), f"reports/{relative}"))
    return entries


def _manifest(
    out: Path,
    entries: list[PackEntry],
    ws: Workspace,
    head: PackHead,
    verification: Verification,
    period_from: date | None,
    period_to: date | None,
) -> None:
    """What the pack holds, each file with its sha256, and the audit head it was built at."""
    files = [
        {
            "path": entry.path,
            "section": entry.section,
            "title": entry.title,
            "rows": entry.rows,
            "sha256": hashlib.sha256((out / entry.path).read_bytes()).hexdigest(),
        }
        for entry in entries
    ]
    files.append({"path": "index.html", "section": "Index", "title": "index", "rows": None,
                  "sha256": hashlib.sha256((out / "index.html").read_bytes()).hexdigest()})  # fmt: skip
    manifest = {
        "kind": "linkhaven oversight review pack",
        "project": ws.info.get("project_id"),
        "generated": now(),
        "period": {
            "from": period_from.isoformat() if period_from else None,
            "to": period_to.isoformat() if period_to else None,
        },
        "audit_head": head.as_dict(),
        "audit_intact": verification.ok,
        "spec_version": verification.spec_version,
        "spec_sha256": ws.spec_sha256,
        "files": files,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def _index(
    out: Path,
    entries: list[PackEntry],
    ws: Workspace,
    head: PackHead,
    period_from: date | None,
    period_to: date | None,
) -> None:
    env = Environment(loader=PackageLoader("linkhaven.governance", "templates"), autoescape=select_autoescape())
    sections: dict[str, list[PackEntry]] = {}
    for entry in entries:
        sections.setdefault(entry.section, []).append(entry)
    html = env.get_template("pack_index.html.j2").render(
        sections=sections,
        project=ws.info.get("project_id"),
        generated=now(),
        head=head,
        period_from=period_from.isoformat() if period_from else "the start",
        period_to=period_to.isoformat() if period_to else "today",
    )
    (out / "index.html").write_text(html)
