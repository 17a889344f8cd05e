"""Audit chain: intact logs verify; every kind of tampering is caught and named."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from linkhaven.governance.audit import AuditLog, _event_hash
from linkhaven.workspace import store


@pytest.fixture()
def log(tmp_path: Path) -> AuditLog:
    engine = store.connect(tmp_path / "meta.db")
    store.upgrade(engine)
    audit = AuditLog(engine, secrets.token_bytes(32), tmp_path / "audit.head")
    for i in range(10):
        audit.append("steward", "steward", "intake.run", f"delivery:{i}", "ok", {"rows_read": i * 100})
    return audit


def _exec(log: AuditLog, statement: object) -> None:
    with log._engine.begin() as conn:
        conn.execute(statement)  # type: ignore[call-overload]


def test_intact_log_verifies(log: AuditLog) -> None:
    result = log.verify()
    assert result.ok and result.events == 10


def test_edited_event_is_caught(log: AuditLog) -> None:
    _exec(log, update(store.audit_events).where(store.audit_events.c.seq == 4).values(outcome="denied"))
    result = log.verify()
    assert not result.ok and result.first_broken == 4


def test_edit_with_recomputed_hashes_is_caught_by_the_seal(log: AuditLog) -> None:
    """An editor without the audit key can rebuild the whole chain but not its MACs."""
    with log._engine.begin() as conn:
        rows = conn.execute(select(store.audit_events).order_by(store.audit_events.c.seq)).mappings().all()
        prev = "0" * 64
        for row in rows:
            fields = {k: row[k] for k in ("seq", "ts", "actor", "role", "action", "object", "outcome", "detail")}
            if row["seq"] == 6:
                fields["actor"] = "someone_else"
            digest = _event_hash(prev, fields)
            conn.execute(
                update(store.audit_events)
                .where(store.audit_events.c.seq == row["seq"])
                .values(actor=fields["actor"], prev_hash=prev, hash=digest)
            )
            prev = digest
    result = log.verify()
    assert not result.ok and result.first_broken == 6
    assert "seal" in (result.problem or "")


def test_deleted_event_is_caught(log: AuditLog) -> None:
    _exec(log, delete(store.audit_events).where(store.audit_events.c.seq == 3))
    result = log.verify()
    assert not result.ok and result.first_broken == 3


def test_reordered_events_are_caught(log: AuditLog) -> None:
    _exec(log, update(store.audit_events).where(store.audit_events.c.seq == 5).values(seq=-5))
    _exec(log, update(store.audit_events).where(store.audit_events.c.seq == 6).values(seq=5))
    _exec(log, update(store.audit_events).where(store.audit_events.c.seq == -5).values(seq=6))
    result = log.verify()
    assert not result.ok and result.first_broken == 5


def test_truncated_tail_is_caught_by_the_head(log: AuditLog) -> None:
    _exec(log, delete(store.audit_events).where(store.audit_events.c.seq > 7))
    result = log.verify()
    assert not result.ok and result.first_broken == 8
    assert "truncated" in (result.problem or "")


def test_appending_after_truncation_does_not_hide_it(log: AuditLog) -> None:
    _exec(log, delete(store.audit_events).where(store.audit_events.c.seq > 7))
    log.append("steward", "steward", "intake.status", "-", "ok")
    log.append("steward", "steward", "intake.status", "-", "ok")
    log.append("steward", "steward", "intake.status", "-", "ok")
    assert not log.verify().ok


def test_forged_head_is_caught(log: AuditLog, tmp_path: Path) -> None:
    _exec(log, delete(store.audit_events).where(store.audit_events.c.seq > 7))
    head = tmp_path / "audit.head"
    seq, digest, mac = head.read_text().split()
    head.write_text(f"7 {digest} {mac}\n")
    result = log.verify()
    assert not result.ok and "forged" in (result.problem or "")


def test_missing_head_is_caught(log: AuditLog, tmp_path: Path) -> None:
    (tmp_path / "audit.head").unlink()
    assert not log.verify().ok


def test_events_never_carry_more_than_given(log: AuditLog) -> None:
    events = log.events()
    assert [e.seq for e in events] == list(range(1, 11))
    assert events[2].detail == {"rows_read": 200}
