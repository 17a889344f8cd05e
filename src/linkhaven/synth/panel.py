"""A synthetic Ontario person-year panel shaped like an approved release, for rehearsals, tests and benchmarks.

Publication is computed from a release the privacy officer approved; this panel is not one and
is never published. It exists so the publication engine can be tested and timed at provincial
scale before (and independently of) the de-identification stage: same columns, codes from the
spec's code lists, and distributions in the range of the reference figures (about 2 million
students a year, under 1 % involved with a society, EQAO not written in 2019-20 and mostly not
in 2020-21). Every value is drawn at random; none describes a real person.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa

GRADES = ("JK", "K", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12")
YEARS = ("2017-18", "2018-19", "2019-20", "2020-21", "2021-22", "2022-23")
EQAO_YEARS = {"2017-18": 1.0, "2018-19": 1.0, "2019-20": 0.0, "2020-21": 0.02, "2021-22": 1.0, "2022-23": 1.0}
LEVELS = ("1", "2", "3", "4", "NE1")
STATUS_SHARES = {"in_care": 0.0035, "kinship_service": 0.0012, "ccsy": 0.0006, "vysa": 0.0003}
STUDENTS_PER_YEAR = 2_000_000
ASSESSMENTS = {
    "eqao_g3_reading": "3",
    "eqao_g3_writing": "3",
    "eqao_g3_math": "3",
    "eqao_g6_reading": "6",
    "eqao_g6_writing": "6",
    "eqao_g6_math": "6",
    "eqao_g9_math": "9",
}


def _dictionary(codes: Sequence[str], index: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    indices = pa.array(index.astype(np.int32), mask=None if valid is None else ~valid)
    return pa.DictionaryArray.from_arrays(indices, pa.array(list(codes), pa.string()))


def rehearsal_panel(
    code_lists: Mapping[str, Sequence[str]],
    scale: float = 0.001,
    seed: int = 0,
    years: Sequence[str] = YEARS,
) -> pa.Table:
    """About `scale` x 2 million students a year, one row per student per school year."""
    rng = np.random.default_rng(seed)
    boards = list(code_lists["board"])
    societies = list(code_lists["society"])
    placements = list(code_lists["placement_type"])
    genders = list(code_lists["onsis_gender"])
    per_grade = max(1, round(STUDENTS_PER_YEAR * scale / len(GRADES)))
    cohorts = len(GRADES) + len(years) - 1
    persons = per_grade * cohorts
    board_weights = rng.zipf(1.6, len(boards)).astype(np.float64)
    board_weights /= board_weights.sum()
    person_board = rng.choice(len(boards), persons, p=board_weights)
    person_gender = rng.choice(len(genders), persons, p=_gender_shares(genders))
    person_society = rng.integers(0, len(societies), persons)
    draw = rng.random(persons)
    thresholds = np.cumsum(list(STATUS_SHARES.values()))
    person_status = np.searchsorted(thresholds, draw)  # == len(STATUS_SHARES) for not involved
    person_ability = rng.normal(0.0, 1.0, persons)
    statuses = [*STATUS_SHARES, "not_involved"]
    parts: list[pa.Table] = []
    for t, year in enumerate(years):
        cohort = np.arange(persons) // per_grade
        grade = t - cohort + (cohorts - len(years))
        enrolled = (grade >= 0) & (grade < len(GRADES))
        ids = np.flatnonzero(enrolled)
        g = grade[ids]
        status = person_status[ids].copy()
        status[rng.random(len(ids)) > 0.8] = len(STATUS_SHARES)  # a year out of involvement
        older = g >= 11
        status[(status == 2) & ~older] = 0  # CCSY is for youth aged 18 and over
        status[(status == 3) & (g < 9)] = 0  # VYSAs are for youth aged 16 and 17
        involved = status < len(STATUS_SHARES)
        in_care = status == 0
        ability = person_ability[ids] - 0.6 * involved
        attendance = np.clip(rng.beta(30, 2.2, len(ids)) - 0.06 * involved, 0.0, 1.0)
        credits = np.where(
            g >= 10,
            np.clip(np.round(8.0 * (g - 9) + 1.5 * ability + rng.normal(0, 2, len(ids))), 0, 34),
            np.where(g == 10 - 1, np.clip(np.round(8 + ability), 0, 12), np.nan),
        )
        placement = np.where(
            in_care,
            rng.choice(len(placements), len(ids)),
            np.where(status == 1, placements.index("kinship_care") if "kinship_care" in placements else 0, -1),
        )
        columns: dict[str, pa.Array] = {
            "person_id": pa.array(ids.astype(np.int64)),
            "school_year": _dictionary(list(years), np.full(len(ids), t)),
            "care_status": _dictionary(statuses, status),
            "gender": _dictionary(genders, person_gender[ids]),
            "grade": _dictionary(list(GRADES), g),
            "board": _dictionary(boards, person_board[ids]),
            "society": _dictionary(societies, person_society[ids], involved),
            "placement_type": _dictionary(placements, np.maximum(placement, 0), placement >= 0),
            "attendance": pa.array(np.round(attendance, 3)),
            "credits_cumulative": pa.array(credits, mask=np.isnan(credits)),
        }
        sitting = EQAO_YEARS.get(year, 1.0)
        for column, grade_code in ASSESSMENTS.items():
            columns[column] = _levels(rng, g == GRADES.index(grade_code), ability, sitting)
        columns["osslt"] = _osslt(rng, g == GRADES.index("10"), ability, sitting)
        parts.append(pa.table(columns))
    return pa.concat_tables(parts, promote_options="permissive")


def _gender_shares(genders: Sequence[str]) -> np.ndarray:
    shares = np.array([0.485 if g == "F" else 0.5 if g == "M" else 0.015 for g in genders])
    return np.asarray(shares / shares.sum(), dtype=np.float64)


def _levels(rng: np.random.Generator, eligible: np.ndarray, ability: np.ndarray, sitting: float) -> pa.Array:
    wrote = eligible & (rng.random(len(eligible)) < 0.95 * sitting)
    score = ability + rng.normal(0, 0.8, len(eligible))
    level = np.digitize(score, [-1.6, -0.7, 0.6]) + 1  # 1..4
    level = np.where(rng.random(len(eligible)) < 0.01, 5, level)  # NE1
    return _dictionary(LEVELS, level - 1, wrote)


def _osslt(rng: np.random.Generator, eligible: np.ndarray, ability: np.ndarray, sitting: float) -> pa.Array:
    wrote = eligible & (rng.random(len(eligible)) < 0.93 * sitting)
    success = (ability + rng.normal(0, 0.8, len(eligible))) > -1.2
    return _dictionary(["successful", "unsuccessful"], np.where(success, 0, 1), wrote)
