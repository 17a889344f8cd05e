"""Deprecated: the workspace methods that did governance before issue 13, kept while callers move.

`linkhaven.link` and `linkhaven.deid` still call `ws.act(...)`, `ws.spec()` and `ws.audit`; each
method here forwards to `linkhaven.governance`, which now owns them. This module is the only part
of the workspace that imports a stage, and `tests/test_import_graph.py` lists it as pending: once
those callers open `linkhaven.governance.session.open_session` themselves, delete this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from linkhaven.governance.audit import AuditHead, AuditLog
    from linkhaven.governance.permissions import Action, Role
    from linkhaven.governance.session import Session
    from linkhaven.governance.session import Session as Act  # the old name, re-exported as workspace.Act
    from linkhaven.governance.specs import SpecState
    from linkhaven.governance.verification import Verification
    from linkhaven.spec import ProjectSpec
    from linkhaven.workspace.workspace import Workspace


__all__ = ["Act", "LegacyGovernance", "session_class"]


def session_class() -> type[Session]:
    from linkhaven.governance.session import Session

    return Session


class LegacyGovernance:
    """Deprecated forwarding methods; use `linkhaven.governance` (see each method's replacement)."""

    def _self(self) -> Workspace:
        return cast("Workspace", self)

    @classmethod
    def create(cls, root: Path, spec_path: Path, keys_dir: Path | None, user: str | None = None) -> Workspace:
        """Deprecated: `linkhaven.governance.workspaces.create_workspace`."""
        from linkhaven.governance.workspaces import create_workspace

        return create_workspace(root, spec_path, keys_dir, user)

    def act(self, action: Action, obj: str = "-", user: str | None = None) -> AbstractContextManager[Session]:
        """Deprecated: `linkhaven.governance.session.open_session(ws, action, obj, user)`."""
        from linkhaven.governance.session import open_session

        return open_session(self._self(), action, obj, user)

    def spec(self) -> ProjectSpec:
        """Deprecated: `session.spec` inside `open_session`."""
        from linkhaven.governance.session import parse_workspace_spec

        ws = self._self()
        if ws.legacy_spec is None:
            ws.legacy_spec = parse_workspace_spec(ws)
        return cast("ProjectSpec", ws.legacy_spec)

    @property
    def audit(self) -> AuditLog:
        """Deprecated: `linkhaven.governance.session.audit_log(ws)`."""
        from linkhaven.governance.session import audit_log

        return audit_log(self._self())

    def add_user(self, name: str, role: Role) -> None:
        """Deprecated: `linkhaven.governance.workspaces.add_user`."""
        from linkhaven.governance.workspaces import add_user

        add_user(self._self(), name, role)

    def verify(self, anchors: Sequence[AuditHead] = ()) -> Verification:
        """Deprecated: `linkhaven.governance.workspaces.verify_workspace` (which also audits)."""
        from linkhaven.governance.verification import verify_store

        return verify_store(self._self(), anchors)

    def update_spec(self, path: Path) -> int:
        """Deprecated: `linkhaven.governance.workspaces.update_spec`."""
        from linkhaven.governance.workspaces import update_spec

        return update_spec(self._self(), path)

    def set_suspended(self, suspended: bool, reason: str) -> None:
        """Deprecated: `linkhaven.governance.workspaces.set_suspended`."""
        from linkhaven.governance.workspaces import set_suspended

        set_suspended(self._self(), suspended, reason)

    @property
    def spec_state(self) -> SpecState:
        """Deprecated: `linkhaven.governance.specs.spec_state(ws, audit_log(ws))`."""
        from linkhaven.governance.session import audit_log
        from linkhaven.governance.specs import spec_state

        return spec_state(self._self(), audit_log(self._self()))
