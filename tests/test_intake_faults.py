"""Every fault `synth --inject-faults` plants ends where it must: quarantined with its reason on its
line, a dropped column, or a whole-file refusal. The generator's faults.json is the expectation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from linkhaven.workspace import Workspace
from tests.conftest import Env
from tests.test_intake import open_gates


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from linkhaven.cli import run

    out = tmp_path_factory.mktemp("faulty")
    assert run(["synth", "--scale", "0.002", "--seed", "11", "--out", str(out), "--inject-faults"]) == 0
    return out


def test_each_injected_fault_ends_where_it_must(env: Env, faulty: Path) -> None:
    open_gates(env)
    manifest = json.loads((faulty / "faults.json").read_text())
    ws = Workspace.open(env.workspace)
    checked_rows = 0
    for entry in manifest["files"]:
        result = env.as_user("steward", "intake", "--source", entry["source"], str(faulty / entry["file"]), "--json")
        if entry["expected"] == "file_refused":
            assert result.code != 0, entry["file"]
            assert "Traceback" not in result.err
            continue
        assert result.code == 0, (entry["file"], result.err)
        figures = result.json()
        assert isinstance(figures, dict)
        assert figures["rows_read"] == figures["rows_loaded"] + figures["rows_quarantined"]
        dropped = [f["column"] for f in entry["file_faults"] if f["kind"] == "undeclared_column"]
        assert figures["columns_dropped"] == dropped
        quarantine = ws.zone("content").read(f"{figures['delivery_id'].lower()}-{entry['source']}-quarantine")
        reasons = dict(zip(quarantine.column("line").to_pylist(), quarantine.column("reason").to_pylist(), strict=True))
        for fault in entry["row_faults"]:
            assert reasons.get(fault["line"]) == fault["kind"], (entry["file"], fault)
            checked_rows += 1
        assert len(reasons) == len(entry["row_faults"]), entry["file"]
    assert checked_rows > 20


def test_without_the_flag_nothing_is_quarantined(env: Env, tmp_path: Path) -> None:
    from linkhaven.cli import run

    assert run(["synth", "--scale", "0.002", "--seed", "11", "--out", str(tmp_path / "clean")]) == 0
    open_gates(env)
    for source in ("cpin", "onsis", "eqao"):
        figures = env.as_user("steward", "intake", "--source", source, str(tmp_path / "clean" / f"{source}.csv"),
                              "--json").json()  # fmt: skip
        assert isinstance(figures, dict)
        assert figures["rows_quarantined"] == 0, (source, figures["quarantined_by_reason"])
        assert figures["rows_loaded"] == figures["rows_read"] > 0
