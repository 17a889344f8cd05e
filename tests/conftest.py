"""Shared fixtures: a real workspace with one user per role, and a CLI runner that acts as a user."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from linkhaven.cli import run

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
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run `linkhaven ARGS` in-process as `user`; returns exit code and captured output."""

    def invoke(user: str, *args: str) -> Result:
        monkeypatch.setenv("LINKHAVEN_USER", user)
        capsys.readouterr()
        code = run([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


@dataclass
class Env:
    root: Path
    workspace: Path
    keys: Path
    cli: Cli

    def as_user(self, user: str, *args: str) -> Result:
        return self.cli(user, "-w", str(self.workspace), *args)


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
