"""The audit log: append-only, hash-chained, each event sealed with a keyed MAC.

Three defences, each against a different editor of the log:
- each event's hash covers the previous event's hash, so editing, deleting or reordering one
  event breaks every link after it;
- the newest (sequence, hash) pair is also kept in a separate head file, so cutting off the
  tail, which leaves a valid shorter chain, is caught;
- each hash and the head are sealed with an HMAC under the audit key, which lives with the zone
  keys, so someone who edits the database and recomputes the hashes still cannot forge seals;
- the head is anchored a second time in the key directory (`audit.anchor`), outside the workspace,
  and the anchor only moves forward, so saving the head file, letting events happen, deleting them
  and putting the old head back (a shorter chain that verifies) is caught too. Anchors copied out
  of the workspace (review packs, publications) can be checked later with `verify(anchors=...)`.

Events carry who, when, what, on which object, the outcome, and counts. Never personal values:
callers pass counts and reason codes, not data.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, false, func, insert, select, update

from linkhaven.errors import AuditChainBroken, WorkspaceError
from linkhaven.schema import audit_events

if TYPE_CHECKING:
    from linkhaven.governance.verification import Verification

GENESIS = "0" * 64
DetailValue = str | int | float | bool | None
_HASH = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class AuditHead:
    """One event of the log named by its sequence number and hash, as anchors record it.

    Written `SEQ:HASH` (`str(head)`), the form `linkhaven audit verify --anchor` takes."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    def short(self) -> str:
        return f"{self.seq}:{self.hash[:12]}…"

    def as_dict(self) -> dict[str, object]:
        return {"seq": self.seq, "hash": self.hash}

    @classmethod
    def parse(cls, text: str) -> AuditHead:
        """Read `SEQ:HASH`; raise ValueError saying what is expected."""
        seq, _, digest = text.strip().partition(":")
        digest = digest.lower()
        if not seq.isdigit() or int(seq) < 1 or not _HASH.match(digest):
            raise ValueError(
                "an audit anchor is SEQ:HASH, an event number and its 64 hexadecimal hash, as a review pack "
                "or publication manifest records it"
            )
        return cls(int(seq), digest)


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


