"""A client of the service: the signed-in user's token, kept where only they can read it, and calls.

The service decides who a request is from by its token alone, so a client holds no key and no
workspace: whatever LINKHAVEN_USER says, a client with no token is refused. The token is kept in
the user's configuration directory (`$LINKHAVEN_CONFIG`, else `$XDG_CONFIG_HOME/linkhaven`, else
`~/.config/linkhaven`), in a file only they can read (mode 0600).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from linkhaven.errors import GateRefused, InputError, LinkhavenError, PermissionDenied

CONFIG_ENV = "LINKHAVEN_CONFIG"
SESSION_FILE = "session.json"
API = "/api/v1"
FINISHED = ("done", "failed", "cancelled")


class NotSignedIn(LinkhavenError):
    """No token, or the service no longer accepts it: sign in again with `linkhaven login`."""


@dataclass(frozen=True)
class SavedSession:
    server: str
    name: str
    token: str
    token_id: str
    expires_at: str


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


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        message = str(response.json().get("message") or response.json().get("detail"))
    except ValueError:
        message = response.reason_phrase
    kind: type[LinkhavenError] = {401: NotSignedIn, 403: PermissionDenied, 409: GateRefused, 422: InputError}.get(
        response.status_code, LinkhavenError
    )
    raise kind(message)


class ServiceClient:
    """Calls to the service as the signed-in user."""

    def __init__(self, session: SavedSession, timeout: float = 60) -> None:
        self.session = session
        headers = {"Authorization": f"Bearer {session.token}"}
        self._http = httpx.Client(base_url=session.server.rstrip("/") + API, headers=headers, timeout=timeout)

    @classmethod
    def signed_in(cls) -> ServiceClient:
        return cls(load_session())

    @staticmethod
    def sign_in(server: str, name: str, password: str, code: str | None) -> SavedSession:
        """Sign in and keep the token (see `save_session`)."""
        try:
            response = httpx.post(
                server.rstrip("/") + API + "/sign-in", json={"name": name, "password": password, "code": code}
            )
        except httpx.TransportError as err:
            raise LinkhavenError(f"No service answers at {server} ({type(err).__name__}); is it running?") from None
        _raise_for(response)
        body = response.json()
        session = SavedSession(server, name, body["token"], body["token_id"], body["expires_at"])
        save_session(session)
        return session

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as err:
            raise LinkhavenError(
                f"No service answers at {self.session.server} ({type(err).__name__}); is it running?"
            ) from None
        _raise_for(response)
        return response.json()

    def sign_out(self) -> None:
        try:
            self.call("POST", "/sign-out")
        finally:
            forget_session()

    def wait(
        self, job: dict[str, Any], on_change: Callable[[dict[str, Any]], None], poll: float = 0.5
    ) -> dict[str, Any]:
        """Poll a job until it ends, reporting each change of stage or steps."""
        last: tuple[object, ...] = ()
        while True:
            now = (job["state"], job["stage"], job["steps_done"])
            if now != last:
                on_change(job)
                last = now
            if job["state"] in FINISHED:
                return job
            time.sleep(poll)
            job = self.call("GET", f"/jobs/{job['id']}")
