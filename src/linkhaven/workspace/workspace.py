"""The workspace: a directory holding the metadata store, the audit head, the spec and the encrypted zones.

This is storage only. It opens the store, reads the spec's bytes once, hands out zones, takes the
writer lock and clears what a killed writer left. It checks no permission and writes no audit
event: every library entry point does that through `linkhaven.governance.session.open_session`,
which is the one place the role, the registered spec and a suspension are checked. Keys are not in
the directory: they live in a key directory outside it.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, insert, select

from linkhaven import schema
from linkhaven.errors import WorkspaceError, ZoneKeyError
from linkhaven.workspace import store
from linkhaven.workspace.keys import AUDIT_KEY, KEYS_ENV, ZONES, KeyDirectory, fingerprint
from linkhaven.workspace.zones import Zone, ZoneFile

USER_ENV = "LINKHAVEN_USER"
INFO_FILE = "workspace.json"
DB_FILE = "linkhaven.db"
HEAD_FILE = "audit.head"
SPEC_FILE = "spec.yaml"
LOCK_FILE = ".writer.lock"
SCRATCH_DIR = "tmp"
_USER_NAME = re.compile(r"^[a-z_][a-z0-9_.\-]{0,63}$")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


_AUTHENTICATED: ContextVar[str | None] = ContextVar("linkhaven_authenticated_user", default=None)
_SERVICE_PROCESS = {"on": False}


def acting_user() -> str:
    """Who the caller acts as: the user a service authenticated for this request (`acting_as`); outside
    a service, LINKHAVEN_USER or else the operating-system user. Inside a service there is no fallback:
    a call without an authenticated user is refused, whatever the environment says."""
    name = _AUTHENTICATED.get()
    if name is not None:
        return name
    if _SERVICE_PROCESS["on"]:
        raise WorkspaceError("No authenticated user for this request; sign in to the service.")
    return os.environ.get(USER_ENV) or getpass.getuser()


@contextmanager
def acting_as(name: str) -> Iterator[None]:
    """Run library calls as `name`, the user a service has authenticated (for this thread or task only)."""
    token = _AUTHENTICATED.set(name)
    try:
        yield
    finally:
        _AUTHENTICATED.reset(token)


def ignore_environment_user() -> None:
    """Called once by the service at start: from then on only `acting_as` names the acting user."""
    _SERVICE_PROCESS["on"] = True


def check_user_name(name: str) -> None:
    if not _USER_NAME.match(name):
        raise WorkspaceError(
            f"'{name}' is not a valid user name: use lower-case letters, digits, '_', '.' or '-' (max 64)."
        )


class Workspace:
    def __init__(self, root: Path, keys: KeyDirectory, info: dict[str, object]) -> None:
        self.root = root
        self.keys = keys
        self.info = info
        self.engine: Engine = store.connect(root / DB_FILE)
        self.leftovers_removed = 0
        """What `open` cleared after a killed writer; the first governance session audits it."""
        self._spec_bytes: bytes | None = None
        self._spec_missing = False
        self._spec_seen: tuple[int, ...] = ()

    # -- creation and opening -------------------------------------------------------------
    @classmethod
    def initialise(cls, root: Path, keys_dir: Path | None, project_id: str, spec_data: bytes) -> Workspace:
        """Lay out a new workspace: directories, keys, info file, spec.yaml and a migrated store.

        Storage only: `linkhaven.governance.workspaces.create_workspace` registers the admin and the
        spec and writes the first audit event; call that, not this."""
        keys_dir = _resolve_keys(keys_dir, None)
        root, keys_dir = root.resolve(), keys_dir.resolve()
        if keys_dir == root or root in keys_dir.parents:
            raise WorkspaceError("Keys must live outside the workspace; give a --keys directory elsewhere.")
        if root.exists() and any(root.iterdir()):
            raise WorkspaceError(f"{root} is not empty; give a new directory for the workspace.")
        keys = KeyDirectory(keys_dir)
        fingerprints = keys.create_all()
        root.mkdir(parents=True, exist_ok=True)
        for zone in ZONES:
            (root / "zones" / zone).mkdir(parents=True, exist_ok=True)
        info: dict[str, object] = {
            "format": 1,
            "workspace_id": str(uuid.uuid4()),
            "project_id": project_id,
            "created_at": now(),
            "keys_dir": str(keys_dir),
            "key_fingerprints": fingerprints,
        }
        (root / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
        (root / SPEC_FILE).write_bytes(spec_data)
        workspace = cls(root, keys, info)
        store.upgrade(workspace.engine)
        return workspace

    @classmethod
    def open(cls, root: Path | None, keys_dir: Path | None = None) -> Workspace:
        if root is None:
            raise WorkspaceError("No workspace given: pass --workspace/-w DIR or set LINKHAVEN_WORKSPACE.")
        info_path = root / INFO_FILE
        if not info_path.exists():
            raise WorkspaceError(
                f"{root} is not a linkhaven workspace (no {INFO_FILE}); create one with `linkhaven init`."
            )
        info = json.loads(info_path.read_text())
        keys = KeyDirectory(_resolve_keys(keys_dir, str(info.get("keys_dir", ""))))
        workspace = cls(root, keys, info)
        store.upgrade(workspace.engine)
        workspace.leftovers_removed = workspace._remove_leftovers()
        return workspace

    @contextmanager
    def exclusive(self, on_wait: Callable[[], None] | None = None) -> Iterator[Path]:
        """Hold the workspace's writer lock while writing zone files; yields a private scratch directory.

        Writers take turns (a unit's stages run one after another anyway), which is what lets
        `open` tell a dead writer's leftovers from a live writer's work in progress. `on_wait`
        is called once if another writer holds the lock, so the user hears why nothing moves.
        """
        fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait is not None:
                    on_wait()
                fcntl.flock(fd, fcntl.LOCK_EX)
            scratch = self.root / SCRATCH_DIR / uuid.uuid4().hex
            scratch.mkdir(parents=True, mode=0o700)
            try:
                yield scratch
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        finally:
            os.close(fd)

    def _remove_leftovers(self) -> int:
        """Remove what a killed writer left behind: unregistered zone files and scratch space; how many."""
        fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0  # a live writer is at work; its files are not leftovers
            with self.engine.connect() as conn:
                registered: dict[str, set[str]] = {z: set() for z in ZONES}
                for zone, name in conn.execute(select(schema.zone_tables.c.zone, schema.zone_tables.c.name)):
                    registered.setdefault(zone, set()).add(name)
            removed = 0
            for zone in ZONES:
                path = self.root / "zones" / zone
                if path.exists():
                    removed += Zone(zone, path, b"").remove_orphans(registered[zone])
            scratch = self.root / SCRATCH_DIR
            if scratch.exists() and any(scratch.iterdir()):
                shutil.rmtree(scratch, ignore_errors=True)
                removed += 1
            return removed
        finally:
            os.close(fd)

    # -- keys and zones ---------------------------------------------------------------------
    def key(self, name: str) -> bytes:
        """The key `name` from the key directory, refused unless it is the one made at init."""
        key = self.keys.load(name)
        expected = dict(self.info.get("key_fingerprints", {}))  # type: ignore[call-overload]
        if expected.get(name) != fingerprint(key):
            raise ZoneKeyError(
                f"The key for '{name}' in {self.keys.path} is not this workspace's key; "
                f"give the key directory created at init (--keys or {KEYS_ENV})."
            )
        return key

    def audit_key(self) -> bytes:
        return self.key(AUDIT_KEY)

    @property
    def head_path(self) -> Path:
        """The audit head file (the governance audit log keeps it)."""
        return self.root / HEAD_FILE

    def zone(self, name: str) -> Zone:
        if name not in ZONES:
            raise WorkspaceError(f"Unknown zone '{name}'; zones are {', '.join(ZONES)}.")
        destructions = schema.destructions
        with self.engine.connect() as conn:
            certificate = conn.execute(
                select(destructions.c.id, destructions.c.destroyed_at).where(
                    destructions.c.kind == "zone", destructions.c.target == name
                )
            ).first()
        if certificate is not None:
            raise ZoneKeyError(
                f"The {name} zone was destroyed on {certificate[1][:10]} (certificate {certificate[0]}); "
                "its data cannot be read by any command, even from restored copies."
            )
        return Zone(name, self.root / "zones" / name, self.key(name))

    def register_zone_file(self, conn: Connection, written: ZoneFile, user: str) -> None:
        """Record a written table in the same transaction as the register entry that owns it."""
        conn.execute(
            insert(schema.zone_tables).values(
                zone=written.zone,
                name=written.table,
                rows=written.rows,
                sha256=written.sha256,
                created_at=now(),
                created_by=user,
            )
        )

    # -- users ----------------------------------------------------------------------------------
    def role_of(self, user: str) -> str | None:
        """The role registered for `user` (as stored), or None."""
        users = schema.users
        with self.engine.connect() as conn:
            role = conn.execute(select(users.c.role).where(users.c.name == user)).scalar_one_or_none()
        return str(role) if role else None

    def users(self) -> list[dict[str, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(schema.users).order_by(schema.users.c.name)).mappings().all()
        return [dict(r) for r in rows]

    # -- the spec file ----------------------------------------------------------------------------
    def spec_path(self) -> Path:
        return self.root / SPEC_FILE

    @property
    def spec_bytes(self) -> bytes:
        """spec.yaml's bytes, read once per open (empty when the file is missing), and again only when
        a session opens and finds the file changed (`notice_spec_change`).

        Every check and every parse of a session uses these same bytes, so no command can check one
        spec and use another."""
        if self._spec_bytes is None:
            self._spec_seen = self._spec_signature()
            try:
                self._spec_bytes = self.spec_path().read_bytes()
            except FileNotFoundError:
                self._spec_bytes, self._spec_missing = b"", True
        return self._spec_bytes

    def _spec_signature(self) -> tuple[int, ...]:
        try:
            found = self.spec_path().stat()
        except FileNotFoundError:
            return ()
        return (found.st_ino, found.st_size, found.st_mtime_ns)

    def notice_spec_change(self) -> None:
        """Forget the bytes read if spec.yaml changed since: a long-running service keeps one open
        workspace, and an edit on disk must be refused by the next session as it is by a new command."""
        if self._spec_bytes is not None and self._spec_signature() != self._spec_seen:
            self._spec_bytes, self._spec_missing = None, False

    @property
    def spec_missing(self) -> bool:
        _ = self.spec_bytes
        return self._spec_missing

    @property
    def spec_sha256(self) -> str:
        """sha256 of spec.yaml's bytes as read at open (what manifests and registers record)."""
        return hashlib.sha256(self.spec_bytes).hexdigest()

    def replace_spec(self, data: bytes, commit: Callable[[], None]) -> None:
        """Write `data` as spec.yaml once `commit` (the register transaction) has succeeded.

        The new file is staged first, so a failed commit leaves the old spec in place."""
        staged = self.root / f".{SPEC_FILE}.{uuid.uuid4().hex}.tmp"
        try:
            staged.write_bytes(data)
            commit()
            os.replace(staged, self.spec_path())
        finally:
            staged.unlink(missing_ok=True)
        self._spec_bytes, self._spec_missing = data, False
        self._spec_seen = self._spec_signature()


def _resolve_keys(explicit: Path | None, recorded: str | None) -> Path:
    if explicit is not None:
        return explicit
    env = os.environ.get(KEYS_ENV)
    if env:
        return Path(env)
    if recorded:
        return Path(recorded)
    raise ZoneKeyError(f"No key directory given: pass --keys DIR or set {KEYS_ENV}.")
