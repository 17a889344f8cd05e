"""Audit chain: intact logs verify; every kind of tampering is caught and named, rollbacks of the tail included."""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from linkhaven import schema
from linkhaven.errors import AuditChainBroken, WorkspaceError
from linkhaven.governance.audit import (
    ANCHOR_REMOVED,
    NO_ANCHOR_YET,
    AuditHead,
    AuditLog,
    anchored_head,
    event_hash,
)
from linkhaven.governance.session import audit_log
from linkhaven.workspace import Workspace, store
from tests.conftest import Env


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
    _exec(log, update(schema.audit_events).where(schema.audit_events.c.seq == 4).values(outcome="denied"))
    result = log.verify()
    assert not result.ok and result.first_broken == 4


def test_edit_with_recomputed_hashes_is_caught_by_the_seal(log: AuditLog) -> None:
    """An editor without the audit key can rebuild the whole chain but not its MACs."""
    with log._engine.begin() as conn:
        rows = conn.execute(select(schema.audit_events).order_by(schema.audit_events.c.seq)).mappings().all()
        prev = "0" * 64
        for row in rows:
            fields = {k: row[k] for k in ("seq", "ts", "actor", "role", "action", "object", "outcome", "detail")}
            if row["seq"] == 6:
                fields["actor"] = "someone_else"
            digest = event_hash(prev, fields)
            conn.execute(
                update(schema.audit_events)
                .where(schema.audit_events.c.seq == row["seq"])
                .values(actor=fields["actor"], prev_hash=prev, hash=digest)
            )
            prev = digest
    result = log.verify()
    assert not result.ok and result.first_broken == 6
    assert "seal" in (result.problem or "")


def test_deleted_event_is_caught(log: AuditLog) -> None:
    _exec(log, delete(schema.audit_events).where(schema.audit_events.c.seq == 3))
    result = log.verify()
    assert not result.ok and result.first_broken == 3


def test_reordered_events_are_caught(log: AuditLog) -> None:
    _exec(log, update(schema.audit_events).where(schema.audit_events.c.seq == 5).values(seq=-5))
    _exec(log, update(schema.audit_events).where(schema.audit_events.c.seq == 6).values(seq=5))
    _exec(log, update(schema.audit_events).where(schema.audit_events.c.seq == -5).values(seq=6))
    result = log.verify()
    assert not result.ok and result.first_broken == 5


def test_truncated_tail_is_caught_by_the_head(log: AuditLog) -> None:
    _exec(log, delete(schema.audit_events).where(schema.audit_events.c.seq > 7))
    result = log.verify()
    assert not result.ok and result.first_broken == 8
    assert "truncated" in (result.problem or "")


def test_appending_after_truncation_does_not_hide_it(log: AuditLog) -> None:
    _exec(log, delete(schema.audit_events).where(schema.audit_events.c.seq > 7))
    log.append("steward", "steward", "intake.status", "-", "ok")
    log.append("steward", "steward", "intake.status", "-", "ok")
    log.append("steward", "steward", "intake.status", "-", "ok")
    assert not log.verify().ok


def test_forged_head_is_caught(log: AuditLog, tmp_path: Path) -> None:
    _exec(log, delete(schema.audit_events).where(schema.audit_events.c.seq > 7))
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


# --- the key store's anchor: rolling the tail back is caught ----------------------------------------


@pytest.fixture()
def anchored(tmp_path: Path) -> AuditLog:
    """An audit log whose head is also anchored in a separate 'key store' directory."""
    engine = store.connect(tmp_path / "meta.db")
    store.upgrade(engine)
    (tmp_path / "keys").mkdir()
    audit = AuditLog(engine, secrets.token_bytes(32), tmp_path / "audit.head", tmp_path / "keys" / "audit.anchor")
    audit.append("admin", "admin", "workspace.init", "project", "ok", {"anchored": True})
    audit.create_anchor()
    for i in range(9):
        audit.append("steward", "steward", "intake.run", f"delivery:{i}", "ok", {"rows_read": i * 100})
    return audit


def test_anchor_follows_the_head(anchored: AuditLog, tmp_path: Path) -> None:
    result = anchored.verify()
    assert result.ok and result.head == result.anchor and result.anchor is not None and result.anchor.seq == 10
    assert anchored_head(anchored) == AuditHead(10, result.anchor.hash)
    assert (tmp_path / "keys" / "audit.anchor").read_text().split()[:2] == ["10", result.anchor.hash]


