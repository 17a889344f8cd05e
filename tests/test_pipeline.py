"""End to end: synthetic extracts through intake, linkage, both releases and publication, as the roles
a unit has, each step through the CLI a user runs, on one small province."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq

from tests.conftest import Env, Result

SCALE = "0.002"


def _rows(path: Path) -> int:
    with path.open(encoding="latin-1", newline="") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def test_the_whole_pipeline_on_a_small_province(env: Env, tmp_path: Path) -> None:
    def ok(user: str, *args: str) -> Result:
        result = env.as_user(user, *args)
        assert result.code == 0, (args[:3], result.err)
        return result

    extracts = tmp_path / "extracts"
    assert env.cli("admin", "synth", "--scale", SCALE, "--seed", "5", "--out", str(extracts), "--json").code == 0
    officer = "privacy_officer"
    for kind in ("pia", "tra"):
        ok(officer, "assessment", "add", "--kind", kind, "--title", kind, "--date", "2024-06-01")
    ok(officer, "notice", "publish", "--date", "2025-07-11")
    ok(officer, "agreement", "add", "--name", "collection", "--party", "EDU", "--source", "onsis", "--source", "eqao",
       "--source", "cpin", "--from", "2024-01-01", "--to", "2099-12-31")  # fmt: skip

    # Nothing lost: every row of every extract is loaded or quarantined.
    for source in ("onsis", "eqao", "cpin"):
        figures = json.loads(ok("steward", "intake", "--source", source, str(extracts / f"{source}.csv"), "--json").out)
        assert figures["rows_loaded"] + figures["rows_quarantined"] == _rows(extracts / f"{source}.csv")

    ok("linker", "link", "--json")
    evaluated = ok("linker", "link", "evaluate", "--truth", str(extracts / "truth.csv"), "--json")
    pairs = json.loads(evaluated.out)["pairs"]
    assert pairs["cpin~onsis"]["precision"] >= 0.99 and pairs["cpin~onsis"]["recall"] >= 0.98
    assert pairs["eqao~onsis"]["precision"] >= 0.999 and pairs["eqao~onsis"]["recall"] >= 0.999

    ok(officer, "agreement", "add", "--kind", "disclosure", "--name", "analysts", "--party", "division_analysts",
       "--class", "deidentified", "--source", "onsis", "--source", "eqao", "--source", "cpin", "--from",
       "2024-01-01", "--to", "2099-12-31")  # fmt: skip
    releases = {}
    for section in ("analyst_panel", "publication_base"):
        created = ok("deidentifier", "release", "create", "--spec-section", section, "--json")
        releases[section] = json.loads(created.out)["id"]
        ok(officer, "release", "approve", releases[section])

    # The analyst reads only the release granted, and it holds no identifier.
    copy = tmp_path / "analyst.parquet"
    assert env.as_user("analyst", "release", "read", releases["analyst_panel"], "--out", str(copy)).code == 4
    ok(officer, "release", "grant", releases["analyst_panel"], "--user", "analyst")
    ok("analyst", "release", "read", releases["analyst_panel"], "--out", str(copy))
    columns = set(pq.read_schema(copy).names)
    assert not columns & {"oen", "given_name", "family_name", "birth_date", "postal_code", "record_code", "person_key"}

    publication = json.loads(ok("deidentifier", "publish", "--release", releases["publication_base"], "--json").out)
    assert publication["audit"]["passed"]
    folder = Path(publication["folder"])
    assert (folder / "report.html").exists() and (folder / "report-young-readers.html").exists()
    assert env.cli("admin", "publish", "verify", str(folder)).code == 0

    assert json.loads(ok(officer, "audit", "verify", "--json").out)["ok"]
    ok(officer, "oversight", "pack", "--out", str(tmp_path / "pack"), "--json")
    assert (tmp_path / "pack" / "index.html").exists()
