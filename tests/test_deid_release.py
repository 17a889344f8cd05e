"""Releases in a real workspace: create, the approval/grant/read/revoke gates, the interface, disclosures."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from linkhaven import deid
from linkhaven.cli import run
from linkhaven.intake import current_deliveries
from linkhaven.synth import generate
from linkhaven.workspace import Workspace
from tests.conftest import SPEC
from tests.served import client_config, stop_serving

ROLES = ["steward", "linker", "deidentifier", "privacy_officer", "analyst"]
SECTION = "analyst_panel"


@dataclass
class World:
    root: Path
    workspace: Path
    keys: Path
    linkage_map: pa.Table
    extracts: Path

    def cli(self, user: str, *args: object, capsys: pytest.CaptureFixture[str] | None = None) -> tuple[int, str]:
        arguments = ["-w", str(self.workspace), *(str(a) for a in args)]
        os.environ["LINKHAVEN_USER"] = user
        os.environ["LINKHAVEN_CONFIG"] = str(client_config(user, arguments))
        if capsys is not None:
            capsys.readouterr()
        code = run(arguments)
        out = capsys.readouterr().out if capsys is not None else ""
        return code, out

    def ws(self) -> Workspace:
        return Workspace.open(self.workspace, self.keys)


def _as(user: str) -> None:
    os.environ["LINKHAVEN_USER"] = user


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A workspace with a small synthetic province taken in, and the true linkage map (linkage is not run here)."""
    names = ("LINKHAVEN_USER", "LINKHAVEN_KEYS", "LINKHAVEN_WORKSPACE", "LINKHAVEN_CONFIG")
    saved = {k: os.environ.get(k) for k in names}
    for key in ("LINKHAVEN_KEYS", "LINKHAVEN_WORKSPACE"):
        os.environ.pop(key, None)
    root = tmp_path_factory.mktemp("deid")
    extracts = root / "extracts"
    generate(extracts, 0.001, 5)
    world = World(root, root / "ws", root / "keys", pa.table({}), extracts)
    _as("admin")
    assert run(["init", str(world.workspace), "--spec", str(SPEC), "--keys", str(world.keys)]) == 0
    for role in ROLES:
        assert world.cli("admin", "user", "add", role, "--role", role)[0] == 0
    for kind in ("pia", "tra"):
        assert world.cli("privacy_officer", "assessment", "add", "--kind", kind, "--title", kind, "--date",
                         "2024-06-01")[0] == 0  # fmt: skip
    assert world.cli("privacy_officer", "notice", "publish", "--date", "2025-07-11")[0] == 0
    assert world.cli("privacy_officer", "agreement", "add", "--name", "collection", "--party", "EDU", "--party",
                     "MCCSS", "--source", "onsis", "--source", "eqao", "--source", "cpin", "--from", "2024-01-01",
                     "--to", "2099-12-31")[0] == 0  # fmt: skip
    for source in ("onsis", "eqao", "cpin"):
        assert world.cli("steward", "intake", "--source", source, extracts / f"{source}.csv")[0] == 0
    world.linkage_map = _true_map(world)
    try:
        yield world
    finally:
        stop_serving(world.workspace)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _true_map(world: World) -> pa.Table:
    types = {"record_id": pa.string(), "person_id": pa.string(), "source": pa.string()}
    truth = pacsv.read_csv(world.extracts / "truth.csv", convert_options=pacsv.ConvertOptions(column_types=types))
    ws = world.ws()
    con = duckdb.connect()
    con.register("truth", truth)
    parts = []
    for source in ("onsis", "eqao", "cpin"):
        for delivery in current_deliveries(ws, source):
            con.register("ids", ws.zone("identity").read(delivery.identity_table))
            parts.append(con.execute(
                f"""SELECT i.record_code, '{source}' AS source, t.person_id AS person_key,
                CASE WHEN hash(i.record_code) % 10 = 0 THEN 'probabilistic' ELSE 'deterministic' END AS method,
                CASE WHEN hash(i.record_code) % 10 = 0 THEN 0.97 END::DOUBLE AS match_probability
                FROM ids i JOIN truth t ON t.record_id = i.source_record_id AND t.source = '{source}'"""
            ).to_arrow_table())  # fmt: skip
    return pa.concat_tables(parts)


def _create(world: World) -> deid.ReleaseInfo:
    _as("deidentifier")
    return deid.create_release(world.ws(), SECTION, linkage_map=world.linkage_map)


