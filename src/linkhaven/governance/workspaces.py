"""Library entry points that govern the workspace itself: create it, register users, the spec, suspension.

Each opens a governance session (`open_session`), so the permission check, the spec check, the
suspension check and the audit event cannot be skipped by any caller. Creating a workspace is the
one exception by nature: there is no user yet, so the creating user becomes its admin and the
first audit event (`workspace.init`) records it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import func, insert, select

from linkhaven.errors import SpecError, WorkspaceError
from linkhaven.governance.permissions import Action, Role
from linkhaven.governance.session import audit_log, open_session
from linkhaven.governance.specs import register_spec, spec_state
from linkhaven.governance.suspension import record_state
from linkhaven.schema import spec_versions, users
from linkhaven.spec.loader import parse_spec_bytes, read_spec_bytes
from linkhaven.workspace.keys import ZONES
from linkhaven.workspace.workspace import Workspace, acting_user, check_user_name, now


def create_workspace(root: Path, spec_path: Path, keys_dir: Path | None, user: str | None = None) -> Workspace:
    """Create a workspace for the project in `spec_path`; the creating user becomes admin."""
    user = user or acting_user()
    check_user_name(user)
    data = read_spec_bytes(spec_path)
    spec = parse_spec_bytes(data, str(spec_path))
    sha256 = hashlib.sha256(data).hexdigest()
    ws = Workspace.initialise(root, keys_dir, spec.project.id, data)
    log = audit_log(ws)
    with ws.engine.begin() as conn:
        conn.execute(insert(users).values(name=user, role=Role.ADMIN, added_at=now(), added_by=user))
        register_spec(conn, log, 1, data, sha256, user)
        log.append(
            user,
            Role.ADMIN,
            "workspace.init",
            spec.project.id,
            "ok",
            {"zones": len(ZONES), "spec_sha256": sha256, "spec_version": 1, "anchored": True},
            connection=conn,
        )
    log.sync_head()
    log.create_anchor()
    return ws


def add_user(ws: Workspace, name: str, role: Role, user: str | None = None) -> None:
    """Admin: register `name` with one role; roles are never changed afterwards."""
    check_user_name(name)
    with open_session(ws, Action.USER_ADD, f"user:{name}", user) as session:
        if ws.role_of(name) is not None:
            raise WorkspaceError(f"User '{name}' is already registered; roles are not changed by `user add`.")
        session.detail["role"] = str(role)
        with session.transaction() as conn:
            conn.execute(insert(users).values(name=name, role=role, added_at=now(), added_by=session.user))


def list_users(ws: Workspace, user: str | None = None) -> list[dict[str, str]]:
    with open_session(ws, Action.USER_LIST, user=user):
        return ws.users()


def set_suspended(ws: Workspace, suspended: bool, reason: str, user: str | None = None) -> None:
    """Suspend or resume every gated operation (R5); the reason is recorded and audited."""
    with open_session(ws, Action.PROJECT_SUSPEND, "project", user) as session:
        session.detail["state"] = "suspended" if suspended else "active"
        with session.transaction() as conn:
            record_state(conn, suspended, reason, now(), session.user)


def update_spec(ws: Workspace, path: Path, user: str | None = None) -> int:
    """Privacy officer: register the spec in `path` as the next version and make it the workspace's spec.yaml.

    Refused (and audited) when the spec does not validate, names another project, or is already
    the spec in force. Returns the new version number."""
    with open_session(ws, Action.SPEC_UPDATE, "spec", user) as session:
        data = read_spec_bytes(path)
        spec = parse_spec_bytes(data, str(path))
        sha256 = hashlib.sha256(data).hexdigest()
        current = spec_state(ws, session.audit)
        session.detail.update(spec_sha256=sha256, replaces_unregistered=current.problem is not None)
        project = ws.info.get("project_id")
        if spec.project.id != project:
            raise SpecError(
                f"{path}: project.id is '{spec.project.id}' but this workspace holds project '{project}'; a "
                "workspace keeps one project for life: create a new workspace (`linkhaven init`) for another."
            )
        if current.problem is None and current.sha256 == sha256:
            raise WorkspaceError(
                f"{path} is already the spec in force (version {current.version}); nothing to register."
            )
        versions: list[int] = []

        def commit() -> None:
            with session.transaction() as conn:
                latest = conn.execute(select(func.max(spec_versions.c.version))).scalar_one_or_none()
                versions.append((latest or 0) + 1)
                session.detail.update(spec_version=versions[0], previous_version=latest)
                register_spec(conn, session.audit, versions[0], data, sha256, session.user)

        ws.replace_spec(data, commit)
    return versions[0]
