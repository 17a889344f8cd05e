"""Shared fixtures: a real workspace with one user per role, served in-process, and a CLI runner that
acts as a user: signed in to the service with that user's password and second factor."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from linkhaven.cli import run

if TYPE_CHECKING:
    from tests.served import Clients

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "projects" / "ontario-children-in-care.yaml"
ROLES = ["steward", "linker", "deidentifier", "privacy_officer", "analyst"]


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


Cli = Callable[..., Result]


@pytest.fixture()
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Cli]:
    """Run `linkhaven ARGS` in-process as `user`; returns exit code and captured output.

    A client command on a workspace goes to that workspace's service (started in-process on first use,
    stopped at the end of the test unless a module's fixture started it) signed in as `user`; setting
    LINKHAVEN_USER too shows it plays no part."""
    from tests.served import _SERVED, client_config, stop_serving

    before = set(_SERVED)

    def invoke(user: str, *args: str) -> Result:
        arguments = [str(a) for a in args]
        monkeypatch.setenv("LINKHAVEN_USER", user)
        config = client_config(user, arguments)
        if config is not None:
            monkeypatch.setenv("LINKHAVEN_CONFIG", str(config))
        capsys.readouterr()
        code = run(arguments)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    yield invoke
    for workspace in set(_SERVED) - before:
        stop_serving(workspace)


@dataclass
class Env:
    root: Path
    workspace: Path
    keys: Path
    cli: Cli

    def as_user(self, user: str, *args: str) -> Result:
        """`linkhaven -w WORKSPACE ARGS` run by `user` (a client command goes to the service as them)."""
        return self.cli(user, "-w", str(self.workspace), *args)

    @property
    def clients(self) -> Clients:
        from tests.served import clients_for

        return clients_for(self.workspace)

    def sign_in(self, *users: str) -> None:
        """Sign `users` in now, so the audit events of signing in come before what a test counts."""
        for user in users:
            self.clients.prepare(user, "whoami")

    def environment_of(self, user: str) -> dict[str, str]:
        """The environment of a separate `linkhaven` process run by `user`: signed in as them."""
        return {**os.environ, "LINKHAVEN_USER": user, "LINKHAVEN_CONFIG": str(self.clients.prepare(user, "whoami"))}


@pytest.fixture()
def env(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Env:
    """A fresh workspace whose admin is `admin`, with one registered user per role named after it."""
    monkeypatch.delenv("LINKHAVEN_KEYS", raising=False)
    monkeypatch.delenv("LINKHAVEN_WORKSPACE", raising=False)
    workspace, keys = tmp_path / "ws", tmp_path / "keys"
    result = cli("admin", "init", str(workspace), "--spec", str(SPEC), "--keys", str(keys))
    assert result.code == 0, result.err
    environment = Env(tmp_path, workspace, keys, cli)
    for role in ROLES:
        added = environment.as_user("admin", "user", "add", role, "--role", role)
        assert added.code == 0, added.err
    return environment
