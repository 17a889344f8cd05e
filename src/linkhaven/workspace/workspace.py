"""The workspace: a directory holding the metadata store, the audit head and the encrypted zones.

Keys are not in it. Every operation on a workspace goes through `Workspace.act(action)`, which
names the acting user, asks the permission matrix, and writes the audit event whatever happens,
so no command can forget to check or to log.

The spec in force is sealed: each registered version's sha256 is recorded in the spec register
with an HMAC under the audit key, and `act` refuses every action (except registering a spec and
verifying) while the workspace's spec.yaml is not the latest registered version. spec.yaml is
read and hashed once per open; `Workspace.spec()` parses those same bytes.
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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, func, insert, select

from linkhaven import schema
from linkhaven.errors import (
    GateRefused,
    LinkhavenError,
    PermissionDenied,
    SpecChanged,
    SpecError,
    WorkspaceError,
    ZoneKeyError,
)
from linkhaven.governance.audit import AuditHead, AuditLog, DetailValue, Verification
from linkhaven.governance.permissions import RUN_ON_UNREGISTERED_SPEC, Action, Role, decide
from linkhaven.governance.suspension import HALTED_WHILE_SUSPENDED, current_state, record_state
from linkhaven.schema import destructions
from linkhaven.workspace import store
from linkhaven.workspace.keys import AUDIT_KEY, KEYS_ENV, ZONES, KeyDirectory, fingerprint
from linkhaven.workspace.zones import Zone, ZoneFile

if TYPE_CHECKING:
    from linkhaven.spec import ProjectSpec

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


def acting_user() -> str:
    """The user named by LINKHAVEN_USER, else the operating-system user."""
    return os.environ.get(USER_ENV) or getpass.getuser()


def _spec_seal_text(version: int, sha256: str) -> str:
    return f"spec {version} {sha256}"


@dataclass(frozen=True)
class SpecState:
    """spec.yaml as read at open, against the latest version in the spec register."""

    data: bytes
    sha256: str
    version: int | None
    """The latest registered version, if the register holds one."""
    problem: str | None
    """Why spec.yaml is not the registered spec in force; None when it is."""


def _check_user_name(name: str) -> None:
    if not _USER_NAME.match(name):
        raise WorkspaceError(
            f"'{name}' is not a valid user name: use lower-case letters, digits, '_', '.' or '-' (max 64)."
        )


@dataclass
class Act:
    """One permitted action in progress: who does it, and what the audit event will say."""

    workspace: Workspace
    user: str
    role: Role
    action: Action
    object: str
    detail: dict[str, DetailValue] = field(default_factory=dict)
    outcome: str = "ok"
    recorded: bool = False

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A metadata transaction whose commit also records this action's audit event.

        The work and its audit event commit together, or neither does."""
        with self.workspace.engine.begin() as conn:
            yield conn
            self.workspace.audit.append(
                self.user, self.role, self.action, self.object, self.outcome, self.detail, connection=conn
            )
            self.recorded = True
        self.workspace.audit.sync_head()


