"""The synthetic-data generator: determinism, ground truth, error rates, code lists, calendar, faults."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from linkhaven.cli import run
from linkhaven.synth import ErrorRates, SourceRates, SynthData, SynthError, generate, is_valid_oen, synthesize
from linkhaven.synth.faults import FAULT_FILES
from linkhaven.synth.identifiers import luhn_check_digit
from linkhaven.synth.names import damerau_distance, name_tables, typo
from linkhaven.synth.reference import IN_CARE_TARGET, boards, regions, societies
from synth_measure import joined, measure, read

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "projects" / "ontario-children-in-care.yaml"
DOCS = ROOT / "docs" / "synthetic-data.md"
EXTRACTS = ("cpin.csv", "onsis.csv", "eqao.csv")
ID_COLUMN = {"cpin": "EPISODE_ID", "onsis": "ENROLMENT_ID", "eqao": "EQAO_RECORD_ID"}
ENCODING = {"cpin": "cp1252", "onsis": "utf-8", "eqao": "utf-8"}
SMALL = 0.002


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    generate(out, SMALL, seed=1)
    return out


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("faulty")
    generate(out, SMALL, seed=1, inject_faults=True)
    return out


# --- determinism ------------------------------------------------------------------------------------


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_same_seed_gives_the_same_bytes(clean: Path, tmp_path: Path) -> None:
    generate(tmp_path, SMALL, seed=1)
    assert _files(tmp_path) == _files(clean)


def test_same_seed_with_faults_gives_the_same_bytes(faulty: Path, tmp_path: Path) -> None:
    generate(tmp_path, SMALL, seed=1, inject_faults=True)
    assert _files(tmp_path) == _files(faulty)


def test_different_seeds_differ(clean: Path, tmp_path: Path) -> None:
    generate(tmp_path, SMALL, seed=2)
    other = _files(tmp_path)
    for name in (*EXTRACTS, "truth.csv", "persons.csv"):
        assert other[name] != _files(clean)[name], name


def test_in_memory_and_written_extracts_agree(clean: Path) -> None:
    data = synthesize(SMALL, seed=1)
    for source in ("cpin", "onsis", "eqao"):
        written = read(clean / f"{source}.csv", ENCODING[source])
        assert written[ID_COLUMN[source]].tolist() == data.extract(source).column(ID_COLUMN[source]).to_pylist()


# --- ground truth -----------------------------------------------------------------------------------


def test_every_record_appears_in_truth_exactly_once(clean: Path) -> None:
    truth = read(clean / "truth.csv")
    assert not truth.duplicated(["source", "record_id"]).any()
    persons = set(read(clean / "persons.csv")["person_id"])
    assert set(truth["person_id"]) == persons  # every true person appears somewhere, and only they
    for source in ("cpin", "onsis", "eqao"):
        ids = read(clean / f"{source}.csv", ENCODING[source])[ID_COLUMN[source]]
        assert ids.is_unique
        assert sorted(ids) == sorted(truth.loc[truth["source"] == source, "record_id"])


def test_truth_covers_faulty_records_too(faulty: Path) -> None:
    truth = read(faulty / "truth.csv")
    assert not truth.duplicated(["source", "record_id"]).any()
    for source in ("cpin", "onsis", "eqao"):
        raw = (faulty / f"{source}.csv").read_bytes().decode(ENCODING[source], errors="replace")
        ids = {line.split(",", 1)[0] for line in raw.splitlines()[1:]}
        assert ids == set(truth.loc[truth["source"] == source, "record_id"]), source


def test_ground_truth_files_are_apart_from_the_extracts(clean: Path) -> None:
    for name in EXTRACTS:  # no true person id leaks into an extract
        assert not re.search(rb"(^|,)T\d{9}(,|$)", (clean / name).read_bytes(), re.MULTILINE)
    assert read(clean / "truth.csv").columns.tolist() == ["source", "record_id", "person_id"]
    assert all(re.fullmatch(r"T\d{9}", p) for p in read(clean / "truth.csv")["person_id"])


# --- code lists and formats -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec_codes() -> dict[str, set[str]]:
    lists = yaml.safe_load(SPEC.read_text(encoding="utf-8"))["code_lists"]
    return {name: {str(code) for code in (values if isinstance(values, list) else values)}
            for name, values in lists.items()}


CODE_COLUMNS = {
    "cpin": {"GENDER_IDENTITY": "cpin_gender_identity", "RACE": "race", "BORN_IN_CANADA": "yes_no_unknown",
             "FIRST_LANGUAGE": "first_language", "SOCIETY_CODE": "society", "SERVICE_TYPE": "service_type",
             "CASE_TYPE": "case_type", "LEGAL_STATUS": "legal_status", "PLACEMENT_TYPE": "placement_type",
             "HT_RISK": "yes_no"},
    "onsis": {"GENDER": "onsis_gender", "SCHOOL_YEAR": "school_year", "BOARD_NUMBER": "board", "GRADE": "grade"},
    "eqao": {"SCHOOL_YEAR": "school_year", "BOARD_NUMBER": "board", "ASSESSMENT": "assessment",
             "PARTICIPATION": "participation", "ACHIEVEMENT_LEVEL": "achievement_level",
             "OSSLT_OUTCOME": "osslt_outcome"},
}
LAYOUT_COLUMNS = {
    "cpin": "EPISODE_ID,PERSON_ID,FIRST_NAME,LAST_NAME,BIRTH_DATE,POSTAL_CODE,OEN,GENDER_IDENTITY,RACE,BORN_IN_CANADA,"
            "FIRST_LANGUAGE,SOCIETY_CODE,SERVICE_TYPE,CASE_TYPE,LEGAL_STATUS,PLACEMENT_TYPE,EPISODE_START,EPISODE_END,"
            "CUMULATIVE_DAYS_IN_CARE,HT_RISK",
    "onsis": "ENROLMENT_ID,OEN,LEGAL_FIRST_NAME,LEGAL_LAST_NAME,DATE_OF_BIRTH,POSTAL_CODE,GENDER,SCHOOL_YEAR,"
             "BOARD_NUMBER,SCHOOL_NUMBER,GRADE,ATTENDANCE_RATE,CREDITS_EARNED",
    "eqao": "EQAO_RECORD_ID,OEN,FIRST_NAME,LAST_NAME,BIRTH_DATE,SCHOOL_YEAR,BOARD_NUMBER,ASSESSMENT,PARTICIPATION,"
            "ACHIEVEMENT_LEVEL,OSSLT_OUTCOME",
}
POSTAL = re.compile(r"[KLMNP]\d[ABCEGHJKLMNPRSTVWXYZ] ?\d[ABCEGHJKLMNPRSTVWXYZ]\d")


@pytest.mark.parametrize("source", ["cpin", "onsis", "eqao"])
def test_columns_and_codes_follow_the_layout_and_spec(
    clean: Path, source: str, spec_codes: dict[str, set[str]]
) -> None:
    df = read(clean / f"{source}.csv", ENCODING[source])
    assert ",".join(df.columns) == LAYOUT_COLUMNS[source]
    for column, code_list in CODE_COLUMNS[source].items():
        used = set(df[column]) - {""}
        assert used, column
        assert used <= spec_codes[code_list], (column, used - spec_codes[code_list])


def test_identifier_and_value_formats(clean: Path) -> None:
    cpin = read(clean / "cpin.csv", "cp1252")
    onsis = read(clean / "onsis.csv")
    eqao = read(clean / "eqao.csv")
    assert cpin["EPISODE_ID"].str.fullmatch(r"E\d{9}").all()
    assert cpin["PERSON_ID"].str.fullmatch(r"P\d{8}").all()
    assert onsis["ENROLMENT_ID"].str.fullmatch(r"R\d{10}").all()
    assert eqao["EQAO_RECORD_ID"].str.fullmatch(r"Q\d{10}").all()
    assert onsis["OEN"].map(is_valid_oen).all()  # the OEN register: no OnSIS errors by default
    assert onsis["SCHOOL_NUMBER"].str.fullmatch(r"\d{6}").all()
    for postal in (onsis["POSTAL_CODE"], cpin["POSTAL_CODE"]):
        present = postal[postal != ""]
        assert present.map(lambda p: bool(POSTAL.fullmatch(p))).all()
    attendance = onsis["ATTENDANCE_RATE"].astype(float)
    assert attendance.between(0, 1).all()
    secondary = onsis["GRADE"].isin(["9", "10", "11", "12"])
    assert (onsis.loc[~secondary, "CREDITS_EARNED"] == "").all()
    assert onsis.loc[secondary, "CREDITS_EARNED"].astype(float).between(0, 12).all()
    start = pd.to_datetime(cpin["EPISODE_START"], format="%Y-%m-%d")
    assert start.between("2017-09-01", "2023-08-31").all()
    end = pd.to_datetime(cpin["EPISODE_END"].replace("", None), format="%Y-%m-%d")
    assert (end.isna() | (end >= start)).all()
    assert cpin["CUMULATIVE_DAYS_IN_CARE"].astype(int).between(0, 8000).all()
    pd.to_datetime(onsis["DATE_OF_BIRTH"], format="%Y%m%d")  # every date parses
    pd.to_datetime(eqao["BIRTH_DATE"], format="%Y-%m-%d")


def test_packaged_code_lists_match_the_spec(spec_codes: dict[str, set[str]]) -> None:
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))["code_lists"]
    assert len(boards()) == 72 and {b.number for b in boards()} <= spec_codes["board"]
    assert [s.code for s in societies()] == [f"CAS{i:02d}" for i in range(1, 51)]
    for s in societies():
        assert spec["society"][s.code]["name"] == s.name
        assert spec["society"][s.code]["indigenous"] == s.indigenous
    for region in regions():
        for fsa in region.fsas:
            assert re.fullmatch(r"[KLMNP]\d[ABCEGHJKLMNPRSTVWXYZ]", fsa), fsa
        assert any(region.code in b.regions for b in boards())
        assert any(region.code in s.regions and not s.indigenous for s in societies())


def test_names_are_windows_1252_and_weighted() -> None:
    tables = name_tables()
    for name in (*tables.given, *tables.surnames):
        name.encode("cp1252")
    assert {"Hélène", "Émilie", "Marie-Ève"} <= set(tables.given)
    assert {"Bélanger", "Côté", "De Luca", "Van der Berg", "MacDonald", "Singh", "Nguyen", "Fiddler"} <= set(
        tables.surnames
    )


# --- population ---------------------------------------------------------------------------------------


def test_population_shape(clean: Path) -> None:
    onsis = read(clean / "onsis.csv")
    per_year = onsis.groupby("SCHOOL_YEAR").size()
    assert len(per_year) == 6
    assert per_year.between(1.9e6 * SMALL, 2.1e6 * SMALL).all()
    # cohorts age: a student's grade rises by one a year (a fifth Grade 12 year aside)
    truth = read(clean / "truth.csv").set_index("record_id")["person_id"]
    onsis["person"] = onsis["ENROLMENT_ID"].map(truth)
    onsis["g"] = onsis["GRADE"].map({"JK": -1, "K": 0}).fillna(pd.to_numeric(onsis["GRADE"], errors="coerce"))
    onsis["y"] = onsis["SCHOOL_YEAR"].str[:4].astype(int)
    onsis = onsis.sort_values(["person", "y"])
    same = onsis["person"].eq(onsis["person"].shift())
    step = (onsis["g"] - onsis["g"].shift())[same]
    gap = (onsis["y"] - onsis["y"].shift())[same]
    assert (gap == 1).all()
    assert step.isin([1, 0]).all() and (step == 0).mean() < 0.05
    # students enter (new JK cohorts) and leave
    first_year = onsis.groupby("person")["y"].min()
    assert (first_year > 2017).sum() > 0.2 * len(first_year)


def test_children_in_care_follow_the_targets() -> None:
    scale = 0.02
    data = synthesize(scale, seed=5)
    cpin = data.cpin.to_pandas()
    for year in (2017, 2020):
        day = pd.Timestamp(year, 9, 1)
        start = pd.to_datetime(cpin["EPISODE_START"])
        end = pd.to_datetime(cpin["EPISODE_END"])
        in_care = cpin[(cpin["SERVICE_TYPE"] == "in_care") & (start <= day) & (end.isna() | (end >= day))]
        assert abs(in_care["_person"].nunique() - IN_CARE_TARGET[year] * scale) <= 0.05 * IN_CARE_TARGET[year] * scale
    # dates: an episode ends after it starts, and every child is 0-21 at its start (the spec's population)
    start, end = pd.to_datetime(cpin["EPISODE_START"]), pd.to_datetime(cpin["EPISODE_END"])
    assert (end.isna() | (end >= start)).all()
    birth = pd.to_datetime(data.people.birth[cpin["_person"].to_numpy()])
    age = (start - birth).dt.days / 365.25
    assert age.between(0, 21).all()
    # children reappear across episodes and societies
    per_child = cpin.groupby("_person")["SOCIETY_CODE"].agg(["size", "nunique"])
    assert (per_child["size"] > 1).sum() > 0 and (per_child["nunique"] > 1).sum() > 0
    assert set(cpin["SERVICE_TYPE"]) == {"in_care", "kinship_service", "ccsy", "vysa"}
    indigenous = cpin.groupby("_person")["RACE"].first().eq("indigenous").mean()
    assert 0.1 < indigenous < 0.45  # over-represented (about 4% of students)


# --- EQAO calendar ----------------------------------------------------------------------------------


def test_eqao_calendar_is_respected(clean: Path) -> None:
    eqao = read(clean / "eqao.csv")
    by_year = eqao.groupby("SCHOOL_YEAR")["ASSESSMENT"].agg(set)
    assert "2019-20" not in by_year.index  # everything cancelled
    assert by_year["2020-21"] <= {"G9_MATH", "OSSLT"}  # optional field tests only
    for year in ("2017-18", "2018-19", "2021-22", "2022-23"):
        assert by_year[year] == {"G3_READING", "G3_WRITING", "G3_MATH", "G6_READING", "G6_WRITING", "G6_MATH",
                                 "G9_MATH", "OSSLT"}
    counts = eqao.groupby("SCHOOL_YEAR").size()
    assert counts["2020-21"] < 0.1 * counts["2021-22"]
    participated = eqao["PARTICIPATION"] == "participated"
    osslt = eqao["ASSESSMENT"] == "OSSLT"
    assert (eqao.loc[~participated | osslt, "ACHIEVEMENT_LEVEL"] == "").all()
    assert (eqao.loc[participated & ~osslt, "ACHIEVEMENT_LEVEL"] != "").all()
    assert (eqao.loc[~osslt, "OSSLT_OUTCOME"] == "").all()
    assert (eqao.loc[osslt & participated, "OSSLT_OUTCOME"] != "").all()
    assert (eqao.loc[~osslt, "PARTICIPATION"] != "deferred").all()


def test_eqao_sittings_match_the_students_grade(clean: Path) -> None:
    onsis = joined(clean, "onsis")[["person_id", "SCHOOL_YEAR", "GRADE", "BOARD_NUMBER"]]
    eqao = joined(clean, "eqao")[["person_id", "SCHOOL_YEAR", "ASSESSMENT", "BOARD_NUMBER"]]
    both = eqao.merge(onsis, on=["person_id", "SCHOOL_YEAR"], how="left", validate="many_to_one")
    assert both["GRADE"].notna().all()
    assert (both["BOARD_NUMBER_x"] == both["BOARD_NUMBER_y"]).all()
    expected = {"G3": {"3"}, "G6": {"6"}, "G9": {"9"}, "OS": {"10", "11", "12"}}
    assert all(g in expected[a[:2]] for a, g in zip(both["ASSESSMENT"], both["GRADE"], strict=True))
    levels = both.loc[both["ASSESSMENT"] == "G3_READING"].merge(eqao)["ASSESSMENT"].size
    assert levels > 0


# --- error rates ------------------------------------------------------------------------------------

KINDS = [f.name for f in dataclasses.fields(ErrorRates) if f.type in ("SourceRates", SourceRates)]


def _assert_rates(out_dir: Path, source: str, rates: ErrorRates) -> None:
    measured = measure(out_dir, source)
    assert not measured.unexplained, measured.unexplained[:5]
    checked = 0
    for kind, count in measured.counts.items():
        if kind not in KINDS:
            continue
        expected = getattr(rates, kind).for_source(source)
        assert count.within(expected), (source, kind, count.hits, count.eligible, expected)
        checked += 1
    assert checked >= 10


@pytest.fixture(scope="module")
def default_rates_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rates")
    generate(out, 0.005, seed=11)
    return out


@pytest.mark.parametrize("source", ["onsis", "eqao", "cpin"])
def test_default_error_rates_are_met(default_rates_run: Path, source: str) -> None:
    _assert_rates(default_rates_run, source, ErrorRates())


BOOSTED = ErrorRates.from_mapping({
    "given_name_typo": 0.08, "given_name_nickname": 0.3, "given_name_accent_dropped": 0.4,
    "family_name_typo": 0.08, "family_name_accent_dropped": 0.4, "family_name_compound_variant": 0.4,
    "name_swap": 0.05, "birth_date_day_month_swap": 0.15, "birth_date_typo": 0.1, "birth_date_missing": 0.05,
    "oen_missing": {"cpin": 0.4, "eqao": 0.05}, "oen_invalid": {"cpin": 0.15, "eqao": 0.05},
    "oen_other_person": {"cpin": 0.1}, "cpin_second_person_id": 0.3, "placement_address": 0.6,
    "adoption_surname_change": 0.5, "annual_move": 0.2, "annual_move_cpin": 0.45,
})


@pytest.fixture(scope="module")
def boosted_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthData]:
    out = tmp_path_factory.mktemp("boosted")
    generate(out, 0.01, seed=3, rates=BOOSTED)
    return out, synthesize(0.01, seed=3, rates=BOOSTED)


def test_configured_rates_are_met_in_cpin(boosted_run: tuple[Path, SynthData]) -> None:
    _assert_rates(boosted_run[0], "cpin", BOOSTED)


def test_configured_rates_are_met_in_eqao(boosted_run: tuple[Path, SynthData]) -> None:
    _assert_rates(boosted_run[0], "eqao", BOOSTED)


def test_moves_between_school_years(default_rates_run: Path, boosted_run: tuple[Path, SynthData]) -> None:
    for out, rates in ((default_rates_run, ErrorRates()), (boosted_run[0], BOOSTED)):
        onsis = joined(out, "onsis").sort_values(["person_id", "SCHOOL_YEAR"])
        cpin_people = set(read(out / "truth.csv").query("source == 'cpin'")["person_id"])
        postal = onsis["POSTAL_CODE"].str.replace(" ", "")
        pair = onsis["person_id"].eq(onsis["person_id"].shift()) & (postal != "") & (postal.shift() != "")
        moved = (postal != postal.shift())[pair]
        known = onsis.loc[pair, "person_id"].isin(cpin_people)
        twin = onsis.loc[pair, "true_twin_of"] != ""
        for mask, expected in ((~known & ~twin, rates.annual_move), (known, rates.annual_move_cpin)):
            n = int(mask.sum())
            assert n > 50
            se = (expected * (1 - expected) / n) ** 0.5
            assert abs(moved[mask].mean() - expected) < 4 * se + 0.01, (expected, moved[mask].mean(), n)


def test_cpin_person_level_rates(boosted_run: tuple[Path, SynthData]) -> None:
    out, data = boosted_run
    cpin = joined(out, "cpin")
    per_child = cpin.groupby("person_id").agg(episodes=("EPISODE_ID", "size"), ids=("PERSON_ID", "nunique"))
    several = per_child[per_child["episodes"] >= 2]
    share = (several["ids"] > 1).mean()
    se = (0.3 * 0.7 / len(several)) ** 0.5
    assert abs(share - BOOSTED.cpin_second_person_id) < 4 * se + 0.02, (share, len(several))
    assert (per_child.loc[per_child["episodes"] == 1, "ids"] == 1).all()
    # placement addresses: extract postal code against the family home (hidden truth column)
    table = data.cpin.to_pandas()
    eligible = (table["SERVICE_TYPE"] == "in_care") & table["PLACEMENT_TYPE"].isin(
        ["foster", "kinship_care", "group_care", "adoption_probation", "independent_living"]) & (
        table["POSTAL_CODE"].notna())
    differs = (table.loc[eligible, "POSTAL_CODE"].str.replace(" ", "")
               != table.loc[eligible, "_home_postal"].str.replace(" ", ""))
    se = (0.6 * 0.4 / eligible.sum()) ** 0.5
    assert abs(differs.mean() - BOOSTED.placement_address) < 4 * se + 0.02


def test_adoption_changes_the_family_name() -> None:
    data = synthesize(0.05, seed=3, rates=BOOSTED)
    cpin = data.cpin.to_pandas()
    adopted = np.unique(cpin.loc[cpin["_exit_reason"] == "adopted", "_person"])
    assert len(adopted) >= 40
    persons = data.persons.to_pandas().set_index("_person")
    changed = persons.loc[adopted, "name_change_reason"].eq("adoption")
    se = (0.25 / len(adopted)) ** 0.5
    assert abs(changed.mean() - BOOSTED.adoption_surname_change) < 4 * se
    # CPIN keeps the birth name: every episode of a renamed child starts before the new name's year
    renamed = persons.loc[adopted[changed.to_numpy()]]
    episodes = cpin[cpin["_person"].isin(renamed.index)]
    change_year = episodes["_person"].map(renamed["name_change_year"].str[:4].astype(int))
    start = pd.to_datetime(episodes["EPISODE_START"])
    start_year = start.dt.year - (start.dt.month < 9)
    assert (start_year < change_year).all()


def test_new_family_name_shows_in_onsis_after_the_change(default_rates_run: Path) -> None:
    onsis = joined(default_rates_run, "onsis")
    changed = onsis[onsis["true_new_family_name"] != ""]
    assert len(changed) > 0
    after = changed["SCHOOL_YEAR"].str[:4].astype(int) >= changed["true_name_change_year"].str[:4].astype(int)
    shown = changed["LEGAL_LAST_NAME"]
    assert after.any() and (~after).any()
    assert (shown[after] == changed.loc[after, "true_new_family_name"]).mean() > 0.95
    assert (shown[~after] == changed.loc[~after, "true_family_name"]).mean() > 0.95


def test_twins_and_namesakes_are_hard_non_matches(default_rates_run: Path) -> None:
    persons = read(default_rates_run / "persons.csv").set_index("person_id")
    onsis_people = set(read(default_rates_run / "truth.csv").query("source == 'onsis'")["person_id"])
    students = persons.loc[sorted(onsis_people)]
    rates = ErrorRates()
    n = len(students)
    twins = students[students["twin_of"] != ""]
    assert abs(len(twins) / n - rates.twin_share) < 4 * (rates.twin_share / n) ** 0.5 + 0.003
    for pid, row in twins.head(50).iterrows():
        other = persons.loc[row["twin_of"]]
        assert other["twin_of"] == pid
        assert other["birth_date"] == row["birth_date"] and other["family_name"] == row["family_name"]
        assert other["oen"] != row["oen"] and other["given_name"] != row["given_name"]
    namesakes = students[students["namesake_of"] != ""]
    assert abs(len(namesakes) / n - rates.namesake_share) < 4 * (rates.namesake_share / n) ** 0.5 + 0.002
    for _, row in namesakes.iterrows():
        other = persons.loc[row["namesake_of"]]
        assert (other["given_name"], other["family_name"]) == (row["given_name"], row["family_name"])
        assert other["birth_date"][:4] == row["birth_date"][:4]
    # frequency-weighted names collide: many distinct people share a full name
    full = students["given_name"] + " " + students["family_name"]
    assert full.duplicated().sum() > 0.02 * n


# --- faults -----------------------------------------------------------------------------------------


def test_faults_appear_only_with_the_flag(clean: Path, faulty: Path, tmp_path: Path) -> None:
    names = {p.name for p in clean.iterdir()}
    assert names == {*EXTRACTS, "truth.csv", "persons.csv", "synth.json"}
    for source in ("cpin", "onsis", "eqao"):
        raw = (clean / f"{source}.csv").read_bytes()
        text = raw.decode(ENCODING[source])  # no invalid bytes
        rows = list(csv.reader(io.StringIO(text)))
        assert len({len(r) for r in rows}) == 1  # no truncated lines, no extra column
        assert raw.endswith(b"\n")
        ids = [r[0] for r in rows[1:]]
        assert len(ids) == len(set(ids))  # no duplicates
    # a run without faults into a directory that had them removes them
    generate(tmp_path, SMALL, seed=1, inject_faults=True)
    assert all((tmp_path / f).exists() for f in FAULT_FILES)
    generate(tmp_path, SMALL, seed=1)
    assert not any((tmp_path / f).exists() for f in FAULT_FILES)
    assert _files(tmp_path) == _files(clean)


def test_each_listed_fault_is_where_faults_json_says(faulty: Path, clean: Path) -> None:
    report = json.loads((faulty / "faults.json").read_text(encoding="utf-8"))
    files = {f["file"]: f for f in report["files"]}
    assert set(files) == {*EXTRACTS, "cpin_forbidden.csv", "onsis_forbidden.csv", "eqao_forbidden.csv",
                          "eqao_wrong_encoding.csv"}
    for source in ("cpin", "onsis", "eqao"):
        entry = files[f"{source}.csv"]
        encoding = ENCODING[source]
        assert entry["expected"] == "accepted_with_quarantine"
        [extra] = entry["file_faults"]
        assert extra["kind"] == "undeclared_column"
        lines = (faulty / f"{source}.csv").read_bytes().split(b"\n")
        header = lines[0].decode(encoding).split(",")
        assert extra["column"] in header
        width = len(header)
        kinds = Counter(f["kind"] for f in entry["row_faults"])
        assert set(kinds) == set(report["kinds"]["row"])
        faulty_lines = set()
        for fault in entry["row_faults"]:
            raw = lines[fault["line"] - 1]
            faulty_lines.add(fault["line"])
            assert raw.split(b",", 1)[0].decode() == fault["record_id"]
            if fault["kind"] == "invalid_encoding":
                with pytest.raises(UnicodeDecodeError):
                    raw.decode(encoding)
                continue
            fields = next(csv.reader([raw.decode(encoding)]))
            if fault["kind"] == "truncated_line":
                assert len(fields) < width
            elif fault["kind"] == "duplicate_row":
                assert raw == lines[fault["duplicate_of_line"] - 1] and fault["duplicate_of_line"] < fault["line"]
            else:
                assert len(fields) == width
                value = fields[header.index(fault["column"])]
                if fault["kind"] == "malformed_date":
                    fmt = "%Y%m%d" if source == "onsis" else "%Y-%m-%d"
                    assert pd.to_datetime(value, format=fmt, errors="coerce") is pd.NaT
                elif fault["kind"] == "invalid_code":
                    assert value in {"B99999", "G4_MATH", "CAS99"}
                elif fault["kind"] == "outside_window":
                    assert not ("2017-09-01" <= value <= "2023-08-31" or value in
                                {"2017-18", "2018-19", "2019-20", "2020-21", "2021-22", "2022-23"})
        assert lines[-1] != b""  # the last line is truncated before its line end
        # the rows that are not faults are exactly the clean extract (plus the undeclared column)
        kept = [lines[0]] + [line for i, line in enumerate(lines[1:], start=2) if i not in faulty_lines]
        faulty_table = pd.read_csv(io.BytesIO(b"\n".join(kept) + b"\n"), dtype=str, keep_default_na=False,
                                   encoding=encoding).drop(columns=[extra["column"]])
        pd.testing.assert_frame_equal(faulty_table, read(clean / f"{source}.csv", encoding))
    for source, column in (("cpin", "HEALTH_CARD_NO"), ("onsis", "SIN"), ("eqao", "OHIP_NUMBER")):
        entry = files[f"{source}_forbidden.csv"]
        assert entry["expected"] == "file_refused" and entry["file_faults"][0]["column"] == column
        header = (faulty / f"{source}_forbidden.csv").read_bytes().split(b"\n")[0].decode()
        assert column in header.split(",")
    with pytest.raises(UnicodeDecodeError):
        (faulty / "eqao_wrong_encoding.csv").read_bytes().decode("utf-8")
    assert files["eqao_wrong_encoding.csv"]["expected"] == "file_refused"


# --- rates configuration, CLI, docs -----------------------------------------------------------------


def test_rates_are_validated() -> None:
    with pytest.raises(SynthError, match="unknown rate 'typo'.*annual_move must be between 0 and 1"):
        ErrorRates.from_mapping({"typo": 0.1, "annual_move": 1.5})
    with pytest.raises(SynthError, match="given-name variants for cpin add up"):
        ErrorRates.from_mapping({"given_name_typo": {"cpin": 0.6}, "given_name_nickname": {"cpin": 0.6}})
    rates = ErrorRates.from_mapping({"name_swap": 0.2, "given_name_typo": {"cpin": 0.3}})
    assert rates.name_swap == SourceRates(0.2, 0.2, 0.2)
    assert rates.given_name_typo == SourceRates(0.3, ErrorRates().given_name_typo.onsis, 0.005)
    with pytest.raises(SynthError, match="Scale"):
        synthesize(0, seed=1)


def test_cli_writes_and_reports_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rates = tmp_path / "rates.yaml"
    rates.write_text("name_swap: {cpin: 0.02}\n", encoding="utf-8")
    out = tmp_path / "out"
    code = run(["synth", "--out", str(out), "--scale", "0.001", "--seed", "4", "--rates", str(rates), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["files"]["onsis.csv"] == len(read(out / "onsis.csv"))
    assert json.loads((out / "synth.json").read_text())["rates"]["name_swap"]["cpin"] == 0.02
    assert run(["synth", "--out", str(out), "--scale", "7", "--force"]) == 2
    rates.write_text("no_such_rate: 1\n", encoding="utf-8")
    assert run(["synth", "--out", str(out), "--rates", str(rates), "--force"]) == 2


def test_every_rate_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for name in ErrorRates.field_docs():
        assert f"`{name}`" in text, name


# --- small properties -------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=10_000_000, max_value=99_999_999))
def test_stand_in_check_digit_is_luhn(payload: int) -> None:
    digit = int(luhn_check_digit(np.array([payload]))[0])
    number = f"{payload}{digit}"
    total = 0
    for i, c in enumerate(reversed(number)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    assert total % 10 == 0 and is_valid_oen(number)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(name_tables().given + name_tables().surnames),
       st.floats(0, 0.999), st.floats(0, 0.999), st.floats(0, 0.999))
def test_a_typo_is_one_edit(name: str, a: float, b: float, c: float) -> None:
    variant = typo(name, a, b, c)
    assert variant != name and damerau_distance(variant, name) == 1
