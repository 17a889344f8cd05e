"""Sign-in through the unit's directory (OpenID Connect), for units that have one.

The service does not drive a browser: the person signs in to their directory with any OpenID Connect
client (for a command line, the provider's device flow), which applies the directory's own password
and second factor, and hands the ID token it got to `linkhaven login --id-token-stdin`. The service
checks the token's signature against the provider's published keys, its issuer, audience, expiry and
age, and that it is used once; takes the user name from a configured claim; and maps it to the local
user of that name, whose role is the one registered here: the directory says who someone is, the unit
says what they may do. For the roles that need a second factor, the token must say the provider used
one (its `amr` claim). Sign-ins and refusals are audited as password sign-ins are; the token itself
never is.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from linkhaven.errors import InputError
from linkhaven.governance.accounts import SECOND_FACTOR_ROLES, IssuedToken, SignInRefused, issue_token
from linkhaven.governance.permissions import Role
from linkhaven.governance.session import audit_log
from linkhaven.schema.accounts import credentials
from linkhaven.workspace.workspace import Workspace

ALGORITHMS = ["RS256", "PS256", "ES256"]
LEEWAY_SECONDS = 60


@dataclass(frozen=True)
class OidcSettings:
    """What the service trusts: one provider (issuer), this service as its client (audience), and the
    provider's public keys (a JWKS)."""

    issuer: str
    audience: str
    jwks: dict[str, Any]
    username_claim: str = "preferred_username"
    second_factor_amr: tuple[str, ...] = ("mfa", "otp", "hwk", "swk", "sms")
    """`amr` values that count as a second factor."""
    max_age_seconds: int = 600
    """A token older than this (from its `iat`) is refused: sign in to the directory again."""

    @classmethod
    def load(cls, path: Path) -> OidcSettings:
        """Read the settings file: JSON with issuer, audience, and jwks_file (the provider's keys, saved
        from its jwks_uri) or jwks_uri (fetched once at start); optionally username_claim,
        second_factor_amr and max_age_seconds."""
        try:
            given = json.loads(path.read_text())
            jwks = given.get("jwks") or _keys(given, path.parent)
            return cls(
                issuer=str(given["issuer"]),
                audience=str(given["audience"]),
                jwks=jwks,
                username_claim=str(given.get("username_claim", "preferred_username")),
                second_factor_amr=tuple(given.get("second_factor_amr", cls.second_factor_amr)),
                max_age_seconds=int(given.get("max_age_seconds", 600)),
            )
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise InputError(
                f"{path}: not usable OpenID Connect settings ({type(err).__name__}: {err}); give JSON with "
                "issuer, audience and jwks_file or jwks_uri."
            ) from None


def _keys(given: dict[str, Any], folder: Path) -> dict[str, Any]:
    if "jwks_file" in given:
        keys: dict[str, Any] = json.loads((folder / str(given["jwks_file"])).read_text())
        return keys
    import httpx

    fetched: dict[str, Any] = httpx.get(str(given["jwks_uri"]), timeout=30).raise_for_status().json()
    return fetched


@dataclass
class OidcSignIn:
    """ID-token sign-in for one service process (it remembers the tokens already used)."""

    settings: OidcSettings
    _used: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def sign_in(self, ws: Workspace, id_token: str) -> IssuedToken:
        """A session token for the local user the ID token names, or `SignInRefused` (audited)."""
        from joserfc import jwt
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet

        settings = self.settings
        try:
            token = jwt.decode(id_token, KeySet.import_key_set(settings.jwks), algorithms=ALGORITHMS)  # type: ignore[arg-type]
            jwt.JWTClaimsRegistry(
                leeway=LEEWAY_SECONDS,
                iss={"essential": True, "value": settings.issuer},
                aud={"essential": True, "value": settings.audience},
                exp={"essential": True},
                iat={"essential": True},
            ).validate(token.claims)
            claims = token.claims
        except (JoseError, ValueError, TypeError) as err:
            return self._refuse(ws, "(unknown)", None, f"token_{type(err).__name__}")
        name = str(claims.get(settings.username_claim, ""))
        stored = ws.role_of(name) if name else None
        role = Role(stored) if stored else None
        if role is None:
            return self._refuse(ws, "(unknown)", None, "unregistered")
        if time.time() - float(claims["iat"]) > settings.max_age_seconds:
            return self._refuse(ws, name, role, "token_too_old")
        if role in SECOND_FACTOR_ROLES and not set(claims.get("amr") or ()) & set(settings.second_factor_amr):
            return self._refuse(ws, name, role, "second_factor")
        if not self._first_use(id_token, float(claims["exp"])):
            return self._refuse(ws, name, role, "token_replayed")
        return self._issue(ws, name, role)

    def _issue(self, ws: Workspace, name: str, role: Role) -> IssuedToken:
        """A session token, unless the local account is locked (a lockout holds whatever the sign-in)."""
        log, now = audit_log(ws), datetime.now(UTC)
        issued: IssuedToken | None = None
        with ws.engine.begin() as conn:
            locked = conn.execute(select(credentials.c.locked_until).where(credentials.c.name == name)).scalar()
            if not (isinstance(locked, str) and datetime.fromisoformat(locked) > now):
                issued = issue_token(conn, name, "session", now)
                detail = {"token_id": issued.token_id, "method": "oidc"}
                log.append(name, str(role), "auth.signin", f"user:{name}", "ok", detail, conn)
        if issued is None:
            return self._refuse(ws, name, role, "locked")
        log.sync_head()
        return issued

    def _first_use(self, id_token: str, expires: float) -> bool:
        digest = hashlib.sha256(id_token.encode()).hexdigest()
        now = time.time()
        with self._lock:
            for old in [d for d, until in self._used.items() if until < now - LEEWAY_SECONDS]:
                del self._used[old]
            if digest in self._used:
                return False
            self._used[digest] = expires
            return True

    @staticmethod
    def _refuse(ws: Workspace, actor: str, role: Role | None, reason: str) -> IssuedToken:
        detail = {"reason": reason, "method": "oidc"}
        audit_log(ws).append(actor, str(role or "unregistered"), "auth.signin", f"user:{actor}", "refused", detail)
        raise SignInRefused("Sign-in refused: the directory's token was not accepted; sign in to it again.")
