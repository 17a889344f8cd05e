"""The spec-declared person-year panel equals the panel the former hard-coded builder made.

`tests/fixtures/panel/` holds inputs (synthetic data at scale 0.001, seed 7: content tables, the base
identity values and a true linkage map) and the panel the former `build_panel` built from them,
frozen before that builder was replaced; `handmade/` holds its output on the hand-made inputs of
`test_deid_panel.py` (a duplicate enrolment, a probabilistic child-welfare link, two OSSLT sittings).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from linkhaven.deid.panel import PanelInputs, build_panel, plan_panel
from linkhaven.spec import load_spec
from tests.conftest import SPEC
from tests.test_deid_panel import _inputs, handmade_spec

FIXTURES = Path(__file__).parent / "fixtures" / "panel"


def _fixture_inputs() -> PanelInputs:
    content = {"onsis": "enrolment", "eqao": "assessment", "cpin": "child_welfare"}
    return PanelInputs(
        {source: pq.read_table(FIXTURES / f"{name}.parquet") for source, name in content.items()},
        pq.read_table(FIXTURES / "enrolment_identity.parquet"),
        pq.read_table(FIXTURES / "linkage_map.parquet"),
    )


OLD_NAMES = {"enrolment_records": "base_records", "enrolment_unmapped": "base_unmapped",
             "duplicate_enrolments": "duplicate_base_records", "rows": "rows", "persons": "persons",
             "assessment_records": "records_eqao", "child_welfare_records": "records_cpin",
             "child_welfare_persons_in_panel": "persons_in_panel_cpin"}  # fmt: skip
"""The former builder's counts, by the names the spec-declared builder gives them."""


def _same_counts(stats: dict[str, int], frozen: Path) -> None:
    expected = json.loads(frozen.read_text())
    assert {new: stats[new] for new in OLD_NAMES.values()} == {OLD_NAMES[k]: v for k, v in expected.items()}


def _same(built: pa.Table, expected: pa.Table) -> None:
    assert built.schema.names == expected.schema.names
    assert built.schema.types == expected.schema.types
    assert built.to_pylist() == expected.to_pylist()


def test_the_synthetic_panel_is_unchanged() -> None:
    spec = load_spec(SPEC)
    con = duckdb.connect()
    stats = build_panel(con, plan_panel(spec), _fixture_inputs()).as_dict()
    built = con.execute("SELECT * FROM panel ORDER BY person_key, school_year").to_arrow_table()
    _same(built, pq.read_table(FIXTURES / "expected_panel.parquet"))
    _same_counts(stats, FIXTURES / "expected_stats.json")


def test_the_handmade_panel_is_unchanged() -> None:
    con = duckdb.connect()
    stats = build_panel(con, plan_panel(handmade_spec()), _inputs()).as_dict()
    built = con.execute("SELECT * FROM panel ORDER BY person_key, school_year").to_arrow_table()
    _same(built, pq.read_table(FIXTURES / "handmade" / "expected_panel.parquet"))
    _same_counts(stats, FIXTURES / "handmade" / "expected_stats.json")


def test_rehearsal_inputs_from_synthetic_data_give_the_same_panel() -> None:
    """The frozen inputs came from `rehearsal_inputs` on this synthetic province; so do these."""
    from linkhaven.deid.rehearsal import rehearsal_inputs
    from linkhaven.synth import synthesize

    spec = load_spec(SPEC)
    plan = plan_panel(spec)
    con = duckdb.connect()
    build_panel(con, plan, rehearsal_inputs(synthesize(scale=0.001, seed=7), plan, seed=7))
    built = con.execute("SELECT * FROM panel ORDER BY person_key, school_year").to_arrow_table()
    _same(built, pq.read_table(FIXTURES / "expected_panel.parquet"))
