"""Library entry points over the audit log: verify it, read its events, anchor an old workspace's log.

Each opens a governance session, so reading the log is itself checked and audited.
"""

from __future__ import annotations

from collections.abc import Sequence

from linkhaven.governance.audit import AuditEvent, AuditHead
from linkhaven.governance.permissions import Action
from linkhaven.governance.session import open_session
from linkhaven.governance.verification import Verification, start_anchor, verify_store
from linkhaven.workspace.workspace import Workspace


def verify_audit(ws: Workspace, anchors: Sequence[AuditHead] = (), user: str | None = None) -> Verification:
    """Verify the audit log (chain, head, the key store's anchor, `anchors`) and the spec register."""
    with open_session(ws, Action.AUDIT_VERIFY, user=user) as session:
        result = verify_store(ws, anchors)
        session.detail.update(events=result.events, intact=result.ok, anchors_checked=len(anchors))
    return result


def audit_events(ws: Workspace, since: int = 0, limit: int | None = None, user: str | None = None) -> list[AuditEvent]:
    with open_session(ws, Action.AUDIT_SHOW, user=user) as session:
        return session.audit.events(since, limit)


def anchor_audit(ws: Workspace, user: str | None = None) -> AuditHead:
    """Anchor the log of a workspace created before anchors were kept, once it verifies."""
    with open_session(ws, Action.AUDIT_ANCHOR, "audit", user) as session:
        head = start_anchor(session.audit)
        session.detail.update(anchored_seq=head.seq)
    return head
