"""The true population: persons, their school careers and where they live.

Everything here is the *truth* the extracts are later drawn from (and corrupted from). Persons are
columns of numpy arrays indexed by person number; a student's career is a set of person-year rows.
All of it is vectorised: the only Python loops run over code-list entries (regions, boards, cohorts),
never over persons.

Population model (scale 1; figures in `docs/synthetic-data.md`): the 2017-18 enrolment by grade,
then every later year a new JK cohort, some direct K entrants and in-migrants at every grade; each
year some students leave (moves out of province, private school, dropping out); a quarter of Grade
12 students stay a fifth year. Twins are copies of a student's career with another given name and
OEN; persons who never appear in OnSIS (infants, youth past school age, children on reserve or out
of the public system) are added for child welfare to draw from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from linkhaven.synth.arrays import BoolArray, DateArray, FloatArray, IntArray
from linkhaven.synth.identifiers import make_oens, postal_codes
from linkhaven.synth.names import COMPOUND_SHARE, NameTables, name_tables
from linkhaven.synth.rates import ErrorRates
from linkhaven.synth.reference import (
    FIRST_YEAR,
    GRADE_12,
    GTA_FACTOR,
    GTA_REGIONS,
    IMMIGRANT_ORIGINS,
    LAST_YEAR,
    ORIGIN_SHARE,
    ORIGINS,
    YEARS,
    boards,
    regions,
)

ArrayT = TypeVar("ArrayT", bound=npt.NDArray[Any])

# Enrolment on the October 2017 count, thousands, JK..12 [reference §1a: cohorts of 125-140k,
# elementary ~1.36M, secondary ~0.63M; the Grade 12 figure includes fifth-year students].
STOCK_2017 = (125, 132, 138, 138, 138, 138, 138, 138, 138, 138, 145, 145, 145, 190)
JK_ENTRANTS = 125.0  # thousands a year from 2018-19, growing 0.4% a year [assumed]
JK_GROWTH = 1.004
K_ENTRANTS = 7.0  # children who skip JK [assumed]
MIGRANTS_PER_GRADE = 3.0  # in-migrants a year at each of grades 1-12 [assumed]
FIFTH_YEAR = 0.25  # Grade 12 students who return for a fifth year [assumed]
LEAVE_HAZARD = np.array([0.012] * 10 + [0.025, 0.025, 0.03, 0.05])  # by grade index [assumed]
GENDER_X_SHARE = 0.003  # students whose OnSIS gender is X [assumed]
# Persons outside OnSIS available to child welfare, per birth year (thousands at scale 1): more for
# birth years with no student (infants born 2019+, youth born before 2000) [assumed].
EXTRA_IN_SCHOOL_YEARS = 3.0
EXTRA_OTHER_YEARS = 8.0
EXTRA_BIRTH_YEARS = tuple(range(1996, 2024))
EXTRA_NORTH_INDIGENOUS = 0.35  # share of extras who are Indigenous children in the north (on reserve)
# Share of children in the Catholic system by origin [assumed]; French-origin families mostly choose
# French-language boards.
CATHOLIC_SHARE = {
    "english": 0.28, "european": 0.5, "french": 0.6, "south_asian": 0.12, "east_asian": 0.15,
    "arabic": 0.15, "black": 0.25, "filipino": 0.65, "latin_american": 0.55, "southeast_asian": 0.2,
    "indigenous": 0.3,
}
FRENCH_BOARD_SHARE_FRENCH_ORIGIN = 0.8
FRENCH_BOARD_SHARE_OTHER = 0.02
STUDENTS_PER_ELEMENTARY_SCHOOL = 380
STUDENTS_PER_SECONDARY_SCHOOL = 750
SCHOOL_NUMBER_SEED = 20170901  # schools are the same for every seed


@dataclass
class People:
    """Every true person, one entry per index. Names are indices into the vocabularies."""

    sex: IntArray  # 0 female, 1 male
    gender_x: BoolArray
    birth: DateArray
    origin: IntArray
    region: IntArray  # home region index
    system: IntArray  # 0 English public, 1 English Catholic, 2 French public, 3 French Catholic
    given: IntArray
    family: IntArray
    new_family: IntArray  # -1 when the family name never changes
    change_year: IntArray  # first school year with the new name, 0 when none
    change_reason: IntArray  # 0 none, 1 adoption, 2 other
    oen: IntArray  # -1 when the person has no OEN
    twin_of: IntArray
    namesake_of: IntArray
    student: BoolArray
    extra: BoolArray  # created for child welfare, outside OnSIS
    ability: FloatArray
    u_board: FloatArray
    u_school: FloatArray
    cpin: BoolArray  # set by the child-welfare stage
    family_vocab: list[str]

    @property
    def n(self) -> int:
        """Number of persons."""
        return len(self.sex)

    @property
    def birth_year(self) -> IntArray:
        """Calendar year of birth."""
        years: IntArray = self.birth.astype("datetime64[Y]").astype(np.int64) + 1970
        return years

    def family_in_year(self, person: IntArray, year: IntArray) -> IntArray:
        """Family-name index in effect in school year `year` (the new name from its change year)."""
        changed = (self.new_family[person] >= 0) & (self.change_year[person] > 0) & (
            year >= self.change_year[person]
        )
        return np.where(changed, self.new_family[person], self.family[person])


@dataclass
class Careers:
    """Person-year enrolment rows (October count), sorted by person then year."""

    person: IntArray
    year: IntArray
    grade: IntArray  # 0 = JK .. 13 = Grade 12
    twin_source_row: IntArray  # for a co-twin's row, the row it copies; -1 otherwise


def _origin_probabilities() -> FloatArray:
    """Origin probabilities per region: Indigenous and French shares follow the region's factors,
    immigrant origins concentrate in the GTA."""
    out = np.zeros((len(regions()), len(ORIGINS)))
    for r, region in enumerate(regions()):
        w = ORIGIN_SHARE.copy()
        w[ORIGINS.index("indigenous")] *= region.indigenous_factor
        w[ORIGINS.index("french")] *= region.french_factor
        factor = GTA_FACTOR if region.code in GTA_REGIONS else 0.25 if region.north else 0.5
        for o in IMMIGRANT_ORIGINS:
            w[ORIGINS.index(o)] *= factor
        out[r] = w / w.sum()
    return out


def _draw_categorical(rng: np.random.Generator, probs: FloatArray, rows: IntArray) -> IntArray:
    """One category per entry of `rows`, each from its own row of `probs` (vectorised)."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(rows))
    picked: IntArray = np.minimum((u[:, None] > cum[rows]).sum(axis=1), probs.shape[1] - 1).astype(np.int64)
    return picked


