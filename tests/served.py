"""A real `linkhaven serve` for tests, and signing in to a service as the roles a unit has."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
import uvicorn
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from linkhaven.client import CONFIG_ENV, NotSignedIn, ServiceClient
from linkhaven.governance import accounts
from linkhaven.governance.accounts import enrol_second_factor, set_password
from linkhaven.governance.oidc import OidcSettings
from linkhaven.service import create_app
from linkhaven.workspace import Workspace
from tests.conftest import ROLES, Env

PASSWORD = "a long enough passphrase for tests"
SECOND_FACTOR_ROLES = {"admin", "linker", "privacy_officer"}


QUICK_HASHER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
"""The test users' passwords are hashed with argon2id at a low cost, which their hash records, so
signing in verifies at that cost too: the suite signs in hundreds of users and no test of this
harness is about the cost (test_accounts checks the service's own hashes)."""

_ACCOUNTS: dict[tuple[Path, str], str | None] = {}
"""The TOTP secret (or None) of each (workspace, user) given an account in this test process, so that
the CLI's clients and a test's own HTTP client sign in with the same second factor."""


def give_account(ws: Workspace, name: str, role: str) -> str | None:
    """A password for `name`, set by an admin on the server machine, and their TOTP secret if their role
    needs one (once per workspace)."""
    key = (ws.root.resolve(), name)
    if key not in _ACCOUNTS:
        with mock.patch.object(accounts, "_HASHER", QUICK_HASHER):
            set_password(ws, name, PASSWORD, user="admin")
        secret = None
        if role in SECOND_FACTOR_ROLES:
            secret = parse_qs(urlparse(enrol_second_factor(ws, name, user="admin")).query)["secret"][0]
        _ACCOUNTS[key] = secret
    return _ACCOUNTS[key]


def forget_accounts(workspace: Path) -> None:
    for key in [k for k in _ACCOUNTS if k[0] == workspace.resolve()]:
        del _ACCOUNTS[key]


def give_accounts(ws: Workspace) -> dict[str, str]:
    """An account for every role's user; the TOTP secrets by name of those that need one."""
    secrets = {name: give_account(ws, name, name) for name in (*ROLES, "admin")}
    return {name: secret for name, secret in secrets.items() if secret is not None}


def codes(secret: str | None) -> list[str | None]:
    """The codes to try: this step's, then the next (a code is good once, and a user may sign in twice
    within one 30-second step)."""
    return [pyotp.TOTP(secret).at(time.time() + ahead) for ahead in (0, 30)] if secret else [None]


def sign_in(client: Any, name: str, secrets: dict[str, str]) -> dict[str, str]:
    """The bearer header of a fresh sign-in."""
    for code in codes(secrets.get(name)):
        response = client.post("/api/v1/sign-in", json={"name": name, "password": PASSWORD, "code": code})
        if response.status_code == 200:
            return {"Authorization": f"Bearer {response.json()['token']}"}
    raise AssertionError(response.text)


@contextmanager
def app_with_accounts(env: Env) -> Iterator[tuple[TestClient, Workspace, dict[str, str]]]:
    """The service's app in-process over `env`'s workspace, every role's user with a password."""
    ws = Workspace.open(env.workspace, env.keys)
    secrets = give_accounts(ws)
    with TestClient(create_app(ws)) as client:
        yield client, ws, secrets


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_service(
    env: Env, log: Path | None = None, tls: tuple[Path, Path] | None = None
) -> Iterator[tuple[httpx.Client, subprocess.Popen[bytes]]]:
    """`linkhaven serve` in its own process, with LINKHAVEN_USER set to admin (which it must ignore);
    its standard error goes to `log`; `tls` is (certificate, private key). Yields a client for it and
    the process (to kill it)."""
    port = free_port()
    command = [sys.executable, "-m", "linkhaven", "-w", str(env.workspace), "serve", "--keys", str(env.keys)]
    if tls is not None:
        command += ["--tls-certificate", str(tls[0]), "--tls-private-key", str(tls[1])]
    environment = {**os.environ, "LINKHAVEN_USER": "admin"}
    with log.open("wb") if log else open(os.devnull, "wb") as errors:
        server = subprocess.Popen([*command, "--port", str(port)], env=environment, stderr=errors)
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(tls[0])) if tls else True
        scheme = "https" if tls else "http"
        client = httpx.Client(base_url=f"{scheme}://127.0.0.1:{port}", timeout=30, verify=verify)
        try:
            for _ in range(200):
                try:
                    client.get("/api/v1/openapi.json")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            yield client, server
        finally:
            client.close()
            if server.poll() is None:
                server.terminate()
            server.wait(timeout=30)


