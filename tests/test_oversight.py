"""Oversight: suspension, assessments gate, incidents, retention and destruction, the review pack."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from linkhaven.errors import GateRefused, ZoneKeyError
from linkhaven.governance.permissions import MATRIX
from linkhaven.governance.session import open_session
from linkhaven.governance.suspension import HALTED_WHILE_SUSPENDED
from linkhaven.workspace import Workspace
from tests.conftest import Env
from tests.test_intake import luhn_oen, onsis_row, open_gates, write_csv


def _take_in(env: Env, tmp_path: Path, name: str = "Zebulonique") -> Path:
    file = write_csv(tmp_path / "onsis.csv", [onsis_row(i, LEGAL_FIRST_NAME=name) for i in range(12)])
    result = env.as_user("steward", "intake", "--source", "onsis", str(file))
    assert result.code == 0, result.err
    return file


def written_long_ago(env: Env) -> None:
    """Date every zone table of the workspace to 2010, as if the zones had been written then."""
    with closing(sqlite3.connect(env.workspace / "linkhaven.db")) as db, db:
        db.execute("UPDATE zone_tables SET created_at = '2010-01-04T09:00:00+00:00'")


def test_suspension_halts_every_gated_action_until_resumed(env: Env, tmp_path: Path) -> None:
    open_gates(env)
    assert env.as_user("privacy_officer", "project", "suspend", "--reason", "IPC order 2026-01").code == 0
    file = write_csv(tmp_path / "onsis.csv", [onsis_row(1)])
    refused = env.as_user("steward", "intake", "--source", "onsis", str(file))
    assert refused.code == 4 and "suspended" in refused.err
    ws = Workspace.open(env.workspace)
    for action in HALTED_WHILE_SUSPENDED:
        role = sorted(MATRIX[action])[0]
        with pytest.raises(GateRefused, match="suspended"), open_session(ws, action, user=role.value):
            pass
    events = env.as_user("privacy_officer", "audit", "show", "--limit", "500", "--json").json()
    refusals = {e["action"] for e in events if e["outcome"] == "refused"}  # type: ignore[index]
    assert {a.value for a in HALTED_WHILE_SUSPENDED} <= refusals
    assert env.as_user("privacy_officer", "project", "resume", "--reason", "order lifted").code == 0
    assert env.as_user("steward", "intake", "--source", "onsis", str(file)).code == 0


def test_collection_is_refused_while_a_required_assessment_is_missing(env: Env, tmp_path: Path) -> None:
    env.as_user("privacy_officer", "notice", "publish", "--date", "2025-07-11")
    env.as_user("privacy_officer", "agreement", "add", "--name", "EDU", "--party", "EDU", "--source", "onsis",
                "--from", "2024-01-01", "--to", "2099-12-31")  # fmt: skip
    env.as_user("privacy_officer", "assessment", "add", "--kind", "pia", "--title", "PIA", "--date", "2024-06-01")
    file = write_csv(tmp_path / "onsis.csv", [onsis_row(1)])
    refused = env.as_user("steward", "intake", "--source", "onsis", str(file))
    assert refused.code == 4 and "threat and risk assessment" in refused.err
    env.as_user("privacy_officer", "assessment", "add", "--kind", "tra", "--title", "TRA", "--date", "2024-06-01")
    assert env.as_user("steward", "intake", "--source", "onsis", str(file)).code == 0


def test_incident_register(env: Env) -> None:
    opened = env.as_user("privacy_officer", "incident", "open", "--title", "Misdirected export",
                         "--found", "2026-03-02", "--people-affected", "14", "--data", "D0001")  # fmt: skip
    assert opened.code == 0
    assert env.as_user("privacy_officer", "incident", "update", "I0001", "--containment", "file recalled",
                       "--ipc-notified", "2026-03-04", "--individuals-notified", "2026-03-09").code == 0  # fmt: skip
    assert env.as_user("privacy_officer", "incident", "close", "I0001", "--lessons", "two-person check").code == 0
    (incident,) = env.as_user("privacy_officer", "incident", "list", "--json").json()  # type: ignore[misc]
    assert incident["status"] == "closed" and incident["people_affected"] == 14
    assert incident["ipc_notified_on"] == "2026-03-04" and incident["lessons"] == "two-person check"
    assert env.as_user("privacy_officer", "incident", "update", "I0001", "--lessons", "x").code == 1
    assert env.as_user("analyst", "incident", "list").code == 3


def test_expiry_destroys_zones_with_a_certificate_and_nothing_reads_them_back(env: Env, tmp_path: Path) -> None:
    open_gates(env)
    _take_in(env, tmp_path)
    status = env.as_user("admin", "retention", "status", "--json").json()
    assert status and not any(i["due"] for i in status)  # type: ignore[union-attr, index]
    backup = tmp_path / "backup"
    shutil.copytree(env.workspace / "zones", backup / "zones")
    shutil.copyfile(env.keys / "identity.key", backup / "identity.key")

    written_long_ago(env)  # the zones' retention periods have run out, on the real date
    certificates = env.as_user("admin", "retention", "run", "--json").json()
    assert isinstance(certificates, list)
    assert {(c["kind"], c["target"]) for c in certificates} == {("zone", "identity"), ("zone", "content")}
    for certificate in certificates:
        assert certificate["files"] == 2 and all(len(h["sha256"]) == 64 for h in certificate["hashes"])
        assert "crypto-shredding" in certificate["method"]
    assert not (env.keys / "identity.key").exists()

    # Restore the old files (and even the old key) from the copy: still nothing reads them.
    shutil.rmtree(env.workspace / "zones")
    shutil.copytree(backup / "zones", env.workspace / "zones")
    ws = Workspace.open(env.workspace)
    with pytest.raises(ZoneKeyError, match="destroyed"):
        ws.zone("identity")
    shutil.copyfile(backup / "identity.key", env.keys / "identity.key")
    with pytest.raises(ZoneKeyError, match="certificate C000"):
        Workspace.open(env.workspace).zone("identity")
    listed = env.as_user("steward", "quarantine", "list")
    assert listed.code == 1 and "destroyed" in listed.err
    export = env.as_user("steward", "quarantine", "export", "--delivery", "D0001", "--out", str(tmp_path / "q.csv"))
    assert export.code == 1 and "destroyed" in export.err
    events = env.as_user("privacy_officer", "audit", "show", "--limit", "500", "--json").json()
    assert sum(e["action"] == "retention.destroy" for e in events) == 2  # type: ignore[index]


def test_review_pack_has_every_register_and_no_identifier(env: Env, tmp_path: Path) -> None:
    open_gates(env)
    _take_in(env, tmp_path, name="Zebulonique")
    env.as_user("privacy_officer", "incident", "open", "--title", "Test incident", "--found", "2026-01-05")
    written_long_ago(env)
    assert env.as_user("admin", "retention", "run").code == 0
    out = tmp_path / "pack"
    made = env.as_user("privacy_officer", "oversight", "pack", "--out", str(out), "--json")
    assert made.code == 0, made.err
    registers = {p.stem for p in (out / "registers").glob("*.csv")}
    assert {"users", "notices", "agreements", "deliveries", "assessments", "incidents", "destructions",
            "zone_tables", "project_state"} <= registers  # fmt: skip
    assert (out / "audit" / "verification.json").exists() and (out / "permission-matrix.csv").exists()
    assert (out / "notices" / "notice-v1.md").exists()
    index = (out / "index.html").read_text()
    assert "registers/deliveries.csv" in index and "audit/verification.json" in index
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_bytes()
            for needle in (b"Zebulonique", b"B\xc3\xa9langer", luhn_oen(10000003).encode(), b"K1A 0B1", b"20100315"):
                assert needle not in text, (path, needle)
    assert env.as_user("analyst", "oversight", "pack", "--out", str(tmp_path / "p2")).code == 3
