"""The link stage through the CLI on a real workspace: run, report, evaluate, review, audit, rerun."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from linkhaven.cli import run
from linkhaven.link import current_map
from linkhaven.schema import link_review_pairs, linkage_map_versions, linkage_models, linkage_runs
from linkhaven.synth.generate import generate
from linkhaven.workspace import Workspace
from tests.conftest import SPEC, Cli
from tests.linkdata import crafted_csv_rows, spine_people
from tests.served import client_config, stop_serving

ROLES = ["steward", "linker", "privacy_officer", "analyst"]


@dataclass
class Base:
    root: Path
    extracts: Path
    workspace: Path
    keys: Path
    people: list[dict[str, str]]
    run: dict[str, Any]


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run(user: str, *args: str) -> str:
    out = io.StringIO()
    config = client_config(user, list(args))
    with _env(LINKHAVEN_USER=user, LINKHAVEN_CONFIG=str(config)), contextlib.redirect_stdout(out):
        code = run(list(args))
    assert code == 0, (args, out.getvalue())
    return out.getvalue()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Base]:
    root = tmp_path_factory.mktemp("linkws")
    extracts, workspace, keys = root / "extracts", root / "ws", root / "keys"
    generate(extracts, 0.002, 41)
    people = spine_people(extracts)
    with open(extracts / "cpin.csv", encoding="cp1252") as handle:
        header = next(csv.reader(handle))
    with open(extracts / "cpin.csv", "a", newline="", encoding="cp1252") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        for row in crafted_csv_rows(people):
            writer.writerow(row)
    with _env(LINKHAVEN_KEYS=str(keys)):
        _run("admin", "init", str(workspace), "--spec", str(SPEC), "--keys", str(keys))
        w = ["-w", str(workspace)]
        for role in ROLES:
            _run("admin", *w, "user", "add", role, "--role", role)
        _run("privacy_officer", *w, "notice", "publish", "--date", "2025-07-11")
        sources = ["--source", "onsis", "--source", "eqao", "--source", "cpin"]
        _run("privacy_officer", *w, "agreement", "add", "--name", "all", "--party", "EDU", "--party", "MCCSS",
             *sources, "--from", "2024-01-01", "--to", "2099-12-31")  # fmt: skip
        for kind in ("pia", "tra"):
            _run("privacy_officer", *w, "assessment", "add", "--kind", kind, "--title", kind, "--date", "2025-01-01")
        for source in ("onsis", "eqao", "cpin"):
            _run("steward", *w, "intake", "--source", source, str(extracts / f"{source}.csv"), "--json")
        result = json.loads(_run("linker", *w, "link", "--json"))
    try:
        yield Base(root, extracts, workspace, keys, people, result)
    finally:
        stop_serving(workspace)


@pytest.fixture()
def copy(base: Base, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Base:
    """A private copy of the linked workspace (and its keys) for tests that change it."""
    workspace, keys = tmp_path / "ws", tmp_path / "keys"
    shutil.copytree(base.workspace, workspace)
    shutil.copytree(base.keys, keys)
    monkeypatch.setenv("LINKHAVEN_KEYS", str(keys))
    return Base(base.root, base.extracts, workspace, keys, base.people, base.run)


@pytest.fixture()
def on(base: Base, monkeypatch: pytest.MonkeyPatch) -> Base:
    monkeypatch.setenv("LINKHAVEN_KEYS", str(base.keys))
    monkeypatch.delenv("LINKHAVEN_WORKSPACE", raising=False)
    return base


def cli_json(cli: Cli, user: str, ws: Path, *args: str) -> Any:
    result = cli(user, "-w", str(ws), *args)
    assert result.code == 0, result.err
    return json.loads(result.out)


def conflict_pair(cli: Cli, ws: Path) -> dict[str, Any]:
    """The pending pair of the crafted record that shares a spine OEN but is someone else."""
    for pair in cli_json(cli, "linker", ws, "link", "review", "list", "--json"):
        shown = cli_json(cli, "linker", ws, "link", "review", "show", str(pair["id"]), "--json")
        if any(f["field"] == "given_name" and f["left"] == "Zebulon" for f in shown["fields"]):
            return dict(shown)
    raise AssertionError("the crafted OEN conflict is not in the review queue")


def personal_values(base: Base) -> list[str]:
    """Identifier values of the crafted records and their spine persons (to look for leaks)."""
    values = ["Zebulon", "Xanthippe", "Xenophon"]
    for p in base.people[:4]:
        values += [p["oen"], p["postal_code"].replace(" ", ""), p["birth_date"]]
    return values


def test_run_writes_map_report_and_register(on: Base) -> None:
    result = on.run
    assert result["run_id"] == "L0001" and result["map_version"] == 1
    assert result["link_rates"]["eqao"] > 0.99 and result["review_pending"] >= 1
    report = json.loads(Path(result["report_json"]).read_text())
    assert {"gender", "age", "society", "indigenous_serving_society", "region", "school_year"} <= set(
        report["subgroups"]["cpin"]
    )
    assert {"school_year", "assessment"} <= set(report["subgroups"]["eqao"])
    page = Path(result["report_html"]).read_text()
    assert "<script src" not in page and "cdn.jsdelivr" not in page
    assert "vegaEmbed" in page and "indigenous serving society" in page
    for value in personal_values(on):
        assert value not in page and value not in json.dumps(report)
    ws = Workspace.open(on.workspace)
    with ws.engine.connect() as conn:
        registered = conn.execute(select(linkage_runs)).mappings().one()
        models = conn.execute(select(linkage_models.c.pair)).scalars().all()
    assert registered["status"] == "current" and registered["map_version"] == 1
    assert json.loads(registered["counts"])["records"] == result["records"]
    assert set(json.loads(registered["blocking_rules"])) == {"cpin~onsis", "eqao~onsis"}
    assert sorted(models) == ["cpin~onsis", "eqao~onsis"]
    linkage_map = current_map(ws)
    assert (linkage_map.schema.metadata or {})[b"run_id"] == b"L0001"
    assert linkage_map.column_names == ["record_code", "source", "person_key", "method", "match_probability"]


def test_evaluate_prints_the_pairs_contract(on: Base, cli: Cli) -> None:
    truth = str(on.extracts / "truth.csv")
    result = cli_json(cli, "linker", on.workspace, "link", "evaluate", "--truth", truth, "--json")
    assert set(result["pairs"]) == {"cpin~onsis", "eqao~onsis", "cpin~cpin", "onsis~onsis"}
    for figures in result["pairs"].values():
        assert {"precision", "recall", "f1", "tp", "fp", "fn"} <= set(figures)
    assert result["pairs"]["eqao~onsis"]["recall"] >= 0.999
    assert result["pairs"]["cpin~onsis"]["precision"] >= 0.99
    assert "bcubed_f1" in result["clusters"] and "cpin~onsis" in result["subgroup_recall"]


@pytest.mark.parametrize("user", ["privacy_officer", "analyst", "steward"])
def test_only_the_linker_sees_review_pairs(on: Base, cli: Cli, user: str) -> None:
    ws = str(on.workspace)
    assert cli(user, "-w", ws, "link", "review", "show", "1").code == 3
    assert cli(user, "-w", ws, "link", "review", "list").code == 3
    assert cli(user, "-w", ws, "link", "review", "decide", "1", "--decision", "match", "--reason",
               "same_person_other").code == 3  # fmt: skip
    assert cli(user, "-w", ws, "link", "evaluate", "--truth", str(on.extracts / "truth.csv")).code == 3
    events = cli_json(cli, "admin", on.workspace, "audit", "show", "--json")
    denied = [e for e in events if e["actor"] == user and e["outcome"] == "denied"]
    assert {e["action"] for e in denied} >= {"link.review", "link.evaluate"}


def test_review_shows_both_records_to_the_linker(on: Base, cli: Cli) -> None:
    shown = conflict_pair(cli, on.workspace)
    fields = {f["field"]: f for f in shown["fields"]}
    assert shown["queue_reason"] == "identifier_conflict" and shown["status"] == "pending"
    assert fields["oen"]["left"] == fields["oen"]["right"] == on.people[0]["oen"]
    assert fields["given_name"]["comparison"] == "differs"
    assert fields["family_name"]["comparison"] == "exact"
    assert shown["persons"]["left"] == {"cpin": 1} and shown["persons"]["same_person_now"] is False


def test_a_clerical_match_writes_a_new_map_version_and_is_audited(copy: Base, cli: Cli) -> None:
    ws_path = copy.workspace
    pair = conflict_pair(cli, ws_path)
    refused = cli("linker", "-w", str(ws_path), "link", "review", "decide", str(pair["id"]), "--decision", "match",
                  "--reason", "because I said so")  # fmt: skip
    assert refused.code == 1 and "reason" in refused.err
    done = cli_json(cli, "linker", ws_path, "link", "review", "decide", str(pair["id"]), "--decision", "match",
                    "--reason", "same_person_birth_date_error", "--json")  # fmt: skip
    assert done["map_version"] == 2 and done["records_moved"] == 1
    ws = Workspace.open(ws_path)
    linkage_map = {r["record_code"]: r for r in current_map(ws).to_pylist()}
    with ws.engine.connect() as conn:
        row = conn.execute(select(link_review_pairs).where(link_review_pairs.c.id == pair["id"])).mappings().one()
        versions = conn.execute(select(linkage_map_versions.c.version, linkage_map_versions.c.reason)).all()
        run_row = conn.execute(select(linkage_runs)).mappings().one()
    left, right = linkage_map[row["left_code"]], linkage_map[row["right_code"]]
    assert left["person_key"] == right["person_key"] and left["method"] == "clerical"
    assert row["status"] == "decided" and row["decision"] == "match" and row["decided_by"] == "linker"
    assert sorted(versions) == [(1, "run"), (2, "clerical")]
    assert run_row["map_version"] == 2 and run_row["clerical_matches"] == 1 and run_row["review_decided"] == 1
    events = cli_json(cli, "admin", ws_path, "audit", "show", "--limit", "1000", "--json")
    decided = [e for e in events if e["action"] == "link.review" and e["detail"].get("decision") == "match"]
    assert decided and decided[-1]["detail"]["reason"] == "same_person_birth_date_error"
    assert decided[-1]["detail"]["map_version"] == 2 and decided[-1]["actor"] == "linker"
    text = json.dumps(events)
    for value in personal_values(copy):
        assert value not in text
    again = cli("linker", "-w", str(ws_path), "link", "review", "decide", str(pair["id"]), "--decision", "non_match",
                "--reason", "different_person")  # fmt: skip
    assert again.code == 1 and "already decided" in again.err
    assert cli("admin", "-w", str(ws_path), "audit", "verify").code == 0


def test_rerun_carries_decisions_and_keeps_person_keys(copy: Base, cli: Cli) -> None:
    ws_path = copy.workspace
    pair = conflict_pair(cli, ws_path)
    cli_json(cli, "linker", ws_path, "link", "review", "decide", str(pair["id"]), "--decision", "non_match",
             "--reason", "twin_or_sibling", "--json")  # fmt: skip
    ws = Workspace.open(ws_path)
    before = {r["record_code"]: r["person_key"] for r in current_map(ws).to_pylist()}
    second = cli_json(cli, "linker", ws_path, "link", "--json")
    assert second["run_id"] == "L0002" and second["review_carried"] >= 1
    after = {r["record_code"]: r["person_key"] for r in current_map(ws).to_pylist()}
    assert after == before
    with ws.engine.connect() as conn:
        carried = (
            conn.execute(
                select(link_review_pairs).where(
                    link_review_pairs.c.run_id == "L0002", link_review_pairs.c.status == "decided"
                )
            )
            .mappings()
            .all()
        )
        runs = dict(conn.execute(select(linkage_runs.c.id, linkage_runs.c.status)).all())
    assert any(r["carried_from"] == pair["id"] and r["decision"] == "non_match" for r in carried)
    assert runs == {"L0001": "superseded", "L0002": "current"}


def test_the_privacy_officer_reads_the_report_only(on: Base, cli: Cli) -> None:
    report = cli_json(cli, "privacy_officer", on.workspace, "link", "report", "--json")
    assert report["run"]["id"] == "L0001" and "subgroups" in report
    assert cli("analyst", "-w", str(on.workspace), "link", "report").code == 3
    assert cli("privacy_officer", "-w", str(on.workspace), "link").code == 3


def test_the_store_holds_no_personal_value(on: Base) -> None:
    ws = Workspace.open(on.workspace)
    with ws.engine.connect() as conn:
        dumped = json.dumps([
            [dict(r) for r in conn.execute(select(table)).mappings()]
            for table in (linkage_runs, linkage_map_versions, linkage_models, link_review_pairs)
        ], default=str)  # fmt: skip
    for value in personal_values(on):
        assert value not in dumped
