"""The governance session: the one gate every library entry point opens before it touches a workspace.

`open_session(ws, action, obj, user)` names the acting user, asks the permission matrix, refuses
while the workspace's spec is not the registered one or (for gated actions) while the project is
suspended, and writes the audit event whatever happens, so no caller of the library, the CLI or a
service, can forget to check or to log. What the stage needs comes with the session: the user and
role, the spec in force (parsed from the bytes that were checked), the audit log, and a
transaction that commits the work together with its audit event.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Connection

from linkhaven.errors import GateRefused, LinkhavenError, PermissionDenied, SpecChanged
from linkhaven.governance.audit import AuditLog, DetailValue
from linkhaven.governance.permissions import RUN_ON_UNREGISTERED_SPEC, Action, Role, decide
from linkhaven.governance.specs import spec_state
from linkhaven.governance.suspension import HALTED_WHILE_SUSPENDED, current_state
from linkhaven.spec import ProjectSpec
from linkhaven.spec.loader import parse_spec_bytes
from linkhaven.workspace.workspace import Workspace, acting_user


def audit_log(ws: Workspace) -> AuditLog:
    """The workspace's audit log, sealed with its audit key and anchored in its key directory."""
    return AuditLog(ws.engine, ws.audit_key(), ws.head_path, ws.keys.anchor_path)


def parse_workspace_spec(ws: Workspace) -> ProjectSpec:
    """The project spec parsed from the bytes read (and checked) at open."""
    return _parsed(ws.spec_bytes, str(ws.spec_path()))


@functools.lru_cache(maxsize=8)
def _parsed(data: bytes, name: str) -> ProjectSpec:
    """Parsing a spec takes a third of a second, and a service opens a session for every request: the
    same bytes give the same (frozen) spec, so each version is parsed once."""
    return parse_spec_bytes(data, name)


@dataclass
class Session:
    """One permitted action in progress: who does it, on what, and what its audit event will say."""

    workspace: Workspace
    user: str
    role: Role
    action: Action
    object: str
    audit: AuditLog
    detail: dict[str, DetailValue] = field(default_factory=dict)
    outcome: str = "ok"
    recorded: bool = False

    @cached_property
    def spec(self) -> ProjectSpec:
        """The spec in force, parsed once from the bytes the session checked against the register."""
        return parse_workspace_spec(self.workspace)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A metadata transaction whose commit also records this action's audit event.

        The work and its audit event commit together, or neither does."""
        with self.workspace.engine.begin() as conn:
            yield conn
            self.audit.append(self.user, self.role, self.action, self.object, self.outcome, self.detail, conn)
            self.recorded = True
        self.audit.sync_head()


@contextmanager
def open_session(ws: Workspace, action: Action, obj: str = "-", user: str | None = None) -> Iterator[Session]:
    """Check that `user` (default: the acting user) may perform `action` now, then audit the outcome whatever it is.

    Refusals are audited too: an unregistered user or a role without the action (`PermissionDenied`),
    a spec that is not the registered one (`SpecChanged`), a suspended project (`GateRefused`)."""
    user = user or acting_user()
    ws.notice_spec_change()
    log = audit_log(ws)
    _record_recovery(ws, log)
    stored = ws.role_of(user)
    role = Role(stored) if stored else None
    decision = decide(role, action)
    if not decision.allowed or role is None:
        log.append(user, str(role or "unregistered"), action, obj, "denied", {"reason": decision.reason})
        raise PermissionDenied(
            f"User '{user}' may not {action}: {decision.reason}. Ask an admin to register the user "
            "with the right role (`linkhaven user add`)."
        )
    if action not in RUN_ON_UNREGISTERED_SPEC:
        problem = spec_state(ws, log).problem
        if problem is not None:
            log.append(user, role, action, obj, "refused", {"reason": "spec_not_registered"})
            raise SpecChanged(f"Refused: {problem}.")
    if action in HALTED_WHILE_SUSPENDED:
        with ws.engine.connect() as conn:
            state = current_state(conn)
        if state.suspended:
            log.append(user, role, action, obj, "refused", {"reason": "the project is suspended"})
            raise GateRefused(
                f"The project was suspended on {state.changed_at[:10]} ({state.reason}); {action} is halted "
                "until the suspension is lifted (`linkhaven project resume`)."
            )
    session = Session(ws, user, role, action, obj, log)
    try:
        yield session
    except LinkhavenError as err:
        if not session.recorded:
            session.detail["error"] = type(err).__name__
            outcome = "refused" if session.outcome == "ok" else session.outcome
            log.append(user, role, action, obj, outcome, session.detail)
        raise
    except BaseException as err:
        if not session.recorded:
            session.detail["error"] = type(err).__name__
            log.append(user, role, action, obj, "failed", session.detail)
        raise
    if not session.recorded:
        log.append(user, role, action, obj, session.outcome, session.detail)


def _record_recovery(ws: Workspace, log: AuditLog) -> None:
    """Audit what opening the workspace cleared after a killed writer (once, by the first session)."""
    if ws.leftovers_removed:
        log.append(
            "linkhaven", "system", "workspace.recover", "zones", "ok", {"leftovers_removed": ws.leftovers_removed}
        )
        ws.leftovers_removed = 0
