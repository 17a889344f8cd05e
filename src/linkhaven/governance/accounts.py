"""Accounts: how a registered user proves who they are, and for how long that proof holds.

Every other entry point of the library trusts the `user` it is given. The service is what makes
that name true: it signs people in here (password, then a second factor for the roles that see
identifiers, approve or administer) and passes on only the name a valid token belongs to. Nothing
stored here signs anyone in by being read: passwords are argon2id hashes, second-factor secrets are
sealed under a key derived from the audit key, and tokens are kept as SHA-256 digests.

Sign-ins, failures, lockouts, sign-outs and refused tokens are audited with a reason code, never
with the password, the code or the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, RowMapping, insert, select, update

from linkhaven.errors import LinkhavenError, WorkspaceError
from linkhaven.governance.audit import AuditLog
from linkhaven.governance.permissions import Action, Role
from linkhaven.governance.session import audit_log, open_session
from linkhaven.schema import credentials, tokens
from linkhaven.workspace.workspace import Workspace, check_user_name

PASSWORD_MIN_LENGTH = 12
"""NIST SP 800-63B asks for at least 8 and favours length over composition rules; 12 for staff who
can reach personal information."""
PASSWORD_MAX_LENGTH = 256
LOCKOUT_AFTER = 20
"""Consecutive failed sign-ins that lock an account (NIST SP 800-63B §5.2.2 allows at most 100)."""
LOCKOUT = timedelta(minutes=15)
"""How long a locked account stays locked; an admin may unlock it sooner (`unlock_account`)."""
SECOND_FACTOR_ROLES = frozenset({Role.LINKER, Role.PRIVACY_OFFICER, Role.ADMIN})
"""Roles that see identifiers, approve, or administer: they sign in with a second factor too."""
TOTP_STEP_SECONDS = 30


@dataclass(frozen=True)
class TokenPolicy:
    idle: timedelta
    """A token unused for this long is dead."""
    absolute: timedelta
    """A token is dead this long after it was issued, however much it is used."""


TOKEN_POLICIES = {
    "session": TokenPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=12)),
    "api": TokenPolicy(idle=timedelta(days=14), absolute=timedelta(days=90)),
}
"""A sign-in gives a session token (a working day at most); an API token serves scripts, for longer."""

IDLE_TIMER_STEP = timedelta(minutes=1)  # a token's idle timer is refreshed at most this often

_HASHER = PasswordHasher()  # argon2id, RFC 9106's second recommended parameters (64 MiB, 3 passes)
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
"""Verified against for an unknown user, so a refusal takes as long whether the user exists or not."""
_COMMON = frozenset(
    {"password", "passw0rd", "letmein", "welcome", "qwerty", "iloveyou", "admin", "changeme", "linkhaven"}
)


class SignInRefused(LinkhavenError):
    """The name, password or second factor was not accepted, or the account is locked."""


class TokenRejected(LinkhavenError):
    """A token that is unknown, expired, idle too long, revoked, or whose user is gone."""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    """The secret itself: shown to its holder once, never stored."""
    token_id: str
    kind: str
    expires_at: str


@dataclass(frozen=True)
class Principal:
    """Who a valid token belongs to, as the service passes it to the library."""

    name: str
    role: Role
    token_id: str
    kind: str


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def password_problems(name: str, password: str) -> list[str]:
    """What is wrong with a new password, in words; never the password itself."""
    problems = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append(f"use at least {PASSWORD_MIN_LENGTH} characters (a passphrase of several words is best)")
    if len(password) > PASSWORD_MAX_LENGTH:
        problems.append(f"use at most {PASSWORD_MAX_LENGTH} characters")
    folded = password.casefold()
    if name.casefold() in folded:
        problems.append("do not include the user name")
    if re.fullmatch(r"(.+?)\1+", folded) or re.sub(r"[\d\W_]+", "", folded) in _COMMON:
        problems.append("do not repeat a shorter pattern or use a common password")
    if len(set(password)) < 5 and len(password) >= PASSWORD_MIN_LENGTH:
        problems.append("use at least 5 different characters")
    return problems


def _totp_key(ws: Workspace) -> AESGCM:
    derived = HKDF(hashes.SHA256(), 32, salt=None, info=b"linkhaven second-factor secrets").derive(ws.audit_key())
    return AESGCM(derived)


def _seal_secret(ws: Workspace, name: str, secret: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = _totp_key(ws).encrypt(nonce, secret.encode(), name.encode())
    return base64.b64encode(nonce + sealed).decode()


def _open_secret(ws: Workspace, name: str, sealed: str) -> str:
    raw = base64.b64decode(sealed)
    return _totp_key(ws).decrypt(raw[:12], raw[12:], name.encode()).decode()


def _credential(conn: Connection, name: str) -> dict[str, object] | None:
    row = conn.execute(select(credentials).where(credentials.c.name == name)).mappings().first()
    return dict(row) if row else None


def _ensure_credential(conn: Connection, name: str) -> None:
    if _credential(conn, name) is None:
        conn.execute(insert(credentials).values(name=name, failures=0, changed_at=_iso(_now())))


def _registered(ws: Workspace, name: str) -> Role:
    check_user_name(name)
    role = ws.role_of(name)
    if role is None:
        raise WorkspaceError(f"User '{name}' is not registered; register them first (`linkhaven user add`).")
    return Role(role)


def set_password(ws: Workspace, name: str, password: str, user: str | None = None) -> None:
    """Admin: set `name`'s password (checked against the policy) and clear any lockout."""
    _registered(ws, name)
    problems = password_problems(name, password)
    if problems:
        raise SignInRefused(f"The password for '{name}' was not accepted: {'; '.join(problems)}.")
    _change_credential(ws, name, "password", user, password_hash=_HASHER.hash(password), failures=0, locked_until=None)


