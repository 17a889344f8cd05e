"""Privacy impact and threat-risk assessments (R3, R4): collection waits until they are on file."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

from sqlalchemy import Connection, func, insert, select

from linkhaven.errors import GateRefused, WorkspaceError
from linkhaven.governance.permissions import Action
from linkhaven.governance.session import open_session
from linkhaven.schema import assessments
from linkhaven.workspace.workspace import Workspace, now

KINDS = {"pia": "privacy impact assessment", "tra": "threat and risk assessment"}


@dataclass(frozen=True)
class Assessment:
    id: str
    kind: str
    title: str
    completed_on: str
    reference: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def add_assessment(ws: Workspace, kind: str, title: str, completed_on: date, reference: str) -> Assessment:
    if kind not in KINDS:
        raise WorkspaceError(f"Assessment kind must be one of {', '.join(KINDS)}.")
    with open_session(ws, Action.ASSESSMENT_ADD, f"assessment:{kind}") as act, act.transaction() as conn:
        count = conn.execute(select(func.count()).select_from(assessments)).scalar_one()
        record = Assessment(f"S{count + 1:04d}", kind, title, completed_on.isoformat(), reference)
        conn.execute(insert(assessments).values(**record.as_dict(), recorded_at=now(), recorded_by=act.user))
        act.object = f"assessment:{record.id}"
        act.detail.update(kind=kind, completed_on=record.completed_on)
    return record


def list_assessments(conn: Connection) -> list[Assessment]:
    rows = conn.execute(select(assessments).order_by(assessments.c.id)).mappings().all()
    return [Assessment(r["id"], r["kind"], r["title"], r["completed_on"], r["reference"]) for r in rows]


def recorded_assessments(ws: Workspace, user: str | None = None) -> list[Assessment]:
    """Every recorded assessment (a governed read: checked and audited)."""
    with open_session(ws, Action.AGREEMENT_LIST, "assessments", user), ws.engine.connect() as conn:
        return list_assessments(conn)


def check_assessments(conn: Connection, required: list[str], on: date) -> None:
    """Refuse collection while an assessment the spec requires is not on file (completed by `on`)."""
    done = {a.kind for a in list_assessments(conn) if a.completed_on <= on.isoformat()}
    missing = [kind for kind in required if kind not in done]
    if missing:
        names = ", ".join(f"{KINDS[k]} ({k})" for k in missing)
        raise GateRefused(
            f"The spec requires a {names} before collection and none is on file; the privacy officer records it "
            "with `linkhaven assessment add` (R3, R4)."
        )
