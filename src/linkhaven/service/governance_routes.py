"""The service's routes for the unit's paperwork and oversight: agreements, assessments, the notice,
the collection register and quarantine, linkage review, disclosures, incidents, retention, suspension.

Each route calls one library entry point as the signed-in user; the library's session decides and
audits. Results are the library's own records (dataclasses), which hold no personal value, except
a review pair's side-by-side records, which only the linker's role reaches.
"""

import dataclasses
from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from linkhaven import deid, intake, link
from linkhaven.governance import assessments, incidents, retention
from linkhaven.governance.accounts import Principal
from linkhaven.governance.permissions import Action
from linkhaven.governance.workspaces import set_suspended
from linkhaven.workspace.workspace import Workspace

RunAs = Callable[[Principal, Callable[[], Any]], Any]


class NewAgreement(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: str = "collection"
    parties: list[str] = Field(min_length=1)
    sources: list[str] = []
    data_classes: list[str] = []
    valid_from: date
    valid_to: date


class NewAssessment(BaseModel):
    kind: str
    title: str = Field(min_length=1, max_length=200)
    completed_on: date
    reference: str = ""


class NoticePublication(BaseModel):
    published_on: date


class ReviewDecision(BaseModel):
    decision: str
    reason: str = Field(min_length=1, max_length=500)


class Suspension(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


def plain(value: Any) -> Any:
    """Library records as JSON-ready data."""
    if isinstance(value, list):
        return [plain(item) for item in value]
    as_dict = getattr(value, "as_dict", None)
    if callable(as_dict):
        return as_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def governance_router(ws: Workspace, signed: Any, run_as: RunAs, allowed: Callable[[Action], Any]) -> APIRouter:
    """The routes above, over `ws`; `signed` is the app's signed-in-user dependency and `allowed` its
    per-route permission check."""
    router = APIRouter()

    def call(who: Principal, work: Callable[[], Any]) -> Any:
        return plain(run_as(who, work))

    @router.get("/agreements", tags=["paperwork"], dependencies=[allowed(Action.AGREEMENT_LIST)])
    def agreements(who: signed) -> Any:
        return call(who, lambda: intake.registered_agreements(ws))

    @router.post("/agreements", tags=["paperwork"], dependencies=[allowed(Action.AGREEMENT_ADD)])
    def add_agreement(body: NewAgreement, who: signed) -> Any:
        b = body
        return call(who, lambda: intake.add_agreement(
            ws, b.name, b.kind, b.parties, b.sources, b.data_classes, b.valid_from, b.valid_to))  # fmt: skip

    @router.get("/assessments", tags=["paperwork"], dependencies=[allowed(Action.AGREEMENT_LIST)])
    def recorded(who: signed) -> Any:
        return call(who, lambda: assessments.recorded_assessments(ws))

    @router.post("/assessments", tags=["paperwork"], dependencies=[allowed(Action.ASSESSMENT_ADD)])
    def add_assessment(body: NewAssessment, who: signed) -> Any:
        b = body
        return call(who, lambda: assessments.add_assessment(ws, b.kind, b.title, b.completed_on, b.reference))

    @router.get("/notices", tags=["paperwork"], dependencies=[allowed(Action.NOTICE_LIST)])
    def notices(who: signed) -> Any:
        return call(who, lambda: intake.notice_versions(ws))

    @router.post("/notices", tags=["paperwork"], dependencies=[allowed(Action.NOTICE_PUBLISH)])
    def publish_notice(body: NoticePublication, who: signed) -> Any:
        return call(who, lambda: intake.publish_notice(ws, body.published_on))

    @router.get("/deliveries", tags=["intake"], dependencies=[allowed(Action.INTAKE_STATUS)])
    def deliveries(who: signed) -> Any:
        return call(who, lambda: intake.delivery_status(ws))

    @router.get("/quarantine", tags=["intake"], dependencies=[allowed(Action.QUARANTINE_LIST)])
    def quarantine(who: signed, delivery_id: str | None = None) -> Any:
        return call(who, lambda: intake.quarantine_summary(ws, delivery_id))

    @router.get("/linkage/report", tags=["linkage"], dependencies=[allowed(Action.LINK_REPORT)])
    def linkage_report(who: signed) -> Any:
        return call(who, lambda: link.latest_report(ws))

    @router.get("/linkage/review", tags=["linkage"], dependencies=[allowed(Action.LINK_REVIEW)])
    def review_pairs(who: signed, status: str = "pending") -> Any:
        """Pairs by status: pending, flagged, decided, or all."""
        return call(who, lambda: link.list_pairs(ws, None if status == "all" else status))

    @router.get("/linkage/review/{pair_id}", tags=["linkage"], dependencies=[allowed(Action.LINK_REVIEW)])
    def review_pair(pair_id: int, who: signed) -> Any:
        return call(who, lambda: link.show_pair(ws, pair_id))

    @router.post("/linkage/review/{pair_id}", tags=["linkage"], dependencies=[allowed(Action.LINK_REVIEW)])
    def review_decide(pair_id: int, body: ReviewDecision, who: signed) -> Any:
        return call(who, lambda: link.decide(ws, pair_id, body.decision, body.reason))

    @router.get("/disclosures", tags=["releases"], dependencies=[allowed(Action.DISCLOSE)])
    def disclosures(who: signed) -> Any:
        return call(who, lambda: deid.list_disclosures(ws))

    @router.get("/incidents", tags=["oversight"], dependencies=[allowed(Action.INCIDENT_MANAGE)])
    def incident_register(who: signed) -> Any:
        return call(who, lambda: incidents.list_incidents(ws))

    @router.get("/retention", tags=["oversight"], dependencies=[allowed(Action.RETENTION_STATUS)])
    def retention_status(who: signed, as_of: date | None = None) -> Any:
        return call(who, lambda: retention.retention_status(ws, as_of or date.today()))

    @router.post("/project/suspend", tags=["oversight"], dependencies=[allowed(Action.PROJECT_SUSPEND)])
    def suspend(body: Suspension, who: signed) -> dict[str, bool]:
        run_as(who, lambda: set_suspended(ws, True, body.reason))
        return {"suspended": True}

    @router.post("/project/resume", tags=["oversight"], dependencies=[allowed(Action.PROJECT_SUSPEND)])
    def resume(body: Suspension, who: signed) -> dict[str, bool]:
        run_as(who, lambda: set_suspended(ws, False, body.reason))
        return {"suspended": False}

    return router
