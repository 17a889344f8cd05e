"""Sign-in with an ID token from the unit's directory: a real RSA-signed token checked against the
provider's keys, mapped to the local user and role; every forged, stale, replayed or unregistered
token refused and audited, without the token in the audit log."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey

from linkhaven.errors import InputError
from linkhaven.governance.accounts import set_password
from linkhaven.governance.audit_access import audit_events
from linkhaven.governance.oidc import OidcSettings
from linkhaven.service import create_app
from linkhaven.workspace import Workspace
from tests.conftest import Env
from tests.served import InProcessService

ISSUER = "https://directory.unit.example"
AUDIENCE = "linkhaven"
PROVIDER = RSAKey.generate_key(2048, parameters={"kid": "directory-1"})
IMPOSTOR = RSAKey.generate_key(2048, parameters={"kid": "directory-1"})


def id_token(name: str, key: RSAKey = PROVIDER, **overrides: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300, "preferred_username": name, **overrides}
    return jwt.encode({"alg": "RS256", "kid": "directory-1"}, claims, key)


@pytest.fixture()
def settings_file(tmp_path: Path) -> Path:
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [PROVIDER.as_dict(private=False)]}))
    path = tmp_path / "oidc.json"
    path.write_text(json.dumps({"issuer": ISSUER, "audience": AUDIENCE, "jwks_file": "jwks.json"}))
    return path


@pytest.fixture()
def directory(env: Env, settings_file: Path) -> Iterator[tuple[TestClient, Workspace]]:
    ws = Workspace.open(env.workspace, env.keys)
    with TestClient(create_app(ws, OidcSettings.load(settings_file))) as client:
        yield client, ws


def _sign_in(client: TestClient, token: str) -> Any:
    return client.post("/api/v1/sign-in/oidc", json={"id_token": token})


def test_a_directory_token_signs_in_the_local_user_with_their_local_role(
    directory: tuple[TestClient, Workspace],
) -> None:
    client, _ = directory
    signed = _sign_in(client, id_token("steward"))
    assert signed.status_code == 200, signed.text
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {signed.json()['token']}"}).json()
    assert me["name"] == "steward" and me["role"] == "steward"
    linker = _sign_in(client, id_token("linker", amr=["pwd", "mfa"]))
    assert linker.status_code == 200, linker.text


@pytest.mark.parametrize(
    ("name", "key", "claims", "reason"),
    [
        ("steward", IMPOSTOR, {}, "token_BadSignatureError"),
        ("steward", PROVIDER, {"aud": "another-service"}, "token_InvalidClaimError"),
        ("steward", PROVIDER, {"iss": "https://elsewhere.example"}, "token_InvalidClaimError"),
        ("steward", PROVIDER, {"exp": int(time.time()) - 3600}, "token_ExpiredTokenError"),
        ("steward", PROVIDER, {"iat": int(time.time()) - 3600, "exp": int(time.time()) + 600}, "token_too_old"),
        ("mallory", PROVIDER, {}, "unregistered"),
        ("linker", PROVIDER, {"amr": ["pwd"]}, "second_factor"),
        ("privacy_officer", PROVIDER, {}, "second_factor"),
    ],
)
def test_a_token_not_from_the_directory_or_not_good_enough_is_refused_and_audited(
    directory: tuple[TestClient, Workspace], name: str, key: RSAKey, claims: dict[str, Any], reason: str
) -> None:
    client, ws = directory
    token = id_token(name, key, **claims)
    refused = _sign_in(client, token)
    assert refused.status_code == 401 and "not accepted" in refused.json()["message"]
    events = [e.as_dict() for e in audit_events(ws, 0, None, user="admin") if e.action == "auth.signin"]
    assert events[-1]["outcome"] == "refused" and events[-1]["detail"] == {"reason": reason, "method": "oidc"}
    assert token not in json.dumps(events)


def test_a_token_is_good_once_and_a_locked_account_stays_locked(directory: tuple[TestClient, Workspace]) -> None:
    client, ws = directory
    token = id_token("steward")
    assert _sign_in(client, token).status_code == 200
    assert _sign_in(client, token).status_code == 401
    set_password(ws, "steward", "a long enough passphrase", user="admin")
    for _ in range(20):
        client.post("/api/v1/sign-in", json={"name": "steward", "password": "wrong but long enough"})
    assert _sign_in(client, id_token("steward")).status_code == 401


def test_without_settings_the_route_says_so(env: Env) -> None:
    ws = Workspace.open(env.workspace, env.keys)
    with TestClient(create_app(ws)) as client:
        refused = _sign_in(client, id_token("steward"))
    assert refused.status_code == 422 and "not configured" in refused.json()["message"]


def test_settings_that_cannot_be_used_are_refused_clearly(tmp_path: Path) -> None:
    broken = tmp_path / "oidc.json"
    broken.write_text(json.dumps({"issuer": ISSUER}))
    with pytest.raises(InputError, match="issuer, audience and jwks_file"):
        OidcSettings.load(broken)


def test_the_cli_signs_in_with_a_directory_token(
    env: Env, settings_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = InProcessService(env.workspace, env.keys, oidc=OidcSettings.load(settings_file))
    try:
        monkeypatch.setenv("LINKHAVEN_CONFIG", str(tmp_path / "config"))
        monkeypatch.setattr("sys.stdin", io.StringIO(id_token("steward") + "\n"))
        login = env.cli("admin", "login", "--server", service.url, "--name", "steward", "--id-token-stdin")
        assert login.code == 0, login.err
        me = env.cli("admin", "whoami", "--json")
        assert me.code == 0 and json.loads(me.out)["name"] == "steward"
    finally:
        service.stop()