def event_hash(prev_hash: str, fields: Mapping[str, object]) -> str:
    body = json.dumps({"prev": prev_hash, **fields}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


NO_ANCHOR_YET = (
    "the key store holds no audit anchor: this workspace was created before anchors were kept; once "
    "nothing else is wrong, anchor the log with `linkhaven audit anchor` (admin or privacy officer)"
)
ANCHOR_REMOVED = (
    "the key store holds no audit anchor, though this workspace was created with one: it was removed; "
    "restore the key directory from its backup and report an incident"
)


class AuditLog:
    def __init__(self, engine: Engine, key: bytes, head_path: Path, anchor_path: Path | None = None) -> None:
        self._engine = engine
        self._key = key
        self._head_path = head_path
        self._anchor_path = anchor_path

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def has_anchor_store(self) -> bool:
        """Whether this log is anchored in a key store (it is when opened through its workspace)."""
        return self._anchor_path is not None

    def read_head(self) -> tuple[int, str, str] | None:
        """The head file's (sequence, hash, seal); None when missing or malformed."""
        return self._read_head()

    def read_anchor(self) -> tuple[int, str, str] | None:
        """The key store anchor's (sequence, hash, seal); None when there is none, (0, "", "") when malformed."""
        return None if self._anchor_path is None else self._read_sealed(self._anchor_path)

    def seal_holds_event(self, digest: str, mac: str) -> bool:
        return hmac.compare_digest(self._mac(digest), mac)

    def _mac(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def seal(self, text: str) -> str:
        """An HMAC of `text` under the audit key, for records other than events (e.g. the spec register).

        Callers prefix `text` with what it is ("spec 3 <sha256>"), so no seal stands for another kind."""
        return self._mac(text)

    def seal_holds(self, text: str, mac: str | None) -> bool:
        return mac is not None and hmac.compare_digest(self._mac(text), mac)

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
            # Take the write lock before reading the chain's end: two processes (the service, a command on
            # the server machine) that both read it first would both take the same next number, and one
            # event would be lost. Held first, the second waits (busy_timeout) and reads the first's event.
            conn.execute(update(audit_events).where(false()).values(seq=audit_events.c.seq))
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
        digest = event_hash(prev, fields)
        conn.execute(insert(audit_events).values(**fields, prev_hash=prev, hash=digest, mac=self._mac(digest)))
        return seq

    @staticmethod
    def _read_sealed(path: Path) -> tuple[int, str, str] | None:
        """A head or anchor file's (sequence, hash, seal); None when missing, (0, "", "") when malformed."""
        try:
            parts = path.read_text().split()
        except FileNotFoundError:
            return None
        if len(parts) != 3 or not parts[0].isdigit():
            return 0, "", ""
        return int(parts[0]), parts[1], parts[2]

    def _read_head(self) -> tuple[int, str, str] | None:
        head = self._read_sealed(self._head_path)
        return None if head is None or head[0] == 0 else head

    def _write_sealed(self, path: Path, kind: str, head: AuditHead) -> None:
        text = f"{head.seq} {head.hash}"
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(f"{text} {self._mac(f'{kind} {text}')}\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    @contextmanager
    def _head_lock(self) -> Iterator[None]:
        """Serialise head and anchor moves between processes, so neither can move backwards."""
        fd = os.open(self._head_path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @staticmethod
    def _last(conn: Connection) -> AuditHead | None:
        last = conn.execute(
            select(audit_events.c.seq, audit_events.c.hash).order_by(audit_events.c.seq.desc()).limit(1)
        ).first()
        return AuditHead(last[0], last[1]) if last else None

    @staticmethod
    def _holds_event(conn: Connection, seq: int, digest: str) -> bool:
        found = conn.execute(select(audit_events.c.hash).where(audit_events.c.seq == seq)).scalar_one_or_none()
        return found == digest

    def sync_head(self) -> None:
        """Move the head file and the key store's anchor to the newest committed event; called after every commit.

        Each only moves forward along the chain it already names: if the event it points at is gone
        or altered (or the anchor's seal does not hold), it is left alone so that verify still shows
        the damage. A missing anchor is not created here (see `start_anchor`). A crash between a
        commit and this call leaves them behind, which verify tolerates.
        """
        with self._head_lock(), self._engine.connect() as conn:
            last = self._last(conn)
            if last is None:
                return
            head = self._read_head()
            if head is None or (head[0] <= last.seq and self._holds_event(conn, head[0], head[1])):
                self._write_sealed(self._head_path, "head", last)
            if self._anchor_path is None:
                return
            anchor = self._read_sealed(self._anchor_path)
            if (
                anchor is not None
                and anchor[0] < last.seq
                and self.seal_holds(f"anchor {anchor[0]} {anchor[1]}", anchor[2])
                and self._holds_event(conn, anchor[0], anchor[1])
            ):
                try:
                    self._write_sealed(self._anchor_path, "anchor", last)
                except OSError as err:
                    raise WorkspaceError(
                        f"The audit anchor in {self._anchor_path.parent} could not be moved forward ({err.strerror}); "
                        "the command's work was committed. Make the key directory writable for the user running "
                        "linkhaven, then run `linkhaven audit verify`."
                    ) from None

    def create_anchor(self) -> AuditHead:
        """Anchor the log's newest event in the key store; for a new workspace, or by `start_anchor`."""
        if self._anchor_path is None:
            raise WorkspaceError("This audit log has no key store to anchor it in; open it through its workspace.")
        with self._head_lock(), self._engine.connect() as conn:
            if self._anchor_path.exists():
                raise WorkspaceError(
                    f"The key store already anchors this audit log ({self._anchor_path}); the anchor moves forward "
                    "with every command and is never replaced."
                )
            last = self._last(conn)
            if last is None:
                raise WorkspaceError("The audit log is empty; there is nothing to anchor yet.")
            self._write_sealed(self._anchor_path, "anchor", last)
        return last

    def start_anchor(self) -> AuditHead:
        """Anchor a log that predates anchors, once it verifies (see `verification.start_anchor`)."""
        from linkhaven.governance.verification import start_anchor

        return start_anchor(self)

    def anchored(self) -> AuditHead:
        """The event the key store's anchor names, after checking its seal and that the log still holds it."""
        if self._anchor_path is None:
            raise WorkspaceError("This audit log has no key store anchor; open it through its workspace.")
        anchor = self._read_sealed(self._anchor_path)
        if anchor is None:
            raise WorkspaceError(f"The audit log is not anchored yet: {NO_ANCHOR_YET}.")
        seq, digest, mac = anchor
        if not self.seal_holds(f"anchor {seq} {digest}", mac):
            raise AuditChainBroken(
                "The key store's audit anchor is malformed or carries a forged seal; run `linkhaven audit verify`, "
                "restore the key directory from its backup and report an incident."
            )
        with self._engine.connect() as conn:
            if not self._holds_event(conn, seq, digest):
                raise AuditChainBroken(
                    f"The audit log no longer holds event {seq} as the key store's anchor names it; run "
                    "`linkhaven audit verify` and report an incident."
                )
        return AuditHead(seq, digest)

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

    def verify(self, anchors: Sequence[AuditHead] = ()) -> Verification:
        """Walk the chain and check the head and anchors (see `verification.verify_log`)."""
        from linkhaven.governance.verification import verify_log

        return verify_log(self, anchors)


def anchored_head(log: AuditLog) -> AuditHead:
    """The newest audit event the key store's anchor vouches for, as (sequence, hash).

    For manifests of anything handed out (review packs, publications): record `str(head)` there,
    and `linkhaven audit verify --anchor SEQ:HASH` later proves the log still holds that event
    unchanged. The anchor moves after every commit, so this is the newest committed event (unless
    a writer died between its commit and the move). Raises `AuditChainBroken` when the anchor's seal
    does not hold or the log no longer holds its event, `WorkspaceError` when there is no anchor yet.
    Usage: `anchored_head(audit_log(ws))` (`linkhaven.governance.session.audit_log`).
    """
    return log.anchored()
