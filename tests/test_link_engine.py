"""The linkage engine on small synthetic extracts with crafted records (no workspace)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from linkhaven.link import Decision, LinkConfig, SourceInput, evaluate, link
from linkhaven.link.engine import EngineResult, one_to_one
from linkhaven.link.model import foreign_strings
from linkhaven.spec import load_spec
from linkhaven.synth.generate import generate
from tests.conftest import SPEC
from tests.linkdata import append_cpin, crafted_csv_rows, spine_people, synth_inputs

SCALE, SEED = 0.002, 31
CONFIG = LinkConfig.from_spec(load_spec(SPEC))


@dataclass
class Linked:
    directory: Path
    inputs: dict[str, SourceInput]
    people: list[dict[str, str]]
    result: EngineResult
    codes: dict[str, str]
    """Record code by crafted case, plus `duplicate` and `original` (a CPIN record and its copy)."""

    def key(self, code: str) -> str:
        return str(self.row(code)["person_key"])

    def row(self, code: str) -> dict[str, Any]:
        found = self.result.map.filter(pc.equal(self.result.map.column("record_code"), code)).to_pylist()
        assert len(found) == 1
        return found[0]

    def spine_key(self, oen: str) -> str:
        onsis = self.inputs["onsis"].identity
        code = onsis.filter(pc.equal(onsis.column("oen"), oen)).column("record_code")[0].as_py()
        return self.key(code)


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> Linked:
    directory = tmp_path_factory.mktemp("synth")
    generate(directory, SCALE, SEED)
    inputs = synth_inputs(directory)
    people = spine_people(directory)
    rows = crafted_csv_rows(people)
    # a duplicate client: an existing CPIN episode registered again under a new person id
    cpin = inputs["cpin"].identity.to_pylist()
    original = next(r for r in cpin if r["oen"] is None and r["postal_code"] is not None)
    rows.append({"EPISODE_ID": "E999999999", "PERSON_ID": "P99999999", "FIRST_NAME": original["given_name"],
                 "LAST_NAME": original["family_name"], "BIRTH_DATE": original["birth_date"].isoformat(),
                 "POSTAL_CODE": original["postal_code"], "OEN": "", "GENDER_IDENTITY": "not_disclosed",
                 **{k: v for k, v in rows[0].items() if k not in {"EPISODE_ID", "PERSON_ID", "FIRST_NAME", "LAST_NAME",
                                                                   "BIRTH_DATE", "POSTAL_CODE", "OEN",
                                                                   "GENDER_IDENTITY"}}})  # fmt: skip
    inputs["cpin"] = append_cpin(inputs["cpin"], rows)
    ids = inputs["cpin"].identity
    episodes, record_codes = ids.column("source_record_id").to_pylist(), ids.column("record_code").to_pylist()
    by_episode = dict(zip(episodes, record_codes, strict=True))
    from tests.linkdata import crafted_episode_ids

    codes = {case: by_episode[episode] for case, episode in crafted_episode_ids(people).items()}
    codes["duplicate"] = by_episode["E999999999"]
    codes["original"] = original["record_code"]
    result = link(inputs, CONFIG, tmp_path_factory.mktemp("scratch"))
    return Linked(directory, inputs, people, result, codes)


def test_every_record_is_in_the_map_once_with_a_random_key(linked: Linked) -> None:
    m = linked.result.map
    total = sum(s.identity.num_rows for s in linked.inputs.values())
    assert m.num_rows == total == pc.count_distinct(m.column("record_code")).as_py()
    keys = m.column("person_key").to_pylist()
    assert all(len(k) == 32 and int(k, 16) >= 0 for k in keys)
    oens = set(linked.inputs["onsis"].identity.column("oen").to_pylist())
    assert not oens & set(keys)
    assert set(m.column("method").to_pylist()) <= {"deterministic", "probabilistic", "clerical", "unlinked"}


def test_shared_oen_that_disagrees_is_flagged_not_linked(linked: Linked) -> None:
    conflict = linked.codes["conflict"]
    assert linked.key(conflict) != linked.spine_key(linked.people[0]["oen"])
    flagged = [r for r in linked.result.review if r.left_code == conflict]
    assert [r.queue_reason for r in flagged] == ["identifier_conflict"]
    assert linked.result.stats["deterministic"]["cpin"]["conflicts_flagged"] >= 1


def test_shared_oen_that_agrees_links_deterministically(linked: Linked) -> None:
    cpin, det = linked.inputs["cpin"].identity, linked.result.stats["deterministic"]["cpin"]
    crafted = set(linked.codes.values())
    with_oen = [r for r in cpin.to_pylist() if r["oen"] and r["record_code"] not in crafted]
    assert det["linked"] >= 0.8 * len(with_oen)
    linked_rows = [linked.row(r["record_code"]) for r in with_oen]
    assert sum(r["method"] == "deterministic" for r in linked_rows) == det["linked"]
    assert all(r["match_probability"] == 1.0 for r in linked_rows if r["method"] == "deterministic")


def test_swapped_names_link_to_the_spine_person(linked: Linked) -> None:
    row = linked.row(linked.codes["swap"])
    assert row["method"] == "probabilistic" and row["match_probability"] >= 0.95
    assert row["person_key"] == linked.spine_key(linked.people[1]["oen"])


def test_accents_case_and_compound_family_name_link(linked: Linked) -> None:
    row = linked.row(linked.codes["accent"])
    assert row["method"] == "probabilistic"
    assert row["person_key"] == linked.spine_key(linked.people[3]["oen"])


def test_one_to_one_keeps_the_look_alike_off_the_spine_person(linked: Linked) -> None:
    spine = linked.spine_key(linked.people[2]["oen"])
    assert linked.key(linked.codes["twin_a"]) == spine
    assert linked.key(linked.codes["twin_b"]) != spine


def test_cpin_duplicate_person_ids_are_clustered(linked: Linked) -> None:
    assert linked.key(linked.codes["duplicate"]) == linked.key(linked.codes["original"])
    assert linked.result.stats["clusters"]["cpin"]["duplicate_edges"] >= 1


def test_one_to_one_assignment_is_greedy_and_exclusive() -> None:
    con = duckdb.connect()
    con.register(
        "cands",
        pa.table({
            "cluster": ["c1", "c1", "c2", "c2", "c3"],
            "spine_id": ["s1", "s2", "s1", "s2", "s1"],
            "p": [0.99, 0.96, 0.98, 0.97, 0.999],
            "det": [False, False, False, False, False],
        }),
    )  # fmt: skip
    one_to_one(con, "cands", "chosen", 0.95)
    chosen = dict(con.execute("SELECT cluster, spine_id FROM chosen").fetchall())
    assert chosen == {"c3": "s1", "c2": "s2"}  # c1 loses both: s1 to c3, then s2 to c2 (0.97 > 0.96)


def test_quality_against_truth(linked: Linked) -> None:
    result = evaluate(linked.result.map, linked.inputs, linked.directory / "truth.csv", config=CONFIG)
    pairs = result["pairs"]
    assert pairs["eqao~onsis"]["precision"] >= 0.999 and pairs["eqao~onsis"]["recall"] >= 0.999
    assert pairs["cpin~onsis"]["precision"] >= 0.99 and pairs["cpin~onsis"]["recall"] >= 0.97
    assert pairs["cpin~cpin"]["recall"] >= 0.9
    for figures in pairs.values():
        assert figures["tp"] + figures["fn"] == figures["true_pairs"]
    assert result["clusters"]["bcubed_f1"] > 0.99
    assert {"gender", "age", "society", "indigenous_serving_society", "region"} <= set(
        result["subgroup_recall"]["cpin~onsis"]
    )


def test_report_figures_by_source_year_and_subgroup(linked: Linked) -> None:
    stats = linked.result.stats
    assert stats["link_rates"]["eqao"]["link_rate"] > 0.99
    cpin = stats["subgroups"]["cpin"]
    assert {"school_year", "gender", "age", "society", "indigenous_serving_society", "region"} <= set(cpin)
    assert {r["value"] for r in cpin["indigenous_serving_society"]} <= {"yes", "no", "(missing)"}
    assert sum(r["records"] for r in cpin["society"]) == stats["link_rates"]["cpin"]["records"]
    assert stats["match_weight_histogram"]["cpin"]
    assert 0.9 <= (stats["model_estimates"]["cpin~onsis"]["estimated_precision"] or 0) <= 1


def test_models_hold_parameters_only(linked: Linked) -> None:
    assert set(linked.result.models) == {"cpin~onsis", "eqao~onsis"}
    for model in linked.result.models.values():
        assert foreign_strings(model, CONFIG) == []
    names = set(linked.inputs["cpin"].identity.column("family_name").to_pylist())
    text = str(linked.result.models) + str(linked.result.charts)
    assert not any(n and len(n) > 4 and f"'{n}'" in text for n in names)


def test_rerun_keeps_person_keys_and_applies_decisions(linked: Linked, tmp_path: Path) -> None:
    conflict = linked.codes["conflict"]
    right = next(r.right_code for r in linked.result.review if r.left_code == conflict)
    again = link(
        linked.inputs, CONFIG, tmp_path, previous_map=linked.result.map,
        decisions=[Decision(conflict, right, "match", None)],
    )  # fmt: skip
    before = dict(zip(linked.result.map.column("record_code").to_pylist(),
                      linked.result.map.column("person_key").to_pylist(), strict=True))  # fmt: skip
    after = {r["record_code"]: r for r in again.map.to_pylist()}
    changed = [after[c] for c in before if c != conflict and after[c]["person_key"] != before[c]]
    assert changed == []
    assert after[conflict]["person_key"] == before[right] and after[conflict]["method"] == "clerical"


def test_tiny_sources_still_link(linked: Linked, tmp_path: Path) -> None:
    """Two CPIN records and three EQAO records: no exact pair for the prior, too few labels and
    pairs for EM; the run falls back to default m values instead of failing."""
    cpin, eqao = linked.inputs["cpin"], linked.inputs["eqao"]
    inputs = {
        "onsis": linked.inputs["onsis"],
        "eqao": SourceInput("eqao", eqao.identity_table().slice(0, 3), eqao.content_table().slice(0, 3)),
        "cpin": SourceInput("cpin", cpin.identity_table().slice(0, 2), cpin.content_table().slice(0, 2)),
    }
    result = link(inputs, CONFIG, tmp_path)
    assert result.map.num_rows == sum(s.identity_table().num_rows for s in inputs.values())
    assert result.stats["models"]["cpin~onsis"]["probability_two_random_records_match"] < 0.01
