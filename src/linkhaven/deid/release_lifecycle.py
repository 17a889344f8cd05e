"""The privacy officer's gates on a release: approve, grant, revoke.

Approval re-checks the stored file against its registered hash, recomputes the risk from the
file itself (R29) and, for a non-public release, requires a disclosure agreement in force with
the recipient (R24). Every refusal is raised inside the governance session (`open_session`), so it
is audited with its reason.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, insert, update

from linkhaven.deid.release_artefacts import verified_report
from linkhaven.deid.release_build import measure_stored
from linkhaven.deid.release_records import ReleaseInfo, grants_of, release_row, show
from linkhaven.deid.risk import Criterion
from linkhaven.errors import GateRefused, WorkspaceError
from linkhaven.governance.permissions import Action, Role
from linkhaven.governance.session import open_session
from linkhaven.schema import release_grants, releases
from linkhaven.spec import ProjectSpec
from linkhaven.spec.releases import ReleaseModel
from linkhaven.workspace.workspace import Workspace, now


def _criterion(report: dict[str, Any]) -> Criterion:
    threshold = report["threshold"]
    return Criterion(
        measure=threshold["measure"],
        threshold=threshold["risk_threshold"],
        context_risk=report["context"]["context_risk"],
        data_risk_target=threshold["data_risk_target"],
        row_cap=threshold["strict_average_row_cap"],
        min_class_size=threshold["smallest_class_allowed"],
    )


def disclosure_agreement(
    conn: Connection, spec: ProjectSpec, recipient: str, data_class: str, day: date
) -> str | None:
    """The id of a disclosure agreement in force on `day` that names `recipient` and covers `data_class`."""
    from linkhaven.intake import list_agreements

    names = {recipient.casefold()}
    if recipient in spec.recipients:
        names.add(spec.recipients[recipient].name.casefold())
    for agreement in list_agreements(conn):
        if (
            agreement.kind == "disclosure"
            and agreement.valid_from <= day.isoformat() <= agreement.valid_to
            and data_class in agreement.data_classes
            and names & {party.casefold() for party in agreement.parties}
        ):
            return agreement.id
    return None


def approve_release(ws: Workspace, release_id: str, on: date | None = None) -> ReleaseInfo:
    """Privacy officer: check integrity, recompute the risk from the file, check the agreement, approve."""
    day = on or date.today()
    with open_session(ws, Action.RELEASE_APPROVE, f"release:{release_id}") as session:
        spec = session.spec
        with ws.engine.connect() as conn:
            row = release_row(conn, release_id)
            if row["status"] != "created":
                raise GateRefused(f"Release {release_id} is {row['status']}; only a created release can be approved.")
            report = verified_report(ws, conn, row)
            agreement = None
            if row["release_model"] != ReleaseModel.PUBLIC:
                agreement = disclosure_agreement(conn, spec, row["recipient"], "deidentified", day)
                if agreement is None:
                    raise GateRefused(
                        f"No disclosure agreement in force on {day.isoformat()} names recipient '{row['recipient']}' "
                        "and covers de-identified data; a non-public release needs one (R24). Register it with "
                        "`linkhaven agreement add --kind disclosure --class deidentified --party "
                        f"{row['recipient']} ...`."
                    )
        l_required = {str(k): int(v) for k, v in report["threshold"]["l_diversity"].items()}
        qis = [str(c) for c in report["quasi_identifier_columns"]]
        after = measure_stored(ws, row["data_table"], qis, _criterion(report), l_required, report.get("period_column"))
        session.detail.update(overall_risk=round(after.overall_risk, 6), meets_threshold=after.meets_threshold)
        if not after.meets_threshold:
            raise GateRefused(
                f"Release {release_id}: the risk recomputed from the stored file ({after.overall_risk:.4f}) is above "
                f"the threshold {report['threshold']['risk_threshold']}; refused."
            )
        session.detail["agreement"] = agreement or "-"
        with session.transaction() as tx:
            tx.execute(
                update(releases).where(releases.c.id == release_id)
                .values(status="approved", approved_at=now(), approved_by=session.user, agreement_id=agreement)
            )  # fmt: skip
    return show(ws, release_id)


def grant_release(ws: Workspace, release_id: str, analyst: str) -> ReleaseInfo:
    """Privacy officer: let one analyst read one approved release."""
    with open_session(ws, Action.RELEASE_GRANT, f"release:{release_id}") as session:
        session.detail["analyst"] = analyst
        with ws.engine.connect() as conn:
            row = release_row(conn, release_id)
            if row["status"] != "approved":
                raise GateRefused(f"Release {release_id} is {row['status']}; only an approved release can be granted.")
            if ws.role_of(analyst) != Role.ANALYST:
                raise GateRefused(
                    f"User '{analyst}' is not a registered analyst; releases are granted to analysts only."
                )
            if analyst in grants_of(conn, release_id):
                raise WorkspaceError(f"{analyst} already has a grant on release {release_id}.")
        with session.transaction() as tx:
            tx.execute(insert(release_grants).values(release_id=release_id, analyst=analyst, granted_at=now(),
                                                     granted_by=session.user))  # fmt: skip
    return show(ws, release_id)


def revoke_release(ws: Workspace, release_id: str, reason: str) -> ReleaseInfo:
    """Privacy officer: nobody may read the release any more (its file stays until retention)."""
    with open_session(ws, Action.RELEASE_REVOKE, f"release:{release_id}") as session:
        with ws.engine.connect() as conn:
            row = release_row(conn, release_id)
        if row["status"] == "revoked":
            raise GateRefused(f"Release {release_id} is already revoked.")
        session.detail["previous_status"] = row["status"]
        with session.transaction() as tx:
            tx.execute(
                update(releases).where(releases.c.id == release_id)
                .values(status="revoked", revoked_at=now(), revoked_by=session.user, revoke_reason=reason)
            )  # fmt: skip
    return show(ws, release_id)
