"""The EQAO extract: one row per student per assessment sitting, on the real testing calendar.

Sittings follow the calendar as it happened (nothing in 2019-20; in 2020-21 only optional field
tests of Grade 9 math and the OSSLT), so a panel built from the linked data shows the same gaps as
the real one. Results come from the student's ability, lower for children known to child welfare,
calibrated to the published share at or above the provincial standard.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from linkhaven.synth.arrays import BoolArray, FloatArray, IntArray
from linkhaven.synth.extract_columns import code_column, date_strings
from linkhaven.synth.identifiers import format_ids, scrambled_ids
from linkhaven.synth.noise import TrueIdentity, record_identity
from linkhaven.synth.rates import ErrorRates
from linkhaven.synth.reference import (
    EQAO_ASSESSMENTS,
    EQAO_FIELD_TEST_SHARE,
    EQAO_FIELD_TEST_YEAR,
    EQAO_FULL_YEARS,
    EQAO_STANDARD,
    FIRST_YEAR,
    GRADE_3,
    GRADE_6,
    GRADE_9,
    GRADE_10,
    OSSLT_SUCCESS,
    OSSLT_SUCCESS_PREVIOUSLY_ELIGIBLE,
    YEARS,
    boards,
    school_year_label,
)
from linkhaven.synth.world import World


@dataclass
class Sittings:
    """EQAO sittings before identities: the career row, assessment and result codes."""

    row: IntArray
    assessment: IntArray
    participation: IntArray  # 0 participated, 1 absent, 2 exempt, 3 deferred
    level: IntArray  # 0 none, 1-4, 5 = NE1
    osslt: IntArray  # 0 none, 1 successful, 2 unsuccessful


def _participation(rng: np.random.Generator, in_cw: BoolArray, osslt: bool) -> IntArray:
    n = len(in_cw)
    u = rng.random(n)
    absent = np.where(in_cw, 0.07, 0.035)
    exempt = np.where(in_cw, 0.04, 0.02)
    deferred = 0.03 if osslt else 0.0
    out = np.zeros(n, dtype=np.int64)
    out[u < absent] = 1
    out[(u >= absent) & (u < absent + exempt)] = 2
    out[(u >= absent + exempt) & (u < absent + exempt + deferred)] = 3
    return out


def _levels(score: FloatArray, p_standard: float) -> IntArray:
    """Levels calibrated so that `p_standard` of the participants reach level 3 or 4."""
    if len(score) == 0:
        return np.zeros(0, dtype=np.int64)
    q = np.quantile(score, [0.01, 0.01 + (1 - p_standard - 0.01) * 0.25, 1 - p_standard, 1 - p_standard * 0.25])
    level = np.select([score < q[0], score < q[1], score < q[2], score < q[3]], [5, 1, 2, 3], default=4)
    return level.astype(np.int64)


def eqao_sittings(rng: np.random.Generator, world: World) -> Sittings:
    """Who sat which assessment when, on the real calendar (nothing in 2019-20; only optional field
    tests of G9 math and the OSSLT in 2020-21), and with what result."""
    p, c = world.people, world.careers
    person, year, grade = c.person, c.year, c.grade
    in_cw = p.cpin[person]
    score_all = 0.8 * p.ability[person] - 0.5 * in_cw + 0.6 * rng.standard_normal(len(person))
    rows: list[IntArray] = []
    assessment: list[IntArray] = []
    participation: list[IntArray] = []
    level: list[IntArray] = []
    osslt: list[IntArray] = []

    def add(sel: IntArray, code: str, yr: int, is_osslt: bool = False, prev: BoolArray | None = None) -> None:
        part = _participation(rng, in_cw[sel], is_osslt)
        lv = np.zeros(len(sel), dtype=np.int64)
        out = np.zeros(len(sel), dtype=np.int64)
        took = part == 0
        noise = 0.3 * rng.standard_normal(len(sel))
        if is_osslt:
            previous = prev if prev is not None else np.zeros(len(sel), dtype=bool)
            for group, rate in ((~previous, OSSLT_SUCCESS[yr]), (previous, OSSLT_SUCCESS_PREVIOUSLY_ELIGIBLE)):
                g = took & group
                if g.any():
                    s = score_all[sel[g]] + noise[g]
                    out[g] = np.where(s >= np.quantile(s, 1 - rate), 1, 2)
        else:
            lv[took] = _levels(score_all[sel[took]] + noise[took], EQAO_STANDARD[code][yr])
        rows.append(sel)
        assessment.append(np.full(len(sel), EQAO_ASSESSMENTS.index(code), dtype=np.int64))
        participation.append(part)
        level.append(lv)
        osslt.append(out)

    # OSSLT history: those first seen past Grade 10 mostly passed before the window
    first_row = np.ones(len(person), dtype=bool)
    first_row[1:] = person[1:] != person[:-1]
    passed = np.zeros(p.n, dtype=bool)
    late = first_row & (grade > GRADE_10)
    passed[person[late]] = rng.random(int(late.sum())) < 0.8
    for yr in YEARS:
        in_year = year == yr
        if yr in EQAO_FULL_YEARS:
            for g, prefix in ((GRADE_3, "G3"), (GRADE_6, "G6")):
                sel = np.flatnonzero(in_year & (grade == g))
                for part_name in ("READING", "WRITING", "MATH"):
                    add(sel, f"{prefix}_{part_name}", yr)
            add(np.flatnonzero(in_year & (grade == GRADE_9)), "G9_MATH", yr)
            fte = np.flatnonzero(in_year & (grade == GRADE_10))
            pe = np.flatnonzero(in_year & (grade > GRADE_10))
            pe = pe[~passed[person[pe]] & (rng.random(len(pe)) < 0.8)]
        elif yr == EQAO_FIELD_TEST_YEAR:
            g9 = np.flatnonzero(in_year & (grade == GRADE_9))
            add(g9[rng.random(len(g9)) < EQAO_FIELD_TEST_SHARE], "G9_MATH", yr)
            fte = np.flatnonzero(in_year & (grade == GRADE_10))
            fte = fte[rng.random(len(fte)) < EQAO_FIELD_TEST_SHARE]
            pe = np.flatnonzero(in_year & (grade == GRADE_10 + 1))
            pe = pe[~passed[person[pe]] & (rng.random(len(pe)) < EQAO_FIELD_TEST_SHARE)]
        else:
            continue
        sel = np.concatenate([fte, pe])
        prev = np.concatenate([np.zeros(len(fte), dtype=bool), np.ones(len(pe), dtype=bool)])
        add(sel, "OSSLT", yr, is_osslt=True, prev=prev)
        passed[person[sel[osslt[-1] == 1]]] = True
    return Sittings(
        row=np.concatenate(rows),
        assessment=np.concatenate(assessment),
        participation=np.concatenate(participation),
        level=np.concatenate(level),
        osslt=np.concatenate(osslt),
    )


def build_eqao(rng: np.random.Generator, world: World, rates: ErrorRates) -> pa.Table:
    """One row per student per assessment sitting, in extract order (year, assessment, board)."""
    p, c = world.people, world.careers
    s = eqao_sittings(rng, world)
    order = np.lexsort((world.board[s.row], s.assessment, c.year[s.row]))
    row, assessment = s.row[order], s.assessment[order]
    participation, level, osslt = s.participation[order], s.level[order], s.osslt[order]
    del s, order
    person = c.person[row]
    year = c.year[row]
    truth = TrueIdentity(p.given[person], p.family_in_year(person, year), p.birth[person], p.oen[person])
    recorded = record_identity(rng, "eqao", truth, world.vocab, rates, world.oen_pool)
    del truth
    n = len(row)
    board_numbers = [b.number for b in boards()]
    level_text = code_column(("", "1", "2", "3", "4", "NE1"), level)
    level_text = pc.if_else(pa.array(level == 0), pa.nulls(n, level_text.type), level_text)
    osslt_text = code_column(("", "successful", "unsuccessful"), osslt)
    osslt_text = pc.if_else(pa.array(osslt == 0), pa.nulls(n, osslt_text.type), osslt_text)
    return pa.table(
        {
            "EQAO_RECORD_ID": format_ids(scrambled_ids(rng, n, 10), "Q", 10),
            "OEN": recorded.oen,
            "FIRST_NAME": recorded.given,
            "LAST_NAME": recorded.family,
            "BIRTH_DATE": date_strings(
                recorded.birth_year, recorded.birth_month, recorded.birth_day, recorded.birth_missing, compact=False
            ),
            "SCHOOL_YEAR": code_column([school_year_label(y) for y in YEARS], year - FIRST_YEAR),
            "BOARD_NUMBER": code_column(board_numbers, world.board[row]),
            "ASSESSMENT": code_column(EQAO_ASSESSMENTS, assessment),
            "PARTICIPATION": code_column(("participated", "absent", "exempt", "deferred"), participation),
            "ACHIEVEMENT_LEVEL": level_text,
            "OSSLT_OUTCOME": osslt_text,
            "_person": pa.array(person, pa.int32()),
        }
    )