def _region_weights() -> FloatArray:
    w = np.array([r.weight for r in regions()])
    share: FloatArray = w / w.sum()
    return share


def _demographics(rng: np.random.Generator, region: IntArray, origin: IntArray | None = None) -> tuple[
    IntArray, IntArray, IntArray
]:
    """Origin (if not given), sex and board system for persons living in `region`."""
    n = len(region)
    if origin is None:
        origin = _draw_categorical(rng, _origin_probabilities(), region)
    sex = (rng.random(n) < 0.513).astype(np.int64)  # slightly more boys among students
    french = ORIGINS.index("french")
    french_board = rng.random(n) < np.where(
        origin == french, FRENCH_BOARD_SHARE_FRENCH_ORIGIN, FRENCH_BOARD_SHARE_OTHER
    )
    catholic_p = np.array([CATHOLIC_SHARE[o] for o in ORIGINS])[origin]
    catholic = rng.random(n) < catholic_p
    system = french_board.astype(np.int64) * 2 + catholic.astype(np.int64)
    return origin, sex, system


def _family_names(rng: np.random.Generator, tables: NameTables, origin: IntArray) -> tuple[IntArray, list[str]]:
    """Family-name indices into a vocabulary that starts with the surname list and gains the
    two-part names built here (hyphenated; a space for Latin American double surnames)."""
    family = tables.sample_surname(rng, origin)
    vocab = list(tables.surnames)
    share = np.array([COMPOUND_SHARE[o] for o in ORIGINS])[origin]
    compound = np.flatnonzero(rng.random(len(origin)) < share)
    if len(compound):
        # the second part: same origin mostly, any origin for a mixed family
        second_origin = np.where(
            rng.random(len(compound)) < 0.7, origin[compound],
            _draw_categorical(rng, ORIGIN_SHARE[None, :], np.zeros(len(compound), dtype=np.int64)),
        )
        second = tables.sample_surname(rng, second_origin)
        latin = ORIGINS.index("latin_american")
        index: dict[str, int] = {}
        new_idx = np.empty(len(compound), dtype=np.int64)
        firsts = family[compound]
        for k in range(len(compound)):
            a, b = tables.surnames[firsts[k]], tables.surnames[second[k]]
            if a == b or "-" in a or "-" in b:
                new_idx[k] = firsts[k]
                continue
            text = f"{a} {b}" if origin[compound[k]] == latin and " " not in a + b else f"{a}-{b}"
            if text not in index:
                index[text] = len(vocab)
                vocab.append(text)
            new_idx[k] = index[text]
        family[compound] = new_idx
    return family, vocab


def _student_entries(scale: float) -> tuple[IntArray, IntArray, IntArray]:
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


def _careers(rng: np.random.Generator, first_year: IntArray, first_grade: IntArray, fifth: IntArray) -> Careers:
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


