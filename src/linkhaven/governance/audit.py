"""The audit log: append-only, hash-chained, each event sealed with a keyed MAC.

Three defences, each against a different editor of the log:
- each event's hash covers the previous event's hash, so editing, deleting or reordering one
  event breaks every link after it;
- the newest (sequence, hash) pair is also kept in a separate head file, so cutting off the
  tail, which leaves a valid shorter chain, is caught;
- each hash and the head are sealed with an HMAC under the audit key, which lives with the zone
  keys, so someone who edits the database and recomputes the hashes still cannot forge seals.

Events carry who, when, what, on which object, the outcome, and counts. Never personal values:
callers pass counts and reason codes, not data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, func, insert, select

from linkhaven.workspace.store import audit_events

GENESIS = "0" * 64
DetailValue = str | int | float | bool | None


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    ts: str
    actor: str
    role: str
    action: str
    target: str
    outcome: str
    detail: dict[str, DetailValue]

    def as_dict(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "ts": self.ts,
            "actor": self.actor,
            "role": self.role,
            "action": self.action,
            "object": self.target,
            "outcome": self.outcome,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Verification:
    ok: bool
    events: int
    first_broken: int | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "events": self.events,
            "first_broken_event": self.first_broken,
            "problem": self.problem,
        }


def _event_hash(prev_hash: str, fields: Mapping[str, object]) -> str:
    body = json.dumps({"prev": prev_hash, **fields}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


class AuditLog:
    def __init__(self, engine: Engine, key: bytes, head_path: Path) -> None:
        self._engine = engine
        self._key = key
        self._head_path = head_path

    def _mac(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def append(
        self,
        actor: str,
        role: str,
        action: str,
        obj: str,
        outcome: str,
        detail: Mapping[str, DetailValue] | None = None,
        connection: Connection | None = None,
    ) -> int:
        """Append one event; inside `connection`'s transaction when given, so it commits with the work."""
        if connection is not None:
            return self._append(connection, actor, role, action, obj, outcome, detail)
        with self._engine.begin() as conn:
            seq = self._append(conn, actor, role, action, obj, outcome, detail)
        self.sync_head()
        return seq

    def _append(
        self,
        conn: Connection,
        actor: str,
        role: str,
        action: str,
        obj: str,
        outcome: str,
        detail: Mapping[str, DetailValue] | None,
    ) -> int:
        last = conn.execute(
            select(audit_events.c.seq, audit_events.c.hash).order_by(audit_events.c.seq.desc()).limit(1)
        ).first()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        fields = {
            "seq": seq,
            "ts": datetime.now(UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "role": role,
            "action": action,
            "object": obj,
            "outcome": outcome,
            "detail": json.dumps(dict(detail or {}), sort_keys=True),
        }
        digest = _event_hash(prev, fields)
        conn.execute(insert(audit_events).values(**fields, prev_hash=prev, hash=digest, mac=self._mac(digest)))
        return seq

    def _read_head(self) -> tuple[int, str, str] | None:
        if not self._head_path.exists():
            return None
        parts = self._head_path.read_text().split()
        if len(parts) != 3 or not parts[0].isdigit():
            return None
        return int(parts[0]), parts[1], parts[2]

    def sync_head(self) -> None:
        """Move the head file to the newest committed event, called after every commit.

        The head only moves forward along the chain it already names: if the event the head
        points at is gone or altered, the head is left alone so that verify still shows the damage.
        A crash between a commit and this call leaves the head behind, which verify tolerates.
        """
        with self._engine.connect() as conn:
            last = conn.execute(
                select(audit_events.c.seq, audit_events.c.hash).order_by(audit_events.c.seq.desc()).limit(1)
            ).first()
            if last is None:
                return
            head = self._read_head()
            if head is not None:
                anchored = conn.execute(
                    select(audit_events.c.hash).where(audit_events.c.seq == head[0])
                ).scalar_one_or_none()
                if anchored != head[1] or head[0] > last[0]:
                    return
        text = f"{last[0]} {last[1]}"
        tmp = self._head_path.with_suffix(".tmp")
        tmp.write_text(f"{text} {self._mac('head ' + text)}\n")
        os.replace(tmp, self._head_path)

    def events(self, since_seq: int = 0, limit: int | None = None) -> list[AuditEvent]:
        query = select(audit_events).where(audit_events.c.seq > since_seq).order_by(audit_events.c.seq)
        if limit is not None:
            query = query.limit(limit)
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            AuditEvent(
                r["seq"],
                r["ts"],
                r["actor"],
                r["role"],
                r["action"],
                r["object"],
                r["outcome"],
                json.loads(r["detail"]),
            )
            for r in rows
        ]

    def count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(audit_events)).scalar_one())

    def verify(self) -> Verification:
        """Walk the chain from the first event; report the first event that does not hold."""
        prev = GENESIS
        expected_seq = 1
        total = 0
        hashes: dict[int, str] = {}
        with self._engine.connect() as conn:
            rows = conn.execute(select(audit_events).order_by(audit_events.c.seq)).mappings()
            for row in rows:
                total += 1
                seq = row["seq"]
                if seq != expected_seq:
                    return Verification(False, total, expected_seq, f"event {expected_seq} is missing or out of order")
                fields = {k: row[k] for k in ("seq", "ts", "actor", "role", "action", "object", "outcome", "detail")}
                if row["prev_hash"] != prev:
                    return Verification(False, total, seq, f"event {seq} does not follow event {seq - 1}")
                digest = _event_hash(prev, fields)
                if digest != row["hash"]:
                    return Verification(False, total, seq, f"event {seq} was altered (its hash does not match)")
                if not hmac.compare_digest(self._mac(digest), row["mac"]):
                    return Verification(False, total, seq, f"event {seq} carries a seal not made with the audit key")
                prev = digest
                hashes[seq] = digest
                expected_seq += 1
        return self._verify_head(total, hashes)

    def _verify_head(self, total: int, hashes: dict[int, str]) -> Verification:
        head = self._read_head()
        if head is None:
            problem = "the audit head file is missing or malformed"
            return Verification(False, total, total + 1 if total else 1, problem)
        head_seq, head_hash, head_mac = head
        if not hmac.compare_digest(self._mac(f"head {head_seq} {head_hash}"), head_mac):
            return Verification(False, total, head_seq, "the audit head file carries a forged seal")
        if head_seq > total:
            return Verification(
                False, total, total + 1, f"the log ends at event {total} but the head says {head_seq}: truncated"
            )
        if hashes.get(head_seq) != head_hash:
            return Verification(False, total, head_seq, f"event {head_seq} is not the event the head names")
        return Verification(True, total)
