"""Intake: the gates, file-level refusals, row checks, accounting, zone split and crash safety."""

from __future__ import annotations

import csv
import functools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from linkhaven.spec import load_spec
from linkhaven.workspace import Workspace
from tests.conftest import ROOT, SPEC, Env

ONSIS_HEADER = [
    "ENROLMENT_ID", "OEN", "LEGAL_FIRST_NAME", "LEGAL_LAST_NAME", "DATE_OF_BIRTH", "POSTAL_CODE", "GENDER",
    "SCHOOL_YEAR", "BOARD_NUMBER", "SCHOOL_NUMBER", "GRADE", "ATTENDANCE_RATE", "CREDITS_EARNED",
]  # fmt: skip


def luhn_oen(stem: int) -> str:
    digits = [int(d) for d in f"{stem:08d}"]
    total = 0
    for i, d in enumerate(reversed(digits)):
        total += (d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 == 0 else d
    return f"{stem:08d}{(10 - total % 10) % 10}"


@functools.cache
def board() -> str:
    return sorted(load_spec(SPEC).codes("board"))[0]


def onsis_row(i: int, **overrides: str) -> list[str]:
    row = {
        "ENROLMENT_ID": f"R{i:010d}", "OEN": luhn_oen(10000000 + i), "LEGAL_FIRST_NAME": "Émilie",
        "LEGAL_LAST_NAME": "Bélanger-Côté", "DATE_OF_BIRTH": "20100315", "POSTAL_CODE": "K1A 0B1", "GENDER": "F",
        "SCHOOL_YEAR": "2019-20", "BOARD_NUMBER": board(), "SCHOOL_NUMBER": "123456", "GRADE": "4",
        "ATTENDANCE_RATE": "0.95", "CREDITS_EARNED": "",
    }  # fmt: skip
    row.update(overrides)
    return [row[c] for c in ONSIS_HEADER]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = ONSIS_HEADER) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def open_gates(env: Env) -> None:
    for kind in ("pia", "tra"):
        recorded = env.as_user("privacy_officer", "assessment", "add", "--kind", kind, "--title", f"{kind} v1",
                               "--date", "2024-06-01", "--reference", f"{kind.upper()}-2024-01")  # fmt: skip
        assert recorded.code == 0, recorded.err
    assert env.as_user("privacy_officer", "notice", "publish", "--date", "2025-07-11").code == 0
    added = env.as_user(
        "privacy_officer", "agreement", "add", "--name", "EDU", "--party", "EDU", "--party", "MCCSS",
        "--source", "onsis", "--source", "eqao", "--source", "cpin", "--from", "2024-01-01", "--to", "2099-12-31",
    )  # fmt: skip
    assert added.code == 0, added.err


def deliveries(env: Env) -> list[dict[str, object]]:
    result = env.as_user("steward", "intake", "status", "--json").json()
    assert isinstance(result, list)
    return result


def zone_files(env: Env) -> list[str]:
    return sorted(str(p.relative_to(env.workspace)) for p in (env.workspace / "zones").rglob("*") if p.is_file())


# -- gates -------------------------------------------------------------------------------------------


def test_refused_without_a_published_notice(env: Env, tmp_path: Path) -> None:
    file = write_csv(tmp_path / "onsis.csv", [onsis_row(1)])
    result = env.as_user("steward", "intake", "--source", "onsis", str(file), "--json")
    assert result.code == 4 and "notice" in result.err
    assert deliveries(env) == [] and zone_files(env) == []


def test_refused_without_an_agreement_in_force(env: Env, tmp_path: Path) -> None:
    env.as_user("privacy_officer", "notice", "publish", "--date", "2025-07-11")
    env.as_user("privacy_officer", "agreement", "add", "--name", "old", "--party", "EDU", "--source", "onsis",
                "--from", "2018-01-01", "--to", "2020-12-31")  # fmt: skip
    file = write_csv(tmp_path / "onsis.csv", [onsis_row(1)])
    result = env.as_user("steward", "intake", "--source", "onsis", str(file))
    assert result.code == 4 and "agreement" in result.err
    assert deliveries(env) == [] and zone_files(env) == []


def test_refused_when_the_agreement_does_not_cover_the_source(env: Env, tmp_path: Path) -> None:
    env.as_user("privacy_officer", "notice", "publish", "--date", "2025-07-11")
    env.as_user("privacy_officer", "agreement", "add", "--name", "cpin only", "--party", "MCCSS", "--source", "cpin",
                "--from", "2024-01-01", "--to", "2099-12-31")  # fmt: skip
    result = env.as_user("steward", "intake", "--source", "onsis", str(write_csv(tmp_path / "o.csv", [onsis_row(1)])))
    assert result.code == 4 and "onsis" in result.err


