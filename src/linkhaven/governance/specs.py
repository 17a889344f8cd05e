"""The spec register: every version of the project spec, each sealed with the audit key.

The spec in force is sealed: each registered version's sha256 is recorded with an HMAC under the
audit key, and a governance session refuses every action (except registering a spec and
verifying) while the workspace's spec.yaml is not the latest registered version.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select

from linkhaven.governance.audit import AuditLog
from linkhaven.governance.permissions import Action
from linkhaven.schema import audit_events, spec_versions
from linkhaven.workspace.workspace import Workspace, now


def seal_text(version: int, sha256: str) -> str:
    return f"spec {version} {sha256}"


@dataclass(frozen=True)
class SpecState:
    """spec.yaml as read at open, against the latest version in the spec register."""

    data: bytes
    sha256: str
    version: int | None
    """The latest registered version, if the register holds one."""
    problem: str | None
    """Why spec.yaml is not the registered spec in force; None when it is."""


def spec_state(ws: Workspace, log: AuditLog) -> SpecState:
    """spec.yaml's bytes as read at open, compared with the latest registered version and its seal."""
    data, sha256 = ws.spec_bytes, ws.spec_sha256
    with ws.engine.connect() as conn:
        row = conn.execute(
            select(spec_versions.c.version, spec_versions.c.sha256, spec_versions.c.mac)
            .order_by(spec_versions.c.version.desc())
            .limit(1)
        ).first()
    if row is None:
        empty = (
            "the spec register holds no version, so the metadata store was tampered with; restore the "
            "workspace from a backup and report an incident"
        )
        return SpecState(data, sha256, None, empty)
    version, registered, mac = row
    problem: str | None
    if mac is None:
        problem = (
            f"spec version {version} was registered before spec versions were sealed; register the spec in "
            f"force with `linkhaven spec update {ws.spec_path()}` as the privacy officer"
        )
    elif not log.seal_holds(seal_text(version, registered), mac):
        problem = (
            f"spec version {version} in the spec register carries a seal not made with the audit key, so the "
            "register was edited; restore the workspace from a backup and report an incident"
        )
    elif ws.spec_missing:
        problem = (
            f"spec.yaml is missing from the workspace (version {version} is registered); restore it from a "
            "backup, or register a spec with `linkhaven spec update` as the privacy officer"
        )
    elif sha256 != registered:
        problem = (
            f"spec.yaml changed since version {version} was registered; register it with `linkhaven spec "
            "update` as the privacy officer, or restore the registered version from a backup"
        )
    else:
        problem = None
    return SpecState(data, sha256, version, problem)


def register_spec(conn: Connection, log: AuditLog, version: int, data: bytes, sha256: str, user: str) -> None:
    conn.execute(
        insert(spec_versions).values(
            version=version,
            sha256=sha256,
            text=data.decode("utf-8"),
            loaded_at=now(),
            loaded_by=user,
            mac=log.seal(seal_text(version, sha256)),
        )
    )


def register_problems(log: AuditLog, conn: Connection, check_log: bool) -> list[str]:
    """Every sealed version's seal and text, no version missing, and the log agreeing on the latest."""
    problems: list[str] = []
    rows = conn.execute(select(spec_versions).order_by(spec_versions.c.version)).mappings().all()
    for expected, row in enumerate(rows, start=1):
        version = row["version"]
        if version != expected:
            problems.append(f"spec version {expected} is missing from the spec register (it has {version} next)")
            break
        if row["mac"] is None:
            continue
        if not log.seal_holds(seal_text(version, row["sha256"]), row["mac"]):
            problems.append(f"spec version {version} in the spec register carries a seal not made with the audit key")
        elif hashlib.sha256(row["text"].encode("utf-8")).hexdigest() != row["sha256"]:
            problems.append(f"the text of spec version {version} in the spec register was altered")
    if not check_log or not rows:
        return problems
    # The log is intact here, so the last spec registration it records is what the register must end with:
    # deleting the newest version (to fall back to an older, still sealed one) is caught.
    logged = conn.execute(
        select(audit_events.c.detail)
        .where(audit_events.c.action.in_(("workspace.init", Action.SPEC_UPDATE.value)))
        .where(audit_events.c.outcome == "ok")
        .order_by(audit_events.c.seq.desc())
        .limit(1)
    ).scalar_one_or_none()
    if logged is not None:
        detail = json.loads(logged)
        version = int(detail.get("spec_version", 1))
        latest = rows[-1]
        if (latest["version"], latest["sha256"]) != (version, detail.get("spec_sha256")):
            problems.append(
                f"the spec register ends at version {latest['version']} but the audit log records version "
                f"{version} as the last registered: the register was rolled back"
            )
    return problems
