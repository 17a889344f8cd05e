"""The service's routes that take or give a file, and the remaining oversight actions: a truth file
for linkage evaluation, a new spec version, a steward's quarantine export, the review pack, and
disclosures, incidents, the audit anchor and retention runs.

A file sent to the service is kept in a folder only the service can read, and removed when the
request ends; a file given back is written to such a folder by the library (which audits it) and
removed once sent. Nothing is written inside the workspace.
"""

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from linkhaven import deid, intake, link
from linkhaven.errors import InputError
from linkhaven.governance import incidents, pack, retention
from linkhaven.governance.accounts import Principal
from linkhaven.governance.audit_access import anchor_audit
from linkhaven.governance.incidents import IncidentChange
from linkhaven.governance.permissions import Action
from linkhaven.governance.workspaces import update_spec
from linkhaven.service.governance_routes import RunAs, plain
from linkhaven.workspace.workspace import Workspace


class NewDisclosure(BaseModel):
    recipient: str
    basis: str
    data_class: str
    description: str = Field(min_length=1, max_length=1000)
    on: date | None = None
    release_id: str | None = None
    rows: int | None = None


class NewIncident(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    found_on: date
    change: IncidentChange = IncidentChange()
    """Description, containment, people affected, notification dates, data affected (all optional)."""


class IncidentUpdate(BaseModel):
    change: IncidentChange = IncidentChange()
    close: bool = False


@contextmanager
def _private_folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="linkhaven-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def received(request: Request, path: Path) -> Path:
    """The request's body, streamed into a new file only the service can read."""
    with path.open("xb") as handle:
        path.chmod(0o600)
        async for chunk in request.stream():
            handle.write(chunk)
    return path


def file_answer(
    make: Callable[[Path], tuple[Path, dict[str, str]]], media_type: str, filename: str | None = None
) -> FileResponse:
    """Send the file `make` writes into a new private folder (with the headers it returns); the folder
    is removed once the file is sent, or at once if `make` fails."""
    folder = Path(tempfile.mkdtemp(prefix="linkhaven-"))
    try:
        path, headers = make(folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        path, media_type=media_type, filename=filename or path.name, headers=headers,
        background=BackgroundTask(shutil.rmtree, folder, True),
    )  # fmt: skip


def file_router(ws: Workspace, signed: Any, run_as: RunAs, allowed: Callable[[Action], Any]) -> APIRouter:
    router = APIRouter()

    def call(who: Principal, work: Callable[[], Any]) -> Any:
        return plain(run_as(who, work))

    @router.post("/linkage/evaluate", tags=["linkage"], dependencies=[allowed(Action.LINK_EVALUATE)])
    async def evaluate(request: Request, who: signed, pair: Annotated[list[str], Query()] = []) -> Any:  # noqa: B006
        """The request body is the truth CSV (source, record id, person id); the figures come back, for
        each `pair` (SOURCE~SOURCE) or by default every declared link and de-duplication."""
        pairs = [tuple(p.split("~", 1)) for p in pair]
        if any(len(p) != 2 for p in pairs):
            raise InputError("Write each pair as SOURCE~SOURCE.")
        chosen = [(p[0], p[1]) for p in pairs] or None
        with _private_folder() as folder:
            truth = await received(request, folder / "truth.csv")
            return await run_in_threadpool(call, who, lambda: link.evaluate_current(ws, truth, chosen))

    @router.put("/spec", tags=["paperwork"], dependencies=[allowed(Action.SPEC_UPDATE)])
    async def new_spec(request: Request, who: signed) -> dict[str, Any]:
        """The request body is the new spec (YAML); it becomes the next registered version."""
        with _private_folder() as folder:
            spec = await received(request, folder / "spec.yaml")
            version = await run_in_threadpool(run_as, who, lambda: update_spec(ws, spec))
            return {"version": version, "sha256": ws.spec_sha256, "project": ws.info.get("project_id")}

    @router.get("/quarantine/{delivery_id}/rows", tags=["intake"], dependencies=[allowed(Action.QUARANTINE_EXPORT)])
    def quarantine_rows(delivery_id: str, who: signed) -> FileResponse:
        """A delivery's quarantined rows with their values, for the steward to correct (audited)."""

        def export(folder: Path) -> tuple[Path, dict[str, str]]:
            out = folder / "quarantine.csv"  # a fixed name: the id is the library's to check, not a path part
            return out, {"X-Rows": str(run_as(who, lambda: intake.export_quarantine(ws, delivery_id, out)))}

        return file_answer(export, "text/csv")

    @router.get("/oversight/pack", tags=["oversight"], dependencies=[allowed(Action.OVERSIGHT_PACK)])
    def review_pack(who: signed, period_from: date | None = None, period_to: date | None = None) -> FileResponse:
        """The review pack for the IPC, as one zip file."""

        def build(folder: Path) -> tuple[Path, dict[str, str]]:
            entries = run_as(who, lambda: pack.build_pack(ws, folder / "pack", period_from, period_to))
            archive = Path(shutil.make_archive(str(folder / "review-pack"), "zip", folder / "pack"))
            return archive, {"X-Files": str(len(entries) + 1)}

        return file_answer(build, "application/zip")

    @router.post("/disclosures", tags=["releases"], dependencies=[allowed(Action.DISCLOSE)])
    def add_disclosure(body: NewDisclosure, who: signed) -> Any:
        b = body

        def record() -> Any:
            return deid.disclose(ws, b.recipient, b.basis, b.data_class, b.description, on=b.on,
                                 release_id=b.release_id, rows=b.rows)  # fmt: skip

        return call(who, record)

    @router.post("/incidents", tags=["oversight"], dependencies=[allowed(Action.INCIDENT_MANAGE)])
    def open_incident(body: NewIncident, who: signed) -> dict[str, str]:
        return {"id": run_as(who, lambda: incidents.open_incident(ws, body.title, body.found_on, body.change))}

    @router.post("/incidents/{incident_id}", tags=["oversight"], dependencies=[allowed(Action.INCIDENT_MANAGE)])
    def update_incident(incident_id: str, body: IncidentUpdate, who: signed) -> dict[str, str]:
        run_as(who, lambda: incidents.update_incident(ws, incident_id, body.change, body.close))
        return {"id": incident_id, "state": "closed" if body.close else "open"}

    @router.post("/audit/anchor", tags=["oversight"], dependencies=[allowed(Action.AUDIT_ANCHOR)])
    def anchor(who: signed) -> Any:
        return run_as(who, lambda: anchor_audit(ws)).as_dict()

    @router.get("/retention/preview", tags=["oversight"], dependencies=[allowed(Action.RETENTION_RUN)])
    def retention_preview(who: signed, as_of: date | None = None) -> Any:
        return call(who, lambda: retention.preview_retention(ws, as_of or date.today()))

    @router.post("/retention/run", tags=["oversight"], dependencies=[allowed(Action.RETENTION_RUN)])
    def retention_run(who: signed) -> Any:
        return call(who, lambda: retention.run_retention(ws))

    return router
