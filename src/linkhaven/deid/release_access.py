"""Who sees and reads releases: listing, showing, an analyst's copy, and publication's read.

Staff see every release; an analyst sees only the approved, unrevoked releases granted to them.
Every read is recorded in the release reads register, and a revoked release can be read by no one.
Refusals are raised inside the governance session (`open_session`), so they are audited with their
reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from sqlalchemy import Connection, insert, select

from linkhaven.deid import report as reports
from linkhaven.deid.release_artefacts import verified_report
from linkhaven.deid.release_records import (
    ARTEFACTS_DIR,
    ReadReceipt,
    ReleaseData,
    ReleaseInfo,
    grants_of,
    release_info,
    release_row,
)
from linkhaven.errors import GateRefused, WorkspaceError
from linkhaven.governance.permissions import Action, Role
from linkhaven.governance.session import Session, open_session
from linkhaven.schema import release_reads, releases
from linkhaven.workspace.workspace import Workspace, now


def visible(conn: Connection, row: dict[str, Any], user: str, role: str) -> bool:
    """Staff see every release; an analyst sees only the approved, unrevoked releases granted to them."""
    if role != Role.ANALYST:
        return True
    return row["status"] == "approved" and user in grants_of(conn, row["id"])


def list_releases(ws: Workspace) -> list[ReleaseInfo]:
    """Every release a deidentifier or privacy officer may see; for an analyst, only their granted ones."""
    with open_session(ws, Action.RELEASE_LIST, "releases") as session, ws.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(releases).order_by(releases.c.id)).mappings()]
        staff = session.role != Role.ANALYST
        found = [
            release_info(ws, r, grants_of(conn, r["id"]) if staff else None)
            for r in rows
            if visible(conn, r, session.user, session.role)
        ]
        session.detail["releases"] = len(found)
    return found


def show_release(ws: Workspace, release_id: str) -> ReleaseInfo:
    with open_session(ws, Action.RELEASE_LIST, f"release:{release_id}") as session, ws.engine.connect() as conn:
        row = release_row(conn, release_id)
        if not visible(conn, row, session.user, session.role):
            raise GateRefused(
                f"Release {release_id} is not granted to {session.user} (or is not approved, or revoked)."
            )
        return release_info(ws, row, grants_of(conn, release_id) if session.role != Role.ANALYST else None)


def readable(ws: Workspace, release_id: str, user: str, role: str) -> dict[str, Any]:
    """The release row if `user` may read it now, else GateRefused saying why (the caller's session audits it)."""
    with ws.engine.connect() as conn:
        row = release_row(conn, release_id)
        if row["status"] == "revoked":
            raise GateRefused(f"Release {release_id} was revoked on {str(row['revoked_at'])[:10]}; it cannot be read.")
        if row["status"] != "approved":
            raise GateRefused(f"Release {release_id} is not approved by the privacy officer; it cannot be read yet.")
        if role == Role.ANALYST and user not in grants_of(conn, release_id):
            raise GateRefused(f"Release {release_id} is not granted to {user}; ask the privacy officer for a grant.")
        if role not in (Role.ANALYST, Role.DEIDENTIFIER):
            raise GateRefused(f"Role {role} does not read release data.")
        verified_report(ws, conn, row)
    return row


def read_release(ws: Workspace, release_id: str, out: Path) -> ReadReceipt:
    """Analyst with a grant: write a plain Parquet copy of an approved, unrevoked release to `out` (audited)."""
    with open_session(ws, Action.RELEASE_READ, f"release:{release_id}") as session:
        row = readable(ws, release_id, session.user, session.role)
        if out.exists():
            raise WorkspaceError(f"{out} already exists; name a new file.")
        if ws.root.resolve() in out.resolve().parents:
            raise WorkspaceError("Write the copy outside the workspace: the workspace holds only governed files.")
        table = ws.zone(row["data_zone"]).read(row["data_table"])
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, out, compression="zstd")
        digest = reports.sha256_file(out)
        session.detail.update(rows=table.num_rows, sha256=digest)
        with session.transaction() as tx:
            tx.execute(insert(release_reads).values(release_id=release_id, reader=session.user, role=str(session.role),
                                                    purpose="analysis", rows=table.num_rows, sha256=digest,
                                                    read_at=now()))  # fmt: skip
    return ReadReceipt(release_id, str(out), int(table.num_rows), digest)


def open_release(ws: Workspace, release_id: str, session: Session | None = None) -> ReleaseData:
    """An approved, unrevoked release's data, report and column roles, for a permitted role.

    Publication calls it inside its own `publish.run` session and passes that `session` (the
    deidentifier publishes), so the read is checked and audited as part of the publication; without
    one, it opens a `release.read` session of its own (an analyst with a grant). Either way the read
    is recorded in the release reads register.
    """
    if session is None:
        with open_session(ws, Action.RELEASE_READ, f"release:{release_id}") as own:
            return _open(ws, release_id, own, "analysis")
    return _open(ws, release_id, session, "publication")


def _open(ws: Workspace, release_id: str, session: Session, purpose: str) -> ReleaseData:
    row = readable(ws, release_id, session.user, session.role)
    table = ws.zone(row["data_zone"]).read(row["data_table"])
    folder = ws.root / ARTEFACTS_DIR / release_id
    report = json.loads((folder / reports.REPORT_JSON).read_text(encoding="utf-8"))
    session.detail.update(release=release_id, rows=table.num_rows)
    with ws.engine.begin() as conn:
        conn.execute(
            insert(release_reads).values(
                release_id=release_id,
                reader=session.user,
                role=str(session.role),
                purpose=purpose,
                rows=table.num_rows,
                sha256=None,
                read_at=now(),
            )
        )
    with ws.engine.connect() as conn:
        info = release_info(ws, release_row(conn, release_id), None)
    return ReleaseData(info, table, report)
