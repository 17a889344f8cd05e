"""Sign-in: password policy, second factor, lockout, token lifetimes and revocation, and what the
store and the audit log keep (never a password, code or token)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from sqlalchemy import select, update

from linkhaven import schema
from linkhaven.errors import PermissionDenied
from linkhaven.governance import accounts
from linkhaven.governance.accounts import (
    LOCKOUT_AFTER,
    SignInRefused,
    TokenRejected,
    authenticate,
    enrol_second_factor,
    issue_api_token,
    list_tokens,
    password_problems,
    revoke_token,
    set_password,
    sign_in,
    unlock_account,
)
from linkhaven.governance.audit_access import audit_events
from linkhaven.workspace import Workspace
from tests.conftest import Env

PASSWORD = "correct horse battery staple"


def _workspace(env: Env) -> Workspace:
    return Workspace.open(env.workspace, env.keys)


def _secret(uri: str) -> str:
    return parse_qs(urlparse(uri).query)["secret"][0]


@pytest.fixture()
def ws(env: Env) -> Workspace:
    ws = _workspace(env)
    for name in ("analyst", "linker"):
        set_password(ws, name, PASSWORD, user="admin")
    return ws


def test_the_policy_names_what_is_wrong_and_never_the_password() -> None:
    assert password_problems("ana", "short") == ["use at least 12 characters (a passphrase of several words is best)"]
    assert any("user name" in p for p in password_problems("analyst", "analyst-is-my-name"))
    assert any("common" in p for p in password_problems("x", "Password1234!"))
    assert password_problems("analyst", PASSWORD) == []


def test_only_an_admin_sets_passwords_and_a_refused_one_is_not_echoed(ws: Workspace) -> None:
    with pytest.raises(SignInRefused) as caught:
        set_password(ws, "analyst", "hunter2hunter2", user="admin")
    assert "hunter2" not in str(caught.value)
    with pytest.raises(PermissionDenied):
        set_password(ws, "analyst", PASSWORD + "!", user="privacy_officer")


def test_an_analyst_signs_in_with_a_password_and_the_token_names_them(ws: Workspace) -> None:
    issued = sign_in(ws, "analyst", PASSWORD)
    principal = authenticate(ws, issued.token)
    assert (principal.name, str(principal.role), principal.kind) == ("analyst", "analyst", "session")


def test_a_wrong_password_or_unknown_user_is_refused_alike(ws: Workspace) -> None:
    messages = []
    for name, password in (("analyst", PASSWORD + "x"), ("nobody", PASSWORD), ("steward", PASSWORD)):
        with pytest.raises(SignInRefused) as caught:
            sign_in(ws, name, password)
        messages.append(str(caught.value))
    assert len(set(messages)) == 1  # no hint which part failed, or whether the user exists


def test_a_linker_needs_a_fresh_second_factor_code(ws: Workspace) -> None:
    with pytest.raises(SignInRefused):
        sign_in(ws, "linker", PASSWORD)  # not enrolled yet: refused, not let through
    totp = pyotp.TOTP(_secret(enrol_second_factor(ws, "linker", user="admin")))
    with pytest.raises(SignInRefused):
        sign_in(ws, "linker", PASSWORD)  # no code
    with pytest.raises(SignInRefused):
        sign_in(ws, "linker", PASSWORD, "000000" if totp.now() != "000000" else "111111")
    code = totp.now()
    assert authenticate(ws, sign_in(ws, "linker", PASSWORD, code).token).name == "linker"
    with pytest.raises(SignInRefused):
        sign_in(ws, "linker", PASSWORD, code)  # the same code again: replayed


def test_twenty_failures_lock_the_account_and_the_right_password_is_refused_while_locked(ws: Workspace) -> None:
    for _ in range(LOCKOUT_AFTER):
        with pytest.raises(SignInRefused):
            sign_in(ws, "analyst", "wrong password, again")
    with pytest.raises(SignInRefused, match="locked"):
        sign_in(ws, "analyst", PASSWORD)
    events = [e for e in audit_events(ws, user="admin") if e.action == "auth.lockout"]
    assert len(events) == 1 and events[0].target == "user:analyst"
    unlock_account(ws, "analyst", user="admin")
    assert sign_in(ws, "analyst", PASSWORD).kind == "session"


def test_the_lock_expires_on_its_own(ws: Workspace) -> None:
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat(timespec="seconds")
    with ws.engine.begin() as conn:
        conn.execute(update(schema.credentials).where(schema.credentials.c.name == "analyst").values(locked_until=past))
    assert sign_in(ws, "analyst", PASSWORD)


@pytest.mark.parametrize("column,value", [("expires_at", -1), ("last_used_at", -60 * 24 * 60), ("revoked_at", 0)])
def test_an_expired_idle_or_revoked_token_is_rejected(ws: Workspace, column: str, value: int) -> None:
    issued = sign_in(ws, "analyst", PASSWORD)
    moment = (datetime.now(UTC) + timedelta(minutes=value)).isoformat(timespec="seconds")
    with ws.engine.begin() as conn:
        conn.execute(update(schema.tokens).where(schema.tokens.c.token_id == issued.token_id).values({column: moment}))
    with pytest.raises(TokenRejected):
        authenticate(ws, issued.token)


def test_a_forged_token_is_rejected_and_audited_without_the_token(ws: Workspace) -> None:
    forged = "lh_" + "A" * 43
    with pytest.raises(TokenRejected):
        authenticate(ws, forged)
    last = audit_events(ws, user="admin")[-1]
    assert (last.action, last.outcome) == ("auth.token", "refused") and forged not in str(last)


def test_signing_out_revokes_the_session_and_only_its_owner_or_an_admin_may_revoke(ws: Workspace) -> None:
    analyst = authenticate(ws, (session := sign_in(ws, "analyst", PASSWORD)).token)
    api = issue_api_token(ws, analyst, "nightly script")
    assert authenticate(ws, api.token).kind == "api"
    other = authenticate(ws, sign_in(ws, "linker", PASSWORD, pyotp.TOTP(
        _secret(enrol_second_factor(ws, "linker", user="admin"))).now()).token)  # fmt: skip
    with pytest.raises(TokenRejected):
        revoke_token(ws, other, api.token_id)
    revoke_token(ws, analyst, analyst.token_id)
    with pytest.raises(TokenRejected):
        authenticate(ws, session.token)
    assert authenticate(ws, api.token).name == "analyst"
    assert {t["token_id"] for t in list_tokens(ws, analyst)} == {analyst.token_id, api.token_id}


def test_the_store_and_the_audit_log_hold_no_password_code_or_token(ws: Workspace, tmp_path: Path) -> None:
    issued = sign_in(ws, "analyst", PASSWORD)
    uri = enrol_second_factor(ws, "linker", user="admin")
    code = pyotp.TOTP(_secret(uri)).now()
    sign_in(ws, "linker", PASSWORD, code)
    with ws.engine.connect() as conn:
        stored = [str(v) for table in (schema.credentials, schema.tokens) for row in conn.execute(select(table))
                  for v in row]  # fmt: skip
    assert all(v.startswith("$argon2id$") for v in stored if "argon2" in v)
    audit = "\n".join(str(e) for e in audit_events(ws, user="admin"))
    database = (ws.root / "linkhaven.db").read_bytes()
    for secret in (PASSWORD, issued.token, _secret(uri)):
        assert secret not in " ".join(stored) and secret not in audit
        assert secret.encode() not in database
    assert accounts.TOKEN_POLICIES["session"].absolute <= timedelta(hours=12)


def test_a_user_changes_their_own_password_and_their_other_sessions_end(ws: Workspace) -> None:
    from linkhaven.governance.accounts import change_own_password

    here = authenticate(ws, sign_in(ws, "analyst", PASSWORD).token)
    elsewhere = sign_in(ws, "analyst", PASSWORD)
    with pytest.raises(SignInRefused, match="current password"):
        change_own_password(ws, here, "not my password at all", "a brand new passphrase here")
    with pytest.raises(SignInRefused, match="new password"):
        change_own_password(ws, here, PASSWORD, "short")
    change_own_password(ws, here, PASSWORD, "a brand new passphrase here")
    with pytest.raises(TokenRejected):
        authenticate(ws, elsewhere.token)
    assert authenticate(ws, sign_in(ws, "analyst", "a brand new passphrase here").token).name == "analyst"
    with pytest.raises(SignInRefused):
        sign_in(ws, "analyst", PASSWORD)
