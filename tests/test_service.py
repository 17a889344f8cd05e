"""The service as an attacker meets it: no token, a forged, revoked or expired one, another role's
routes, a LINKHAVEN_USER that claims to be someone else, readable key files; and a real server
process started with `linkhaven serve`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient

from linkhaven.errors import ZoneKeyError
from linkhaven.governance.accounts import set_password
from linkhaven.governance.audit_access import audit_events
from linkhaven.service import check_key_directory
from linkhaven.workspace import Workspace
from tests.conftest import ROLES, Env
from tests.served import PASSWORD, app_with_accounts, running_service, sign_in

# Route, method, and the roles the permission matrix lets through (everyone else must get 403).
STAFF = {"admin", "steward", "linker", "deidentifier", "privacy_officer"}
ROUTES = [
    ("GET", "/api/v1/users", {"admin", "privacy_officer"}),
    ("POST", "/api/v1/users", {"admin"}),
    ("GET", "/api/v1/audit/events", {"admin", "privacy_officer"}),
    ("GET", "/api/v1/audit/verify", STAFF),
    ("GET", "/api/v1/releases", {"deidentifier", "privacy_officer", "analyst"}),
    ("POST", "/api/v1/releases/R0001/approve", {"privacy_officer"}),
    ("POST", "/api/v1/releases/R0001/grant", {"privacy_officer"}),
    ("POST", "/api/v1/jobs/intake", {"steward"}),
    ("GET", "/api/v1/agreements", STAFF),
    ("POST", "/api/v1/agreements", {"privacy_officer"}),
    ("POST", "/api/v1/assessments", {"privacy_officer"}),
    ("POST", "/api/v1/notices", {"privacy_officer"}),
    ("GET", "/api/v1/deliveries", {"steward", "privacy_officer"}),
    ("GET", "/api/v1/quarantine", {"steward"}),
    ("GET", "/api/v1/linkage/report", {"linker", "privacy_officer"}),
    ("GET", "/api/v1/linkage/review", {"linker"}),
    ("GET", "/api/v1/linkage/review/1", {"linker"}),
    ("POST", "/api/v1/linkage/review/1", {"linker"}),
    ("GET", "/api/v1/disclosures", {"privacy_officer"}),
    ("GET", "/api/v1/incidents", {"privacy_officer"}),
    ("GET", "/api/v1/retention", {"admin", "privacy_officer"}),
    ("POST", "/api/v1/project/suspend", {"admin", "privacy_officer"}),
    ("POST", "/api/v1/linkage/evaluate", {"linker"}),
    ("PUT", "/api/v1/spec", {"privacy_officer"}),
    ("GET", "/api/v1/quarantine/D0001/rows", {"steward"}),
    ("GET", "/api/v1/oversight/pack", {"privacy_officer"}),
    ("POST", "/api/v1/disclosures", {"privacy_officer"}),
    ("POST", "/api/v1/incidents", {"privacy_officer"}),
    ("POST", "/api/v1/audit/anchor", {"admin", "privacy_officer"}),
    ("GET", "/api/v1/retention/preview", {"admin"}),
    ("POST", "/api/v1/retention/run", {"admin"}),
    ("GET", "/api/v1/releases/R0001/data", {"analyst"}),
]
"""Route, method, and the roles the permission matrix lets through: every other role gets 403, even
with no body or a malformed one (the check comes before anything else about the request)."""


@pytest.fixture()
def service(env: Env) -> Iterator[tuple[TestClient, Workspace, dict[str, str]]]:
    with app_with_accounts(env) as served_app:
        yield served_app


def test_no_token_or_a_forged_one_answers_401_whatever_linkhaven_user_says(
    service: tuple[TestClient, Workspace, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _, _ = service
    monkeypatch.setenv("LINKHAVEN_USER", "admin")
    assert client.get("/api/v1/users").status_code == 401
    forged = {"Authorization": "Bearer lh_" + "x" * 43}
    assert client.get("/api/v1/users", headers=forged).status_code == 401
    assert client.get("/api/v1/users", headers={"X-User": "admin"}).status_code == 401


def test_signing_in_as_another_user_needs_their_password_and_second_factor(
    service: tuple[TestClient, Workspace, dict[str, str]],
) -> None:
    client, _, secrets = service
    wrong = client.post("/api/v1/sign-in", json={"name": "privacy_officer", "password": PASSWORD + "?"})
    no_code = client.post("/api/v1/sign-in", json={"name": "privacy_officer", "password": PASSWORD})
    other_code = client.post(
        "/api/v1/sign-in",
        json={"name": "privacy_officer", "password": PASSWORD, "code": pyotp.TOTP(secrets["linker"]).now()},
    )
    assert [r.status_code for r in (wrong, no_code, other_code)] == [401, 401, 401]
    assert len({r.json()["message"] for r in (wrong, no_code, other_code)}) == 1


@pytest.mark.parametrize("method,path,allowed", ROUTES)
def test_every_route_outside_a_role_answers_403_and_is_audited(
    service: tuple[TestClient, Workspace, dict[str, str]], method: str, path: str, allowed: set[str]
) -> None:
    client, ws, secrets = service
    for role in sorted({*ROLES, "admin"}):
        response = client.request(method, path, headers=sign_in(client, role, secrets))
        if role in allowed:
            assert response.status_code != 403, (role, path, response.text)
        else:
            assert response.status_code == 403, (role, path, response.text)
            last = audit_events(ws, user="admin")[-1]
            assert (last.actor, last.outcome) == (role, "denied")


def test_an_analyst_token_reaches_no_identity_content_or_linkage_data(
    service: tuple[TestClient, Workspace, dict[str, str]],
) -> None:
    client, _, secrets = service
    analyst = sign_in(client, "analyst", secrets)
    for route in client.app.routes:  # type: ignore[attr-defined]
        path = getattr(route, "path", "")
        if not path.startswith("/api/v1/") or path in {"/api/v1/sign-in", "/api/v1/openapi.json"}:
            continue
        for method in getattr(route, "methods", set()) - {"HEAD"}:
            concrete = path.replace("{release_id}", "R0001").replace("{token_id}", "nope")
            response = client.request(method, concrete, headers=analyst, json={})
            text = response.text.lower()
            assert not any(zone in text for zone in ("identity zone", "given_name", "birth_date", "oen")), concrete


def test_signing_out_kills_the_token(service: tuple[TestClient, Workspace, dict[str, str]]) -> None:
    client, _, secrets = service
    headers = sign_in(client, "steward", secrets)
    assert client.get("/api/v1/me", headers=headers).json()["name"] == "steward"
    assert client.post("/api/v1/sign-out", headers=headers).status_code == 200
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_the_openapi_description_is_served(service: tuple[TestClient, Workspace, dict[str, str]]) -> None:
    client, _, _ = service
    described = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/sign-in" in described["paths"] and "/api/v1/releases/{release_id}/approve" in described["paths"]


def test_keys_readable_by_group_or_others_are_refused(tmp_path: Path, env: Env) -> None:
    check_key_directory(env.keys)  # as init made them: 0700 and 0600
    key = next(env.keys.glob("*.key"))
    key.chmod(0o640)
    with pytest.raises(ZoneKeyError, match="0640"):
        check_key_directory(env.keys)
    result = env.cli("admin", "-w", str(env.workspace), "serve", "--keys", str(env.keys), "--port", "1")
    assert result.code == 1 and "will not start" in result.err


def test_linkhaven_serve_runs_a_real_server_that_ignores_linkhaven_user(env: Env, tmp_path: Path) -> None:
    ws = Workspace.open(env.workspace, env.keys)
    set_password(ws, "steward", PASSWORD, user="admin")
    log = tmp_path / "service.log"
    with running_service(env, log) as (client, _):  # LINKHAVEN_USER=admin in its environment
        assert client.get("/api/v1/users").status_code == 401
        headers = sign_in(client, "steward", {})
        assert client.get("/api/v1/me", headers=headers).json()["role"] == "steward"
        assert client.get("/api/v1/users", headers=headers).status_code == 403
    said = log.read_bytes()
    assert PASSWORD.encode() not in said and headers["Authorization"][7:].encode() not in said


def test_an_unexpected_error_answers_500_without_its_message_in_the_response_or_the_log(
    service: tuple[TestClient, Workspace, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, _, secrets = service

    def broken(ws: Workspace) -> None:
        raise RuntimeError("Zebulonique Belanger 2010-03-15")  # a message quoting personal values

    monkeypatch.setattr("linkhaven.api.list_publications", broken)
    response = client.get("/api/v1/publications", headers=sign_in(client, "steward", secrets))
    assert response.status_code == 500 and "RuntimeError" in response.text
    assert "Zebulonique" not in response.text and "Zebulonique" not in caplog.text


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as a unit's own CA would issue one."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    key_path.chmod(0o600)
    return cert_path, key_path


def test_the_service_speaks_tls_with_the_certificate_it_is_given(env: Env, tmp_path: Path) -> None:
    ws = Workspace.open(env.workspace, env.keys)
    set_password(ws, "steward", PASSWORD, user="admin")
    with running_service(env, tls=_self_signed(tmp_path)) as (client, _):
        assert str(client.base_url).startswith("https://")
        headers = sign_in(client, "steward", {})
        assert client.get("/api/v1/me", headers=headers).json()["name"] == "steward"


def test_a_signed_in_user_changes_their_password(service: tuple[TestClient, Workspace, dict[str, str]]) -> None:
    client, _, secrets = service
    headers = sign_in(client, "steward", secrets)
    body = {"current": PASSWORD, "new": "another long passphrase for tests"}
    assert client.post("/api/v1/password", json=body, headers=headers).status_code == 200
    assert client.post("/api/v1/sign-in", json={"name": "steward", "password": PASSWORD}).status_code == 401


def test_the_privacy_officer_records_an_incident_through_the_service(
    service: tuple[TestClient, Workspace, dict[str, str]],
) -> None:
    client, _, secrets = service
    officer = sign_in(client, "privacy_officer", secrets)
    body = {"title": "Misdirected extract", "found_on": "2025-01-10", "change": {"people_affected": 3}}
    opened = client.post("/api/v1/incidents", json=body, headers=officer)
    assert opened.status_code == 200, opened.text
    incident_id = opened.json()["id"]
    closing = {"change": {"lessons": "Check the recipient list"}, "close": True}
    assert client.post(f"/api/v1/incidents/{incident_id}", json=closing, headers=officer).json()["state"] == "closed"
    register = client.get("/api/v1/incidents", headers=officer).json()
    assert [(i["id"], i["people_affected"]) for i in register] == [(incident_id, 3)]
