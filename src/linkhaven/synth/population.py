"""The true population: every person the extracts are later drawn from (and corrupted from).

`build_people` assembles it in the order the random stream is consumed, which is what makes a seed
reproducible, so the steps stay here in one function while each concept lives in its own module:

* students and their school careers (`enrolment.py`), plus persons who never appear in OnSIS
  (infants, youth past school age, children on reserve or out of the public system), added for child
  welfare to draw from;
* where they live and who they are by birth (`demographics.py`), their given names and family names
  (`family_names.py`);
* namesakes and co-twins (`twins_and_namesakes.py`), OENs, and surname changes.

Everything is vectorised: the only Python loops run over code-list entries (regions, boards,
cohorts), never over persons. Figures at scale 1 are in `docs/synthetic-data.md`.
"""

from __future__ import annotations

import numpy as np

from linkhaven.synth.arrays import DateArray
from linkhaven.synth.demographics import draw_categorical, draw_demographics, origin_probabilities, region_weights
from linkhaven.synth.enrolment import Careers, school_careers, student_entries
from linkhaven.synth.family_names import add_surname_changes, draw_family_names
from linkhaven.synth.identifiers import make_oens
from linkhaven.synth.names import name_tables
from linkhaven.synth.people import People
from linkhaven.synth.rates import ErrorRates
from linkhaven.synth.reference import ORIGINS, regions
from linkhaven.synth.twins_and_namesakes import add_namesakes, add_twins

GENDER_X_SHARE = 0.003  # students whose OnSIS gender is X [assumed]
# Persons outside OnSIS available to child welfare, per birth year (thousands at scale 1): more for
# birth years with no student (infants born 2019+, youth born before 2000) [assumed].
EXTRA_IN_SCHOOL_YEARS = 3.0
EXTRA_OTHER_YEARS = 8.0
EXTRA_BIRTH_YEARS = tuple(range(1996, 2024))
EXTRA_NORTH_INDIGENOUS = 0.35  # share of extras who are Indigenous children in the north (on reserve)


def build_people(rng: np.random.Generator, scale: float, rates: ErrorRates) -> tuple[People, Careers]:
    """All students with their careers, their co-twins and the persons outside OnSIS."""
    tables = name_tables()
    first_year, first_grade, fifth = student_entries(scale)
    careers = school_careers(rng, first_year, first_grade, fifth)
    n_students = len(first_year)
    # birth year from the grade a student is in: JK children turn 4 in the calendar year the
    # school year starts; a fifth-year Grade 12 student is a year older.
    birth_year = first_year - 4 - first_grade - fifth

    # persons outside OnSIS, by birth year
    extra_years: list[int] = []
    for b in EXTRA_BIRTH_YEARS:
        thousands = EXTRA_IN_SCHOOL_YEARS if 2000 <= b <= 2018 else EXTRA_OTHER_YEARS
        extra_years += [b] * max(5, int(round(thousands * 1000 * scale)))
    extra_birth_year = np.array(extra_years, dtype=np.int64)
    n_extra = len(extra_birth_year)

    region_w = region_weights()
    region = rng.choice(len(region_w), size=n_students + n_extra, p=region_w).astype(np.int64)
    origin = draw_categorical(rng, origin_probabilities(), region)
    # a share of extras are Indigenous children in the north, outside the provincial school system
    north = np.array([i for i, r in enumerate(regions()) if r.north])
    north_w = np.array([regions()[i].weight * regions()[i].indigenous_factor for i in north])
    on_reserve = np.flatnonzero(rng.random(n_extra) < EXTRA_NORTH_INDIGENOUS) + n_students
    region[on_reserve] = north[rng.choice(len(north), size=len(on_reserve), p=north_w / north_w.sum())]
    origin[on_reserve] = ORIGINS.index("indigenous")
    origin, sex, system = draw_demographics(rng, region, origin)

    all_birth_year = np.concatenate([birth_year, extra_birth_year])
    n = n_students + n_extra
    day = rng.integers(0, 365, n)
    birth: DateArray = ((all_birth_year - 1970).astype("datetime64[Y]").astype("datetime64[D]") + day).astype(
        "datetime64[D]"
    )
    given = tables.sample_given(rng, origin, sex)
    family, vocab = draw_family_names(rng, tables, origin)
    # extras hold an OEN if they were in an Ontario school before the window (older youth), some of
    # the school-aged ones (private school, earlier enrolment); infants never. -1 = no OEN, 0 = one
    # to be drawn once the co-twins exist.
    extra_has_oen = np.where(
        extra_birth_year <= 1999, True, np.where(extra_birth_year <= 2013, rng.random(n_extra) < 0.5, False)
    )
    oen = np.zeros(n, dtype=np.int64)
    oen[n_students:][~extra_has_oen] = -1

    people = People(
        sex=sex.astype(np.int8),
        gender_x=rng.random(n) < GENDER_X_SHARE,
        birth=birth,
        origin=origin.astype(np.int8),
        region=region.astype(np.int16),
        system=system.astype(np.int8),
        given=given.astype(np.int32),
        family=family.astype(np.int32),
        new_family=np.full(n, -1, dtype=np.int32),
        change_year=np.zeros(n, dtype=np.int16),
        change_reason=np.zeros(n, dtype=np.int8),
        oen=oen,
        twin_of=np.full(n, -1, dtype=np.int32),
        namesake_of=np.full(n, -1, dtype=np.int32),
        student=np.concatenate([np.ones(n_students, dtype=bool), np.zeros(n_extra, dtype=bool)]),
        extra=np.concatenate([np.zeros(n_students, dtype=bool), np.ones(n_extra, dtype=bool)]),
        ability=rng.standard_normal(n, dtype=np.float32),
        u_board=rng.random(n, dtype=np.float32),
        u_school=rng.random(n, dtype=np.float32),
        cpin=np.zeros(n, dtype=bool),
        family_vocab=vocab,
    )
    add_namesakes(rng, people, n_students, rates.namesake_share)
    people, careers = add_twins(rng, people, careers, n_students, rates.twin_share)
    people.oen = np.where(people.oen >= 0, make_oens(rng, people.n), -1)
    add_surname_changes(rng, people, tables, rates.surname_change)
    return people, careers
