"""Two processes appending to the audit log at once (as the service's requests, a job and a command on
the server machine do): no event lost, no fork, no gap; the chain verifies."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

import pytest

from linkhaven import open_workspace, verify_audit
from tests.conftest import ROOT, Env

APPENDER = """
import sys, time
from pathlib import Path
from linkhaven.workspace import Workspace
from linkhaven.governance.session import audit_log
log = audit_log(Workspace.open(Path(sys.argv[1]), Path(sys.argv[2])))
go = Path(sys.argv[3])
while not go.exists():
    time.sleep(0.001)
for i in range(int(sys.argv[4])):
    log.append("admin", "admin", "test.append", f"{sys.argv[5]}:{i}", "ok", {"i": i})
"""


def test_two_processes_appending_at_once_lose_nothing_and_keep_one_chain(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = env.workspace / "linkhaven.db"
    with sqlite3.connect(database) as db:
        before = db.execute("SELECT max(seq) FROM audit_events").fetchone()[0]
    go = env.root / "go"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", APPENDER, str(env.workspace), str(env.keys), str(go), "150", name],
            cwd=ROOT, env={**os.environ, "LINKHAVEN_USER": "admin"}, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        for name in ("first", "second")
    ]
    time.sleep(1.5)  # both have opened the workspace and wait for the same moment
    go.touch()
    for writer in writers:
        assert writer.wait(timeout=300) == 0, writer.stderr.read() if writer.stderr else ""
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT seq, object FROM audit_events WHERE seq > ? ORDER BY seq", (before,)).fetchall()
    assert [seq for seq, _ in rows] == list(range(before + 1, before + 301))  # no gap, no duplicate
    assert sorted(obj for _, obj in rows) == sorted(f"{name}:{i}" for name in ("first", "second") for i in range(150))
    monkeypatch.setenv("LINKHAVEN_USER", "admin")
    result = verify_audit(open_workspace(env.workspace, env.keys))
    assert result.ok, result.problem