def enrol_second_factor(ws: Workspace, name: str, user: str | None = None) -> str:
    """Admin: give `name` a new TOTP secret (RFC 6238) and return it, once, as an otpauth:// URI for
    their authenticator app; the previous secret stops working."""
    _registered(ws, name)
    secret = pyotp.random_base32()
    _change_credential(ws, name, "second_factor", user, totp_sealed=_seal_secret(ws, name, secret), totp_last_step=None)
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=f"linkhaven {ws.info['project_id']}")


def unlock_account(ws: Workspace, name: str, user: str | None = None) -> None:
    """Admin: lift a lockout before it expires."""
    _registered(ws, name)
    _change_credential(ws, name, "unlock", user, failures=0, locked_until=None)


def change_own_password(ws: Workspace, principal: Principal, current: str, new: str) -> None:
    """A signed-in user replaces their own password (the current one is asked again); their other
    tokens are revoked, so a session someone else may hold ends with the old password."""
    with ws.engine.connect() as conn:
        record = _credential(conn, principal.name)
    stored = record["password_hash"] if record else None
    if not _verify(stored if isinstance(stored, str) else None, current):
        audit_log(ws).append(principal.name, principal.role, "auth.password_change", f"user:{principal.name}",
                             "refused", {"reason": "password"})  # fmt: skip
        raise SignInRefused("The current password was not accepted; the password was not changed.")
    problems = password_problems(principal.name, new)
    if problems:
        raise SignInRefused(f"The new password was not accepted: {'; '.join(problems)}.")
    log = audit_log(ws)
    with ws.engine.begin() as conn:
        values = {"password_hash": _HASHER.hash(new), "failures": 0, "changed_at": _iso(_now())}
        conn.execute(update(credentials).where(credentials.c.name == principal.name).values(**values))
        conn.execute(
            update(tokens)
            .where(
                tokens.c.name == principal.name, tokens.c.token_id != principal.token_id, tokens.c.revoked_at.is_(None)
            )
            .values(revoked_at=_iso(_now()))
        )
        log.append(principal.name, principal.role, "auth.password_change", f"user:{principal.name}", "ok", {}, conn)
    log.sync_head()


def _change_credential(ws: Workspace, name: str, change: str, user: str | None, **values: object) -> None:
    """One audited change to `name`'s credentials, in an `account.manage` session (admin)."""
    with open_session(ws, Action.ACCOUNT_MANAGE, f"user:{name}", user) as session:
        session.detail["change"] = change
        with session.transaction() as conn:
            _ensure_credential(conn, name)
            values["changed_at"] = _iso(_now())
            conn.execute(update(credentials).where(credentials.c.name == name).values(**values))


