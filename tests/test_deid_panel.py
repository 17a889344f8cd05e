"""The person-year panel, built from small hand-made content tables and a linkage map."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
import pytest

from linkhaven.deid.panel import PanelInputs, build_panel, plan_panel
from linkhaven.spec import ProjectSpec, load_spec
from tests.conftest import SPEC

ASSESSMENTS = ("G3_READING", "G3_MATH", "OSSLT")


def handmade_spec() -> ProjectSpec:
    """The Ontario spec with only the three assessments the hand-made data hold."""
    spec = load_spec(SPEC)
    codes = {k: v for k, v in spec.code_lists["assessment"].items() if k in ASSESSMENTS}
    return spec.model_copy(update={"code_lists": {**spec.code_lists, "assessment": codes}})


def _inputs() -> PanelInputs:
    enrolment = pa.table(
        {
            "record_code": ["a1", "a2", "a2dup", "b1"],
            "school_year": ["2017-18", "2018-19", "2018-19", "2017-18"],
            "gender": ["F", "F", "F", "M"],
            "board_number": ["B1", "B1", "B1", "B2"],
            "school_number": ["100001", "100001", "100002", "200001"],
            "grade": ["3", "4", "3", "10"],
            "attendance_rate": [0.9, 0.8, 0.7, 0.95],
            "credits_earned": [None, None, None, 7.5],
        }
    )
    identity = pa.table(
        {
            "record_code": ["a1", "a2", "a2dup", "b1"],
            "birth_date": [dt.date(2010, 3, 15)] * 3 + [dt.date(2003, 1, 2)],
            "postal_code": ["K1A0B1", "K1A0B1", "K1A0B1", "M5V 2T6"],
        }
    )
    assessment = pa.table(
        {
            "record_code": ["e1", "e2", "e3", "e4"],
            "school_year": ["2017-18", "2017-18", "2017-18", "2017-18"],
            "board_number": ["B1", "B1", "B2", "B2"],
            "assessment": ["G3_READING", "G3_MATH", "OSSLT", "OSSLT"],
            "participation": ["participated", "absent", "participated", "participated"],
            "achievement_level": ["3", None, None, None],
            "osslt_outcome": [None, None, "unsuccessful", "successful"],
        }
    )
    child_welfare = pa.table(
        {
            "record_code": ["c1", "c2"],
            "gender": ["girl_woman", "girl_woman"],
            "race": ["black", "black"],
            "born_in_canada": ["Y", "Y"],
            "first_language": ["english", "english"],
            "society_code": ["CAS29", "CAS29"],
            "case_type": ["child_in_care", "kinship"],
            "days_in_care": [500, 500],
            "placement_type": ["foster", "none"],
            "ht_risk": ["N", "Y"],
            "service_type": ["in_care", "kinship_service"],
            "legal_status": ["esc", "kinship_service"],
            "episode_start": [dt.date(2018, 1, 1), dt.date(2018, 10, 1)],
            "episode_end": [dt.date(2018, 6, 30), None],
        }
    )
    linkage = pa.table(
        {
            "record_code": ["a1", "a2", "a2dup", "b1", "e1", "e2", "e3", "e4", "c1", "c2"],
            "source": ["onsis"] * 4 + ["eqao"] * 4 + ["cpin"] * 2,
            "person_key": ["A", "A", "A", "B", "A", "A", "B", "B", "A", "A"],
            "method": ["deterministic"] * 8 + ["probabilistic", "deterministic"],
            "match_probability": [None] * 8 + [0.97, None],
        },
        schema=pa.schema([("record_code", pa.string()), ("source", pa.string()), ("person_key", pa.string()),
                          ("method", pa.string()), ("match_probability", pa.float64())]),
    )  # fmt: skip
    return PanelInputs({"onsis": enrolment, "eqao": assessment, "cpin": child_welfare}, identity, linkage)


@pytest.fixture(scope="module")
def rows() -> dict[tuple[str, str], dict[str, object]]:
    con = duckdb.connect()
    stats = build_panel(con, plan_panel(handmade_spec()), _inputs()).as_dict()
    assert stats["rows"] == 3 and stats["persons"] == 2 and stats["duplicate_base_records"] == 1
    table = con.execute("SELECT * FROM panel").to_arrow_table()
    return {(r["person_key"], r["school_year"]): r for r in table.to_pylist()}


def test_one_row_per_person_per_year_with_the_highest_grade(rows: dict[tuple[str, str], dict[str, object]]) -> None:
    assert set(rows) == {("A", "2017-18"), ("A", "2018-19"), ("B", "2017-18")}
    assert rows[("A", "2018-19")]["grade"] == "4" and rows[("A", "2018-19")]["attendance"] == 0.8


def test_identity_values_arrive_generalised(rows: dict[tuple[str, str], dict[str, object]]) -> None:
    a = rows[("A", "2017-18")]
    assert a["age"] == 7 and a["fsa"] == "K1A"
    assert rows[("B", "2017-18")]["fsa"] == "M5V"
    assert not {"birth_date", "postal_code", "record_code", "oen"} & set(a)


def test_eqao_outcomes_per_assessment(rows: dict[tuple[str, str], dict[str, object]]) -> None:
    a, b = rows[("A", "2017-18")], rows[("B", "2017-18")]
    assert a["eqao_g3_reading"] == "3" and a["eqao_g3_math"] == "absent" and a["osslt"] is None
    assert b["osslt"] == "successful"  # the better of two sittings that year
    assert rows[("A", "2018-19")]["eqao_g3_reading"] is None


def test_child_welfare_picture_by_year(rows: dict[tuple[str, str], dict[str, object]]) -> None:
    first, second = rows[("A", "2017-18")], rows[("A", "2018-19")]
    assert first["care_status"] == "in_care" and first["cw_in_care"] and not first["cw_kinship_service"]
    assert first["legal_status"] == "esc" and first["placement_type"] == "foster" and first["society"] == "CAS29"
    assert first["days_in_care"] == 500 and first["ht_risk"] == "N"
    assert second["care_status"] == "kinship_service" and second["ht_risk"] == "Y" and second["days_in_care"] == 500
    assert first["cw_ever"] and first["cw_ever_in_care"] and first["race"] == "black"
    b = rows[("B", "2017-18")]
    assert b["care_status"] == "not_involved" and not b["cw_ever"] and b["race"] is None


def test_linkage_quality_travels_with_the_row(rows: dict[tuple[str, str], dict[str, object]]) -> None:
    a = rows[("A", "2017-18")]
    assert a["link_method"] == "probabilistic" and a["link_probability"] == pytest.approx(0.97)
    assert a["cw_link_method"] == "probabilistic"
    b = rows[("B", "2017-18")]
    assert b["link_method"] == "deterministic" and b["link_probability"] == 1.0 and b["cw_link_method"] is None


def test_credits_accumulate(rows: dict[tuple[str, str], dict[str, object]]) -> None:
    assert rows[("B", "2017-18")]["credits_cumulative"] == 7.5
    assert rows[("A", "2017-18")]["credits_cumulative"] is None
