"""The public API: open a workspace, run each stage. `linkhaven/__init__.py` re-exports these names.

Every function here that touches a workspace opens a governance session (directly or through the
stage it calls), so the permission, spec and suspension checks and the audit event are the
library's, not the caller's. The CLI is a thin layer over these names; a service would be too.
"""

from __future__ import annotations

from pathlib import Path

from linkhaven.deid import (
    approve_release,
    create_release,
    grant_release,
    list_releases,
    open_release,
    read_release,
    revoke_release,
    show_release,
)
from linkhaven.governance.assessments import add_assessment
from linkhaven.governance.audit_access import audit_events, verify_audit
from linkhaven.governance.permissions import Action, Role
from linkhaven.governance.session import Session, open_session
from linkhaven.governance.workspaces import add_user, create_workspace, list_users, set_suspended, update_spec
from linkhaven.intake import add_agreement, intake_file, publish_notice
from linkhaven.link import evaluate_current as evaluate_linkage
from linkhaven.link import run_linkage
from linkhaven.publish import list_publications, publish_release
from linkhaven.workspace import Workspace

__all__ = [
    "Action",
    "Role",
    "Session",
    "Workspace",
    "add_agreement",
    "add_assessment",
    "add_user",
    "approve_release",
    "audit_events",
    "create_release",
    "create_workspace",
    "evaluate_linkage",
    "grant_release",
    "intake_file",
    "list_publications",
    "list_releases",
    "list_users",
    "open_release",
    "open_session",
    "open_workspace",
    "publish_notice",
    "publish_release",
    "read_release",
    "revoke_release",
    "run_linkage",
    "set_suspended",
    "show_release",
    "update_spec",
    "verify_audit",
]


def open_workspace(root: Path | None, keys: Path | None = None) -> Workspace:
    """Open the workspace in `root` with the key directory `keys` (default: LINKHAVEN_KEYS, else the one
    recorded at init). Opening checks nothing; every operation on it opens a governance session."""
    return Workspace.open(root, keys)
