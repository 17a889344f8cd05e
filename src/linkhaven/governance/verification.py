"""Verifying the audit log: the chain from its first event, the head file, the key store's anchor, given anchors.

A broken chain is reported alone (its first broken event); past it, every problem found. The
spec register's seals are checked alongside (`verify_store`), since they are made with the same key.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from linkhaven.errors import AuditChainBroken
from linkhaven.governance.audit import ANCHOR_REMOVED, GENESIS, NO_ANCHOR_YET, AuditHead, AuditLog, event_hash
from linkhaven.governance.session import audit_log
from linkhaven.governance.specs import register_problems, spec_state
from linkhaven.schema import audit_events
from linkhaven.workspace.workspace import Workspace


@dataclass(frozen=True)
class Verification:
    """What verification found: `problem` is the first of `problems`, `first_broken` the first event concerned."""

    ok: bool
    events: int
    first_broken: int | None = None
    problem: str | None = None
    problems: tuple[str, ...] = ()
    head: AuditHead | None = None
    """The log's last event, when the chain holds."""
    anchor: AuditHead | None = None
    """The event the key store's anchor names, when its seal holds."""
    anchors_checked: int = 0
    """How many anchors given from outside (`--anchor`) were checked."""
    spec_version: int | None = None
    """The spec version registered in force (set by `Workspace.verify`)."""

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "events": self.events,
            "first_broken_event": self.first_broken,
            "problem": self.problem,
            "problems": list(self.problems),
            "head": self.head.as_dict() if self.head else None,
            "anchor": self.anchor.as_dict() if self.anchor else None,
            "anchors_checked": self.anchors_checked,
            "spec_version": self.spec_version,
        }

    def with_problems(self, problems: Sequence[str], spec_version: int | None) -> Verification:
        """This result with more problems (found outside the log, e.g. the spec) appended."""
        found = (*self.problems, *problems)
        return Verification(
            ok=not found,
            events=self.events,
            first_broken=self.first_broken,
            problem=found[0] if found else None,
            problems=found,
            head=self.head,
            anchor=self.anchor,
            anchors_checked=self.anchors_checked,
            spec_version=spec_version,
        )


@dataclass
class _Findings:
    """Problems found after the chain walk, each with the first event it concerns (None: no one event)."""

    items: list[tuple[int | None, str]] = field(default_factory=list)

    def add(self, event: int | None, problem: str) -> None:
        self.items.append((event, problem))

    def first_event(self) -> int | None:
        events = [event for event, _ in self.items if event is not None]
        return min(events) if events else None


def start_anchor(log: AuditLog) -> AuditHead:
    """Anchor a log that has no anchor because its workspace predates anchors, once the log verifies.

    Refused for a workspace that was anchored at init: its anchor was removed, and anchoring the
    log as it is now would vouch for whatever was done since."""
    result = verify_log(log)
    if ANCHOR_REMOVED in result.problems:
        raise AuditChainBroken(f"Not anchored: {ANCHOR_REMOVED}.")
    others = [problem for problem in result.problems if problem != NO_ANCHOR_YET]
    if others:
        raise AuditChainBroken(
            f"Not anchored: the audit log does not verify ({others[0]}); an anchor would vouch for it as it is. "
            "Report an incident and restore the workspace from a backup."
        )
    return log.create_anchor()


