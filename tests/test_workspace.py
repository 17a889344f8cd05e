"""Workspace life cycle through the CLI: init, users, roles, audit, keys."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import update

from linkhaven import schema
from linkhaven.workspace import Workspace
from tests.conftest import SPEC, Cli, Env


def test_init_makes_the_initialising_user_admin(env: Env) -> None:
    users = env.as_user("admin", "user", "list", "--json").json()
    assert {u["name"]: u["role"] for u in users} == {
        "admin": "admin", "steward": "steward", "linker": "linker", "deidentifier": "deidentifier",
        "privacy_officer": "privacy_officer", "analyst": "analyst",
    }  # fmt: skip


def test_keys_live_outside_the_workspace(env: Env) -> None:
    assert not list(env.workspace.rglob("*.key"))
    assert sorted(p.name for p in env.keys.iterdir()) == sorted(
        ["identity.key", "content.key", "linkage.key", "releases.key", "audit.key", "audit.anchor"]
    )


def test_init_refuses_keys_inside_the_workspace(cli: Cli, tmp_path: Path) -> None:
    result = cli("admin", "init", str(tmp_path / "ws"), "--spec", str(SPEC), "--keys", str(tmp_path / "ws" / "k"))
    assert result.code == 1 and "outside the workspace" in result.err


def test_refusal_is_audited_and_exits_3(env: Env) -> None:
    refused = env.as_user("analyst", "user", "add", "mallory", "--role", "admin")
    assert refused.code == 3
    events = env.as_user("privacy_officer", "audit", "show", "--json").json()
    denied = [e for e in events if e["outcome"] == "denied"]
    assert denied and denied[-1]["actor"] == "analyst" and denied[-1]["action"] == "user.add"


def test_unregistered_user_is_refused(env: Env) -> None:
    assert env.as_user("nobody", "audit", "verify").code == 3


def test_workspace_from_environment(env: Env, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKHAVEN_WORKSPACE", str(env.workspace))
    assert cli("admin", "audit", "verify").code == 0


def test_audit_verify_detects_tampering_through_the_cli(env: Env) -> None:
    intact = env.as_user("admin", "audit", "verify", "--json")
    assert intact.code == 0 and intact.json()["ok"] is True  # type: ignore[index]
    ws = Workspace.open(env.workspace)
    with ws.engine.begin() as conn:
        conn.execute(update(schema.audit_events).where(schema.audit_events.c.seq == 2).values(actor="someone"))
    broken = env.as_user("admin", "audit", "verify", "--json")
    assert broken.code == 1
    assert json.loads(broken.out)["first_broken_event"] == 2


def test_wrong_key_directory_is_refused(env: Env, tmp_path: Path, cli: Cli) -> None:
    other = tmp_path / "other"
    assert cli("admin", "init", str(other / "ws"), "--spec", str(SPEC), "--keys", str(other / "keys")).code == 0
    shutil.rmtree(env.keys)
    shutil.copytree(other / "keys", env.keys)
    result = env.as_user("admin", "audit", "verify")
    assert result.code == 1 and "not this workspace's key" in result.err


def test_missing_key_directory_is_refused(env: Env) -> None:
    shutil.rmtree(env.keys)
    result = env.as_user("admin", "audit", "verify")
    assert result.code == 1 and "No key for 'audit'" in result.err