def test_same_file_twice_is_refused_and_a_redelivery_supersedes(env: Env, tmp_path: Path) -> None:
    open_gates(env)
    first = write_csv(tmp_path / "onsis.csv", [onsis_row(i) for i in range(5)])
    assert env.as_user("steward", "intake", "--source", "onsis", str(first)).code == 0
    again = env.as_user("steward", "intake", "--source", "onsis", str(first))
    assert again.code == 4 and "already taken in as delivery D0001" in again.err
    corrected = write_csv(tmp_path / "onsis2.csv", [onsis_row(i) for i in range(6)])
    done = env.as_user("steward", "intake", "--source", "onsis", str(corrected), "--supersedes", "D0001", "--json")
    assert done.code == 0
    status = {d["id"]: d["status"] for d in deliveries(env)}
    assert status == {"D0001": "superseded", "D0002": "loaded"}


def test_only_the_steward_may_take_in(env: Env, tmp_path: Path) -> None:
    open_gates(env)
    file = write_csv(tmp_path / "onsis.csv", [onsis_row(1)])
    for user in ["admin", "linker", "deidentifier", "privacy_officer", "analyst"]:
        assert env.as_user(user, "intake", "--source", "onsis", str(file)).code == 3


# -- file-level refusals and minimisation -------------------------------------------------------------


def test_forbidden_column_refuses_the_whole_file(env: Env, tmp_path: Path) -> None:
    open_gates(env)
    file = write_csv(tmp_path / "onsis.csv", [[*onsis_row(1), "1234567890"]], [*ONSIS_HEADER, "HEALTH_CARD_NO"])
    result = env.as_user("steward", "intake", "--source", "onsis", str(file))
    assert result.code == 1 and "HEALTH_CARD_NO" in result.err and "1234567890" not in result.err
    assert deliveries(env) == [] and zone_files(env) == []


def test_missing_required_column_refuses_the_whole_file(env: Env, tmp_path: Path) -> None:
    open_gates(env)
    header = [c for c in ONSIS_HEADER if c != "DATE_OF_BIRTH"]
    rows = [[v for c, v in zip(ONSIS_HEADER, onsis_row(1), strict=True) if c != "DATE_OF_BIRTH"]]
    result = env.as_user("steward", "intake", "--source", "onsis", str(write_csv(tmp_path / "o.csv", rows, header)))
    assert result.code == 1 and "DATE_OF_BIRTH" in result.err
    assert zone_files(env) == []


def test_undeclared_columns_are_dropped_before_storage(env: Env, tmp_path: Path) -> None:
    open_gates(env)
    file = write_csv(tmp_path / "onsis.csv", [[*onsis_row(1), "secret-ish"]], [*ONSIS_HEADER, "FAMILY_INCOME"])
    result = env.as_user("steward", "intake", "--source", "onsis", str(file), "--json").json()
    assert result["columns_dropped"] == ["FAMILY_INCOME"]  # type: ignore[index]
    ws = Workspace.open(env.workspace)
    for zone in ("identity", "content"):
        for table in ws.zone(zone).tables():
            assert "FAMILY_INCOME" not in ws.zone(zone).read(table).column_names


# -- row checks and accounting -------------------------------------------------------------------------


def test_each_row_fault_is_quarantined_with_its_reason(env: Env, tmp_path: Path) -> None:
    open_gates(env)
    rows = [onsis_row(i) for i in range(10)]
    bad = {
        "malformed_date": onsis_row(100, DATE_OF_BIRTH="20101345"),
        "invalid_code": onsis_row(101, GRADE="13"),
        "invalid_oen": onsis_row(102, OEN="12345"),
        "outside_window": onsis_row(104, SCHOOL_YEAR="2015-16"),
        "out_of_range": onsis_row(105, ATTENDANCE_RATE="1.7"),
        "missing_value": onsis_row(106, GRADE=""),
        "outside_population": onsis_row(107, DATE_OF_BIRTH="19700101"),
    }
    rows.append(onsis_row(300, POSTAL_CODE="D1A 0B1"))  # postal code is set_null in the spec: value dropped, row kept
    file = write_csv(tmp_path / "onsis.csv", [*rows, *bad.values(), rows[0]])
    with open(file, "ab") as handle:
        handle.write(",".join(onsis_row(200)[:5]).encode() + b"\n")  # truncated line
        handle.write(",".join(onsis_row(201)).replace("Bélanger", "B\xe9langer").encode("latin-1") + b"\n")
    result = env.as_user("steward", "intake", "--source", "onsis", str(file), "--json").json()
    assert isinstance(result, dict)
    expected = {reason: 1 for reason in bad} | {"duplicate_row": 1, "truncated_line": 1, "invalid_encoding": 1}
    assert result["quarantined_by_reason"] == expected
    assert result["rows_read"] == 11 + len(bad) + 1 + 2
    assert result["rows_read"] == result["rows_loaded"] + result["rows_quarantined"]
    assert result["rows_loaded"] == 11
    assert result["values_set_null"] == {"postal_code:invalid_postal_code": 1}


