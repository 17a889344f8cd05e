"""Roles, actions and the one permission matrix, checked in one place (`decide`).

Every library entry point declares the action it performs; its governance session
(`session.open_session`) asks `decide` and audits the answer either way. Keeping the matrix as data
lets the oversight pack print it and lets a test compare every role against every action.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    """Manages users and keys; runs retention."""
    STEWARD = "steward"
    """Takes in deliveries and handles quarantine."""
    LINKER = "linker"
    """The only role that reads the identity zone: linkage and clerical review."""
    DEIDENTIFIER = "deidentifier"
    """Builds de-identified releases and publications."""
    PRIVACY_OFFICER = "privacy_officer"
    """Approves releases and disclosures; reads the audit log and registers; answers the IPC."""
    ANALYST = "analyst"
    """Reads the de-identified releases granted to them, nothing else."""


class Action(StrEnum):
    USER_ADD = "user.add"
    USER_LIST = "user.list"
    ACCOUNT_MANAGE = "account.manage"
    AUDIT_VERIFY = "audit.verify"
    AUDIT_SHOW = "audit.show"
    AUDIT_ANCHOR = "audit.anchor"
    SPEC_UPDATE = "spec.update"
    NOTICE_PUBLISH = "notice.publish"
    NOTICE_LIST = "notice.list"
    AGREEMENT_ADD = "agreement.add"
    AGREEMENT_LIST = "agreement.list"
    INTAKE_RUN = "intake.run"
    INTAKE_STATUS = "intake.status"
    QUARANTINE_LIST = "quarantine.list"
    QUARANTINE_EXPORT = "quarantine.export"
    LINK_RUN = "link.run"
    LINK_REVIEW = "link.review"
    LINK_EVALUATE = "link.evaluate"
    LINK_REPORT = "link.report"
    RELEASE_CREATE = "release.create"
    RELEASE_APPROVE = "release.approve"
    RELEASE_GRANT = "release.grant"
    RELEASE_REVOKE = "release.revoke"
    RELEASE_READ = "release.read"
    RELEASE_LIST = "release.list"
    DISCLOSE = "disclose"
    PUBLISH_RUN = "publish.run"
    PUBLISH_LIST = "publish.list"
    RETENTION_STATUS = "retention.status"
    RETENTION_RUN = "retention.run"
    INCIDENT_MANAGE = "incident.manage"
    ASSESSMENT_ADD = "assessment.add"
    PROJECT_SUSPEND = "project.suspend"
    OVERSIGHT_PACK = "oversight.pack"


_STAFF = frozenset(Role) - {Role.ANALYST}
_A, _S, _L, _D, _P, _N = (
    Role.ADMIN,
    Role.STEWARD,
    Role.LINKER,
    Role.DEIDENTIFIER,
    Role.PRIVACY_OFFICER,
    Role.ANALYST,
)

MATRIX: dict[Action, frozenset[Role]] = {
    Action.USER_ADD: frozenset({_A}),
    Action.USER_LIST: frozenset({_A, _P}),
    Action.ACCOUNT_MANAGE: frozenset({_A}),
    Action.AUDIT_VERIFY: _STAFF,
    Action.AUDIT_SHOW: frozenset({_A, _P}),
    Action.AUDIT_ANCHOR: frozenset({_A, _P}),
    Action.SPEC_UPDATE: frozenset({_P}),
    Action.NOTICE_PUBLISH: frozenset({_P}),
    Action.NOTICE_LIST: _STAFF,
    Action.AGREEMENT_ADD: frozenset({_P}),
    Action.AGREEMENT_LIST: _STAFF,
    Action.INTAKE_RUN: frozenset({_S}),
    Action.INTAKE_STATUS: frozenset({_S, _P}),
    Action.QUARANTINE_LIST: frozenset({_S}),
    Action.QUARANTINE_EXPORT: frozenset({_S}),
    Action.LINK_RUN: frozenset({_L}),
    Action.LINK_REVIEW: frozenset({_L}),
    Action.LINK_EVALUATE: frozenset({_L}),
    Action.LINK_REPORT: frozenset({_L, _P}),
    Action.RELEASE_CREATE: frozenset({_D}),
    Action.RELEASE_APPROVE: frozenset({_P}),
    Action.RELEASE_GRANT: frozenset({_P}),
    Action.RELEASE_REVOKE: frozenset({_P}),
    Action.RELEASE_READ: frozenset({_N}),
    Action.RELEASE_LIST: frozenset({_D, _P, _N}),
    Action.DISCLOSE: frozenset({_P}),
    Action.PUBLISH_RUN: frozenset({_D}),
    Action.PUBLISH_LIST: frozenset(Role),
    Action.RETENTION_STATUS: frozenset({_A, _P}),
    Action.RETENTION_RUN: frozenset({_A}),
    Action.INCIDENT_MANAGE: frozenset({_P}),
    Action.ASSESSMENT_ADD: frozenset({_P}),
    Action.PROJECT_SUSPEND: frozenset({_A, _P}),
    Action.OVERSIGHT_PACK: frozenset({_P}),
}


RUN_ON_UNREGISTERED_SPEC: frozenset[Action] = frozenset(
    {Action.SPEC_UPDATE, Action.AUDIT_VERIFY, Action.ACCOUNT_MANAGE}
)
"""The only actions a governance session lets run while spec.yaml is not the registered spec in force:
registering a spec (the remedy), verifying the workspace (which reports the mismatch), and managing
accounts (so that the privacy officer who must register the spec can be given a way to sign in)."""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def decide(role: Role | None, action: Action) -> Decision:
    """Allow or deny, with the reason that goes to the audit log and to the user."""
    if role is None:
        return Decision(False, "the user is not registered in this workspace")
    roles = MATRIX[action]
    if role in roles:
        return Decision(True, f"role {role} may perform {action}")
    allowed = ", ".join(sorted(roles))
    return Decision(False, f"role {role} may not perform {action} (allowed: {allowed})")