def verify_log(log: AuditLog, anchors: Sequence[AuditHead] = ()) -> Verification:
    """Walk the chain from the first event, then check the head, the key store's anchor and `anchors`.

    A broken chain is reported alone (its first broken event); past it, every problem found."""
    prev = GENESIS
    expected_seq = 1
    total = 0
    hashes: dict[int, str] = {}
    anchored_at_init = False
    with log.engine.connect() as conn:
        rows = conn.execute(select(audit_events).order_by(audit_events.c.seq)).mappings()
        for row in rows:
            total += 1
            seq = row["seq"]
            if seq != expected_seq:
                return _broken(total, expected_seq, f"event {expected_seq} is missing or out of order")
            fields = {k: row[k] for k in ("seq", "ts", "actor", "role", "action", "object", "outcome", "detail")}
            if row["prev_hash"] != prev:
                return _broken(total, seq, f"event {seq} does not follow event {seq - 1}")
            digest = event_hash(prev, fields)
            if digest != row["hash"]:
                return _broken(total, seq, f"event {seq} was altered (its hash does not match)")
            if not log.seal_holds_event(digest, row["mac"]):
                return _broken(total, seq, f"event {seq} carries a seal not made with the audit key")
            if seq == 1 and row["action"] == "workspace.init":
                anchored_at_init = json.loads(row["detail"]).get("anchored") is True
            prev = digest
            hashes[seq] = digest
            expected_seq += 1
    findings = _Findings()
    _verify_head(log, total, hashes, findings)
    anchor = _verify_anchor(log, total, hashes, anchored_at_init, findings)
    for given in anchors:
        if given.seq > total:
            findings.add(
                total + 1,
                f"the audit log ends at event {total} but the anchor {given.short()} records event {given.seq}: "
                "events were removed",
            )
        elif hashes.get(given.seq) != given.hash:
            findings.add(
                given.seq,
                f"event {given.seq} is not the event the anchor {given.short()} names: the log was rewritten "
                "after that anchor was taken",
            )
    problems = tuple(problem for _, problem in findings.items)
    return Verification(
        ok=not problems,
        events=total,
        first_broken=findings.first_event(),
        problem=problems[0] if problems else None,
        problems=problems,
        head=AuditHead(total, hashes[total]) if total else None,
        anchor=anchor,
        anchors_checked=len(anchors),
    )


def _verify_head(log: AuditLog, total: int, hashes: dict[int, str], findings: _Findings) -> None:
    head = log.read_head()
    if head is None:
        findings.add(total + 1 if total else 1, "the audit head file is missing or malformed")
        return
    head_seq, head_hash, head_mac = head
    if not log.seal_holds(f"head {head_seq} {head_hash}", head_mac):
        findings.add(head_seq, "the audit head file carries a forged seal")
    elif head_seq > total:
        findings.add(total + 1, f"the log ends at event {total} but the head says {head_seq}: truncated")
    elif hashes.get(head_seq) != head_hash:
        findings.add(head_seq, f"event {head_seq} is not the event the head names")


def _verify_anchor(
    log: AuditLog, total: int, hashes: dict[int, str], anchored_at_init: bool, findings: _Findings
) -> AuditHead | None:
    anchor = log.read_anchor()
    if anchor is None and not log.has_anchor_store:
        return None
    if anchor is None:
        findings.add(None, ANCHOR_REMOVED if anchored_at_init else NO_ANCHOR_YET)
        return None
    seq, digest, mac = anchor
    if not log.seal_holds(f"anchor {seq} {digest}", mac):
        findings.add(
            None,
            "the key store's audit anchor is malformed or carries a forged seal; restore the key directory "
            "from its backup and report an incident",
        )
        return None
    if seq > total:
        findings.add(
            total + 1,
            f"the audit log ends at event {total} but the key store's anchor records event {seq}: events were removed",
        )
    elif hashes.get(seq) != digest:
        findings.add(seq, f"event {seq} is not the event the key store's anchor names: the log was rewritten")
    return AuditHead(seq, digest)


def _broken(total: int, seq: int, problem: str) -> Verification:
    return Verification(False, total, seq, problem, (problem,))


def verify_store(ws: Workspace, anchors: Sequence[AuditHead] = ()) -> Verification:
    """The audit log's verification with the spec register's: seals, texts, versions and the spec in force.

    No session: callers are entry points that opened one (`audit_access.verify_audit`, the pack)."""
    log = audit_log(ws)
    result = verify_log(log, anchors)
    state = spec_state(ws, log)
    problems = [state.problem] if state.problem else []
    with ws.engine.connect() as conn:
        problems += register_problems(log, conn, check_log=result.head is not None)
    return result.with_problems(problems, state.version)
