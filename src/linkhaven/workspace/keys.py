"""Zone keys: one random 256-bit key per zone, kept outside the workspace's data.

Keys are separate per zone so that destroying one zone (its key first, then its files) leaves
the others readable, and so that a role given the content key still cannot read identifiers.
The workspace stores only a fingerprint of each key, which lets us tell "wrong key" from
"tampered file" without ever storing the key itself.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from linkhaven.errors import ZoneKeyError

ZONES = ("identity", "content", "linkage", "releases")
"""Encrypted storage areas, one per data class that holds records (see ARCHITECTURE.md)."""

AUDIT_KEY = "audit"
"""The key that seals audit events; kept with the zone keys so an editor of the log cannot forge seals."""

KEY_NAMES = (*ZONES, AUDIT_KEY)
KEYS_ENV = "LINKHAVEN_KEYS"

ANCHOR_FILE = "audit.anchor"
"""The audit log's anchor: the newest event's sequence and hash, sealed with the audit key. Kept in
the key directory, outside the workspace, so restoring an old head file and deleting the events
after it (which leaves a chain that verifies) is still caught."""


def fingerprint(key: bytes) -> str:
    """A value that identifies a key without revealing it."""
    return hmac.new(key, b"linkhaven key fingerprint v1", hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class KeyDirectory:
    """A directory of key files named `<zone>.key`, each holding 64 hex characters."""

    path: Path

    def key_path(self, name: str) -> Path:
        return self.path / f"{name}.key"

    @property
    def anchor_path(self) -> Path:
        return self.path / ANCHOR_FILE

    def create_all(self) -> dict[str, str]:
        """Generate every key; refuse to overwrite, since overwriting a key destroys its zone."""
        self.path.mkdir(parents=True, exist_ok=True)
        os.chmod(self.path, 0o700)
        existing = [n for n in KEY_NAMES if self.key_path(n).exists()]
        if existing:
            raise ZoneKeyError(
                f"The key directory {self.path} already holds keys ({', '.join(existing)}); "
                "give an empty directory for a new workspace."
            )
        fingerprints = {}
        for name in KEY_NAMES:
            key = secrets.token_bytes(32)
            path = self.key_path(name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(key.hex() + "\n")
            fingerprints[name] = fingerprint(key)
        return fingerprints

    def load(self, name: str) -> bytes:
        path = self.key_path(name)
        if not path.exists():
            raise ZoneKeyError(
                f"No key for '{name}' in {self.path}. Give the key directory created at init "
                f"(--keys at init, or {KEYS_ENV}); if the zone was destroyed, its data is gone by design."
            )
        text = path.read_text().strip()
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = b""
        if len(key) != 32:
            raise ZoneKeyError(f"The key file {path} is not a 256-bit hex key; restore it from the key backup.")
        return key

    def destroy(self, name: str) -> None:
        """Overwrite then remove a key file; without it the zone's files are unreadable ciphertext."""
        path = self.key_path(name)
        if path.exists():
            size = path.stat().st_size
            with open(path, "r+b") as handle:
                handle.write(secrets.token_bytes(size))
                handle.flush()
                os.fsync(handle.fileno())
            path.unlink()
