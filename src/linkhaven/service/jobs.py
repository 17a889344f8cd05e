"""Long work as jobs: intake, linkage, release building and publication run in the service.

A request submits a job and returns at once; one worker runs jobs in turn (the workspace has one
writer anyway), as the submitting user, through the same library entry points as any caller, so
the permission check, the suspension gate and the audit event are the library's. The job's row
says how far it got (the stage the library last reported, how many steps, the time) and how it
ended. A cancel is honoured at the next step the library reports; the library then rolls back as
for any error. A service killed mid-job leaves a row marked running: the next start marks it
failed (the library's own recovery clears what the killed writer left), and the job can be run again.
"""

from __future__ import annotations

import json
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import RowMapping, func, insert, select, update

from linkhaven import api
from linkhaven.errors import LinkhavenError, PermissionDenied
from linkhaven.governance.accounts import Principal
from linkhaven.governance.permissions import Action, Role, decide
from linkhaven.governance.session import audit_log
from linkhaven.schema import jobs
from linkhaven.service.governance_routes import plain
from linkhaven.workspace.workspace import Workspace, acting_as, now

Progress = Callable[[str], None]
Work = Callable[[Workspace, Mapping[str, str], Progress], object]

KINDS: dict[str, tuple[Action, Work]] = {
    "intake": (
        Action.INTAKE_RUN,
        lambda ws, p, progress: api.intake_file(
            ws, p["source"], Path(p["path"]), p.get("supersedes") or None, None, progress
        ),
    ),
    "link": (Action.LINK_RUN, lambda ws, p, progress: api.run_linkage(ws, progress=progress)),
    "release": (Action.RELEASE_CREATE, lambda ws, p, progress: api.create_release(ws, p["section"], progress=progress)),
    "publish": (Action.PUBLISH_RUN, lambda ws, p, progress: api.publish_release(ws, p["release_id"])),
}
"""What each kind of job runs, and the action its permission check is for (checked at submission too,
so a refused job answers 403 at once instead of failing later)."""
REQUIRED = {"intake": ("source", "path"), "link": (), "release": ("section",), "publish": ("release_id",)}
FINISHED = ("done", "failed", "cancelled")
UPLOADS = "uploads"
"""Where uploaded deliveries wait for their intake job, under the workspace root."""


class JobCancelled(LinkhavenError):
    """The job's owner (or an admin) cancelled it; what it had done so far was rolled back."""


