"""Publications from a panel: tables, rates, rounding, reports, the files' own audit, the CLI."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkhaven.errors import InputError
from linkhaven.publish import Protected, publish_panel, reaudit, rehearsal_panel
from linkhaven.publish.publication import Settings
from linkhaven.publish.reader import read_publications
from linkhaven.spec import ProjectSpec, load_spec
from linkhaven.spec.indicators import Wording
from tests.conftest import SPEC, Env

MIN = 10


def small_spec() -> ProjectSpec:
    """The project's indicators, trimmed to a few breakdowns and measures so a test runs in seconds."""
    spec = load_spec(SPEC)
    assert spec.indicators is not None
    indicators = spec.indicators
    keep = {"students", "attendance", "credit_benchmark", "osslt", "eqao_g3_reading"}
    trimmed = indicators.model_copy(
        update={
            "breakdowns": {k: v for k, v in indicators.breakdowns.items() if k in {"gender", "society", "grade"}},
            "measures": tuple(
                m.model_copy(
                    update={"breakdowns": tuple(b for b in (m.breakdowns or ()) if b in {"gender", "society"}) or None}
                )
                for m in indicators.measures
                if m.id in keep
            ),
        }
    )
    return spec.model_copy(update={"indicators": trimmed})


@pytest.fixture(scope="module")
def spec() -> ProjectSpec:
    return small_spec()


@pytest.fixture(scope="module")
def panel(spec: ProjectSpec) -> pa.Table:
    return rehearsal_panel(
        {k: list(v) for k, v in spec.code_lists.items()}, scale=0.004, seed=7, years=("2021-22", "2022-23")
    )


@pytest.fixture(scope="module")
def published(
    spec: ProjectSpec, panel: pa.Table, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, Protected]]:
    folder = tmp_path_factory.mktemp("pub") / "rehearsal"
    protected, _ = publish_panel(panel, spec, folder, {"publication": "rehearsal"})
    yield folder, protected