def sign_in(ws: Workspace, name: str, password: str, code: str | None = None, kind: str = "session") -> IssuedToken:
    """Check a password (and, for the roles that need one, a TOTP code) and issue a token.

    Every refusal says the same thing to the caller, whatever failed; the audit log records which.
    After `LOCKOUT_AFTER` failures in a row the account is locked for `LOCKOUT`, right password or not."""
    if kind not in TOKEN_POLICIES:
        raise ValueError(f"unknown token kind {kind!r}")
    log = audit_log(ws)
    known = bool(re.fullmatch(r"[a-z0-9_.-]{1,64}", name)) and ws.role_of(name) is not None
    actor, role = (name, Role(str(ws.role_of(name)))) if known else ("(unknown)", None)
    now = _now()
    issued: IssuedToken | None = None
    refusal = "the user name, password or second factor was not accepted"
    with ws.engine.begin() as conn:
        record = _credential(conn, name) if known else None
        locked_until = record["locked_until"] if record else None
        if isinstance(locked_until, str) and datetime.fromisoformat(locked_until) > now:
            log.append(actor, str(role), "auth.signin", f"user:{actor}", "refused", {"reason": "locked"}, conn)
            refusal = f"the account is locked after repeated failures until {locked_until[11:16]} UTC"
        else:
            stored = record["password_hash"] if record else None
            reason: str | None = "password"
            if _verify(stored if isinstance(stored, str) else None, password):
                reason = _second_factor_problem(ws, conn, name, role, record, code, now)
            if reason is None:
                conn.execute(update(credentials).where(credentials.c.name == name).values(failures=0))
                issued = issue_token(conn, name, kind, now)
                log.append(actor, str(role), "auth.signin", f"user:{name}", "ok", {"token_id": issued.token_id}, conn)
            else:
                _count_failure(conn, log, name, role, record, now)
                detail = {"reason": reason}
                log.append(actor, str(role or "unregistered"), "auth.signin", f"user:{actor}", "refused", detail, conn)
    log.sync_head()
    if issued is None:
        raise SignInRefused(f"Sign-in refused: {refusal}.")
    return issued


def _count_failure(
    conn: Connection, log: AuditLog, name: str, role: Role | None, record: dict[str, object] | None, now: datetime
) -> None:
    if record is None:
        return
    failures = int(str(record["failures"])) + 1
    if failures < LOCKOUT_AFTER:
        conn.execute(update(credentials).where(credentials.c.name == name).values(failures=failures))
        return
    until = _iso(now + LOCKOUT)
    conn.execute(update(credentials).where(credentials.c.name == name).values(failures=0, locked_until=until))
    log.append(name, str(role), "auth.lockout", f"user:{name}", "ok", {"failures": failures, "until": until}, conn)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def _second_factor_problem(
    ws: Workspace,
    conn: Connection,
    name: str,
    role: Role | None,
    record: dict[str, object] | None,
    code: str | None,
    now: datetime,
) -> str | None:
    """None when no second factor is needed or `code` is a fresh valid TOTP code; else a reason code."""
    if record is None or role is None:
        return "no_credentials"
    sealed = record["totp_sealed"]
    if role not in SECOND_FACTOR_ROLES and sealed is None:
        return None
    if not isinstance(sealed, str):
        return "second_factor_not_enrolled"
    if not code:
        return "second_factor_missing"
    totp = pyotp.TOTP(_open_secret(ws, name, sealed))
    step = int(now.timestamp()) // TOTP_STEP_SECONDS
    last = record["totp_last_step"]
    for candidate in (step - 1, step, step + 1):  # one step of clock drift either way
        fresh = last is None or candidate > int(str(last))
        if fresh and hmac.compare_digest(totp.at(candidate * TOTP_STEP_SECONDS), code.strip()):
            conn.execute(update(credentials).where(credentials.c.name == name).values(totp_last_step=candidate))
            return None
    return "second_factor"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(conn: Connection, name: str, kind: str, now: datetime, label: str = "") -> IssuedToken:
    token = f"lh_{secrets.token_urlsafe(32)}"
    token_id = secrets.token_hex(6)
    expires = _iso(now + TOKEN_POLICIES[kind].absolute)
    conn.execute(
        insert(tokens).values(
            digest=_digest(token),
            token_id=token_id,
            name=name,
            kind=kind,
            label=label[:100],
            created_at=_iso(now),
            last_used_at=_iso(now),
            expires_at=expires,
        )
    )
    return IssuedToken(token, token_id, kind, expires)


