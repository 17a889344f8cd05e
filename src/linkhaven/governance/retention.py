"""Retention and secure destruction (R51–R53): what is due, and crypto-shredding what has expired.

A zone is destroyed key first: its key file is overwritten and removed, so every copy of its
files, including backups restored later, is ciphertext nobody can open; then its files are
deleted and a destruction certificate (what, when, method, who, hashes of what was destroyed)
is written to the register. The workspace also remembers the destruction, so a zone stays
destroyed even if someone restores its key file from a backup.
Releases and publications are folders (plus, for releases, files in the releases zone): they are
deleted file by file with the same certificate.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, insert, inspect, select

from linkhaven import schema
from linkhaven.governance.permissions import Action
from linkhaven.governance.session import audit_log, open_session, parse_workspace_spec
from linkhaven.schema import destructions
from linkhaven.workspace.keys import ZONES
from linkhaven.workspace.workspace import Workspace, now

KEY_METHOD = (
    "zone key overwritten with random bytes and unlinked (crypto-shredding: AES-256-GCM ciphertext is unreadable "
    "without it), then every zone file unlinked"
)
FILE_METHOD = "files unlinked; release data in the releases zone unlinked with them"
FOLDERS = {"release": "releases", "publication": "publications"}


@dataclass(frozen=True)
class RetentionItem:
    kind: str
    target: str
    created_on: str
    retain_until: str
    due: bool
    reason: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _retention_days(ws: Workspace) -> tuple[dict[str, int], bool]:
    spec = parse_workspace_spec(ws)
    days = {zone: spec.retention.days_for(zone) for zone in (*ZONES, "publications")}
    return days, spec.retention.destroy_identity_after_linkage


def _linkage_final(ws: Workspace) -> bool:
    """Linkage is final once a linkage run is registered (clerical decisions write new map versions)."""
    if "linkage_runs" not in set(inspect(ws.engine).get_table_names()):
        return False
    with ws.engine.connect() as conn:
        return bool(conn.exec_driver_sql("SELECT count(*) FROM linkage_runs").scalar_one())


def retention_items(ws: Workspace, as_of: date) -> list[RetentionItem]:
    days, identity_after_linkage = _retention_days(ws)
    destroyed = _destroyed_targets(ws)
    items: list[RetentionItem] = []
    with ws.engine.connect() as conn:
        first = dict(
            conn.execute(
                select(schema.zone_tables.c.zone, func.min(schema.zone_tables.c.created_at)).group_by(
                    schema.zone_tables.c.zone
                )
            ).all()
        )
    for zone in ZONES:
        if ("zone", zone) in destroyed or zone not in first:
            continue
        created = datetime.fromisoformat(first[zone]).date()
        until = created + timedelta(days=days[zone])
        due, reason = until < as_of, f"{days[zone]} days after the first table was written"
        if zone == "identity" and identity_after_linkage and _linkage_final(ws):
            due, reason = True, "the spec destroys the identity zone once linkage is final, and it is"
        items.append(RetentionItem("zone", zone, created.isoformat(), until.isoformat(), due, reason))
    for kind, folder in FOLDERS.items():
        period = days["releases" if kind == "release" else "publications"]
        for path in sorted((ws.root / folder).glob("*/")):
            if (kind, path.name) in destroyed or not path.is_dir():
                continue
            created = _created_on(path)
            until = created + timedelta(days=period)
            items.append(
                RetentionItem(kind, path.name, created.isoformat(), until.isoformat(), until < as_of, f"{period} days")
            )
    return items


def _created_on(folder: Path) -> date:
    manifest = folder / "manifest.json"
    if manifest.exists():
        data = json.loads(manifest.read_text())
        for key in ("created_at", "created", "built_at", "published_at"):
            if isinstance(data.get(key), str):
                return datetime.fromisoformat(data[key][:19]).date()
    return datetime.fromtimestamp(folder.stat().st_mtime).date()


def _destroyed_targets(ws: Workspace) -> set[tuple[str, str]]:
    with ws.engine.connect() as conn:
        return {(k, t) for k, t in conn.execute(select(destructions.c.kind, destructions.c.target))}


def retention_status(ws: Workspace, as_of: date) -> list[RetentionItem]:
    with open_session(ws, Action.RETENTION_STATUS, "retention") as act:
        items = retention_items(ws, as_of)
        act.detail.update(items=len(items), due=sum(i.due for i in items), as_of=as_of.isoformat())
    return items


def run_retention(ws: Workspace) -> list[dict[str, object]]:
    """Destroy every item due today; one certificate each; returns the certificates.

    There is deliberately no date to pass: a retention period ends on a real day, and nothing is
    destroyed before it (`preview_retention` shows what a later date would destroy, and destroys nothing).
    """
    certificates: list[dict[str, object]] = []
    day = date.today()  # the real date, from the system clock: the only date anything is destroyed on
    with open_session(ws, Action.RETENTION_RUN, "retention") as act, ws.exclusive():
        for item in retention_items(ws, day):
            if item.due:
                certificates.append(_destroy(ws, act.user, str(act.role), item))
        act.detail.update(destroyed=len(certificates), as_of=day.isoformat())
    return certificates


def preview_retention(ws: Workspace, as_of: date) -> list[RetentionItem]:
    """A dry run: the items a run on `as_of` would destroy. Nothing is destroyed; audited as such."""
    with open_session(ws, Action.RETENTION_RUN, "retention") as act:
        due = [item for item in retention_items(ws, as_of) if item.due]
        act.detail.update(dry_run=True, would_destroy=len(due), destroyed=0, as_of=as_of.isoformat())
    return due


def _destroy(ws: Workspace, user: str, role: str, item: RetentionItem) -> dict[str, object]:
    hashes: list[dict[str, str]] = []
    rows = 0
    with ws.engine.begin() as conn:
        count = conn.execute(select(func.count()).select_from(destructions)).scalar_one()
        certificate_id = f"C{count + 1:04d}"
        if item.kind == "zone":
            registered = (
                conn.execute(select(schema.zone_tables).where(schema.zone_tables.c.zone == item.target))
                .mappings()
                .all()
            )
            hashes = [{"file": f"zones/{item.target}/{r['name']}.lhz", "sha256": r["sha256"]} for r in registered]
            rows = sum(int(r["rows"]) for r in registered)
            ws.keys.destroy(item.target)
            shutil.rmtree(ws.root / "zones" / item.target, ignore_errors=True)
            (ws.root / "zones" / item.target).mkdir(parents=True, exist_ok=True)
            conn.execute(delete(schema.zone_tables).where(schema.zone_tables.c.zone == item.target))
            method = KEY_METHOD
        else:
            folder = ws.root / FOLDERS[item.kind] / item.target
            hashes = [
                {"file": str(p.relative_to(ws.root)), "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
                for p in sorted(folder.rglob("*")) if p.is_file()
            ]  # fmt: skip
            zone_files = (
                conn.execute(
                    select(schema.zone_tables).where(
                        schema.zone_tables.c.zone == "releases",
                        schema.zone_tables.c.name.startswith(item.target.lower()),
                    )
                )
                .mappings()
                .all()
            )
            for row in zone_files:
                hashes.append({"file": f"zones/releases/{row['name']}.lhz", "sha256": row["sha256"]})
                rows += int(row["rows"])
                (ws.root / "zones" / "releases" / f"{row['name']}.lhz").unlink(missing_ok=True)
            conn.execute(
                delete(schema.zone_tables).where(
                    schema.zone_tables.c.zone == "releases", schema.zone_tables.c.name.startswith(item.target.lower())
                )
            )
            shutil.rmtree(folder, ignore_errors=True)
            method = FILE_METHOD
        certificate = {
            "id": certificate_id, "kind": item.kind, "target": item.target, "retain_until": item.retain_until,
            "destroyed_at": now(), "destroyed_by": user, "method": method, "files": len(hashes), "rows": rows,
        }  # fmt: skip
        conn.execute(insert(destructions).values(**certificate, hashes=json.dumps(hashes)))
        audit_log(ws).append(
            user, role, "retention.destroy", f"{item.kind}:{item.target}", "ok",
            {"certificate": certificate_id, "files": len(hashes), "rows": rows}, connection=conn,
        )  # fmt: skip
    audit_log(ws).sync_head()
    return {**certificate, "hashes": hashes}