def rows(folder: Path, table: str) -> list[dict[str, str]]:
    with (folder / "tables" / f"{table}.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_every_table_is_long_form_with_value_status_and_constraints(published: tuple[Path, Protected]) -> None:
    folder, _ = published
    names = sorted(p.stem for p in (folder / "tables").glob("*.csv"))
    assert "students-by-gender" in names and "osslt-by-society" in names
    for name in names:
        lines = rows(folder, name)
        assert lines, name
        assert list(lines[0])[-4:] == ["statistic", "value", "status", "cell"]
        for line in lines:
            assert line["status"] in {"published", "suppressed"}
            assert (line["value"] == "") == (line["status"] != "published")
        description = json.loads((folder / "tables" / f"{name}.json").read_text())
        keys = {line["cell"] for line in lines if line["cell"]}
        for constraint in description["sums"]:
            assert constraint["total"] in keys and set(constraint["parts"]) <= keys


def test_no_published_count_below_the_minimum(published: tuple[Path, Protected]) -> None:
    folder, _ = published
    for path in (folder / "tables").glob("*.csv"):
        for line in rows(folder, path.stem):
            if line["cell"] and line["status"] == "published":
                assert float(line["value"]) == 0 or float(line["value"]) >= MIN, (path.stem, line["cell"])


def test_published_totals_add_up(published: tuple[Path, Protected]) -> None:
    folder, _ = published
    description = json.loads((folder / "tables" / "students-by-society.json").read_text())
    values = {line["cell"]: line for line in rows(folder, "students-by-society")}
    checked = 0
    for constraint in description["sums"]:
        members = [constraint["total"], *constraint["parts"]]
        if all(values[m]["status"] == "published" for m in members):
            assert float(values[constraint["total"]]["value"]) == sum(
                float(values[p]["value"]) for p in constraint["parts"]
            )
            checked += 1
    assert checked > 0


def test_rates_follow_their_counts(published: tuple[Path, Protected]) -> None:
    folder, _ = published
    for table in ("credit_benchmark-by-gender", "osslt-by-society"):
        lines = rows(folder, table)
        groups: dict[tuple[str, ...], dict[str, dict[str, str]]] = {}
        for line in lines:
            key = tuple(v for k, v in line.items() if k not in {"statistic", "value", "status", "cell"})
            groups.setdefault(key, {})[line["statistic"]] = line
        for group in groups.values():
            rate = group.get("percent_meeting")
            if rate is None:
                continue
            counts = [group[s] for s in ("students", "meeting", "not_meeting")]
            if rate["status"] == "published":
                assert all(c["status"] == "published" for c in counts)
                expected = 100 * float(group["meeting"]["value"]) / float(group["students"]["value"])
                assert float(rate["value"]) == pytest.approx(expected, abs=0.05)
                assert 0 < float(rate["value"]) < 100  # 0 % and 100 % describe everyone in a group
            else:
                assert any(c["status"] != "published" for c in counts)


def test_means_follow_their_counts(published: tuple[Path, Protected]) -> None:
    folder, _ = published
    counts = {(r["school_year"], r["care_status"], r["gender"]): r for r in rows(folder, "students-by-gender")}
    for line in rows(folder, "attendance-by-gender"):
        count = counts[(line["school_year"], line["care_status"], line["gender"])]
        if count["status"] != "published":
            assert line["status"] != "published"


def test_the_files_alone_pass_the_attacker_audit(published: tuple[Path, Protected]) -> None:
    folder, protected = published
    result = reaudit(folder)
    assert result.passed
    assert int(result.audited.sum()) == int((protected.status != 0).sum())
    audit_doc = json.loads((folder / "audit.json").read_text())
    assert audit_doc["passed"] and all(c["protected"] for c in audit_doc["cells"])
    assert "value" not in audit_doc["cells"][0]  # intervals only, never a hidden cell's value


def test_reports_are_static_and_offline(published: tuple[Path, Protected]) -> None:
    folder, _ = published
    for name in ("report.html", "report-young-readers.html"):
        text = (folder / name).read_text()
        assert "<svg" in text
        for forbidden in ("<script", "<link", "src=", "@import", "url("):
            assert forbidden not in text, (name, forbidden)
        assert "https://" not in text
    young = (folder / "report-young-readers.html").read_text()
    assert "font-size: 1.4rem" in young and "out of every 100" in young
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["audit"]["passed"] and "tables/students-by-gender.csv" in manifest["files_sha256"]


@pytest.fixture(scope="module")
def rounded(
    spec: ProjectSpec, panel: pa.Table, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Protected, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("pub") / "rounded"
    protected, manifest = publish_panel(panel, spec, folder, settings=Settings(MIN, MIN, rounding_base=5))
    return folder, protected, manifest


def test_rounding_comes_on_top_of_suppression(
    published: tuple[Path, Protected], rounded: tuple[Path, Protected, dict[str, Any]]
) -> None:
    folder, protected, manifest = rounded
    assert manifest["settings"]["rounding"] == {"base": 5, "method": "nearest", "max_error": 2}
    assert np.array_equal(published[1].status, protected.status)  # the same cells are hidden either way
    for line in rows(folder, "students-by-gender"):
        if line["status"] == "published":
            assert float(line["value"]) % 5 == 0
    assert reaudit(folder).passed


def test_no_published_file_tells_which_rule_hid_a_cell(published: tuple[Path, Protected]) -> None:
    folder, protected = published
    hidden = protected.status[protected.current] != 0
    assert (protected.status == 1).any() and (protected.status == 2).any()  # both kinds were hidden
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"manifest.json", "audit.json", "report.html", "report-young-readers.html"}
    telling = re.compile(
        r"suppressed-(primary|secondary)|primary_(small|full)|secondary_(line|protection|by|republished)"
        r"|hidden_by_rules|hidden_as_complements|too few|is small",
        re.IGNORECASE,
    )
    for path in files:
        found = telling.search(path.read_text(encoding="utf-8"))
        assert found is None, (path.name, found and found.group())
    marks: set[str] = set()
    for path in (folder / "tables").glob("*.csv"):
        marks |= {line["status"] for line in rows(folder, path.stem) if line["value"] == ""}
    assert marks == {"suppressed"}
    manifest = json.loads((folder / "manifest.json").read_text())
    counts = {"total": len(hidden), "published": int((~hidden).sum()), "suppressed": int(hidden.sum())}
    assert manifest["cells"] == counts
    assert "suppression" not in manifest
    audit_doc = json.loads((folder / "audit.json").read_text())
    fields = {"cell", "tables", "lower", "upper", "width", "protected", "interval"}
    assert all(set(c) == fields for c in audit_doc["cells"])  # no status: every audited cell is hidden alike


def test_hidden_figures_read_alike_in_both_reports() -> None:
    from linkhaven.publish.reports import Bar, _plain_sentences, bar_chart

    hidden_text = {size: bar_chart([Bar("In care", None)], "t", "", large=size) for size in (False, True)}
    assert all("hidden to protect privacy" in text for text in hidden_text.values())
    wording = Wording(counted="students", counted_one="student", period_name="school year")
    sentences = " ".join(_plain_sentences(wording, "count", "Students in care", "All students", "2022-23", None, 900.0))
    assert "We do not show the number for students in care this school year." in sentences
    assert "There were 900 students in all." in sentences and "any one student." in sentences
    alone = _plain_sentences(Wording(), "count", "All persons", "All persons", None, 1973.0, 1973.0)
    assert alone == ["There were 1,973 persons in all."]  # one group, no period: said once, with no year
    assert "small" not in sentences and "few" not in sentences  # a hidden figure is not said to be small


def test_audit_json_is_what_anyone_recomputes_from_the_files(rounded: tuple[Path, Protected, dict[str, Any]]) -> None:
    """The published intervals come from the published (rounded) values, never from the true counts:
    `publish verify` on the files gives back exactly what audit.json says."""
    folder, protected, _ = rounded
    audit_doc = json.loads((folder / "audit.json").read_text())
    result = reaudit(folder)
    assert audit_doc["passed"] and result.passed
    assert audit_doc["hidden_cells_audited"] == int(result.audited.sum()) == int((protected.status != 0).sum())
    index = {key: i for i, key in enumerate(read_publications(folder).system.keys)}
    for cell in audit_doc["cells"]:
        i = index[cell["cell"]]
        assert (cell["lower"], cell["upper"]) == (float(result.lower[i]), float(result.upper[i])), cell["cell"]


def test_a_panel_repeating_a_person_year_is_refused(spec: ProjectSpec, panel: pa.Table, tmp_path: Path) -> None:
    doubled = pa.concat_tables([panel, panel.slice(0, 1)])
    with pytest.raises(InputError, match="repeating a person"):
        publish_panel(doubled, spec, tmp_path / "x")


def test_cli_lists_publications_as_json(env: Env) -> None:
    result = env.as_user("analyst", "publish", "list", "--json")
    assert result.code == 0, result.err
    assert result.json() == []
    refused = env.as_user("analyst", "publish", "--release", "R0001")
    assert refused.code == 3  # only the deidentifier publishes


def test_publish_release_writes_registers_and_ledgers(
    env: Env, spec: ProjectSpec, panel: pa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workspace path, with the release read replaced by the rehearsal panel (the release stage is tested
    in test_deid_release.py): folder, register, ledger, audit event, and a second publication audited with
    the first."""
    import linkhaven.spec
    from linkhaven.publish import publication

    monkeypatch.setattr(linkhaven.spec, "load_spec", lambda path: spec)
    reads: list[str] = []

    def fake_open(ws: object, release_id: str, act: object) -> tuple[pa.Table, dict[str, object]]:
        reads.append(release_id)
        return panel, {"release_id": release_id}

    monkeypatch.setattr(publication, "_open_approved_release", fake_open)
    first = env.as_user("deidentifier", "publish", "--release", "R0001", "--json")
    assert first.code == 0, first.err
    second = env.as_user("deidentifier", "publish", "--release", "R0001", "--json")
    assert second.code == 0, second.err
    listed = env.as_user("analyst", "publish", "list", "--json").json()
    assert isinstance(listed, list) and [p["id"] for p in listed] == ["pub-0001", "pub-0002"]
    folders = [Path(p["folder"]) for p in listed]
    assert all((f / "tables" / "students-by-gender.csv").exists() for f in folders)
    manifest = json.loads((folders[1] / "manifest.json").read_text())
    assert manifest["earlier_publications"] == ["pub-0001"] and manifest["audit"]["passed"]
    assert reaudit(folders[1], [folders[0]]).passed
    events = env.as_user("privacy_officer", "audit", "show", "--json").json()
    assert isinstance(events, list)
    runs = [e for e in events if e["action"] == "publish.run"]
    assert [e["outcome"] for e in runs] == ["ok", "ok"] and runs[0]["detail"]["audit_passed"] is True
    assert reads == ["R0001", "R0001"]


def test_a_publication_records_the_audit_log_head_and_tells_the_officer_alone_what_hid_its_cells(
    env: Env, spec: ProjectSpec, panel: pa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The release read is replaced by the rehearsal panel, as above; everything else is the workspace path."""
    import linkhaven.spec
    from linkhaven.publish import publication

    monkeypatch.setattr(linkhaven.spec, "load_spec", lambda path: spec)
    monkeypatch.setattr(publication, "_open_approved_release", lambda ws, rid, act: (panel, {"release_id": rid}))
    result = env.as_user("deidentifier", "publish", "--release", "R0001")
    assert result.code == 0, result.err
    (listed,) = env.as_user("analyst", "publish", "list", "--json").json()  # type: ignore[misc]
    assert f"{listed['cells_primary']} hidden by the rules, {listed['cells_secondary']} hidden as complements" in (
        result.out.replace("\n", " ")
    )
    assert "For the privacy officer only" in result.out and listed["cells_primary"] > 0
    folder = Path(listed["folder"])
    manifest = json.loads((folder / "manifest.json").read_text())
    events = env.as_user("privacy_officer", "audit", "show", "--limit", "500", "--json").json()
    assert isinstance(events, list)
    (run,) = [e for e in events if e["action"] == "publish.run"]
    with closing(sqlite3.connect(env.workspace / "linkhaven.db")) as db:
        chain = dict(db.execute("SELECT seq, hash FROM audit_events").fetchall())
    head = manifest["audit_log_head"]
    assert head == {"seq": run["seq"] - 1, "hash": chain[run["seq"] - 1]}  # the last event before its own
    assert f"event {head['seq']}, hash <code>{head['hash']}</code>" in (folder / "report.html").read_text()


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_property_random_panels_publish_no_small_count_and_rates_follow_counts(
    data: st.DataObject, spec: ProjectSpec, tmp_path: Path
) -> None:
    assert spec.indicators is not None
    indicators = spec.indicators.model_copy(
        update={
            "breakdowns": {"gender": spec.indicators.breakdowns["gender"]},
            "measures": tuple(
                m.model_copy(update={"breakdowns": None})
                for m in spec.indicators.measures
                if m.id in {"students", "osslt"}
            ),
        }
    )
    tiny = spec.model_copy(update={"indicators": indicators})
    n = data.draw(st.integers(20, 400))
    statuses = data.draw(st.lists(st.sampled_from(indicators.status.leaves), min_size=n, max_size=n))
    genders = data.draw(st.lists(st.sampled_from(["F", "M", "X"]), min_size=n, max_size=n))
    results = data.draw(st.lists(st.sampled_from(["successful", "unsuccessful", None]), min_size=n, max_size=n))
    panel = pa.table(
        {
            "person_id": list(range(n)),
            "school_year": ["2022-23"] * n,
            "care_status": statuses,
            "gender": genders,
            "osslt": results,
        }
    )
    folder = tmp_path / f"p{data.draw(st.integers(0, 10**9))}"
    protected, _ = publish_panel(panel, tiny, folder)
    for table in ("students-by-gender", "osslt-by-gender"):
        groups: dict[tuple[str, ...], dict[str, dict[str, str]]] = {}
        for line in rows(folder, table):
            if line["cell"] and line["status"] == "published":
                assert float(line["value"]) == 0 or float(line["value"]) >= MIN
            groups.setdefault((line["care_status"], line["gender"]), {})[line["statistic"]] = line
        for group in groups.values():
            rate = group.get("percent_meeting")
            if rate is not None and rate["status"] == "published":
                expected = 100 * float(group["meeting"]["value"]) / float(group["students"]["value"])
                assert float(rate["value"]) == pytest.approx(expected, abs=0.05)
    assert reaudit(folder).passed


def test_the_young_readers_report_is_about_the_narrowest_reported_group_holding_in_care(spec: ProjectSpec) -> None:
    from linkhaven.publish.reports import _focus

    indicators = spec.indicators
    assert indicators is not None
    assert _focus(indicators, {"all", "in_care", "involved", "not_involved"}) == "in_care"
    # A release that grouped the care statuses: the report speaks of "involved", not of a hidden group.
    assert _focus(indicators, {"all", "involved", "not_involved"}) == "involved"


def test_a_generalised_breakdown_tabulates_its_groups_and_claims_no_zero_for_a_listed_code(
    spec: ProjectSpec, panel: pa.Table
) -> None:
    from linkhaven.publish.indicators import compute

    assert spec.indicators is not None
    societies = sorted(spec.code_lists["society"])
    # The release gave societies by region: a listed society absent from it may be inside a region.
    regions = pa.array([None if s is None else f"region-{int(s[3:]) % 3}" for s in panel.column("society").to_pylist()])
    grouped = panel.set_column(panel.schema.get_field_index("society"), "society", regions)
    codes = {c: list(v) for c, v in spec.code_lists.items()}
    tabulated = {row.code for t in compute(grouped, spec.indicators, codes).tables if t.breakdown == "society"
                 for row in t.rows}  # fmt: skip
    assert not tabulated & set(societies)
    assert {"region-0", "region-1", "region-2"} <= tabulated
    # As collected, every listed society has its row, zero or not.
    as_collected = {row.code for t in compute(panel, spec.indicators, codes).tables if t.breakdown == "society"
                    for row in t.rows}  # fmt: skip
    assert set(societies) <= as_collected
