"""A real `linkhaven serve` for tests, and signing in to a service as the roles a unit has."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
from fastapi.testclient import TestClient

from linkhaven.governance.accounts import enrol_second_factor, set_password
from linkhaven.service import create_app
from linkhaven.workspace import Workspace
from tests.conftest import ROLES, Env

PASSWORD = "a long enough passphrase for tests"
SECOND_FACTOR_ROLES = {"admin", "linker", "privacy_officer"}


def give_accounts(ws: Workspace) -> dict[str, str]:
    """A password for every role's user, and a TOTP secret (returned by name) for those that need one."""
    secrets: dict[str, str] = {}
    for name in (*ROLES, "admin"):
        set_password(ws, name, PASSWORD, user="admin")
        if name in SECOND_FACTOR_ROLES:
            secrets[name] = parse_qs(urlparse(enrol_second_factor(ws, name, user="admin")).query)["secret"][0]
    return secrets


def sign_in(client: Any, name: str, secrets: dict[str, str]) -> dict[str, str]:
    """The bearer header of a fresh sign-in; a second sign-in within one 30-second step uses the next
    step's code (a code is good once)."""
    codes = [pyotp.TOTP(secrets[name]).at(time.time() + ahead) for ahead in (0, 30)] if name in secrets else [None]
    for code in codes:
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
