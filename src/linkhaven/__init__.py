"""linkhaven: run a FIPPA Part III.1 data integration unit end to end.

The package is a library first; the `linkhaven` command is a thin layer over it. The public API is
the names in `__all__`: the errors, and (from `linkhaven.api`, imported on first use so that
`import linkhaven` stays light) opening a workspace and running each stage: `intake_file`, `run_linkage`
(and `evaluate_linkage` against a ground truth), `create_release` / `approve_release`, `publish_release`.
Everything else is internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from linkhaven.errors import (
    AuditChainBroken,
    GateRefused,
    InputError,
    LinkhavenError,
    PermissionDenied,
    SpecChanged,
    SpecError,
    WorkspaceError,
    ZoneKeyError,
)

__version__ = "0.1.0"

if TYPE_CHECKING:
    from linkhaven.api import (
        Action,
        Role,
        Session,
        Workspace,
        add_agreement,
        add_assessment,
        add_user,
        approve_release,
        audit_events,
        create_release,
        create_workspace,
        evaluate_linkage,
        grant_release,
        intake_file,
        list_publications,
        list_releases,
        list_users,
        open_release,
        open_session,
        open_workspace,
        publish_notice,
        publish_release,
        read_release,
        revoke_release,
        run_linkage,
        set_suspended,
        show_release,
        update_spec,
        verify_audit,
    )

__all__ = [
    "Action",
    "AuditChainBroken",
    "GateRefused",
    "InputError",
    "LinkhavenError",
    "PermissionDenied",
    "Role",
    "Session",
    "SpecChanged",
    "SpecError",
    "Workspace",
    "WorkspaceError",
    "ZoneKeyError",
    "__version__",
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


_ERRORS = {"AuditChainBroken", "GateRefused", "InputError", "LinkhavenError", "PermissionDenied", "SpecChanged",
           "SpecError", "WorkspaceError", "ZoneKeyError", "__version__"}  # fmt: skip


def __getattr__(name: str) -> Any:
    """The API names, from `linkhaven.api`, on first use (it imports every stage)."""
    if name in __all__ and name not in _ERRORS:
        from linkhaven import api

        return getattr(api, name)
    raise AttributeError(f"module 'linkhaven' has no attribute {name!r}")
