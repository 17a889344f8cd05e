"""The spec's `linkage:` section: refusals with their line numbers, the compiled settings, and
evaluation's "no data"."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from linkhaven.errors import SpecError
from linkhaven.link import LinkConfig, SourceInput, evaluate
from linkhaven.link.evaluate import _metrics
from linkhaven.spec import load_spec
from tests.test_spec import MINIMAL, line_of, write

ROOT = Path(__file__).resolve().parents[1]
ONTARIO = ROOT / "projects" / "ontario-children-in-care.yaml"


def refusal(tmp_path: Path, text: str) -> str:
    with pytest.raises(SpecError) as caught:
        load_spec(write(tmp_path, text))
    return str(caught.value)


def test_a_source_no_linkage_rule_covers_is_refused_with_its_line(tmp_path: Path) -> None:
    text = MINIMAL.replace("  dedupe: [{source: registry}]\n", "")
    message = refusal(tmp_path, text)
    assert f":{line_of(text, '  registry:')}: sources.registry: no linkage rule covers this source" in message


def test_an_ontario_source_left_out_of_every_link_is_refused_with_its_line(tmp_path: Path) -> None:
    text = ONTARIO.read_text(encoding="utf-8")
    broken = text.replace("    - {source: eqao, to: onsis, assignment: best, twin_guard: true}\n", "")
    assert broken != text
    message = refusal(tmp_path, broken)
    assert f":{line_of(broken, '  eqao:')}: sources.eqao: no linkage rule covers this source" in message


def test_a_comparison_on_an_undeclared_field_is_refused_with_its_line(tmp_path: Path) -> None:
    text = MINIMAL.replace("  comparisons: [{field: birth_date}]\n", "  comparisons:\n    - {field: middle_name}\n")
    message = refusal(tmp_path, text)
    line = line_of(text, "{field: middle_name}")
    assert f":{line}: linkage.comparisons.0.field: not an identity field declared under linkage.fields" in message


def test_a_blocking_rule_on_an_unknown_column_is_refused_with_its_line(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "  comparisons: [{field: birth_date}]\n",
        '  comparisons: [{field: birth_date}]\n  blocking:\n    - "l.birth_date = r.birth_date"\n'
        '    - "l.surname = r.surname"\n',
    )
    message = refusal(tmp_path, text)
    assert f":{line_of(text, 'l.surname')}: linkage.blocking.1: names column(s) no declared identity field" in message
    assert "blocking.0" not in message


def test_a_field_the_source_does_not_have_and_an_unknown_check_rule_are_refused(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "  fields: {birth_date: {kind: date}}\n",
        "  fields: {birth_date: {kind: date}, card: {kind: identifier, check: no_such_rule}}\n",
    ).replace("{fields: {birth_date: birth_date}}", "{fields: {birth_date: birth_date, card: card_number}}")
    message = refusal(tmp_path, text)
    assert f":{line_of(text, 'no_such_rule')}: linkage.fields.card.check: no identifier rule of that name" in message
    message = refusal(tmp_path, text.replace("check: no_such_rule", "check: digits_9_luhn"))
    line = line_of(text, "card: card_number")
    assert f":{line}: linkage.sources.registry.fields.card: 'card_number' is not a field of this source" in message


def test_the_ontario_spec_compiles_to_settings_saved_as_json() -> None:
    config = LinkConfig.from_spec(load_spec(ONTARIO))
    assert config.targets == ("onsis",)
    assert config.linked == ("eqao", "cpin")
    assert config.dedupe_identifier("onsis") == "oen"
    assert set(config.evaluation_pairs()) == {
        ("eqao", "onsis"),
        ("cpin", "onsis"),
        ("cpin", "cpin"),
        ("onsis", "onsis"),
    }
    saved = json.loads(config.as_json())
    assert saved["linkage"]["links"][1]["assignment"] == "cluster_one_to_one"
    assert saved["record_ids"]["cpin"] == "source_record_id"
    with pytest.raises(AttributeError):
        config.seed = 1  # type: ignore[misc]


def test_pairwise_metrics_say_no_data_instead_of_perfect() -> None:
    empty = _metrics(0, 0, 0)
    assert empty["status"] == "no data"
    assert empty["precision"] is None and empty["recall"] is None and empty["f1"] is None
    missed = _metrics(0, 0, 4)
    assert missed["recall"] == 0.0 and missed["precision"] is None
    assert _metrics(3, 4, 6)["f1"] == round(2 * 0.75 * 0.5 / 1.25, 6)


def test_evaluate_a_dedupe_from_a_truth_file_with_entity_ids(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, MINIMAL))
    config = LinkConfig.from_spec(spec)
    identity = pa.table({
        "record_code": ["c1", "c2", "c3", "c4"],
        "source_record_id": ["r1", "r2", "r3", "r4"],
        "birth_date": pa.array([None] * 4, pa.date32()),
    })  # fmt: skip
    linkage_map = pa.table({"record_code": ["c1", "c2", "c3", "c4"], "source": ["registry"] * 4,
                            "person_key": ["k1", "k1", "k2", "k3"]})  # fmt: skip
    truth = tmp_path / "truth.csv"
    truth.write_text("source,source_record_id,true_entity_id\nregistry,r1,A\nregistry,r2,A\nregistry,r3,B\n"
                     "registry,r4,B\n", encoding="utf-8")  # fmt: skip
    result = evaluate(linkage_map, {"registry": SourceInput("registry", identity)}, truth, config)
    pair = result["pairs"]["registry~registry"]
    assert (pair["tp"], pair["fp"], pair["fn"]) == (1, 0, 1)
    assert pair["precision"] == 1.0 and pair["recall"] == 0.5
    assert result["clusters_by_source"]["registry"]["persons_recovered_exactly"] == 1
    nobody = evaluate(linkage_map.slice(0, 1), {"registry": SourceInput("registry", identity)}, truth, config)
    assert nobody["pairs"]["registry~registry"]["status"] == "no data"


def test_a_source_field_naming_an_unknown_check_rule_is_refused_with_its_line(tmp_path: Path) -> None:
    text = MINIMAL.replace("        column: REC_ID\n", "        column: REC_ID\n        check: no_such_rule\n")
    message = refusal(tmp_path, text)
    line = line_of(text, "check: no_such_rule")
    assert f":{line}: sources.registry.fields.0.check: no identifier rule 'no_such_rule'" in message
    assert "digits_9_luhn" in message  # the known rules are named, so the user can pick one
