"""The command line as a client of a real `linkhaven serve`: sign in, a token only its owner can
read, who the service takes you for (never LINKHAVEN_USER), jobs, sign out."""

from __future__ import annotations

import io
import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest

from linkhaven.governance.accounts import enrol_second_factor, set_password
from linkhaven.workspace import Workspace
from tests.conftest import Env
from tests.served import PASSWORD, running_service


def _login(env: Env, monkeypatch: pytest.MonkeyPatch, url: str, name: str, *extra: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    return env.cli("admin", "login", "--server", url, "--name", name, "--password-stdin", *extra).code


def test_the_cli_signs_in_keeps_its_token_private_and_ignores_linkhaven_user(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = Workspace.open(env.workspace, env.keys)
    set_password(ws, "steward", PASSWORD, user="admin")
    set_password(ws, "linker", PASSWORD, user="admin")
    secret = parse_qs(urlparse(enrol_second_factor(ws, "linker", user="admin")).query)["secret"][0]
    monkeypatch.setenv("LINKHAVEN_CONFIG", str(tmp_path / "config"))
    with running_service(env) as (client, _):
        url = str(client.base_url)
        refused = env.cli("admin", "whoami")  # LINKHAVEN_USER=admin, and no token
        assert refused.code != 0 and "Not signed in" in refused.err

        assert _login(env, monkeypatch, url, "steward") == 0
        saved = tmp_path / "config" / "session.json"
        assert saved.stat().st_mode & 0o777 == 0o600
        me = env.cli("admin", "whoami", "--json")
        assert me.code == 0 and json.loads(me.out)["name"] == "steward"
        assert env.cli("admin", "jobs", "list", "--json").json() == []
        token = json.loads(saved.read_text())["token"]

        assert env.cli("admin", "logout").code == 0 and not saved.exists()
        revoked = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert revoked.status_code == 401

        assert _login(env, monkeypatch, url, "linker") != 0  # the linker's role needs a code
        assert _login(env, monkeypatch, url, "linker", "--code", pyotp.TOTP(secret).now()) == 0
        assert json.loads(env.cli("steward", "whoami", "--json").out)["role"] == "linker"


def test_a_token_file_others_can_read_is_not_used(env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKHAVEN_CONFIG", str(tmp_path))
    saved = tmp_path / "session.json"
    saved.write_text(json.dumps({"server": "http://127.0.0.1:9", "name": "x", "token": "t", "token_id": "i",
                                 "expires_at": "2099-01-01T00:00:00+00:00"}))  # fmt: skip
    saved.chmod(0o644)
    result = env.cli("admin", "whoami")
    assert result.code != 0 and "readable by others" in result.err
