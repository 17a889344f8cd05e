"""School careers: who enrols in the window, in which grade, and for how many October counts.

The model follows the province's enrolment: the October 2017 count by grade, then every later year a
new JK cohort, some direct K entrants and in-migrants at every grade. Each year some students leave
(moves out of province, private school, dropping out) and a quarter of Grade 12 students stay a
fifth year. A career is a run of person-year rows, so OnSIS and EQAO can be cut from it directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from linkhaven.synth.arrays import IntArray
from linkhaven.synth.reference import FIRST_YEAR, GRADE_12, LAST_YEAR, YEARS

# Enrolment on the October 2017 count, thousands, JK..12 [reference §1a: cohorts of 125-140k,
# elementary ~1.36M, secondary ~0.63M; the Grade 12 figure includes fifth-year students].
STOCK_2017 = (125, 132, 138, 138, 138, 138, 138, 138, 138, 138, 145, 145, 145, 190)
JK_ENTRANTS = 125.0  # thousands a year from 2018-19, growing 0.4% a year [assumed]
JK_GROWTH = 1.004
K_ENTRANTS = 7.0  # children who skip JK [assumed]
MIGRANTS_PER_GRADE = 3.0  # in-migrants a year at each of grades 1-12 [assumed]
FIFTH_YEAR = 0.25  # Grade 12 students who return for a fifth year [assumed]
LEAVE_HAZARD = np.array([0.012] * 10 + [0.025, 0.025, 0.03, 0.05])  # by grade index [assumed]


@dataclass
class Careers:
    """Person-year enrolment rows (October count), sorted by person then year."""

    person: IntArray
    year: IntArray
    grade: IntArray  # 0 = JK .. 13 = Grade 12
    twin_source_row: IntArray  # for a co-twin's row, the row it copies; -1 otherwise


def student_entries(scale: float) -> tuple[IntArray, IntArray, IntArray]:
    """(first year, first grade, already in fifth year) for every student who enrols in the window."""
    first_year: list[IntArray] = []
    first_grade: list[IntArray] = []
    fifth: list[IntArray] = []

    def add(year: int, grade: int, thousands: float, is_fifth: bool = False) -> None:
        n = int(round(thousands * 1000 * scale))
        if n <= 0:
            return
        first_year.append(np.full(n, year, dtype=np.int64))
        first_grade.append(np.full(n, grade, dtype=np.int64))
        fifth.append(np.full(n, int(is_fifth), dtype=np.int64))

    for grade, thousands in enumerate(STOCK_2017):
        if grade == GRADE_12:
            returning = thousands * FIFTH_YEAR / (1 + FIFTH_YEAR)
            add(FIRST_YEAR, grade, thousands - returning)
            add(FIRST_YEAR, grade, returning, is_fifth=True)
        else:
            add(FIRST_YEAR, grade, thousands)
    for year in YEARS[1:]:
        add(year, 0, JK_ENTRANTS * JK_GROWTH ** (year - FIRST_YEAR))
        add(year, 1, K_ENTRANTS)
        for grade in range(2, GRADE_12 + 1):
            add(year, grade, MIGRANTS_PER_GRADE)
    return np.concatenate(first_year), np.concatenate(first_grade), np.concatenate(fifth)


def school_careers(rng: np.random.Generator, first_year: IntArray, first_grade: IntArray, fifth: IntArray) -> Careers:
    """Explode students into person-year rows, with a fifth Grade 12 year for some and attrition.

    Row arrays use the narrowest integer types (12 million rows at scale 1)."""
    n = len(first_year)
    stays_fifth = (rng.random(n) < FIFTH_YEAR) & (fifth == 0)
    natural_last = first_year + (GRADE_12 - first_grade) + stays_fifth.astype(np.int64)
    natural_last = np.where(fifth == 1, first_year, natural_last)
    counts = (np.minimum(natural_last, LAST_YEAR) - first_year + 1).astype(np.int32)
    starts = np.cumsum(counts) - counts
    person = np.repeat(np.arange(n, dtype=np.int32), counts)
    offset = np.arange(len(person), dtype=np.int32) - np.repeat(starts.astype(np.int32), counts)
    year = (first_year.astype(np.int16)[person] + offset).astype(np.int16)
    grade = np.minimum(first_grade.astype(np.int8)[person] + offset, GRADE_12).astype(np.int8)
    del offset
    # attrition: a leave draw after each row; drop every row after a person's first leave
    leave = (rng.random(len(person)) < LEAVE_HAZARD[grade]).astype(np.int32)
    before_row = np.cumsum(leave, dtype=np.int32) - leave
    del leave
    keep = before_row == np.repeat(before_row[starts], counts)
    del before_row
    return Careers(
        person=person[keep],
        year=year[keep],
        grade=grade[keep],
        twin_source_row=np.full(int(keep.sum()), -1, dtype=np.int32),
    )