def test_quarantine_list_shows_reasons_not_values(env: Env, tmp_path: Path) -> None:
    open_gates(env)
    file = write_csv(tmp_path / "onsis.csv", [onsis_row(1), onsis_row(2, DATE_OF_BIRTH="2010-03-15")])
    env.as_user("steward", "intake", "--source", "onsis", str(file))
    listed = env.as_user("steward", "quarantine", "list", "--json")
    assert listed.json() == [
        {
            "delivery": "D0001",
            "source": "onsis",
            "reason": "malformed_date",
            "field": "birth_date",
            "rows": 1,
            "lines": [3],
        }
    ]
    assert "2010-03-15" not in listed.out
    assert env.as_user("analyst", "quarantine", "list").code == 3
    out = tmp_path / "export" / "q.csv"
    assert env.as_user("steward", "quarantine", "export", "--delivery", "D0001", "--out", str(out)).code == 0
    assert "2010-03-15" in out.read_text()
    events = env.as_user("privacy_officer", "audit", "show", "--json").json()
    assert any(e["action"] == "quarantine.export" and e["detail"]["rows"] == 1 for e in events)  # type: ignore[index]


def test_no_identifier_column_in_any_content_table(env: Env, tmp_path: Path) -> None:
    open_gates(env)
    env.as_user("steward", "intake", "--source", "onsis", str(write_csv(tmp_path / "o.csv", [onsis_row(1)])))
    spec = load_spec(SPEC)
    personal = {f.name for s in spec.sources.values() for f in s.fields if str(f.data_class) == "personal"}
    program = {f.name for s in spec.sources.values() for f in s.fields if str(f.data_class) != "personal"}
    ws = Workspace.open(env.workspace)
    for table in ws.zone("content").tables():
        assert not set(ws.zone("content").read(table).column_names) & personal, table
    for table in ws.zone("identity").tables():
        assert not set(ws.zone("identity").read(table).column_names) & program, table


def test_no_plaintext_identifier_in_any_workspace_file(env: Env, tmp_path: Path) -> None:
    open_gates(env)
    file = write_csv(tmp_path / "onsis.csv", [onsis_row(i, LEGAL_FIRST_NAME="Zebulonique") for i in range(20)])
    env.as_user("steward", "intake", "--source", "onsis", str(file))
    for path in env.workspace.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"Zebulonique" not in data and luhn_oen(10000003).encode() not in data, path


# -- crash safety ---------------------------------------------------------------------------------------


KILLED_WRITER = """
import sys
from pathlib import Path
from linkhaven import intake_file, open_workspace
intake_file(open_workspace(Path(sys.argv[1]), Path(sys.argv[2])), "onsis", Path(sys.argv[3]))
"""


def test_killed_intake_leaves_the_workspace_as_before(env: Env, tmp_path: Path) -> None:
    """The library's writer killed mid-intake (as a service killed during an intake job would be)."""
    open_gates(env)
    big = write_csv(tmp_path / "onsis.csv", [onsis_row(i) for i in range(60000)])
    before_files = zone_files(env)
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(env.workspace), str(env.keys), str(big)],
        env={**os.environ, "LINKHAVEN_USER": "steward"}, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    zones = env.workspace / "zones"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(p.is_file() for p in zones.rglob("*")):
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert any(p.is_file() for p in zones.rglob("*")), "intake finished before it could be killed"
    env.clients.restart()  # the workspace is opened again, as by the service's next start
    assert deliveries(env) == []
    assert zone_files(env) == before_files
    assert env.as_user("admin", "audit", "verify").code == 0
    assert env.as_user("steward", "intake", "--source", "onsis", str(big), "--json").code == 0


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_utf8_with_and_without_bom(env: Env, tmp_path: Path, encoding: str) -> None:
    open_gates(env)
    file = tmp_path / "onsis.csv"
    text = ",".join(ONSIS_HEADER) + "\n" + ",".join(onsis_row(1)) + "\n"
    file.write_bytes(text.encode(encoding))
    result = env.as_user("steward", "intake", "--source", "onsis", str(file), "--json").json()
    assert result["rows_loaded"] == 1  # type: ignore[index]
    ws = Workspace.open(env.workspace)
    names = ws.zone("identity").read("d0001-onsis-identity").column("family_name").to_pylist()
    assert names == ["Bélanger-Côté"]