def build_people(rng: np.random.Generator, scale: float, rates: ErrorRates) -> tuple[People, Careers]:
    """All students with their careers, their co-twins and the persons outside OnSIS."""
    tables = name_tables()
    first_year, first_grade, fifth = _student_entries(scale)
    careers = _careers(rng, first_year, first_grade, fifth)
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

    region_w = _region_weights()
    region = rng.choice(len(region_w), size=n_students + n_extra, p=region_w).astype(np.int64)
    origin = _draw_categorical(rng, _origin_probabilities(), region)
    # a share of extras are Indigenous children in the north, outside the provincial school system
    north = np.array([i for i, r in enumerate(regions()) if r.north])
    north_w = np.array([regions()[i].weight * regions()[i].indigenous_factor for i in north])
    on_reserve = np.flatnonzero(rng.random(n_extra) < EXTRA_NORTH_INDIGENOUS) + n_students
    region[on_reserve] = north[rng.choice(len(north), size=len(on_reserve), p=north_w / north_w.sum())]
    origin[on_reserve] = ORIGINS.index("indigenous")
    origin, sex, system = _demographics(rng, region, origin)

    all_birth_year = np.concatenate([birth_year, extra_birth_year])
    n = n_students + n_extra
    day = rng.integers(0, 365, n)
    birth: DateArray = ((all_birth_year - 1970).astype("datetime64[Y]").astype("datetime64[D]") + day).astype(
        "datetime64[D]"
    )
    given = tables.sample_given(rng, origin, sex)
    family, vocab = _family_names(rng, tables, origin)
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
    _add_namesakes(rng, people, n_students, rates.namesake_share)
    people, careers = _add_twins(rng, people, careers, n_students, rates.twin_share)
    people.oen = np.where(people.oen >= 0, make_oens(rng, people.n), -1)
    _add_surname_changes(rng, people, tables, rates.surname_change)
    return people, careers


def _add_namesakes(rng: np.random.Generator, people: People, n_students: int, share: float) -> None:
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