class InProcessService:
    """`create_app` served by uvicorn on a real port, in a thread of the test process: the CLI's requests
    cross a real socket, and the tests start no process per workspace."""

    def __init__(
        self, workspace: Path, keys: Path | None, port: int | None = None, oidc: OidcSettings | None = None
    ) -> None:
        self.ws = Workspace.open(workspace, keys)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(self.ws, oidc), host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False)  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        for _ in range(300):
            if self._server.started:
                return
            time.sleep(0.01)
        raise AssertionError("the in-process service did not start")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=60)


LOCAL_COMMANDS = {"init", "synth", "serve", "account", "login", "--help"}
"""Commands that run on the server machine or sign in: the only ones that need no session."""


def command_of(args: list[str]) -> tuple[Path | None, str]:
    """The workspace `-w` names (else LINKHAVEN_WORKSPACE) and the command, in a `linkhaven` argument list."""
    workspace, rest = os.environ.get("LINKHAVEN_WORKSPACE"), list(args)
    for flag in ("-w", "--workspace"):
        if flag in rest[:-1]:
            at = rest.index(flag)
            workspace = rest[at + 1]
            del rest[at : at + 2]
    return (Path(workspace) if workspace else None), (rest[0] if rest else "")


class Clients:
    """Every user of a workspace as a client of one in-process service: on a user's first client command
    an admin on the server machine sets their password (and enrols their authenticator where their role
    needs one), and they sign in with `ServiceClient.sign_in`, as `linkhaven login` does; their token is
    kept in their own configuration folder (LINKHAVEN_CONFIG) under `folder`."""

    def __init__(self, workspace: Path, keys: Path | None, folder: Path) -> None:
        self.workspace, self.keys, self.folder = workspace, keys, folder
        self.service: InProcessService | None = None
        self.signed_in: set[str] = set()

    def prepare(self, user: str, command: str) -> Path:
        """`user`'s configuration folder, signed in there first unless `command` needs no session."""
        folder = self.folder / user
        if command in LOCAL_COMMANDS or user in self.signed_in:
            return folder
        if self.service is None:
            self.service = InProcessService(self.workspace, self.keys)
        role = {u["name"]: u["role"] for u in self.service.ws.users()}.get(user)
        if role is None:
            return folder  # not a user of the workspace: their commands are refused, as not signed in
        secret = give_account(self.service.ws, user, role)
        with mock.patch.dict(os.environ, {CONFIG_ENV: str(folder)}):  # the token is kept in their folder
            for code in codes(secret):
                try:
                    ServiceClient.sign_in(self.service.url, user, PASSWORD, code)
                    break
                except NotSignedIn:
                    if code is None:
                        raise
        self.signed_in.add(user)
        return folder

    def restart(self, forget_sign_ins: bool = False) -> None:
        """Stop the service and start it again on the same port, over a freshly opened workspace (with
        `forget_sign_ins`, users sign in again: their credentials were lost with the store's tables)."""
        port = self.service.port if self.service else None
        self.close()
        if forget_sign_ins:
            self.signed_in.clear()
            forget_accounts(self.workspace)
        self.service = InProcessService(self.workspace, self.keys, port)

    def close(self) -> None:
        if self.service is not None:
            self.service.stop()
            self.service = None


_SERVED: dict[Path, Clients] = {}


def clients_for(workspace: Path) -> Clients:
    """The clients of `workspace`'s service (one per workspace in the test process), made on first use;
    its keys are LINKHAVEN_KEYS, else the ones the workspace was created with."""
    workspace = workspace.resolve()
    if workspace not in _SERVED:
        keys = os.environ.get("LINKHAVEN_KEYS")
        _SERVED[workspace] = Clients(workspace, Path(keys) if keys else None, workspace.parent / "clients")
    return _SERVED[workspace]


def stop_serving(workspace: Path) -> None:
    clients = _SERVED.pop(workspace.resolve(), None)
    if clients is not None:
        clients.close()


def client_config(user: str, args: list[str]) -> Path | None:
    """For `linkhaven ARGS` run by `user`: their configuration folder (signed in) if ARGS is a client
    command on a workspace, else None."""
    workspace, command = command_of(args)
    if workspace is None or not (workspace / "workspace.json").is_file():
        return None
    return clients_for(workspace).prepare(user, command)
