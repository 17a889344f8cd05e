"""A project with no period and no status hierarchy makes a panel, a release and a publication.

The spec is not Ontario's: one source of persons (names, address, suburb, an Australian
4-digit postcode, state, birth date; no sex, no period), like the FEBRL benchmark. Its panel has
one row per person, its release generalises an age and a postcode district, and its indicators
count persons by state and by age band, with no period and no care-status hierarchy.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import yaml

from linkhaven.deid import deidentify
from linkhaven.deid.panel import PanelInputs, build_panel, plan_panel
from linkhaven.errors import SpecError
from linkhaven.publish import publish_panel
from linkhaven.spec import ProjectSpec
from linkhaven.spec.loader import parse_spec_bytes
from tests.conftest import SPEC

STATES = ["nsw", "vic", "qld", "wa", "sa", "tas", "act", "nt"]


def _field(name: str, kind: str = "string", identity: bool = True, **extra: Any) -> dict[str, Any]:
    base = {"name": name, "column": name.upper(), "type": kind}
    if identity:
        base |= {"data_class": "personal", "role": "direct_identifier", "category": "identifying"}
    else:
        base |= {"data_class": "coded", "role": "quasi_identifier", "category": "residence"}
    return base | extra


def spec_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    for key in ("window", "panels", "releases", "indicators"):
        data.pop(key)
    data["populations"] = [{"id": "persons", "description": "persons in the benchmark files"}]
    data["sources"] = {
        "persons": {
            "institution": "Benchmark",
            "system": "FEBRL-like person file",
            "legal_source_type": "institution",
            "format": {"type": "csv"},
            "record_id": "rec_id",
            "populations": ["persons"],
            "fields": [
                _field("rec_id", required=True),
                _field("given_name", notice_label="names"),
                _field("surname", notice_label="names"),
                _field("address_1"),
                _field("suburb"),
                _field("postcode", notice_label="postcodes"),
                _field("date_of_birth", "date", date_format="%Y%m%d", notice_label="dates of birth"),
                _field("state", "code", identity=False, code_list="state", required=True),
            ],
        }
    }
    data["linkage"] = {
        "accept_probability": 0.95,
        "review_lower_probability": 0.5,
        "fields": {"given_name": {"kind": "given_name"}, "family_name": {"kind": "family_name"},
                   "birth_date": {"kind": "date"}},
        "sources": {"persons": {"fields": {"given_name": "given_name", "family_name": "surname",
                                           "birth_date": "date_of_birth"}}},
        "dedupe": [{"source": "persons"}],
        "comparisons": [{"field": "given_name"}, {"field": "family_name"}, {"field": "birth_date"}],
    }  # fmt: skip
    data["code_lists"] = {"state": STATES}
    data["categories"] = {
        "identifying": {"name": "Identifying information", "notice_text": "identifying information: {items}"},
        "residence": {"name": "Residence", "notice_text": "the state of residence"},
    }
    data["panels"] = {
        "persons": {
            "title": "One row per person",
            "base": "persons",
            "columns": [
                {"name": "age", "field": "date_of_birth", "derive": "age_in_period", "params": {"as_of": "2024-01-01"}},
                {"name": "district", "field": "postcode", "derive": "postcode_prefix", "params": {"length": 1}},
                {"name": "state", "field": "state"},
                {"name": "link_method", "derive": "link_method"},
            ],
        }
    }
    data["releases"] = {
        "analysis": {
            "title": "Persons by age and state",
            "recipient": "division_analysts",
            "context": {"acquaintance_prevalence": 0.01, "breach_probability": 0.27},
            "quasi_identifiers": [
                {"column": "age", "levels": [{"bin": 10, "top": 80}, {"bin": 20, "top": 80}]},
                {"column": "state"},
                {"column": "district"},
            ],
            "columns": ["link_method"],
        }
    }
    data["indicators"] = {
        "person": "person_id",
        "breakdowns": {
            "state": {"column": "state", "label": "State", "code_list": "state"},
            "age": {"column": "age", "label": "Age band"},
        },
        "measures": [{"id": "persons", "kind": "count", "title": "Persons", "plain_title": "How many people?"}],
    }
    return data


def spec_of(data: dict[str, Any]) -> ProjectSpec:
    return parse_spec_bytes(yaml.safe_dump(data, allow_unicode=True).encode(), "febrl-like.yaml")


def _inputs(n: int = 4000) -> PanelInputs:
    codes = [f"r{i}" for i in range(n)]
    content = pa.table({"record_code": codes, "state": [STATES[i % 5] for i in range(n)]})
    identity = pa.table(
        {
            "record_code": codes,
            "date_of_birth": [dt.date(1940 + i % 60, 1 + i % 12, 1) for i in range(n)],
            "postcode": [f"{2000 + (i * 37) % 6000:04d}" for i in range(n)],
        }
    )
    # Records 2k and 2k+1 are one person (a de-duplicated pair); the map keeps both.
    linkage = pa.table(
        {
            "record_code": codes,
            "source": ["persons"] * n,
            "person_key": [f"P{i // 2}" for i in range(n)],
            "method": ["probabilistic" if i % 2 else "deterministic" for i in range(n)],
            "match_probability": [0.99 if i % 2 else None for i in range(n)],
        }
    )
    return PanelInputs({"persons": content}, identity, linkage)


def test_a_spec_without_window_period_or_status_loads() -> None:
    spec = spec_of(spec_data())
    assert spec.window.school_years == () and spec.indicators is not None
    assert spec.indicators.declared_period is None and spec.indicators.declared_status is None


def test_a_panel_without_period_has_one_row_per_person() -> None:
    spec = spec_of(spec_data())
    con = duckdb.connect()
    stats = build_panel(con, plan_panel(spec), _inputs()).as_dict()
    table = con.execute("SELECT * FROM panel").to_arrow_table()
    assert table.column_names == ["person_key", "age", "district", "state", "link_method"]
    assert stats["rows"] == stats["persons"] == 2000 and stats["duplicate_base_records"] == 2000
    row = con.execute("SELECT * FROM panel WHERE person_key = 'P0'").fetchone()
    assert row == ("P0", 84, "2", "nsw", "deterministic")  # born 1940-01-01, postcode 2000; record r0 kept


def test_release_and_publication_without_period_or_status(tmp_path: Path) -> None:
    spec = spec_of(spec_data())
    con = duckdb.connect()
    build_panel(con, plan_panel(spec), _inputs())
    result = deidentify(con, spec, spec.releases["analysis"], "analysis")
    released = result.table
    assert "person_key" not in released.column_names and released.num_rows > 0
    assert 0 < result.persons <= 2000
    protected, manifest = publish_panel(released, spec, tmp_path / "pub")
    tables = sorted(p.name for p in (tmp_path / "pub").rglob("*.csv"))
    assert any("state" in name for name in tables) and any("age" in name for name in tables)
    assert json.dumps(manifest)  # the manifest is plain data


def test_school_year_fields_need_the_window() -> None:
    data = spec_data()
    data["sources"]["persons"]["fields"].append(_field("year", "code", identity=False, code_list="state"))
    data["sources"]["persons"]["period"] = {"school_year": "year"}
    with pytest.raises(SpecError, match="window"):
        spec_of(data)


def test_a_panel_column_on_an_identity_field_without_derivation_is_refused() -> None:
    data = spec_data()
    data["panels"]["persons"]["columns"].append({"name": "born", "field": "date_of_birth"})
    with pytest.raises(SpecError, match="identity field"):
        spec_of(data)
