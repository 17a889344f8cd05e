"""The service: one process that holds the keys, signs people in, and runs the library for them.

Every route but sign-in needs a bearer token; the token's user (never a header, a parameter or
the environment) is who the library acts as, so the one permission check in the governance session
decides, audits, and refuses exactly as it does for any caller. Errors carry the library's own
message, which names no personal value; the status code says what kind of refusal it is.
"""

import logging
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from linkhaven import api
from linkhaven.errors import (
    GateRefused,
    InputError,
    LinkhavenError,
    PermissionDenied,
    SpecError,
    WorkspaceError,
    ZoneKeyError,
)
from linkhaven.governance import accounts
from linkhaven.governance.accounts import Principal, SignInRefused, TokenRejected
from linkhaven.governance.audit import AuditHead
from linkhaven.governance.oidc import OidcSettings, OidcSignIn
from linkhaven.governance.permissions import Action, Role, decide
from linkhaven.governance.session import audit_log
from linkhaven.service.file_routes import file_answer, file_router, received
from linkhaven.service.governance_routes import governance_router
from linkhaven.service.jobs import JobRunner
from linkhaven.workspace.workspace import Workspace, acting_as

T = TypeVar("T")
API = "/api/v1"
_STATUS: tuple[tuple[type[LinkhavenError], int], ...] = (
    (SignInRefused, 401),
    (TokenRejected, 401),
    (PermissionDenied, 403),
    (GateRefused, 409),
    (SpecError, 422),
    (InputError, 422),
    (ZoneKeyError, 500),
    (WorkspaceError, 400),
)


class SignIn(BaseModel):
    name: str = Field(max_length=64)
    password: str = Field(max_length=accounts.PASSWORD_MAX_LENGTH)
    code: str | None = Field(default=None, max_length=10)
    """The current code of the user's authenticator app (linker, privacy officer, admin)."""


class DirectorySignIn(BaseModel):
    id_token: str = Field(max_length=16384)
    """An OpenID Connect ID token from the unit's directory (see `linkhaven.governance.oidc`)."""


class PasswordChange(BaseModel):
    current: str = Field(max_length=accounts.PASSWORD_MAX_LENGTH)
    new: str = Field(max_length=accounts.PASSWORD_MAX_LENGTH)


class NewToken(BaseModel):
    label: str = Field(min_length=1, max_length=100)


class NewUser(BaseModel):
    name: str
    role: Role


class Grant(BaseModel):
    analyst: str


