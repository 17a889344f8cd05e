"""Whole-delivery refusals: the same delivery again (by content, or by record id), two intakes at once,
and over-collection, which also opens an incident."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from linkhaven.intake.overcollection import suspect_by_name, suspect_by_values
from tests.conftest import ROOT, Env
from tests.test_intake import ONSIS_HEADER, deliveries, onsis_row, open_gates, write_csv, zone_files


def with_check_digit(stem: str) -> str:
    """`stem` and its mod-10 (Luhn) check digit, as health numbers and SINs carry one."""
    total = 0
    for position, char in enumerate(reversed(stem)):
        digit = int(char) * (2 if position % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return stem + str((10 - total % 10) % 10)


def incidents(env: Env) -> list[dict[str, object]]:
    listed = env.as_user("privacy_officer", "incident", "list", "--json").json()
    assert isinstance(listed, list)
    return listed


def test_the_same_extract_with_other_line_ends_is_the_same_delivery(env: Env, tmp_path: Path) -> None:
    open_gates(env)
    first = write_csv(tmp_path / "onsis.csv", [onsis_row(i) for i in range(5)])
    assert env.as_user("steward", "intake", "--source", "onsis", str(first)).code == 0
    lines = first.read_bytes().splitlines()
    lf = tmp_path / "onsis-lf.csv"  # csv.writer ends lines with CRLF
    lf.write_bytes(b"\n".join(lines) + b"\n")
    cr_padded = tmp_path / "onsis-cr.csv"
    cr_padded.write_bytes(b"\xef\xbb\xbf" + b"  \r".join(lines) + b"\r\r")
    for copy in (lf, cr_padded):
        assert copy.read_bytes() != first.read_bytes()
        result = env.as_user("steward", "intake", "--source", "onsis", str(copy))
        assert result.code == 4 and "already taken in as delivery D0001" in result.err, result.err
    assert len(deliveries(env)) == 1


def test_a_record_already_loaded_is_quarantined_naming_its_delivery(env: Env, tmp_path: Path) -> None:
    open_gates(env)
    first = write_csv(tmp_path / "first.csv", [onsis_row(i) for i in range(5)])
    assert env.as_user("steward", "intake", "--source", "onsis", str(first)).code == 0
    overlap = write_csv(tmp_path / "overlap.csv", [onsis_row(3, GRADE="5"), *(onsis_row(i) for i in range(10, 14))])
    result = env.as_user("steward", "intake", "--source", "onsis", str(overlap), "--json").json()
    assert isinstance(result, dict)
    assert result["quarantined_by_reason"] == {"already_loaded": 1} and result["rows_loaded"] == 4
    exported = tmp_path / "export.csv"
    assert env.as_user("steward", "quarantine", "export", "--delivery", "D0002", "--out", str(exported)).code == 0
    assert "already_loaded:source_record_id@D0001" in exported.read_text(encoding="utf-8")


def test_a_delivery_whose_every_record_is_loaded_is_refused_unless_it_supersedes(env: Env, tmp_path: Path) -> None:
    open_gates(env)
    first = write_csv(tmp_path / "first.csv", [onsis_row(i) for i in range(5)])
    assert env.as_user("steward", "intake", "--source", "onsis", str(first)).code == 0
    corrected = write_csv(tmp_path / "corrected.csv", [onsis_row(i, GRADE="5") for i in range(5)])
    refused = env.as_user("steward", "intake", "--source", "onsis", str(corrected))
    assert refused.code == 4 and "already loaded, in delivery D0001" in refused.err
    assert "--supersedes D0001" in refused.err
    accepted = env.as_user("steward", "intake", "--source", "onsis", str(corrected), "--supersedes", "D0001", "--json")
    assert accepted.code == 0, accepted.err
    assert accepted.json()["rows_loaded"] == 5  # type: ignore[index]


def test_two_identical_intakes_at_once_load_once_and_refuse_clearly(env: Env, tmp_path: Path) -> None:
    open_gates(env)
    file = write_csv(tmp_path / "onsis.csv", [onsis_row(i) for i in range(20000)])
    command = [sys.executable, "-m", "linkhaven", "-w", str(env.workspace), "intake", "--source", "onsis", str(file)]
    environment = env.environment_of("steward")
    runs = [subprocess.Popen(command, env=environment, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]  # fmt: skip
    outcomes = sorted((run.wait(timeout=300), run.stderr.read() if run.stderr else "") for run in runs)
    assert [code for code, _ in outcomes] == [0, 4], outcomes
    assert "already taken in as delivery D0001" in outcomes[1][1]
    assert "Internal error" not in outcomes[1][1]
    assert len(deliveries(env)) == 1


def test_an_undeclared_health_card_column_refuses_the_file_and_opens_an_incident(env: Env, tmp_path: Path) -> None:
    open_gates(env)
    file = write_csv(tmp_path / "onsis.csv", [[*onsis_row(1), "1234567897"]], [*ONSIS_HEADER, "HEALTH_CARD_NUMBER"])
    result = env.as_user("steward", "intake", "--source", "onsis", str(file))
    assert result.code == 1 and "HEALTH_CARD_NUMBER" in result.err and "incident I0001" in result.err
    assert "1234567897" not in result.err
    assert deliveries(env) == [] and zone_files(env) == []
    [incident] = incidents(env)
    assert incident["status"] == "open" and json.loads(str(incident["data_affected"])) == ["HEALTH_CARD_NUMBER"]
    assert "1234567897" not in json.dumps(incident)
    audit = env.as_user("privacy_officer", "audit", "show", "--json").json()
    assert isinstance(audit, list)
    assert any(e["action"] == "incident.manage" and e["actor"] == "linkhaven" for e in audit)
    assert "1234567897" not in json.dumps(audit)


def test_a_renamed_column_of_health_numbers_is_caught_by_its_values(env: Env, tmp_path: Path) -> None:
    open_gates(env)
    numbers = [with_check_digit(f"{n:09d}") for n in range(123456780, 123456786)]
    rows = [[*onsis_row(i), numbers[i]] for i in range(6)]
    file = write_csv(tmp_path / "onsis.csv", rows, [*ONSIS_HEADER, "REF_2"])
    result = env.as_user("steward", "intake", "--source", "onsis", str(file))
    assert result.code == 1 and "REF_2 (values look like health card numbers" in result.err
    assert not any(n in result.err for n in numbers)
    assert len(incidents(env)) == 1


def test_a_forbidden_column_also_opens_an_incident(env: Env, tmp_path: Path) -> None:
    open_gates(env)
    file = write_csv(tmp_path / "onsis.csv", [[*onsis_row(1), "046454286"]], [*ONSIS_HEADER, "SIN"])
    assert env.as_user("steward", "intake", "--source", "onsis", str(file)).code == 1
    [incident] = incidents(env)
    assert "forbidden_columns" in str(incident["description"])


def test_names_and_values_of_protected_identifiers() -> None:
    for column in ["HEALTH_CARD_NUMBER", "OHIPNumber", "ohip_no", "SIN", "Social Insurance No", "sin_num",
                   "PASSPORT_NO", "Driver's Licence", "HCN"]:  # fmt: skip
        assert suspect_by_name(column) is not None, column
    for column in ["SINGLE_PARENT", "HOMEROOM", "WORKER_ID", "TEST_FORM", "BUSINESS_UNIT", "LICENSED_CARE"]:
        assert suspect_by_name(column) is None, column
    sins = [with_check_digit(f"{n:08d}") for n in range(13069250, 13069260)]
    assert suspect_by_values([f"{s[:3]} {s[3:6]} {s[6:]}" for s in sins]) == "values look like social insurance numbers"
    # random nine-digit identifiers pass a mod-10 check one time in ten: not a SIN column
    assert suspect_by_values([f"{n:09d}" for n in range(123456700, 123456800)]) is None
    assert suspect_by_values(["", "  "]) is None
