"""The collection gates: a published notice and an agreement in force must cover a delivery.

R7: a notice must be published before each new collection, covering the source and the period.
R13: an agreement in force must cover the source and the data classes collected. Notices and
agreements are append-only records here; a revision is a new version, so the notice in force on
any date can be retrieved (R9).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, func, insert, select

from linkhaven.errors import GateRefused, WorkspaceError
from linkhaven.governance.permissions import Action
from linkhaven.governance.session import Session, open_session
from linkhaven.schema import agreements, notices
from linkhaven.workspace.workspace import Workspace, now


@dataclass(frozen=True)
class NoticeVersion:
    version: int
    published_on: str
    sources: list[str]
    window_start: str
    window_end: str


@dataclass(frozen=True)
class Agreement:
    id: str
    name: str
    kind: str
    parties: list[str]
    sources: list[str]
    data_classes: list[str]
    valid_from: str
    valid_to: str


def publish_notice(ws: Workspace, published_on: date) -> NoticeVersion:
    """Record the notice rendered from the workspace's spec as published on `published_on`."""
    from linkhaven.spec import render_notice

    with open_session(ws, Action.NOTICE_PUBLISH, "notice") as act:
        spec = act.spec
        text = render_notice(spec, "md")
        sources = sorted(spec.sources)
        with act.transaction() as conn:
            latest = conn.execute(select(func.max(notices.c.version))).scalar_one_or_none() or 0
            previous = conn.execute(
                select(notices.c.published_on).where(notices.c.version == latest)
            ).scalar_one_or_none()
            if previous is not None and published_on.isoformat() < previous:
                raise WorkspaceError(
                    f"Notice version {latest} was published on {previous}; a revision cannot predate it."
                )
            version = latest + 1
            conn.execute(
                insert(notices).values(
                    version=version,
                    published_on=published_on.isoformat(),
                    spec_sha256=ws.spec_sha256,
                    notice_sha256=hashlib.sha256(text.encode()).hexdigest(),
                    text=text,
                    sources=json.dumps(sources),
                    window_start=spec.window.start_date.isoformat(),
                    window_end=spec.window.end_date.isoformat(),
                    recorded_at=now(),
                    recorded_by=act.user,
                )
            )
            act.object = f"notice:v{version}"
            act.detail.update(version=version, published_on=published_on.isoformat(), sources=len(sources))
    return NoticeVersion(
        version, published_on.isoformat(), sources, spec.window.start_date.isoformat(), spec.window.end_date.isoformat()
    )


def list_notices(conn: Connection) -> list[NoticeVersion]:
    rows = conn.execute(select(notices).order_by(notices.c.version)).mappings().all()
    return [
        NoticeVersion(r["version"], r["published_on"], json.loads(r["sources"]), r["window_start"], r["window_end"])
        for r in rows
    ]


def add_agreement(
    ws: Workspace,
    name: str,
    kind: str,
    parties: list[str],
    sources: list[str],
    data_classes: list[str],
    valid_from: date,
    valid_to: date,
) -> Agreement:
    """Register a data-sharing agreement (collection) or disclosure agreement (privacy officer)."""
    with open_session(ws, Action.AGREEMENT_ADD, "agreement") as act:
        return _register_agreement(act, name, kind, parties, sorted(sources), data_classes, (valid_from, valid_to))


def _register_agreement(
    act: Session, name: str, kind: str, parties: list[str], sources: list[str], data_classes: list[str],
    valid: tuple[date, date],
) -> Agreement:
    valid_from, valid_to = valid
    spec = act.spec
    unknown = sorted(set(sources) - set(spec.sources))
    if unknown:
        raise WorkspaceError(
            f"Unknown source(s) {', '.join(unknown)}; the spec declares {', '.join(sorted(spec.sources))}."
        )
    if valid_to < valid_from:
        raise WorkspaceError("An agreement's end date cannot be before its start date.")
    if kind not in {"collection", "disclosure"}:
        raise WorkspaceError("Agreement kind must be 'collection' or 'disclosure'.")
    with act.transaction() as conn:
        count = conn.execute(select(func.count()).select_from(agreements)).scalar_one()
        agreement = Agreement(
            f"A{count + 1:04d}",
            name,
            kind,
            parties,
            sorted(sources),
            sorted(data_classes),
            valid_from.isoformat(),
            valid_to.isoformat(),
        )
        conn.execute(
            insert(agreements).values(
                id=agreement.id,
                name=name,
                kind=kind,
                parties=json.dumps(parties),
                sources=json.dumps(agreement.sources),
                data_classes=json.dumps(agreement.data_classes),
                valid_from=agreement.valid_from,
                valid_to=agreement.valid_to,
                recorded_at=now(),
                recorded_by=act.user,
            )
        )
        act.object = f"agreement:{agreement.id}"
        act.detail.update(kind=kind, sources=len(sources), valid_from=agreement.valid_from)
    return agreement


def list_agreements(conn: Connection) -> list[Agreement]:
    rows = conn.execute(select(agreements).order_by(agreements.c.id)).mappings().all()
    return [
        Agreement(
            r["id"],
            r["name"],
            r["kind"],
            json.loads(r["parties"]),
            json.loads(r["sources"]),
            json.loads(r["data_classes"]),
            r["valid_from"],
            r["valid_to"],
        )
        for r in rows
    ]


def notice_versions(ws: Workspace, user: str | None = None) -> list[NoticeVersion]:
    """Every published notice version, oldest first (a governed read: checked and audited)."""
    with open_session(ws, Action.NOTICE_LIST, user=user), ws.engine.connect() as conn:
        return list_notices(conn)


def registered_agreements(ws: Workspace, user: str | None = None) -> list[Agreement]:
    """Every registered agreement (a governed read: checked and audited)."""
    with open_session(ws, Action.AGREEMENT_LIST, user=user), ws.engine.connect() as conn:
        return list_agreements(conn)


def check_gates(conn: Connection, source: str, data_classes: set[str], on: date) -> tuple[NoticeVersion, Agreement]:
    """The notice in force and the agreement that cover this collection, or GateRefused saying what is missing."""
    day = on.isoformat()
    in_force = [n for n in list_notices(conn) if n.published_on <= day]
    if not in_force:
        raise GateRefused(
            f"No notice was published on or before {day}; the privacy officer must publish the notice "
            "(`linkhaven notice publish`) before any collection (R7)."
        )
    notice = in_force[-1]
    if source not in notice.sources:
        raise GateRefused(
            f"The notice in force (version {notice.version}) does not name source '{source}'; publish a revised "
            "notice that covers it before collecting (R7)."
        )
    covering = [
        a
        for a in list_agreements(conn)
        if a.kind == "collection" and source in a.sources and a.valid_from <= day <= a.valid_to
    ]
    if not covering:
        raise GateRefused(
            f"No collection agreement in force on {day} covers source '{source}'; register one with "
            "`linkhaven agreement add` (R13)."
        )
    complete = [a for a in covering if data_classes <= set(a.data_classes)]
    if not complete:
        missing = sorted(data_classes - set(covering[0].data_classes))
        raise GateRefused(
            f"The agreement(s) in force for '{source}' do not cover the data class(es) {', '.join(missing)} "
            "that this source delivers (R13)."
        )
    return notice, complete[0]