class JobRunner:
    """The service's one worker and the jobs register it keeps."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="linkhaven-job")
        self._cancelled: dict[str, threading.Event] = {}
        self._numbering = threading.Lock()  # requests run in a thread pool: one job id each

    def upload_folder(self) -> Path:
        """A new folder, readable only by the service, for one uploaded delivery until its job ends."""
        folder = self.ws.root / UPLOADS / secrets.token_hex(8)
        folder.mkdir(parents=True, mode=0o700)
        return folder

    def recover(self) -> int:
        """Mark jobs a stopped service left queued or running as failed, and remove the deliveries
        they had uploaded (plain personal data); the number of jobs marked."""
        shutil.rmtree(self.ws.root / UPLOADS, ignore_errors=True)
        with self.ws.engine.begin() as conn:
            left = conn.execute(select(jobs.c.id).where(jobs.c.state.in_(("queued", "running")))).scalars().all()
            for job_id in left:
                conn.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id)
                    .values(state="failed", finished_at=now(), error="interrupted: the service stopped during the job")
                )
                audit_log(self.ws).append("linkhaven", "system", "job.interrupted", f"job:{job_id}", "failed", {}, conn)
        if left:
            audit_log(self.ws).sync_head()
        return len(left)

    def submit(
        self, who: Principal, kind: str, params: Mapping[str, str], cleanup: Callable[[], None] | None = None
    ) -> dict[str, Any]:
        """Record a job and queue it; refused at once if the user's role may not run its kind. `cleanup`
        runs when the job ends, however it ends (an uploaded delivery is removed)."""
        if kind not in KINDS:
            raise LinkhavenError(f"Unknown job kind '{kind}'; known kinds: {', '.join(KINDS)}.")
        missing = [name for name in REQUIRED[kind] if not params.get(name)]
        if missing:
            raise LinkhavenError(f"A {kind} job needs {', '.join(missing)}.")
        action, work = KINDS[kind]
        decision = decide(who.role, action)
        if not decision.allowed:
            audit_log(self.ws).append(who.name, who.role, action, f"job:{kind}", "denied", {"reason": decision.reason})
            raise PermissionDenied(f"User '{who.name}' may not {action}: {decision.reason}.")
        with self._numbering, self.ws.engine.begin() as conn:
            count = conn.execute(select(func.count()).select_from(jobs)).scalar_one()
            job_id = f"J{count + 1:06d}"
            conn.execute(
                insert(jobs).values(
                    id=job_id,
                    kind=kind,
                    user=who.name,
                    params=json.dumps(dict(params), sort_keys=True),
                    state="queued",
                    stage="queued",
                    steps_done=0,
                    submitted_at=now(),
                )  # fmt: skip
            )
        self._cancelled[job_id] = threading.Event()
        self._worker.submit(self._run, job_id, who.name, work, dict(params), cleanup)
        return self.show(job_id, who)

    def _run(
        self, job_id: str, user: str, work: Work, params: dict[str, str], cleanup: Callable[[], None] | None
    ) -> None:
        began = time.monotonic()
        cancelled = self._cancelled[job_id]
        steps = 0

        def progress(stage: str) -> None:
            nonlocal steps
            if cancelled.is_set():
                raise JobCancelled(f"Job {job_id} was cancelled.")
            steps += 1
            self._set(job_id, stage=stage[:200], steps_done=steps, elapsed_seconds=round(time.monotonic() - began, 1))

        self._set(job_id, state="running", stage="started", started_at=now())
        try:
            with acting_as(user):
                result = work(self.ws, params, progress)
        except JobCancelled as err:
            self._finish(job_id, began, "cancelled", error=str(err), exit_code=err.exit_code)
        except LinkhavenError as err:
            self._finish(job_id, began, "failed", error=f"{type(err).__name__}: {err}", exit_code=err.exit_code)
        except Exception as err:  # never the message: it may quote a value
            self._finish(job_id, began, "failed", error=f"internal error ({type(err).__name__})", exit_code=70)
        else:
            self._finish(job_id, began, "done", result=json.dumps(plain(result), default=str))
        finally:
            self._cancelled.pop(job_id, None)
            if cleanup is not None:
                cleanup()

    def _finish(self, job_id: str, began: float, state: str, **values: object) -> None:
        elapsed = round(time.monotonic() - began, 1)
        self._set(job_id, state=state, stage=state, finished_at=now(), elapsed_seconds=elapsed, **values)

    def _set(self, job_id: str, **values: object) -> None:
        with self.ws.engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))

    def show(self, job_id: str, who: Principal) -> dict[str, Any]:
        """A job as its owner (or an admin or privacy officer) may see it."""
        with self.ws.engine.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        if row is None or not _may_see(who, str(row["user"])):
            raise LinkhavenError(f"No job '{job_id}' of yours.")
        return _described(row)

    def list(self, who: Principal) -> list[dict[str, Any]]:
        query = select(jobs).order_by(jobs.c.id)
        if who.role not in (Role.ADMIN, Role.PRIVACY_OFFICER):
            query = query.where(jobs.c.user == who.name)
        with self.ws.engine.connect() as conn:
            return [_described(row) for row in conn.execute(query).mappings()]

    def cancel(self, job_id: str, who: Principal) -> dict[str, Any]:
        """Ask a queued or running job to stop at its next step (its owner or an admin)."""
        job = self.show(job_id, who)
        if job["user"] != who.name and who.role is not Role.ADMIN:
            raise PermissionDenied(f"Only the job's owner or an admin may cancel job {job_id}.")
        event = self._cancelled.get(job_id)
        if event is not None and job["state"] not in FINISHED:
            event.set()
            audit_log(self.ws).append(who.name, who.role, "job.cancel", f"job:{job_id}", "ok", {})
        return self.show(job_id, who)

    def close(self) -> None:
        for event in self._cancelled.values():
            event.set()
        self._worker.shutdown(wait=True, cancel_futures=True)


def _may_see(who: Principal, owner: str) -> bool:
    return owner == who.name or who.role in (Role.ADMIN, Role.PRIVACY_OFFICER)


def _described(row: RowMapping) -> dict[str, Any]:
    out: dict[str, Any] = dict(row)
    out["params"] = json.loads(out["params"])
    out["result"] = json.loads(out["result"]) if out["result"] else None
    return out
