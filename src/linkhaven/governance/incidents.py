"""The incident and breach register (R54): what happened, its reach, containment, notifications, lessons."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from linkhaven.errors import WorkspaceError
from linkhaven.governance.permissions import Action
from linkhaven.governance.session import open_session
from linkhaven.schema import incidents
from linkhaven.workspace.workspace import Workspace, now

UPDATABLE = ("description", "containment", "lessons", "people_affected", "individuals_notified_on", "ipc_notified_on")


@dataclass(frozen=True)
class IncidentChange:
    """The fields an update may set; None leaves a field as it is."""

    description: str | None = None
    containment: str | None = None
    lessons: str | None = None
    people_affected: int | None = None
    individuals_notified_on: date | None = None
    ipc_notified_on: date | None = None
    data_affected: list[str] | None = None


def open_incident(ws: Workspace, title: str, found_on: date, change: IncidentChange) -> str:
    with open_session(ws, Action.INCIDENT_MANAGE, "incident") as act, act.transaction() as conn:
        incident_id = record_incident(conn, title, found_on, change, act.user)
        act.object = f"incident:{incident_id}"
        act.detail.update(event="opened", people_affected=change.people_affected or 0)
    return incident_id


def record_incident(conn: Connection, title: str, found_on: date, change: IncidentChange, user: str) -> str:
    """Add an open incident inside the caller's transaction; the caller audits it. Also used by intake,
    which opens an incident itself when a delivery carries what no agreement covers."""
    count = conn.execute(select(func.count()).select_from(incidents)).scalar_one()
    incident_id = f"I{count + 1:04d}"
    conn.execute(
        insert(incidents).values(
            id=incident_id, title=title, status="open", found_on=found_on.isoformat(),
            description=change.description or "", data_affected=json.dumps(change.data_affected or []),
            people_affected=change.people_affected or 0, containment=change.containment or "",
            individuals_notified_on=_day(change.individuals_notified_on),
            ipc_notified_on=_day(change.ipc_notified_on), lessons=change.lessons or "",
            opened_at=now(), opened_by=user, updated_at=now(), closed_at=None,
        )
    )  # fmt: skip
    return incident_id


def update_incident(ws: Workspace, incident_id: str, change: IncidentChange, close: bool = False) -> None:
    with open_session(ws, Action.INCIDENT_MANAGE, f"incident:{incident_id}") as act, act.transaction() as conn:
        status = conn.execute(select(incidents.c.status).where(incidents.c.id == incident_id)).scalar_one_or_none()
        if status is None:
            raise WorkspaceError(f"There is no incident {incident_id}; see `linkhaven incident list`.")
        if status == "closed":
            raise WorkspaceError(f"Incident {incident_id} is closed; open a new incident for new facts.")
        values: dict[str, Any] = {"updated_at": now()}
        for name in UPDATABLE:
            value = getattr(change, name)
            if value is not None:
                values[name] = value.isoformat() if isinstance(value, date) else value
        if change.data_affected is not None:
            values["data_affected"] = json.dumps(change.data_affected)
        if close:
            values.update(status="closed", closed_at=now())
        conn.execute(update(incidents).where(incidents.c.id == incident_id).values(**values))
        act.detail.update(event="closed" if close else "updated", fields=len(values) - 1)


def list_incidents(ws: Workspace) -> list[dict[str, Any]]:
    with open_session(ws, Action.INCIDENT_MANAGE, "incidents"), ws.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(incidents).order_by(incidents.c.id)).mappings()]


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()