class Revocation(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class NewJob(BaseModel):
    kind: str
    """`link`, `release` (with `section`) or `publish` (with `release_id`); intake uploads its file to
    /api/v1/jobs/intake instead."""
    params: dict[str, str] = {}


def create_app(ws: Workspace, oidc: OidcSettings | None = None) -> FastAPI:
    """The service's routes over one open workspace (the OpenAPI description is at /api/v1/openapi.json);
    with `oidc`, people may also sign in with an ID token from the unit's directory."""
    runner = JobRunner(ws)
    directory = OidcSignIn(oidc) if oidc is not None else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runner.recover()
        yield
        runner.close()

    app = FastAPI(
        lifespan=lifespan,
        title="linkhaven",
        summary="A data integration unit's service: sign-in, enforced roles, the pipeline's stages.",
        openapi_url=f"{API}/openapi.json",
        docs_url=None,  # the interactive page loads scripts from a CDN; the description is enough offline
        redoc_url=None,
    )
    bearer = HTTPBearer(auto_error=False)

    def principal(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise TokenRejected("Sign in first: this route needs `Authorization: Bearer <token>`.")
        return accounts.authenticate(ws, credentials.credentials)

    Signed = Annotated[Principal, Depends(principal)]

    def allowed(action: Action) -> Any:
        """A route's permission check before anything else about the request is looked at (its body
        included), so a role outside the route answers 403, audited, whatever it sent."""

        def check(who: Signed) -> None:
            decision = decide(who.role, action)
            if not decision.allowed:
                audit_log(ws).append(who.name, who.role, action, "route", "denied", {"reason": decision.reason})
                raise PermissionDenied(f"User '{who.name}' may not {action}: {decision.reason}.")

        return Depends(check)

    def run_as(who: Principal, call: Callable[[], T]) -> T:
        with acting_as(who.name):
            return call()

    @app.middleware("http")
    async def never_a_traceback(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """An unexpected error answers 500 with its type only, and nothing is logged but the type: its
        message or traceback could quote a value from the data."""
        try:
            return await call_next(request)
        except Exception as err:
            logging.getLogger("linkhaven.service").error("internal error (%s)", type(err).__name__)
            message = f"Internal error ({type(err).__name__}); nothing from the data is shown."
            return JSONResponse({"error": "InternalError", "message": message}, 500)

    @app.exception_handler(LinkhavenError)
    def refused(request: Request, err: LinkhavenError) -> JSONResponse:
        status = next((code for kind, code in _STATUS if isinstance(err, kind)), 400)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        body = {"error": type(err).__name__, "message": str(err), "exit_code": err.exit_code}
        return JSONResponse(body, status, headers=headers)

    @app.post(f"{API}/sign-in", tags=["sign-in"])
    def sign_in(body: SignIn) -> dict[str, str]:
        """Password, and the authenticator code for the roles that need one; gives a session token."""
        issued = accounts.sign_in(ws, body.name, body.password, body.code)
        return {"token": issued.token, "token_id": issued.token_id, "expires_at": issued.expires_at}

    @app.post(f"{API}/sign-in/oidc", tags=["sign-in"])
    def sign_in_with_directory(body: DirectorySignIn) -> dict[str, str]:
        """An ID token from the unit's directory (which applied its own second factor) for a session token."""
        if directory is None:
            raise InputError("Sign-in through a directory is not configured on this service; sign in with a password.")
        issued = directory.sign_in(ws, body.id_token)
        return {"token": issued.token, "token_id": issued.token_id, "expires_at": issued.expires_at}

    @app.post(f"{API}/sign-out", tags=["sign-in"])
    def sign_out(who: Signed) -> dict[str, str]:
        accounts.revoke_token(ws, who, who.token_id)
        return {"signed_out": who.name}

    @app.get(f"{API}/me", tags=["sign-in"])
    def me(who: Signed) -> dict[str, str]:
        return {"name": who.name, "role": str(who.role), "token_id": who.token_id, "kind": who.kind}

    @app.post(f"{API}/password", tags=["sign-in"])
    def change_password(body: PasswordChange, who: Signed) -> dict[str, str]:
        """Replace one's own password; one's other tokens are revoked."""
        accounts.change_own_password(ws, who, body.current, body.new)
        return {"changed": who.name}

    @app.get(f"{API}/tokens", tags=["sign-in"])
    def tokens(who: Signed) -> list[dict[str, str | None]]:
        return accounts.list_tokens(ws, who)

    @app.post(f"{API}/tokens", tags=["sign-in"])
    def new_token(body: NewToken, who: Signed) -> dict[str, str]:
        """An API token for scripts (longer-lived than a session); shown once."""
        issued = accounts.issue_api_token(ws, who, body.label)
        return {"token": issued.token, "token_id": issued.token_id, "expires_at": issued.expires_at}

    @app.delete(f"{API}/tokens/{{token_id}}", tags=["sign-in"])
    def revoke_token(token_id: str, who: Signed) -> dict[str, str]:
        accounts.revoke_token(ws, who, token_id)
        return {"revoked": token_id}

    @app.get(f"{API}/users", tags=["administration"], dependencies=[allowed(Action.USER_LIST)])
    def users(who: Signed) -> list[dict[str, str]]:
        return run_as(who, lambda: api.list_users(ws))

    @app.post(f"{API}/users", tags=["administration"], dependencies=[allowed(Action.USER_ADD)])
    def add_user(body: NewUser, who: Signed) -> dict[str, str]:
        run_as(who, lambda: api.add_user(ws, body.name, body.role))
        return {"added": body.name, "role": str(body.role)}

    @app.get(f"{API}/audit/events", tags=["oversight"], dependencies=[allowed(Action.AUDIT_SHOW)])
    def audit(who: Signed, since: int = 0, limit: int = 1000) -> list[dict[str, object]]:
        return [event.as_dict() for event in run_as(who, lambda: api.audit_events(ws, since, limit))]

    @app.get(f"{API}/audit/verify", tags=["oversight"], dependencies=[allowed(Action.AUDIT_VERIFY)])
    def verify(who: Signed, anchor: Annotated[list[str], Query()] = []) -> dict[str, object]:  # noqa: B006
        """Check the whole chain; each `anchor` (SEQ:HASH from a pack or publication) must still be in it."""
        try:
            anchors = [AuditHead.parse(text) for text in anchor]
        except ValueError as err:
            raise InputError(f"anchor: {err}.") from None
        return run_as(who, lambda: api.verify_audit(ws, anchors)).as_dict()

    @app.get(f"{API}/releases", tags=["releases"], dependencies=[allowed(Action.RELEASE_LIST)])
    def releases(who: Signed) -> list[dict[str, Any]]:
        return [info.as_dict() for info in run_as(who, lambda: api.list_releases(ws))]

    @app.get(f"{API}/releases/{{release_id}}", tags=["releases"], dependencies=[allowed(Action.RELEASE_LIST)])
    def release(release_id: str, who: Signed) -> dict[str, Any]:
        return run_as(who, lambda: api.show_release(ws, release_id)).as_dict()

    @app.get(f"{API}/releases/{{release_id}}/data", tags=["releases"], dependencies=[allowed(Action.RELEASE_READ)])
    def release_data(release_id: str, who: Signed) -> FileResponse:
        """An analyst's audited copy of a granted, approved release, as Parquet (the read is registered)."""

        def copy(folder: Path) -> tuple[Path, dict[str, str]]:
            receipt = run_as(who, lambda: api.read_release(ws, release_id, folder / "release.parquet"))
            return Path(receipt.out), {"X-Rows": str(receipt.rows), "X-SHA256": receipt.sha256}

        return file_answer(copy, "application/vnd.apache.parquet", f"{release_id}.parquet")

    @app.post(
        f"{API}/releases/{{release_id}}/approve", tags=["releases"], dependencies=[allowed(Action.RELEASE_APPROVE)]
    )
    def approve(release_id: str, who: Signed, on: date | None = None) -> dict[str, Any]:
        """`on`: the day the agreement must be in force (default: today)."""
        return run_as(who, lambda: api.approve_release(ws, release_id, on)).as_dict()

    @app.post(f"{API}/releases/{{release_id}}/grant", tags=["releases"], dependencies=[allowed(Action.RELEASE_GRANT)])
    def grant(release_id: str, body: Grant, who: Signed) -> dict[str, Any]:
        return run_as(who, lambda: api.grant_release(ws, release_id, body.analyst)).as_dict()

    @app.post(f"{API}/releases/{{release_id}}/revoke", tags=["releases"], dependencies=[allowed(Action.RELEASE_REVOKE)])
    def revoke(release_id: str, body: Revocation, who: Signed) -> dict[str, Any]:
        return run_as(who, lambda: api.revoke_release(ws, release_id, body.reason)).as_dict()

    @app.get(f"{API}/publications", tags=["publications"], dependencies=[allowed(Action.PUBLISH_LIST)])
    def publications(who: Signed) -> list[dict[str, Any]]:
        return run_as(who, lambda: api.list_publications(ws))

    @app.get(f"{API}/jobs", tags=["jobs"])
    def list_jobs(who: Signed) -> list[dict[str, Any]]:
        return runner.list(who)

    @app.post(f"{API}/jobs", tags=["jobs"], status_code=202)
    def submit(body: NewJob, who: Signed) -> dict[str, Any]:
        if body.kind == "intake":
            raise InputError("Upload the delivery to /api/v1/jobs/intake?source=NAME&file_name=NAME instead.")
        return runner.submit(who, body.kind, body.params)

    @app.post(f"{API}/jobs/intake", tags=["jobs"], status_code=202, dependencies=[allowed(Action.INTAKE_RUN)])
    async def submit_intake(
        request: Request, source: str, file_name: str, who: Signed, supersedes: str | None = None
    ) -> dict[str, Any]:
        """The delivery is the request body; it is kept, readable only by the service, until its job ends.
        `supersedes` names the delivery a corrected re-delivery replaces."""
        name = _safe_file_name(file_name)
        folder = runner.upload_folder()
        path = await received(request, folder / name)
        try:
            params = {"source": source, "path": str(path), "file_name": name, "supersedes": supersedes or ""}
            return runner.submit(who, "intake", params, cleanup=lambda: shutil.rmtree(folder, ignore_errors=True))
        except LinkhavenError:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    @app.get(f"{API}/jobs/{{job_id}}", tags=["jobs"])
    def job(job_id: str, who: Signed) -> dict[str, Any]:
        return runner.show(job_id, who)

    @app.post(f"{API}/jobs/{{job_id}}/cancel", tags=["jobs"])
    def cancel(job_id: str, who: Signed) -> dict[str, Any]:
        return runner.cancel(job_id, who)

    app.include_router(governance_router(ws, Signed, run_as, allowed), prefix=API)
    app.include_router(file_router(ws, Signed, run_as, allowed), prefix=API)
    return app


def _safe_file_name(name: str) -> str:
    """The delivery's own file name (the register records it), without any directory part."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}", base):
        raise InputError("file_name must be a plain file name (letters, digits, '.', '_', '-'), e.g. extract-2023.csv.")
    return base
