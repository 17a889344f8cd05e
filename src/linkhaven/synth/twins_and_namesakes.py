"""Look-alikes on purpose: namesakes and co-twins, the true persons a linker must keep apart.

Two different children with the same name and birth year (namesakes), or the same family name,
birth date, home and school (twins), are the classic false matches. They are made deliberately, at
the rates in `ErrorRates`, so the linkage can be scored on exactly the cases that are hardest.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt

from linkhaven.synth.enrolment import Careers
from linkhaven.synth.names import name_tables
from linkhaven.synth.people import People

ArrayT = TypeVar("ArrayT", bound=npt.NDArray[Any])


def add_namesakes(rng: np.random.Generator, people: People, n_students: int, share: float) -> None:
    """Give some students the exact name of another student of the same sex and birth year."""
    chosen = np.flatnonzero(rng.random(n_students) < share)
    if not len(chosen):
        return
    key = people.birth_year[:n_students] * 2 + people.sex[:n_students]
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    lo = np.searchsorted(sorted_key, key[chosen], side="left")
    hi = np.searchsorted(sorted_key, key[chosen], side="right")
    size = hi - lo
    ok = size > 1
    chosen, lo, size = chosen[ok], lo[ok], size[ok]
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    offset = (rng.random(len(chosen)) * size).astype(np.int64)
    # never oneself: step past one's own position in the group
    offset = np.where(lo + offset == position[chosen], (offset + 1) % size, offset)
    other = order[lo + offset]
    people.given[chosen] = people.given[other]
    people.family[chosen] = people.family[other]
    people.namesake_of[chosen] = other


def add_twins(
    rng: np.random.Generator, people: People, careers: Careers, n_students: int, share: float
) -> tuple[People, Careers]:
    """Append a co-twin for some students: the same career, family name, birth date, home and
    school; another given name (same or other sex) and OEN."""
    sources = np.flatnonzero(rng.random(n_students) < share / 2)
    m = len(sources)
    if not m:
        return people, careers
    tables = name_tables()
    new_ids = np.arange(people.n, people.n + m, dtype=np.int64)
    sex = np.where(rng.random(m) < 0.66, people.sex[sources], rng.integers(0, 2, m)).astype(np.int8)
    given = tables.sample_given(rng, people.origin[sources], sex).astype(np.int32)
    same = given == people.given[sources]
    given[same] = tables.sample_given(rng, people.origin[sources][same], sex[same])

    def cat(a: ArrayT, b: npt.NDArray[Any]) -> ArrayT:
        return cast(ArrayT, np.concatenate([a, b]))

    twins = People(
        sex=cat(people.sex, sex),
        gender_x=cat(people.gender_x, np.zeros(m, dtype=bool)),
        birth=cat(people.birth, people.birth[sources]),
        origin=cat(people.origin, people.origin[sources]),
        region=cat(people.region, people.region[sources]),
        system=cat(people.system, people.system[sources]),
        given=cat(people.given, given),
        family=cat(people.family, people.family[sources]),
        new_family=cat(people.new_family, np.full(m, -1, dtype=np.int32)),
        change_year=cat(people.change_year, np.zeros(m, dtype=np.int16)),
        change_reason=cat(people.change_reason, np.zeros(m, dtype=np.int8)),
        oen=cat(people.oen, np.zeros(m, dtype=np.int64)),
        twin_of=cat(people.twin_of, sources.astype(np.int32)),
        namesake_of=cat(people.namesake_of, np.full(m, -1, dtype=np.int32)),
        student=cat(people.student, np.ones(m, dtype=bool)),
        extra=cat(people.extra, np.zeros(m, dtype=bool)),
        ability=cat(people.ability, (0.6 * people.ability[sources] + 0.8 * rng.standard_normal(m)).astype(np.float32)),
        u_board=cat(people.u_board, people.u_board[sources]),
        u_school=cat(people.u_school, people.u_school[sources]),
        cpin=cat(people.cpin, np.zeros(m, dtype=bool)),
        family_vocab=people.family_vocab,
    )
    twins.twin_of[sources] = new_ids
    # careers: copy the source's rows
    map_new = np.full(people.n, -1, dtype=np.int32)
    map_new[sources] = new_ids
    src_rows = np.flatnonzero(map_new[careers.person] >= 0).astype(np.int32)
    # co-twins are the newest persons, so their rows go at the end and the order by person holds
    return twins, Careers(
        person=np.concatenate([careers.person, map_new[careers.person[src_rows]]]),
        year=np.concatenate([careers.year, careers.year[src_rows]]),
        grade=np.concatenate([careers.grade, careers.grade[src_rows]]),
        twin_source_row=np.concatenate([careers.twin_source_row, src_rows]),
    )