def test_restoring_an_old_head_after_deleting_events_is_caught(anchored: AuditLog, tmp_path: Path) -> None:
    head = tmp_path / "audit.head"
    saved = head.read_bytes()
    for _ in range(5):
        anchored.append("steward", "steward", "quarantine.export", "delivery:1", "ok")
    _exec(anchored, delete(schema.audit_events).where(schema.audit_events.c.seq > 10))
    head.write_bytes(saved)
    result = anchored.verify()
    assert not result.ok and result.first_broken == 11
    assert result.problem == (
        "the audit log ends at event 10 but the key store's anchor records event 15: events were removed"
    )
    with pytest.raises(AuditChainBroken, match="no longer holds event 15"):
        anchored_head(anchored)
    # New events after the rollback move the head, never the anchor, so the gap stays visible.
    anchor_before = (tmp_path / "keys" / "audit.anchor").read_bytes()
    for _ in range(7):
        anchored.append("steward", "steward", "intake.status", "-", "ok")
    assert (tmp_path / "keys" / "audit.anchor").read_bytes() == anchor_before
    later = anchored.verify()
    assert not later.ok and later.problem == (
        "event 15 is not the event the key store's anchor names: the log was rewritten"
    )


def test_anchor_cannot_be_forged_or_moved_back(anchored: AuditLog, tmp_path: Path) -> None:
    """Moving the anchor back to before deleted events needs a seal only the audit key makes."""
    anchor = tmp_path / "keys" / "audit.anchor"
    _, _, mac = anchor.read_text().split()
    _exec(anchored, delete(schema.audit_events).where(schema.audit_events.c.seq > 7))
    anchor.write_text(f"7 {_hash_of(anchored, 7)} {mac}\n")
    forged = "the key store's audit anchor is malformed or carries a forged seal"
    assert any(p.startswith(forged) for p in anchored.verify().problems)
    with pytest.raises(AuditChainBroken, match="forged seal"):
        anchored_head(anchored)
    # An anchor sealed under another key (another workspace's key store) is no better.
    other = AuditLog(anchored._engine, secrets.token_bytes(32), tmp_path / "other.head", tmp_path / "other.anchor")
    other.create_anchor()
    anchor.write_bytes((tmp_path / "other.anchor").read_bytes())
    assert any(p.startswith(forged) for p in anchored.verify().problems)
    # And the forged anchor is never moved forward by later events.
    anchored.append("steward", "steward", "intake.status", "-", "ok")
    assert anchor.read_bytes() == (tmp_path / "other.anchor").read_bytes()


def _hash_of(log: AuditLog, seq: int) -> str:
    with log._engine.connect() as conn:
        return str(
            conn.execute(select(schema.audit_events.c.hash).where(schema.audit_events.c.seq == seq)).scalar_one()
        )


def test_anchors_given_from_outside_are_checked(anchored: AuditLog) -> None:
    taken = AuditHead(6, _hash_of(anchored, 6))
    assert anchored.verify([taken]).ok
    wrong = AuditHead(6, _hash_of(anchored, 5))
    result = anchored.verify([taken, wrong])
    assert not result.ok and result.first_broken == 6 and result.anchors_checked == 2
    assert result.problem == (
        f"event 6 is not the event the anchor 6:{wrong.hash[:12]}… names: the log was rewritten after that anchor "
        "was taken"
    )
    beyond = anchored.verify([AuditHead(40, _hash_of(anchored, 6))])
    assert not beyond.ok and "ends at event 10 but the anchor 40:" in (beyond.problem or "")


def test_a_log_without_anchor_says_why(log: AuditLog, tmp_path: Path) -> None:
    """A workspace from before anchors were kept is told how to anchor it; its anchor then follows the head."""
    legacy = AuditLog(log._engine, log._key, tmp_path / "audit.head", tmp_path / "audit.anchor")
    result = legacy.verify()
    assert not result.ok and result.problems == (NO_ANCHOR_YET,)
    with pytest.raises(WorkspaceError, match="not anchored yet"):
        anchored_head(legacy)
    assert legacy.start_anchor() == AuditHead(10, _hash_of(log, 10))
    legacy.append("admin", "admin", "audit.anchor", "audit", "ok")
    assert legacy.verify().ok and anchored_head(legacy).seq == 11


def test_removed_anchor_is_named_and_not_recreated(anchored: AuditLog, tmp_path: Path) -> None:
    (tmp_path / "keys" / "audit.anchor").unlink()
    anchored.append("steward", "steward", "intake.status", "-", "ok")
    assert not (tmp_path / "keys" / "audit.anchor").exists()
    assert anchored.verify().problems == (ANCHOR_REMOVED,)
    with pytest.raises(AuditChainBroken, match="it was removed"):
        anchored.start_anchor()


def test_audit_head_text_round_trips() -> None:
    head = AuditHead(12, "ab" * 32)
    assert AuditHead.parse(str(head)) == head
    for bad in ("12", "x:" + "ab" * 32, "0:" + "ab" * 32, "3:abc"):
        with pytest.raises(ValueError, match="SEQ:HASH"):
            AuditHead.parse(bad)


# --- the same through the command line, on a real workspace ----------------------------------------


def _last_event(env: Env) -> tuple[int, str]:
    with sqlite3.connect(env.workspace / "linkhaven.db") as db:
        seq, digest = db.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
    return int(seq), str(digest)