def authenticate(ws: Workspace, token: str) -> Principal:
    """The user a token belongs to, if it is still good; refreshes its idle timer. Refusals are audited
    with their reason and a digest prefix (never the token), so repeated probing shows in the log."""
    now = _now()
    digest = _digest(token)
    with ws.engine.begin() as conn:
        row = conn.execute(select(tokens).where(tokens.c.digest == digest)).mappings().first()
        reason = _token_problem(row, now)
        role = ws.role_of(str(row["name"])) if row is not None and reason is None else None
        if row is not None and reason is None and role is None:
            reason = "user_removed"
        if reason is None and row is not None and role is not None:
            if datetime.fromisoformat(str(row["last_used_at"])) + IDLE_TIMER_STEP <= now:
                conn.execute(update(tokens).where(tokens.c.digest == digest).values(last_used_at=_iso(now)))
            return Principal(str(row["name"]), Role(role), str(row["token_id"]), str(row["kind"]))
    actor = str(row["name"]) if row is not None else "(unknown)"
    audit_log(ws).append(actor, "-", "auth.token", f"token:{digest[:12]}", "refused", {"reason": str(reason)})
    raise TokenRejected("The token is not valid (unknown, expired, idle too long or revoked); sign in again.")


def _token_problem(row: RowMapping | None, now: datetime) -> str | None:
    if row is None:
        return "unknown"
    if row["revoked_at"] is not None:
        return "revoked"
    if datetime.fromisoformat(str(row["expires_at"])) <= now:
        return "expired"
    if datetime.fromisoformat(str(row["last_used_at"])) + TOKEN_POLICIES[str(row["kind"])].idle <= now:
        return "idle"
    return None


def issue_api_token(ws: Workspace, principal: Principal, label: str) -> IssuedToken:
    """A longer-lived token for scripts, issued to a signed-in user for themself."""
    with ws.engine.begin() as conn:
        issued = issue_token(conn, principal.name, "api", _now(), label)
        audit_log(ws).append(
            principal.name, principal.role, "auth.token_issue", f"token:{issued.token_id}", "ok", {}, conn
        )
    audit_log(ws).sync_head()
    return issued


def revoke_token(ws: Workspace, principal: Principal, token_id: str) -> None:
    """Revoke one of one's own tokens (an admin may revoke anyone's); signing out revokes the session's."""
    with ws.engine.begin() as conn:
        owner = conn.execute(select(tokens.c.name).where(tokens.c.token_id == token_id)).scalar_one_or_none()
        allowed = owner is not None and (owner == principal.name or principal.role is Role.ADMIN)
        outcome = "ok" if allowed else "denied"
        action = "auth.signout" if token_id == principal.token_id else "auth.token_revoke"
        if allowed:
            conn.execute(update(tokens).where(tokens.c.token_id == token_id).values(revoked_at=_iso(_now())))
        audit_log(ws).append(principal.name, principal.role, action, f"token:{token_id}", outcome, {}, conn)
    audit_log(ws).sync_head()
    if not allowed:
        raise TokenRejected(f"No token '{token_id}' of yours to revoke.")


def list_tokens(ws: Workspace, principal: Principal) -> list[dict[str, str | None]]:
    """One's own live and past tokens (an admin sees everyone's): id, kind, label and dates, no secret."""
    query = select(tokens.c.token_id, tokens.c.name, tokens.c.kind, tokens.c.label, tokens.c.created_at,
                   tokens.c.last_used_at, tokens.c.expires_at, tokens.c.revoked_at)  # fmt: skip
    if principal.role is not Role.ADMIN:
        query = query.where(tokens.c.name == principal.name)
    with ws.engine.connect() as conn:
        return [dict(row) for row in conn.execute(query.order_by(tokens.c.created_at)).mappings()]