def _add_twins(
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
        ability=cat(people.ability,
                    (0.6 * people.ability[sources] + 0.8 * rng.standard_normal(m)).astype(np.float32)),
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


def _add_surname_changes(rng: np.random.Generator, people: People, tables: NameTables, share: float) -> None:
    """Some students' family names change from a school year on: a new surname or a hyphenated one."""
    chosen = np.flatnonzero(people.student & (rng.random(people.n) < share) & (people.twin_of < 0))
    if not len(chosen):
        return
    new_surname = tables.sample_surname(rng, people.origin[chosen])
    hyphenate = rng.random(len(chosen)) < 0.5
    vocab = people.family_vocab
    index = {name: i for i, name in enumerate(vocab)}
    new_idx = np.empty(len(chosen), dtype=np.int64)
    for k, p in enumerate(chosen):
        old = vocab[people.family[p]]
        new = tables.surnames[new_surname[k]]
        if new == old or (hyphenate[k] and "-" in old):
            new = tables.surnames[(new_surname[k] + 1) % len(tables.surnames)]
        text = f"{old}-{new}" if hyphenate[k] and "-" not in old and " " not in old else new
        if text not in index:
            index[text] = len(vocab)
            vocab.append(text)
        new_idx[k] = index[text]
    people.new_family[chosen] = new_idx
    people.change_year[chosen] = rng.integers(FIRST_YEAR + 1, LAST_YEAR + 1, len(chosen))
    people.change_reason[chosen] = 2


# --- residence, boards and schools ------------------------------------------------------------------


@dataclass
class Residence:
    """Home region and postal code per residence row (a person in a school year)."""

    region: IntArray
    postal: pa.StringArray
    segment_number: IntArray  # moves so far, within the person


def residence_chain(
    rng: np.random.Generator, person: IntArray, people: People, rates: ErrorRates
) -> Residence:
    """Homes over consecutive rows of each person (rows sorted by person, one per school year).

    Between two rows a family moves with the annual move rate (higher for families known to child
    welfare); a move leaves the region with `move_leaves_region`, else stays in it. Each residence
    segment gets a fresh postal code in its region.
    """
    n = len(person)
    first = np.ones(n, dtype=bool)
    first[1:] = person[1:] != person[:-1]
    move_rate = np.where(people.cpin[person], rates.annual_move_cpin, rates.annual_move)
    moved = (~first) & (rng.random(n) < move_rate)
    new_segment = first | moved
    seg_of_row = np.cumsum(new_segment) - 1
    seg_rows = np.flatnonzero(new_segment)
    n_seg = len(seg_rows)
    seg_first = first[seg_rows]
    leaves = (~seg_first) & (rng.random(n_seg) < rates.move_leaves_region)
    anchor = seg_first | leaves
    region_w = _region_weights()
    anchor_region = np.where(
        seg_first, people.region[person[seg_rows]], rng.choice(len(region_w), size=n_seg, p=region_w)
    )
    last_anchor = np.maximum.accumulate(np.where(anchor, np.arange(n_seg), 0))
    seg_region = anchor_region[last_anchor]
    fsa_flat, fsa_start, fsa_count = _fsa_table()
    fsa = fsa_flat[fsa_start[seg_region] + (rng.random(n_seg) * fsa_count[seg_region]).astype(np.int64)]
    seg_postal = postal_codes(rng, fsa)
    starts = np.flatnonzero(first)
    seg_start_of_person = np.repeat(seg_of_row[starts], np.diff(np.append(starts, n)))
    return Residence(
        region=seg_region[seg_of_row].astype(np.int16),
        postal=seg_postal.take(pa.array(seg_of_row)),
        segment_number=(seg_of_row - seg_start_of_person).astype(np.int16),
    )


def _fsa_table() -> tuple[npt.NDArray[np.bytes_], IntArray, IntArray]:
    fsas = [r.fsas for r in regions()]
    flat = np.array([f.encode() for group in fsas for f in group], dtype="S3")
    count = np.array([len(g) for g in fsas], dtype=np.int64)
    start = np.cumsum(count) - count
    return flat, start, count


def fresh_postal_codes(rng: np.random.Generator, region: IntArray, spaced: bool = True) -> pa.StringArray:
    """New postal codes in the given regions (placement addresses, homes of persons outside OnSIS)."""
    fsa_flat, fsa_start, fsa_count = _fsa_table()
    fsa = fsa_flat[fsa_start[region] + (rng.random(len(region)) * fsa_count[region]).astype(np.int64)]
    return postal_codes(rng, fsa, spaced=spaced)


@dataclass(frozen=True)
class BoardTable:
    """Board choice per (region, system) as padded cumulative weights, plus school pools per board."""

    candidates: IntArray  # [region*4 + system, k] board index, -1 padding
    cumulative: FloatArray  # [region*4 + system, k]
    elementary_start: IntArray  # per board, into `school_numbers`
    elementary_count: IntArray
    secondary_start: IntArray
    secondary_count: IntArray
    school_numbers: npt.NDArray[np.int64]


def board_table(scale: float) -> BoardTable:
    """Which boards serve which region and system, and each board's schools at this scale."""
    bs = boards()
    rs = regions()
    rcode = {r.code: i for i, r in enumerate(rs)}
    groups: list[list[tuple[int, float]]] = [[] for _ in range(len(rs) * 4)]
    for b_idx, b in enumerate(bs):
        for rc in b.regions:
            groups[rcode[rc] * 4 + b.system_code].append((b_idx, b.size / len(b.regions)))
    # a region without a board of the system falls back to the English public board
    for r in range(len(rs)):
        for s in range(4):
            if not groups[r * 4 + s]:
                groups[r * 4 + s] = list(groups[r * 4])
    k = max(len(g) for g in groups)
    cand = np.full((len(groups), k), -1, dtype=np.int64)
    cum = np.full((len(groups), k), 2.0)
    for g, items in enumerate(groups):
        w = np.array([x[1] for x in items])
        cand[g, : len(items)] = [x[0] for x in items]
        cum[g, : len(items)] = np.cumsum(w) / w.sum()
    size = np.array([b.size for b in bs]) * 1000 * scale
    n_elem = np.clip(np.round(size * 0.68 / STUDENTS_PER_ELEMENTARY_SCHOOL), 1, 500).astype(np.int64)
    n_sec = np.clip(np.round(size * 0.32 / STUDENTS_PER_SECONDARY_SCHOOL), 1, 500).astype(np.int64)
    numbers = np.random.Generator(np.random.PCG64(SCHOOL_NUMBER_SEED)).permutation(900_000)[: len(bs) * 1000]
    numbers = numbers + 100_000
    block = np.arange(len(bs), dtype=np.int64) * 1000
    return BoardTable(cand, cum, block, n_elem, block + 500, n_sec, numbers.astype(np.int64))


def pick_boards(table: BoardTable, region: IntArray, system: IntArray, u: FloatArray) -> IntArray:
    """Board index per row; a person's uniform `u` keeps the choice stable while they stay."""
    group = region * 4 + system
    idx = (u[:, None] > table.cumulative[group]).sum(axis=1)
    picked: IntArray = table.candidates[group, np.minimum(idx, table.candidates.shape[1] - 1)]
    return picked


def pick_schools(table: BoardTable, board: IntArray, secondary: BoolArray, u: FloatArray) -> IntArray:
    """School number per row, from the board's elementary or secondary pool."""
    start = np.where(secondary, table.secondary_start[board], table.elementary_start[board])
    count = np.where(secondary, table.secondary_count[board], table.elementary_count[board])
    picked: IntArray = table.school_numbers[start + (u * count).astype(np.int64)]
    return picked