def test_rollback_of_the_audit_tail_is_caught(env: Env) -> None:
    """Save audit.head, let events happen, delete them from the store, put the old head back."""
    env.sign_in("privacy_officer", "steward")
    head = env.workspace / "audit.head"
    saved = head.read_bytes()
    kept, _ = _last_event(env)
    for user, args in [
        ("admin", ["user", "list"]),
        ("privacy_officer", ["audit", "show"]),
        ("steward", ["intake", "status"]),
        ("admin", ["user", "add", "eve", "--role", "analyst"]),
    ]:
        assert env.as_user(user, *args).code == 0  # fmt: skip
    removed_to, _ = _last_event(env)
    assert removed_to == kept + 4
    with sqlite3.connect(env.workspace / "linkhaven.db") as db:
        db.execute("DELETE FROM audit_events WHERE seq > ?", (kept,))
        db.execute("DELETE FROM users WHERE name = 'eve'")
    head.write_bytes(saved)
    for end in (kept, kept + 1):  # verify's own event moves the head on, never the anchor: the gap stays visible
        result = env.as_user("admin", "audit", "verify", "--json")
        assert result.code == 1
        assert result.json()["problem"] == (  # type: ignore[index]
            f"the audit log ends at event {end} but the key store's anchor records event {removed_to}: "
            "events were removed"
        )
    text = env.as_user("admin", "audit", "verify")
    assert text.code == 1 and "events were removed" in text.err


def test_anchor_file_edited_in_the_key_store_fails_its_seal(env: Env) -> None:
    anchor = env.keys / "audit.anchor"
    seq, digest, mac = anchor.read_text().split()
    anchor.write_text(f"{int(seq) + 5} {digest} {mac}\n")
    result = env.as_user("admin", "audit", "verify", "--json")
    assert result.code == 1 and "forged seal" in result.json()["problem"]  # type: ignore[index,operator]


def test_verify_checks_anchors_given_on_the_command_line(env: Env) -> None:
    seq, digest = _last_event(env)
    both = env.as_user("admin", "audit", "verify", "--anchor", f"{seq}:{digest}", "--anchor", f"1:{_first(env)}")
    assert both.code == 0 and "2 given anchor(s) found unchanged" in both.out
    wrong = env.as_user("admin", "audit", "verify", "--anchor", f"{seq}:{'0' * 64}")
    assert wrong.code == 1 and f"event {seq} is not the event the anchor {seq}:000000000000… names" in wrong.err
    beyond = env.as_user("admin", "audit", "verify", "--anchor", f"{seq + 50}:{digest}", "--json")
    assert beyond.code == 1 and "events were removed" in beyond.json()["problem"]  # type: ignore[index,operator]
    malformed = env.as_user("admin", "audit", "verify", "--anchor", "12")
    assert malformed.code == 1 and "SEQ:HASH" in malformed.err


def _first(env: Env) -> str:
    with sqlite3.connect(env.workspace / "linkhaven.db") as db:
        return str(db.execute("SELECT hash FROM audit_events WHERE seq = 1").fetchone()[0])


def test_review_pack_records_the_anchored_head(env: Env, tmp_path: Path) -> None:
    env.sign_in("privacy_officer")
    before, _ = _last_event(env)
    out = tmp_path / "pack"
    assert env.as_user("privacy_officer", "oversight", "pack", "--out", str(out)).code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    head = manifest["audit_head"]
    assert head["seq"] == before and head["anchored"] is True
    assert head["hash"] == _hash_at(env, before)
    assert head["check"] == f"linkhaven audit verify --anchor {before}:{head['hash']}"
    index = (out / "index.html").read_text()
    assert f"Audit head at sequence <strong>{before}</strong>" in index and head["hash"] in index
    for entry in manifest["files"]:
        assert hashlib.sha256((out / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
    assert env.as_user("admin", "audit", "verify", "--anchor", f"{head['seq']}:{head['hash']}").code == 0
    with sqlite3.connect(env.workspace / "linkhaven.db") as db:
        db.execute("DELETE FROM audit_events WHERE seq >= ?", (before,))
    assert env.as_user("admin", "audit", "verify", "--anchor", f"{head['seq']}:{head['hash']}").code == 1


def _hash_at(env: Env, seq: int) -> str:
    with sqlite3.connect(env.workspace / "linkhaven.db") as db:
        return str(db.execute("SELECT hash FROM audit_events WHERE seq = ?", (seq,)).fetchone()[0])


def test_anchored_head_is_the_newest_event(env: Env) -> None:
    assert env.as_user("admin", "user", "list").code == 0
    seq, digest = _last_event(env)
    assert anchored_head(audit_log(Workspace.open(env.workspace))) == AuditHead(seq, digest)


def test_removed_anchor_is_reported_and_audit_anchor_refuses_to_replace_it(env: Env) -> None:
    (env.keys / "audit.anchor").unlink()
    result = env.as_user("admin", "audit", "verify", "--json")
    assert result.code == 1 and result.json()["problem"] == ANCHOR_REMOVED  # type: ignore[index]
    refused = env.as_user("privacy_officer", "audit", "anchor")
    assert refused.code == 1 and "it was removed" in refused.err
    assert not (env.keys / "audit.anchor").exists()
    assert env.as_user("steward", "audit", "anchor").code == 3