def _disclosure_agreement(world: World) -> None:
    code, _ = world.cli("privacy_officer", "agreement", "add", "--kind", "disclosure", "--name", "analyst DSA",
                        "--party", "division_analysts", "--party", "MCCSS IMDIU", "--source", "onsis", "--source",
                        "eqao", "--source", "cpin", "--class", "deidentified", "--from", "2024-01-01",
                        "--to", "2099-12-31")  # fmt: skip
    assert code == 0


def _audit(world: World, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    code, out = world.cli("privacy_officer", "audit", "show", "--limit", "100000", "--json", capsys=capsys)
    assert code == 0
    events = json.loads(out)
    assert isinstance(events, list)
    return events


def _identity_values(world: World) -> set[str]:
    ws = world.ws()
    values: set[str] = set()
    for source in ("onsis", "eqao", "cpin"):
        for delivery in current_deliveries(ws, source):
            table = ws.zone("identity").read(delivery.identity_table)
            for column in ("record_code", "source_record_id", "oen", "given_name", "family_name", "postal_code"):
                if column in table.column_names:
                    values |= {str(v) for v in table.column(column).to_pylist() if v}
            values |= {str(v) for v in table.column("birth_date").to_pylist() if v}
    return values


def test_release_lifecycle_and_interface(world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    info = _create(world)
    assert info.status == "created"
    code, out = world.cli("deidentifier", "release", "show", info.id, "--json", capsys=capsys)
    shown = json.loads(out)
    assert code == 0 and shown["status"] == "created"
    assert all(Path(p).exists() for p in shown["data_files"]) and shown["data_files"][0].endswith(".lhz")
    report = json.loads(Path(shown["report_json"]).read_text())
    assert report["quasi_identifier_columns"] == shown["quasi_identifiers"] and "age" in shown["quasi_identifiers"]
    assert report["sensitive_columns"] == shown["sensitive"] == ["legal_status", "placement_type", "race", "ht_risk"]
    assert report["threshold"]["risk_threshold"] == shown["threshold"] == 0.05
    assert report["meets_threshold"] and report["risk_after"]["overall_risk"] <= 0.05
    assert report["risk_before"]["overall_risk"] > 0.05  # the raw panel would not have passed
    for key in ("report_html", "dictionary", "manifest"):
        assert Path(shown[key]).exists()
    manifest = json.loads(Path(shown["manifest"]).read_text())
    assert manifest["outputs"]["data"]["sha256_encrypted"] and manifest["inputs"]["deliveries"]["onsis"]

    out_file = tmp_path / "copy.parquet"
    code, _ = world.cli("analyst", "release", "read", info.id, "--out", out_file)
    assert code == 4 and not out_file.exists()  # not approved yet
    code, _ = world.cli("privacy_officer", "release", "grant", info.id, "--user", "analyst")
    assert code == 4  # only an approved release is granted
    code, _ = world.cli("privacy_officer", "release", "approve", info.id)
    if code == 4:  # no disclosure agreement yet in this module's workspace: the gate refuses, then passes
        _disclosure_agreement(world)
        code, _ = world.cli("privacy_officer", "release", "approve", info.id)
    assert code == 0
    code, _ = world.cli("analyst", "release", "read", info.id, "--out", out_file)
    assert code == 4  # approved but not granted
    assert world.cli("privacy_officer", "release", "grant", info.id, "--user", "analyst")[0] == 0
    assert world.cli("privacy_officer", "release", "grant", info.id, "--user", "steward")[0] == 4  # not an analyst
    code, out = world.cli("analyst", "release", "list", "--json", capsys=capsys)
    assert code == 0 and info.id in [r["id"] for r in json.loads(out)]
    code, out = world.cli("analyst", "release", "read", info.id, "--out", out_file, "--json", capsys=capsys)
    assert code == 0 and json.loads(out)["rows"] == info.rows

    released = pq.read_table(out_file)
    assert released.num_rows == info.rows
    forbidden = {"record_code", "person_key", "oen", "given_name", "family_name", "birth_date", "postal_code",
                 "source_record_id", "source_person_id"}  # fmt: skip
    assert not forbidden & set(released.column_names)
    identity = _identity_values(world)
    for column in released.column_names:
        values = {str(v) for v in released.column(column).to_pylist() if v is not None}
        assert not values & identity, f"{column} carries an identity value"
    con = duckdb.connect()
    con.register("released", released)
    row = con.execute("SELECT count(*) = count(DISTINCT (person_id, school_year)) FROM released").fetchone()
    assert row is not None and row[0]

    assert world.cli("privacy_officer", "release", "revoke", info.id, "--reason", "test")[0] == 0
    assert world.cli("analyst", "release", "read", info.id, "--out", tmp_path / "again.parquet")[0] == 4
    code, out = world.cli("analyst", "release", "list", "--json", capsys=capsys)
    assert info.id not in [r["id"] for r in json.loads(out)]
    events = _audit(world, capsys)
    reads = [e for e in events if e["action"] == "release.read" and e["object"] == f"release:{info.id}"]
    assert [e["outcome"] for e in reads] == ["refused", "refused", "ok", "refused"]


def test_roles_and_gates_refuse_and_are_audited(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    info = _create(world)
    assert world.cli("analyst", "release", "create", "--spec-section", SECTION)[0] == 3
    assert world.cli("deidentifier", "release", "approve", info.id)[0] == 3
    assert world.cli("analyst", "release", "grant", info.id, "--user", "analyst")[0] == 3
    assert world.cli("deidentifier", "release", "revoke", info.id, "--reason", "x")[0] == 3
    assert world.cli("deidentifier", "release", "read", info.id, "--out", world.root / "x.parquet")[0] == 3
    assert world.cli("analyst", "release", "show", info.id)[0] == 4  # not granted: not even its metadata
    # An altered artefact is caught at approval.
    report = Path(world.ws().root / "releases" / info.id / "report.json")
    original = report.read_text()
    report.write_text(original.replace('"meets_threshold": true', '"meets_threshold": false'))
    assert world.cli("privacy_officer", "release", "approve", info.id)[0] == 4
    report.write_text(original)
    events = _audit(world, capsys)
    mine = [e for e in events if str(e["action"]).startswith("release.")]
    assert {"denied", "refused"} <= {str(e["outcome"]) for e in mine}
    text = json.dumps(mine)
    assert not any(value in text for value in list(_identity_values(world))[:500] if len(value) > 5)


def test_two_releases_of_the_same_people_share_no_pseudonym(world: World) -> None:
    first, second = _create(world), _create(world)
    ws = world.ws()
    a = ws.zone("releases").read(first.data_table).column("person_id").to_pylist()
    b = ws.zone("releases").read(second.data_table).column("person_id").to_pylist()
    assert len(set(a)) == first.persons and len(set(b)) == second.persons
    assert not set(a) & set(b)


def test_disclosure_register_gates(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    def disclose(*args: str) -> int:
        return world.cli("privacy_officer", "disclose", "--description", "test", *args)[0]

    assert disclose("--recipient", "nobody", "--basis", "ipc", "--class", "personal") == 4
    assert disclose("--recipient", "mccss", "--basis", "curiosity", "--class", "personal") == 4
    assert disclose("--recipient", "mccss", "--basis", "ipc", "--class", "aggregate") == 4
    assert disclose("--recipient", "mccss", "--basis", "ipc", "--class", "personal") == 4  # no agreement
    assert disclose("--recipient", "mccss", "--basis", "ipc", "--class", "deidentified") == 4  # not allowed to mccss
    assert world.cli("analyst", "disclose", "--description", "x", "--recipient", "mccss", "--basis", "ipc",
                     "--class", "personal")[0] == 3  # fmt: skip
    assert world.cli("privacy_officer", "agreement", "add", "--kind", "disclosure", "--name", "IPC review",
                     "--party", "mccss", "--source", "cpin", "--class", "personal", "--from", "2024-01-01",
                     "--to", "2099-12-31")[0] == 0  # fmt: skip
    assert disclose("--recipient", "mccss", "--basis", "ipc", "--class", "coded") == 4  # class not covered
    assert disclose("--recipient", "mccss", "--basis", "ipc", "--class", "personal", "--rows", "3") == 0
    code, out = world.cli("privacy_officer", "disclosures", "--json", capsys=capsys)
    records = json.loads(out)
    assert code == 0 and [(r["recipient"], r["basis"], r["data_class"]) for r in records] == [
        ("mccss", "ipc", "personal")
    ]
    events = [e for e in _audit(world, capsys) if e["action"] == "disclose"]
    assert [e["outcome"] for e in events].count("refused") == 6 and "denied" in [e["outcome"] for e in events]


def test_nothing_is_left_behind_by_a_refused_create(world: World) -> None:
    ws = world.ws()
    before = sorted(p.name for p in (ws.root / "zones" / "releases").iterdir())
    _as("deidentifier")
    with pytest.raises(Exception, match="no release section"):
        deid.create_release(ws, "no_such_section", linkage_map=world.linkage_map)
    assert sorted(p.name for p in (ws.root / "zones" / "releases").iterdir()) == before
    shutil.rmtree(world.root / "nothing", ignore_errors=True)
