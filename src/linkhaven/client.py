"""A client of the service: the signed-in user's token, kept where only they can read it, and calls.

The service decides who a request is from by its token alone, so a client holds no key and no
workspace: whatever LINKHAVEN_USER says, a client with no token is refused. The token is kept in
the user's configuration directory (`$LINKHAVEN_CONFIG`, else `$XDG_CONFIG_HOME/linkhaven`, else
`~/.config/linkhaven`), in a file only they can read (mode 0600).
"""

from __future__ import annotations

import functools
import json
import os
import ssl
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import certifi
import httpx

from linkhaven.errors import GateRefused, LinkhavenError, PermissionDenied, SpecError

CONFIG_ENV = "LINKHAVEN_CONFIG"
CA_ENV = "LINKHAVEN_CA_FILE"
SESSION_FILE = "session.json"
API = "/api/v1"
FINISHED = ("done", "failed", "cancelled")


class NotSignedIn(PermissionDenied):
    """No token, or the service no longer accepts it: sign in again with `linkhaven login`."""


class JobFailed(LinkhavenError):
    """A job the service ran for this client failed or was cancelled; it ends the command with the exit
    code the library's error carries, as if the work had run here."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class SavedSession:
    server: str
    name: str
    token: str
    token_id: str
    expires_at: str


@functools.cache
def trusted_authorities() -> ssl.SSLContext:
    """Who may vouch for the service's certificate: the unit's own certificate authority if
    LINKHAVEN_CA_FILE names one (a service's certificate is rarely from a public authority), else the
    usual public ones. Built once per process."""
    return ssl.create_default_context(cafile=os.environ.get(CA_ENV) or certifi.where())


def config_dir() -> Path:
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "linkhaven"


def save_session(session: SavedSession) -> Path:
    """Write the token where only this user can read it (the directory 0700, the file 0600)."""
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / SESSION_FILE
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(session), handle)
    return path


def load_session() -> SavedSession:
    path = config_dir() / SESSION_FILE
    if not path.exists():
        raise NotSignedIn("Not signed in: run `linkhaven login --server URL` first.")
    if path.stat().st_mode & 0o077:
        raise NotSignedIn(f"{path} is readable by others; it was not used. Delete it and sign in again.")
    return SavedSession(**json.loads(path.read_text()))


def forget_session() -> None:
    (config_dir() / SESSION_FILE).unlink(missing_ok=True)


_BY_EXIT_CODE: dict[int, type[LinkhavenError]] = {2: SpecError, 3: PermissionDenied, 4: GateRefused}


def _raise_for(response: httpx.Response) -> None:
    """The service's refusal as the library's kind of error, so the CLI's message and exit code are the
    ones the library would have given (2 spec, 3 refused, 4 gate, else 1)."""
    if response.status_code < 400:
        return
    try:
        body = response.json()
        message = str(body.get("message") or body.get("detail"))
        exit_code = int(body.get("exit_code") or 1)
    except (ValueError, AttributeError):
        message, exit_code = response.reason_phrase, 1
    if response.status_code == 401:
        raise NotSignedIn(f"{message} Sign in again with `linkhaven login`.")
    if response.status_code == 403:
        exit_code = 3
    raise _BY_EXIT_CODE.get(exit_code, LinkhavenError)(message)


class ServiceClient:
    """Calls to the service as the signed-in user."""

    def __init__(self, session: SavedSession, timeout: float = 60) -> None:
        self.session = session
        headers = {"Authorization": f"Bearer {session.token}"}
        self._http = httpx.Client(
            base_url=session.server.rstrip("/") + API, headers=headers, timeout=timeout, verify=trusted_authorities()
        )

    @classmethod
    def signed_in(cls) -> ServiceClient:
        return cls(load_session())

    @staticmethod
    def sign_in(server: str, name: str, password: str, code: str | None) -> SavedSession:
        """Sign in and keep the token (see `save_session`)."""
        body = _post(server, "/sign-in", {"name": name, "password": password, "code": code})
        session = SavedSession(server, name, body["token"], body["token_id"], body["expires_at"])
        save_session(session)
        return session

    @staticmethod
    def sign_in_with_directory(server: str, id_token: str) -> SavedSession:
        """Sign in with an ID token from the unit's directory; the service says whose it is."""
        body = _post(server, "/sign-in/oidc", {"id_token": id_token})
        unnamed = SavedSession(server, "", body["token"], body["token_id"], body["expires_at"])
        session = replace(unnamed, name=ServiceClient(unnamed).call("GET", "/me")["name"])
        save_session(session)
        return session

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request; the answer's JSON, or the service's refusal raised as the library's error."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as err:
            raise _unreachable(self.session.server, err) from None
        _raise_for(response)
        return response.json()

    def upload(self, path: str, file: Path, method: str = "POST", **params: Any) -> Any:
        """Send `file` as the request body (streamed, never read whole)."""
        try:
            handle = file.open("rb")
        except OSError as err:
            raise LinkhavenError(f"Cannot read {file}: {err.strerror}.") from None
        with handle:
            return self.call(method, path, content=handle, params=_present(params))

    def download(self, path: str, out: Path, **params: Any) -> httpx.Headers:
        """Write the answer's body to `out`, a new file only this user can read; its headers."""
        try:
            with self._http.stream("GET", path, params=_present(params)) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for(response)
                with _new_private_file(out) as handle:
                    for chunk in response.iter_bytes():
                        handle.write(chunk)
                return response.headers
        except httpx.TransportError as err:
            out.unlink(missing_ok=True)
            raise _unreachable(self.session.server, err) from None

    def submit(self, kind: str, **params: str) -> dict[str, Any]:
        """Queue a job (link, release, publish); intake uploads its delivery with `submit_intake`."""
        job: dict[str, Any] = self.call("POST", "/jobs", json={"kind": kind, "params": params})
        return job

    def submit_intake(self, source: str, delivery: Path, supersedes: str | None = None) -> dict[str, Any]:
        job: dict[str, Any] = self.upload(
            "/jobs/intake", delivery, source=source, file_name=delivery.name, supersedes=supersedes
        )
        return job

    def sign_out(self) -> None:
        try:
            self.call("POST", "/sign-out")
        finally:
            forget_session()

    def wait(
        self, job: dict[str, Any], on_change: Callable[[dict[str, Any]], None], poll: float = 0.5
    ) -> dict[str, Any]:
        """Poll a job until it ends, reporting each change of stage or steps; quickly at first (most
        jobs are short), then every `poll` seconds."""
        last: tuple[object, ...] = ()
        pause = 0.02
        while True:
            now = (job["state"], job["stage"], job["steps_done"])
            if now != last:
                on_change(job)
                last = now
            if job["state"] in FINISHED:
                return job
            time.sleep(pause)
            pause = min(pause * 1.5, poll)
            job = self.call("GET", f"/jobs/{job['id']}")

    def outcome(self, job: dict[str, Any]) -> Any:
        """A finished job's result; a failed or cancelled one raises its error with its exit code."""
        if job["state"] == "done":
            return job["result"]
        raise JobFailed(f"Job {job['id']} {job['state']}: {job['error']}", job.get("exit_code") or 1)


def _new_private_file(path: Path) -> Any:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
    except OSError as err:
        problem = f"Cannot write {path}: {err.strerror}"
        raise LinkhavenError(f"{problem}; name a new file in a folder you can write.") from None


def _post(server: str, path: str, body: dict[str, Any]) -> Any:
    try:
        response = httpx.post(server.rstrip("/") + API + path, json=body, verify=trusted_authorities())
    except httpx.TransportError as err:
        raise _unreachable(server, err) from None
    _raise_for(response)
    return response.json()


def _unreachable(server: str, err: Exception) -> LinkhavenError:
    return LinkhavenError(f"No service answers at {server} ({type(err).__name__}); is it running?")


def _present(params: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in params.items() if value is not None}
