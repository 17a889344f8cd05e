"""How the service starts: where its workspace and keys are, where it listens, and the key check.

The service is the only process that holds the zone and audit keys. It reads them from a key
directory that only its own account can read, and refuses to start otherwise: a key file that
group or others can read is a key that people, not the service, hold.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from linkhaven.errors import ZoneKeyError
from linkhaven.workspace.keys import KEY_NAMES, KeyDirectory

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


@dataclass(frozen=True)
class ServiceSettings:
    workspace: Path
    keys: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    tls_certificate: Path | None = None
    tls_private_key: Path | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.tls_certificate else "http"
        return f"{scheme}://{self.host}:{self.port}"


def check_key_directory(path: Path) -> None:
    """Refuse keys that anyone but this account could read: the directory and every key file must be
    owned by the service account and closed to group and others (mode 0700 and 0600)."""
    keys = KeyDirectory(path)
    me = os.geteuid()
    problems = []
    for item in (path, *(keys.key_path(name) for name in KEY_NAMES if keys.key_path(name).exists())):
        info = item.stat()
        mode = stat.S_IMODE(info.st_mode)
        if info.st_uid != me:
            problems.append(f"{item.name or item} is owned by another account (uid {info.st_uid})")
        if mode & 0o077:
            problems.append(f"{item.name or item} has mode {mode:04o} (group or others may use it)")
    if problems:
        raise ZoneKeyError(
            f"The service will not start with keys others can read ({'; '.join(problems)}). "
            f"Run `chmod 700 {path}` and `chmod 600 {path}/*.key` as the service account."
        )
