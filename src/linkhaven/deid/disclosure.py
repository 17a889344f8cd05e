"""The disclosure register (R36, R37): every disclosure is checked against the spec, then recorded.

A disclosure of personal, coded or de-identified data is recorded only when all of these hold,
and refused (and audited) otherwise:

- the recipient is on the spec's list of recipients;
- the legal basis is one the spec (and so the public notice) announces under `disclosure_bases`;
- a disclosure agreement is in force on the day, names the recipient and covers the data class;
- de-identified data go only to a recipient the spec allows de-identified data, and a named
  release must be approved and not revoked.

Aggregate findings are not disclosed through this register: publication releases them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, insert, select

from linkhaven.errors import GateRefused
from linkhaven.governance.permissions import Action
from linkhaven.governance.session import open_session
from linkhaven.schema import disclosures, releases
from linkhaven.workspace.workspace import Workspace, now

DISCLOSABLE = ("personal", "coded", "deidentified")


@dataclass(frozen=True)
class Disclosure:
    id: str
    recipient: str
    basis: str
    data_class: str
    agreement_id: str
    release_id: str | None
    description: str
    rows: int | None
    disclosed_on: str
    recorded_at: str
    recorded_by: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def disclose(
    ws: Workspace,
    recipient: str,
    basis: str,
    data_class: str,
    description: str,
    *,
    on: date | None = None,
    release_id: str | None = None,
    rows: int | None = None,
) -> Disclosure:
    """Privacy officer: record a disclosure after checking recipient, basis and agreement; refuse otherwise."""
    from linkhaven.deid.release_lifecycle import disclosure_agreement

    day = on or date.today()
    with open_session(ws, Action.DISCLOSE, f"recipient:{recipient}") as session:
        spec = session.spec
        session.detail.update(recipient=recipient, basis=basis, data_class=data_class, release=release_id or "-")
        if data_class not in DISCLOSABLE:
            raise GateRefused(
                f"'{data_class}' is not disclosed through the register (it records {', '.join(DISCLOSABLE)} data); "
                "aggregate findings are published with `linkhaven publish`."
            )
        if recipient not in spec.recipients:
            raise GateRefused(
                f"'{recipient}' is not a recipient on the spec's list ({', '.join(sorted(spec.recipients))}); "
                "a disclosure goes only to a listed recipient (R36)."
            )
        bases = sorted(str(b) for b in spec.disclosure_bases)
        if basis not in bases:
            raise GateRefused(f"'{basis}' is not a disclosure basis the spec announces ({', '.join(bases)}) (R36).")
        allowed = {str(c) for c in spec.recipients[recipient].data_classes}
        if data_class == "deidentified" and "deidentified" not in allowed:
            raise GateRefused(f"Recipient '{recipient}' may not receive de-identified data under the spec.")
        with ws.engine.connect() as conn:
            if release_id is not None:
                if data_class != "deidentified":
                    raise GateRefused("A release is de-identified data: disclose it with data class 'deidentified'.")
                status = conn.execute(select(releases.c.status).where(releases.c.id == release_id)).scalar_one_or_none()
                if status != "approved":
                    raise GateRefused(f"Release {release_id} is {status or 'unknown'}; only an approved release may be "
                                      "disclosed.")  # fmt: skip
            agreement = disclosure_agreement(conn, spec, recipient, data_class, day)
        if agreement is None:
            raise GateRefused(
                f"No disclosure agreement in force on {day.isoformat()} names '{recipient}' and covers {data_class} "
                "data (R37); register one with `linkhaven agreement add --kind disclosure`."
            )
        with session.transaction() as tx:
            count = tx.execute(select(func.count()).select_from(disclosures)).scalar_one()
            record = Disclosure(f"DX{count + 1:04d}", recipient, basis, data_class, agreement, release_id, description,
                                rows, day.isoformat(), now(), session.user)  # fmt: skip
            tx.execute(insert(disclosures).values(**record.as_dict()))
            session.object = f"disclosure:{record.id}"
            session.detail["agreement"] = agreement
    return record


def list_disclosures(ws: Workspace) -> list[Disclosure]:
    """The disclosure register (privacy officer), oldest first."""
    with open_session(ws, Action.DISCLOSE, "disclosures") as session, ws.engine.connect() as conn:
        rows = conn.execute(select(disclosures).order_by(disclosures.c.id)).mappings().all()
        session.detail.update(operation="list", disclosures=len(rows))
    return [Disclosure(**dict(r)) for r in rows]