class Workspace:
    def __init__(self, root: Path, keys: KeyDirectory, info: dict[str, object]) -> None:
        self.root = root
        self.keys = keys
        self.info = info
        self.engine: Engine = store.connect(root / DB_FILE)
        self.audit = AuditLog(self.engine, self._key(AUDIT_KEY), root / HEAD_FILE, keys.anchor_path)
        self._spec_state: SpecState | None = None
        self._spec: ProjectSpec | None = None

    # -- creation and opening -------------------------------------------------------------
    @classmethod
    def create(cls, root: Path, spec_path: Path, keys_dir: Path | None, user: str | None = None) -> Workspace:
        """Create a workspace for the project in `spec_path`; the creating user becomes admin."""
        from linkhaven.spec.loader import parse_spec_bytes, read_spec_bytes

        user = user or acting_user()
        _check_user_name(user)
        data = read_spec_bytes(spec_path)
        spec = parse_spec_bytes(data, str(spec_path))
        sha256 = hashlib.sha256(data).hexdigest()
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
            "project_id": spec.project.id,
            "created_at": now(),
            "keys_dir": str(keys_dir),
            "key_fingerprints": fingerprints,
        }
        (root / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
        (root / SPEC_FILE).write_bytes(data)
        workspace = cls(root, keys, info)
        store.upgrade(workspace.engine)
        with workspace.engine.begin() as conn:
            conn.execute(insert(schema.users).values(name=user, role=Role.ADMIN, added_at=now(), added_by=user))
            workspace._register_spec(conn, 1, data, sha256, user)
            workspace.audit.append(
                user,
                Role.ADMIN,
                "workspace.init",
                spec.project.id,
                "ok",
                {"zones": len(ZONES), "spec_sha256": sha256, "spec_version": 1, "anchored": True},
                connection=conn,
            )
        workspace.audit.sync_head()
        workspace.audit.create_anchor()
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
        workspace._recover()
        return workspace

    @contextmanager
    def exclusive(self, on_wait: Callable[[], None] | None = None) -> Iterator[Path]:
        """Hold the workspace's writer lock while writing zone files; yields a private scratch directory.

        Writers take turns (a unit's stages run one after another anyway), which is what lets
        `_recover` tell a dead writer's leftovers from a live writer's work in progress. `on_wait`
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

    def _recover(self) -> None:
        """Remove what a killed writer left behind: unregistered zone files and scratch space. Audited."""
        fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # a live writer is at work; its files are not leftovers
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
            if removed:
                detail = {"leftovers_removed": removed}
                self.audit.append("linkhaven", "system", "workspace.recover", "zones", "ok", detail)
        finally:
            os.close(fd)

    # -- keys and zones ---------------------------------------------------------------------
    def _key(self, name: str) -> bytes:
        key = self.keys.load(name)
        expected = dict(self.info.get("key_fingerprints", {}))  # type: ignore[call-overload]
        if expected.get(name) != fingerprint(key):
            raise ZoneKeyError(
                f"The key for '{name}' in {self.keys.path} is not this workspace's key; "
                f"give the key directory created at init (--keys or {KEYS_ENV})."
            )
        return key

    def zone(self, name: str) -> Zone:
        if name not in ZONES:
            raise WorkspaceError(f"Unknown zone '{name}'; zones are {', '.join(ZONES)}.")
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
        return Zone(name, self.root / "zones" / name, self._key(name))

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

    # -- users and permissions ----------------------------------------------------------------
    def role_of(self, user: str) -> Role | None:
        with self.engine.connect() as conn:
            role = conn.execute(select(schema.users.c.role).where(schema.users.c.name == user)).scalar_one_or_none()
        return Role(role) if role else None

    def users(self) -> list[dict[str, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(schema.users).order_by(schema.users.c.name)).mappings().all()
        return [dict(r) for r in rows]

    @contextmanager
    def act(self, action: Action, obj: str = "-", user: str | None = None) -> Iterator[Act]:
        """Check that the acting user may perform `action`, then audit the outcome whatever it is."""
        user = user or acting_user()
        role = self.role_of(user)
        decision = decide(role, action)
        if not decision.allowed or role is None:
            self.audit.append(user, str(role or "unregistered"), action, obj, "denied", {"reason": decision.reason})
            raise PermissionDenied(
                f"User '{user}' may not {action}: {decision.reason}. Ask an admin to register the user "
                "with the right role (`linkhaven user add`)."
            )
        if action not in RUN_ON_UNREGISTERED_SPEC and self.spec_state.problem is not None:
            self.audit.append(user, role, action, obj, "refused", {"reason": "spec_not_registered"})
            raise SpecChanged(f"Refused: {self.spec_state.problem}.")
        if action in HALTED_WHILE_SUSPENDED:
            with self.engine.connect() as conn:
                state = current_state(conn)
            if state.suspended:
                reason = "the project is suspended"
                self.audit.append(user, role, action, obj, "refused", {"reason": reason})
                raise GateRefused(
                    f"The project was suspended on {state.changed_at[:10]} ({state.reason}); {action} is halted "
                    "until the suspension is lifted (`linkhaven project resume`)."
                )
        act = Act(self, user, role, action, obj)
        try:
            yield act
        except LinkhavenError as err:
            if not act.recorded:
                act.detail["error"] = type(err).__name__
                outcome = "refused" if act.outcome == "ok" else act.outcome
                self.audit.append(user, role, action, obj, outcome, act.detail)
            raise
        except BaseException as err:
            if not act.recorded:
                act.detail["error"] = type(err).__name__
                self.audit.append(user, role, action, obj, "failed", act.detail)
            raise
        if not act.recorded:
            self.audit.append(user, role, action, obj, act.outcome, act.detail)

    def set_suspended(self, suspended: bool, reason: str) -> None:
        """Suspend or resume every gated operation (R5); the reason is recorded and audited."""
        with self.act(Action.PROJECT_SUSPEND, obj="project") as act:
            act.detail["state"] = "suspended" if suspended else "active"
            with act.transaction() as conn:
                record_state(conn, suspended, reason, now(), act.user)

    def add_user(self, name: str, role: Role) -> None:
        _check_user_name(name)
        with self.act(Action.USER_ADD, obj=f"user:{name}") as act:
            if self.role_of(name) is not None:
                raise WorkspaceError(f"User '{name}' is already registered; roles are not changed by `user add`.")
            act.detail["role"] = str(role)
            with act.transaction() as conn:
                conn.execute(insert(schema.users).values(name=name, role=role, added_at=now(), added_by=act.user))

    # -- the spec in force ------------------------------------------------------------------------
    def spec_path(self) -> Path:
        return self.root / SPEC_FILE

    @property
    def spec_state(self) -> SpecState:
        """spec.yaml read and hashed once, compared with the latest registered version and its seal."""
        if self._spec_state is None:
            self._spec_state = self._read_spec_state()
        return self._spec_state

    @property
    def spec_sha256(self) -> str:
        """sha256 of spec.yaml's bytes as read at open (what manifests and registers record)."""
        return self.spec_state.sha256

    def spec(self) -> ProjectSpec:
        """The project spec parsed from the bytes checked at open, parsed once.

        Parsing the bytes that were hashed, not the file again, means no command can check one
        spec and use another."""
        if self._spec is None:
            from linkhaven.spec.loader import parse_spec_bytes

            self._spec = parse_spec_bytes(self.spec_state.data, str(self.spec_path()))
        return self._spec

    def _read_spec_state(self) -> SpecState:
        try:
            data = self.spec_path().read_bytes()
        except FileNotFoundError:
            data = b""
            missing = True
        else:
            missing = False
        sha256 = hashlib.sha256(data).hexdigest()
        with self.engine.connect() as conn:
            row = conn.execute(
                select(schema.spec_versions.c.version, schema.spec_versions.c.sha256, schema.spec_versions.c.mac)
                .order_by(schema.spec_versions.c.version.desc())
                .limit(1)
            ).first()
        if row is None:
            empty = (
                "the spec register holds no version, so the metadata store was tampered with; restore the "
                "workspace from a backup and report an incident"
            )
            return SpecState(data, sha256, None, empty)
        version, registered, mac = row
        problem: str | None
        if mac is None:
            problem = (
                f"spec version {version} was registered before spec versions were sealed; register the spec in "
                f"force with `linkhaven spec update {self.spec_path()}` as the privacy officer"
            )
        elif not self.audit.seal_holds(_spec_seal_text(version, registered), mac):
            problem = (
                f"spec version {version} in the spec register carries a seal not made with the audit key, so the "
                "register was edited; restore the workspace from a backup and report an incident"
            )
        elif missing:
            problem = (
                f"spec.yaml is missing from the workspace (version {version} is registered); restore it from a "
                "backup, or register a spec with `linkhaven spec update` as the privacy officer"
            )
        elif sha256 != registered:
            problem = (
                f"spec.yaml changed since version {version} was registered; register it with `linkhaven spec "
                "update` as the privacy officer, or restore the registered version from a backup"
            )
        else:
            problem = None
        return SpecState(data, sha256, version, problem)

    def _register_spec(self, conn: Connection, version: int, data: bytes, sha256: str, user: str) -> None:
        conn.execute(
            insert(schema.spec_versions).values(
                version=version,
                sha256=sha256,
                text=data.decode("utf-8"),
                loaded_at=now(),
                loaded_by=user,
                mac=self.audit.seal(_spec_seal_text(version, sha256)),
            )
        )

    def update_spec(self, path: Path) -> int:
        """Privacy officer: register the spec in `path` as the next version and make it the workspace's spec.yaml.

        Refused (and audited) when the spec does not validate, names another project, or is already
        the spec in force. Returns the new version number."""
        from linkhaven.spec.loader import parse_spec_bytes, read_spec_bytes

        with self.act(Action.SPEC_UPDATE, obj="spec") as act:
            data = read_spec_bytes(path)
            spec = parse_spec_bytes(data, str(path))
            sha256 = hashlib.sha256(data).hexdigest()
            current = self.spec_state
            act.detail.update(spec_sha256=sha256, replaces_unregistered=current.problem is not None)
            project = self.info.get("project_id")
            if spec.project.id != project:
                raise SpecError(
                    f"{path}: project.id is '{spec.project.id}' but this workspace holds project '{project}'; a "
                    "workspace keeps one project for life: create a new workspace (`linkhaven init`) for another."
                )
            if current.problem is None and current.sha256 == sha256:
                raise WorkspaceError(
                    f"{path} is already the spec in force (version {current.version}); nothing to register."
                )
            staged = self.root / f".{SPEC_FILE}.{uuid.uuid4().hex}.tmp"
            try:
                staged.write_bytes(data)
                with act.transaction() as conn:
                    latest = conn.execute(select(func.max(schema.spec_versions.c.version))).scalar_one_or_none()
                    version = (latest or 0) + 1
                    act.detail.update(spec_version=version, previous_version=latest)
                    self._register_spec(conn, version, data, sha256, act.user)
                os.replace(staged, self.spec_path())
            finally:
                staged.unlink(missing_ok=True)
        self._spec_state = SpecState(data, sha256, version, None)
        self._spec = spec
        return version

    # -- verification -------------------------------------------------------------------------------
    def verify(self, anchors: Sequence[AuditHead] = ()) -> Verification:
        """Verify the audit log (chain, head, the key store's anchor, `anchors`) and the spec in force."""
        result = self.audit.verify(anchors)
        state = self.spec_state
        problems = [state.problem] if state.problem else []
        with self.engine.connect() as conn:
            problems += self._spec_register_problems(conn, check_log=result.head is not None)
        return result.with_problems(problems, state.version)

    def _spec_register_problems(self, conn: Connection, check_log: bool) -> list[str]:
        """Every sealed version's seal and text, no version missing, and the log agreeing on the latest."""
        problems: list[str] = []
        rows = conn.execute(select(schema.spec_versions).order_by(schema.spec_versions.c.version)).mappings().all()
        for expected, row in enumerate(rows, start=1):
            version = row["version"]
            if version != expected:
                problems.append(f"spec version {expected} is missing from the spec register (it has {version} next)")
                break
            if row["mac"] is None:
                continue
            if not self.audit.seal_holds(_spec_seal_text(version, row["sha256"]), row["mac"]):
                problems.append(
                    f"spec version {version} in the spec register carries a seal not made with the audit key"
                )
            elif hashlib.sha256(row["text"].encode("utf-8")).hexdigest() != row["sha256"]:
                problems.append(f"the text of spec version {version} in the spec register was altered")
        if not check_log or not rows:
            return problems
        # The log is intact here, so the last spec registration it records is what the register must end with:
        # deleting the newest version (to fall back to an older, still sealed one) is caught.
        logged = conn.execute(
            select(schema.audit_events.c.detail)
            .where(schema.audit_events.c.action.in_(("workspace.init", Action.SPEC_UPDATE.value)))
            .where(schema.audit_events.c.outcome == "ok")
            .order_by(schema.audit_events.c.seq.desc())
            .limit(1)
        ).scalar_one_or_none()
        if logged is not None:
            detail = json.loads(logged)
            version = int(detail.get("spec_version", 1))
            latest = rows[-1]
            if (latest["version"], latest["sha256"]) != (version, detail.get("spec_sha256")):
                problems.append(
                    f"the spec register ends at version {latest['version']} but the audit log records version "
                    f"{version} as the last registered: the register was rolled back"
                )
        return problems


def _resolve_keys(explicit: Path | None, recorded: str | None) -> Path:
    if explicit is not None:
        return explicit
    env = os.environ.get(KEYS_ENV)
    if env:
        return Path(env)
    if recorded:
        return Path(recorded)
    raise ZoneKeyError(f"No key directory given: pass --keys DIR or set {KEYS_ENV}.")
