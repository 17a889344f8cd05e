"""The OnSIS extract: one row per student per school year, as the Ministry of Education delivers it.

Identity is recorded once per registration spell, not once per row: a school records a child's name
and birth date when they register and carries them forward, so a typo persists until the child
changes school or legal name. Attendance and credits are drawn from the student's ability and lower
for children known to child welfare, which gives the linked panel something real to find.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from linkhaven.synth.extract_columns import code_column, date_strings, expand_to_rows, postal_column
from linkhaven.synth.identifiers import format_ids, scrambled_ids
from linkhaven.synth.noise import TrueIdentity, record_identity
from linkhaven.synth.rates import ErrorRates
from linkhaven.synth.reference import FIRST_YEAR, GRADE_9, GRADE_LABELS, YEARS, boards, school_year_label
from linkhaven.synth.schools import pick_schools
from linkhaven.synth.world import World

SPELL_SCHOOL_STEP = 0.6180339887  # a move shifts a student's school draw (golden-ratio stride)


def build_onsis(rng: np.random.Generator, world: World, rates: ErrorRates) -> pa.Table:
    """One row per student per school year, in extract order (year, board, school)."""
    p, c = world.people, world.careers
    n = len(c.person)
    secondary_all = c.grade >= GRADE_9
    seg = world.residence.segment_number[world.residence_row]
    school_all = pick_schools(
        world.boards, world.board, secondary_all, np.mod(p.u_school[c.person] + SPELL_SCHOOL_STEP * seg, 1.0)
    )
    del seg
    family = p.family_in_year(c.person, c.year)
    # registration spells: a new spell when the person, the school or the legal name changes
    new_spell = np.ones(n, dtype=bool)
    new_spell[1:] = (c.person[1:] != c.person[:-1]) | (school_all[1:] != school_all[:-1]) | (family[1:] != family[:-1])
    spell = np.cumsum(new_spell) - 1
    first = np.flatnonzero(new_spell)
    truth = TrueIdentity(p.given[c.person[first]], family[first], p.birth[c.person[first]], p.oen[c.person[first]])
    del family, new_spell, first
    recorded_units = record_identity(rng, "onsis", truth, world.vocab, rates, world.oen_pool)
    fifth_all = (c.grade == 13) & np.concatenate([[False], (c.person[1:] == c.person[:-1]) & (c.grade[:-1] == 13)])

    # everything below is in extract order
    order = np.lexsort((school_all, world.board, c.year))
    person, year, grade = c.person[order], c.year[order], c.grade[order]
    school, board, secondary, fifth_year = school_all[order], world.board[order], secondary_all[order], fifth_all[order]
    del school_all, secondary_all, fifth_all
    recorded = expand_to_rows(recorded_units, spell[order])
    del spell, recorded_units
    postal = postal_column(rng, world.residence.postal.take(pa.array(world.residence_row[order])), "onsis", rates)

    in_cw = p.cpin[person]
    attendance_mean = np.where(secondary, 0.91, 0.94) - 0.05 * in_cw + 0.01 * p.ability[person]
    attendance_mean = np.where(year == 2020, attendance_mean - 0.02, attendance_mean)
    attendance_mean = np.clip(attendance_mean, 0.5, 0.99)
    k = 40.0
    attendance = np.round(rng.beta(attendance_mean * k, (1 - attendance_mean) * k), 4)
    del attendance_mean
    credit_mean = np.where(fifth_year, 4.0, 7.6) - 1.8 * in_cw + 0.5 * p.ability[person]
    credits = np.clip(np.round(rng.normal(credit_mean, 1.0) * 2) / 2, 0, 12)
    del credit_mean
    gender = np.where(p.gender_x[person], 2, p.sex[person])

    board_numbers = [b.number for b in boards()]
    return pa.table(
        {
            "ENROLMENT_ID": format_ids(scrambled_ids(rng, n, 10), "R", 10),
            "OEN": recorded.oen,
            "LEGAL_FIRST_NAME": recorded.given,
            "LEGAL_LAST_NAME": recorded.family,
            "DATE_OF_BIRTH": date_strings(
                recorded.birth_year, recorded.birth_month, recorded.birth_day, recorded.birth_missing, compact=True
            ),
            "POSTAL_CODE": postal,
            "GENDER": code_column(("F", "M", "X"), gender),
            "SCHOOL_YEAR": code_column([school_year_label(y) for y in YEARS], year - FIRST_YEAR),
            "BOARD_NUMBER": code_column(board_numbers, board),
            "SCHOOL_NUMBER": pa.array(school, pa.int32()),
            "GRADE": code_column(GRADE_LABELS, grade),
            "ATTENDANCE_RATE": pa.array(attendance, pa.float64()),
            "CREDITS_EARNED": pa.array(credits, pa.float64(), mask=~secondary),
            "_person": pa.array(person, pa.int32()),
        }
    )
