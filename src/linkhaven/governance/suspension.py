"""Suspension: the IPC can order a unit to stop (R5); one switch halts every gated operation.

The check lives in the governance session (`session.open_session`), the one place every library entry
point passes through, so no stage can forget it. Reading, auditing, oversight and the lifting of the
suspension itself stay possible.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, insert, select

from linkhaven.errors import WorkspaceError
from linkhaven.governance.permissions import Action
from linkhaven.schema import project_state

HALTED_WHILE_SUSPENDED = frozenset(
    {
        Action.INTAKE_RUN,
        Action.LINK_RUN,
        Action.LINK_REVIEW,
        Action.RELEASE_CREATE,
        Action.RELEASE_APPROVE,
        Action.RELEASE_GRANT,
        Action.RELEASE_READ,
        Action.DISCLOSE,
        Action.PUBLISH_RUN,
    }
)
"""Collection, linkage, release and disclosure: what a suspension stops until it is lifted."""


@dataclass(frozen=True)
class ProjectState:
    suspended: bool
    reason: str
    changed_at: str
    changed_by: str


def current_state(conn: Connection) -> ProjectState:
    row = conn.execute(select(project_state).order_by(project_state.c.seq.desc()).limit(1)).mappings().first()
    if row is None:
        return ProjectState(False, "", "", "")
    return ProjectState(row["state"] == "suspended", row["reason"], row["changed_at"], row["changed_by"])


def record_state(conn: Connection, suspended: bool, reason: str, when: str, user: str) -> None:
    if current_state(conn).suspended == suspended:
        raise WorkspaceError("The project is already suspended." if suspended else "The project is not suspended.")
    if not reason.strip():
        raise WorkspaceError("Give the reason (e.g. the IPC order's reference) with --reason.")
    conn.execute(
        insert(project_state).values(
            state="suspended" if suspended else "active", reason=reason.strip(), changed_at=when, changed_by=user
        )
    )
