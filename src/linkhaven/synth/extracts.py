"""Assemble the three institutions' extracts from the true population.

Each builder returns an Arrow table whose columns are exactly the layout's (in the layout's order,
see `docs/extract-layouts.md`) plus hidden truth columns whose names start with `_` (the true
person, and for CPIN the home postal code and exit reason). The writer drops the hidden columns;
tests and `truth.csv` use them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from linkhaven.synth.arrays import BoolArray, FloatArray, IntArray
from linkhaven.synth.cpin import EPOCH, W1, Episode
from linkhaven.synth.identifiers import format_ids, scrambled_ids
from linkhaven.synth.names import name_tables
from linkhaven.synth.noise import RecordedIdentity, TrueIdentity, Vocabulary, record_identity
from linkhaven.synth.population import (
    BoardTable,
    Careers,
    People,
    Residence,
    board_table,
    fresh_postal_codes,
    pick_boards,
    pick_schools,
    residence_chain,
)
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
    GRADE_LABELS,
    IMMIGRANT_ORIGINS,
    ORIGIN_RACE,
    ORIGINS,
    OSSLT_SUCCESS,
    OSSLT_SUCCESS_PREVIOUSLY_ELIGIBLE,
    YEARS,
    boards,
    regions,
    school_year_label,
    societies,
)

PLACEMENTS_WITH_ADDRESS = ("foster", "kinship_care", "group_care", "adoption_probation", "independent_living")
SPELL_SCHOOL_STEP = 0.6180339887  # a move shifts a student's school draw (golden-ratio stride)


@dataclass
class World:
    """Everything the builders share: the people, their careers and homes, boards and vocabularies."""

    people: People
    careers: Careers
    residence_row: IntArray  # per career row: index into `residence`
    residence: Residence
    cpin_grid_start: IntArray  # per person: first residence row of their 6-year grid, -1 if none
    board: IntArray  # per career row
    boards: BoardTable
    vocab: Vocabulary
    oen_pool: IntArray


def build_world(rng: np.random.Generator, people: People, careers: Careers, scale: float, rates: ErrorRates
                ) -> World:
    """Homes for everyone who appears somewhere, and the board of every enrolment row."""
    n_rows = len(careers.person)
    co_twin_row = careers.twin_source_row >= 0
    cpin_row = people.cpin[careers.person]
    base = np.flatnonzero(~co_twin_row & ~cpin_row)
    cpin_people = np.flatnonzero(people.cpin)
    grid_person = np.repeat(cpin_people, len(YEARS))
    person_all = np.concatenate([careers.person[base], grid_person])
    residence = residence_chain(rng, person_all, people, rates)
    grid_start = np.full(people.n, -1, dtype=np.int64)
    grid_start[cpin_people] = len(base) + np.arange(len(cpin_people)) * len(YEARS)
    row_res = np.full(n_rows, -1, dtype=np.int32)
    row_res[base] = np.arange(len(base))
    cp = np.flatnonzero(cpin_row & ~co_twin_row)
    row_res[cp] = grid_start[careers.person[cp]] + (careers.year[cp] - FIRST_YEAR)
    tw = np.flatnonzero(co_twin_row)
    row_res[tw] = row_res[careers.twin_source_row[tw]]
    table = board_table(scale)
    board = pick_boards(table, residence.region[row_res], people.system[careers.person],
                        people.u_board[careers.person]).astype(np.int16)
    tables = name_tables()
    vocab = Vocabulary.build(tables.given, people.family_vocab, tables.nicknames)
    oen_pool = np.sort(people.oen[people.oen >= 0])
    return World(people, careers, row_res, residence, grid_start, board, table, vocab, oen_pool)


def _date_strings(year: IntArray, month: IntArray, day: IntArray, missing: BoolArray, compact: bool) -> pa.Array:
    """%Y%m%d (compact) or %Y-%m-%d, null where missing."""
    if compact:
        text = pa.array(year * 10000 + month * 100 + day, pa.int64()).cast(pa.string())
    else:
        months = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
        days = months.astype("datetime64[D]") + (day - 1)
        text = pa.array(days, pa.date32()).cast(pa.string())
    return pc.if_else(pa.array(missing), pa.nulls(len(year), pa.string()), text)


def _postal_column(rng: np.random.Generator, postal: pa.StringArray, source: str, rates: ErrorRates) -> pa.Array:
    """Apply the source's missing and unspaced postal-code rates (per record)."""
    n = len(postal)
    missing = rng.random(n) < rates.postal_code_missing.for_source(source)
    unspaced = rng.random(n) < rates.postal_code_unspaced.for_source(source)
    if unspaced.any():
        postal = pc.if_else(pa.array(unspaced), pc.replace_substring(postal, " ", ""), postal)
    return pc.if_else(pa.array(missing), pa.nulls(n, pa.string()), postal)


def _take_strings(values: tuple[str, ...] | list[str], index: IntArray) -> pa.Array:
    """A code column, dictionary-encoded: 1-2 bytes a row instead of a string each."""
    kind = pa.int8() if len(values) < 128 else pa.int16() if len(values) < 32768 else pa.int32()
    return pa.DictionaryArray.from_arrays(pa.array(index, kind), pa.array(list(values), pa.string()))


def _expand(recorded: RecordedIdentity, unit: IntArray) -> RecordedIdentity:
    """Broadcast unit-level recorded identities to rows."""
    take = pa.array(unit)
    return RecordedIdentity(
        given=recorded.given.take(take),
        family=recorded.family.take(take),
        birth_year=recorded.birth_year[unit],
        birth_month=recorded.birth_month[unit],
        birth_day=recorded.birth_day[unit],
        birth_missing=recorded.birth_missing[unit],
        oen=recorded.oen.take(take),
    )


# --- OnSIS -----------------------------------------------------------------------------------------


def build_onsis(rng: np.random.Generator, world: World, rates: ErrorRates) -> pa.Table:
    """One row per student per school year, in extract order (year, board, school)."""
    p, c = world.people, world.careers
    n = len(c.person)
    secondary_all = c.grade >= GRADE_9
    seg = world.residence.segment_number[world.residence_row]
    school_all = pick_schools(world.boards, world.board, secondary_all,
                              np.mod(p.u_school[c.person] + SPELL_SCHOOL_STEP * seg, 1.0))
    del seg
    family = p.family_in_year(c.person, c.year)
    # registration spells: a new spell when the person, the school or the legal name changes
    new_spell = np.ones(n, dtype=bool)
    new_spell[1:] = (c.person[1:] != c.person[:-1]) | (school_all[1:] != school_all[:-1]) | (
        family[1:] != family[:-1])
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
    recorded = _expand(recorded_units, spell[order])
    del spell, recorded_units
    postal = _postal_column(rng, world.residence.postal.take(pa.array(world.residence_row[order])), "onsis", rates)

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
    return pa.table({
        "ENROLMENT_ID": format_ids(scrambled_ids(rng, n, 10), "R", 10),
        "OEN": recorded.oen,
        "LEGAL_FIRST_NAME": recorded.given,
        "LEGAL_LAST_NAME": recorded.family,
        "DATE_OF_BIRTH": _date_strings(recorded.birth_year, recorded.birth_month, recorded.birth_day,
                                       recorded.birth_missing, compact=True),
        "POSTAL_CODE": postal,
        "GENDER": _take_strings(("F", "M", "X"), gender),
        "SCHOOL_YEAR": _take_strings([school_year_label(y) for y in YEARS], year - FIRST_YEAR),
        "BOARD_NUMBER": _take_strings(board_numbers, board),
        "SCHOOL_NUMBER": pa.array(school, pa.int32()),
        "GRADE": _take_strings(GRADE_LABELS, grade),
        "ATTENDANCE_RATE": pa.array(attendance, pa.float64()),
        "CREDITS_EARNED": pa.array(credits, pa.float64(), mask=~secondary),
        "_person": pa.array(person, pa.int32()),
    })


# --- EQAO ------------------------------------------------------------------------------------------


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
    level_text = _take_strings(("", "1", "2", "3", "4", "NE1"), level)
    level_text = pc.if_else(pa.array(level == 0), pa.nulls(n, level_text.type), level_text)
    osslt_text = _take_strings(("", "successful", "unsuccessful"), osslt)
    osslt_text = pc.if_else(pa.array(osslt == 0), pa.nulls(n, osslt_text.type), osslt_text)
    return pa.table({
        "EQAO_RECORD_ID": format_ids(scrambled_ids(rng, n, 10), "Q", 10),
        "OEN": recorded.oen,
        "FIRST_NAME": recorded.given,
        "LAST_NAME": recorded.family,
        "BIRTH_DATE": _date_strings(recorded.birth_year, recorded.birth_month, recorded.birth_day,
                                    recorded.birth_missing, compact=False),
        "SCHOOL_YEAR": _take_strings([school_year_label(y) for y in YEARS], year - FIRST_YEAR),
        "BOARD_NUMBER": _take_strings(board_numbers, world.board[row]),
        "ASSESSMENT": _take_strings(EQAO_ASSESSMENTS, assessment),
        "PARTICIPATION": _take_strings(("participated", "absent", "exempt", "deferred"), participation),
        "ACHIEVEMENT_LEVEL": level_text,
        "OSSLT_OUTCOME": osslt_text,
        "_person": pa.array(person, pa.int32()),
    })


# --- CPIN ------------------------------------------------------------------------------------------


def _societies_for(region: int, year: int, indigenous: bool) -> list[tuple[int, float]]:
    code = regions()[region].code
    return [(i, s.weight) for i, s in enumerate(societies())
            if code in s.regions and s.indigenous == indigenous and s.active_from <= year]


def _weighted_pick(items: list[tuple[int, float]], u: float) -> int:
    total = sum(w for _, w in items)
    x = u * total
    for i, w in items:
        x -= w
        if x < 0:
            return i
    return items[-1][0]


def _school_year(ordinal: IntArray) -> IntArray:
    d = (ordinal - EPOCH).astype("datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = (d.astype("datetime64[M]") - d.astype("datetime64[Y]").astype("datetime64[M]")).astype(np.int64) + 1
    result: IntArray = np.where(m >= 9, y, y - 1)
    return result


def build_cpin(rng: np.random.Generator, world: World, episodes: list[Episode], rates: ErrorRates) -> pa.Table:
    """One row per child per service episode, with society, codes and the recorded identity."""
    p = world.people
    n = len(episodes)
    person = np.array([e.person for e in episodes], dtype=np.int64)
    start = np.array([e.start for e in episodes], dtype=np.int64)
    end = np.array([e.end if e.end is not None else -1 for e in episodes], dtype=np.int64)
    service = [e.service for e in episodes]
    school_year = np.clip(_school_year(start), FIRST_YEAR, YEARS[-1])
    res_row = world.cpin_grid_start[person] + (school_year - FIRST_YEAR)
    region = world.residence.region[res_row]
    home_postal = world.residence.postal.take(pa.array(res_row))

    # society: stable per child within a region; Indigenous children mostly served by an Indigenous
    # agency where one serves the region; a transfer moves the file to another society
    u_soc = rng.random(p.n)
    u_ind = rng.random(p.n)
    indigenous = p.origin == ORIGINS.index("indigenous")
    society = np.zeros(n, dtype=np.int64)
    society_region = region.copy()
    for i, e in enumerate(episodes):
        r, y = int(region[i]), int(school_year[i])
        own = _societies_for(r, y, True) if indigenous[e.person] else []
        share = 0.75 if regions()[r].north else 0.5
        items = own if own and u_ind[e.person] < share else _societies_for(r, y, False)
        choice = _weighted_pick(items, u_soc[e.person])
        if e.transfer and i > 0 and episodes[i - 1].person == e.person:
            others = [it for it in items if it[0] != society[i - 1]]
            if not others:
                r = int(rng.integers(0, len(regions())))
                others = _societies_for(r, y, False) or items
                society_region[i] = r
            choice = _weighted_pick(others, float(rng.random()))
        society[i] = choice
    placement = np.array([e.placement for e in episodes])
    at_placement = (np.array([s == "in_care" for s in service], dtype=bool)
                    & np.isin(placement, PLACEMENTS_WITH_ADDRESS)
                    & (rng.random(n) < rates.placement_address))
    placement_postal = fresh_postal_codes(rng, society_region)
    true_postal = pc.if_else(pa.array(at_placement), placement_postal, home_postal)
    postal = _postal_column(rng, true_postal, "cpin", rates)

    family = p.family_in_year(person, school_year)
    truth = TrueIdentity(p.given[person], family, p.birth[person], p.oen[person])
    recorded = record_identity(rng, "cpin", truth, world.vocab, rates, world.oen_pool)

    # PERSON_ID, with a second id from some episode on for a few children
    children, first_index, counts = np.unique(person, return_index=True, return_counts=True)
    ids = scrambled_ids(rng, 2 * len(children), 8)
    person_number = ids[np.searchsorted(children, person)]
    dup = (counts >= 2) & (rng.random(len(children)) < rates.cpin_second_person_id)
    for k in np.flatnonzero(dup):
        split = int(rng.integers(1, counts[k]))
        person_number[first_index[k] + split: first_index[k] + counts[k]] = ids[len(children) + k]

    demo = _cpin_demographics(rng, p, children)
    child_index = np.searchsorted(children, person)
    ht_rate = np.where(
        np.array([s in ("in_care", "vysa", "ccsy") for s in service]),
        np.where(p.sex[person] == 0, 0.08, 0.03), 0.01)
    age = (start - (p.birth[person].astype(np.int64) + EPOCH)) / 365.25
    ht_rate = np.where((age >= 12) & (age < 21), ht_rate, 0.002)
    case = {"isc": "protection", "esc": "child_in_care", "tca": "child_in_care", "customary_care": "child_in_care",
            "kinship_service": "kinship", "ccsy_agreement": "youth_services", "vysa_agreement": "youth_services"}
    days = np.array([e.prior_days + ((min(e.end, W1) if e.end is not None else W1) - e.start + 1)
                     if e.service == "in_care" else e.prior_days for e in episodes], dtype=np.int64)
    start_text = pa.array((start - EPOCH).astype("datetime64[D]"), pa.date32()).cast(pa.string())
    end_text = pa.array(np.maximum(end - EPOCH, 0).astype("datetime64[D]"), pa.date32()).cast(pa.string())
    end_text = pc.if_else(pa.array(end < 0), pa.nulls(n, pa.string()), end_text)
    table = pa.table({
        "EPISODE_ID": format_ids(scrambled_ids(rng, n, 9), "E", 9),
        "PERSON_ID": format_ids(person_number, "P", 8),
        "FIRST_NAME": recorded.given,
        "LAST_NAME": recorded.family,
        "BIRTH_DATE": _date_strings(recorded.birth_year, recorded.birth_month, recorded.birth_day,
                                    recorded.birth_missing, compact=False),
        "POSTAL_CODE": postal,
        "OEN": recorded.oen,
        "GENDER_IDENTITY": pa.array(demo["gender"][child_index], pa.string()),
        "RACE": pa.array(demo["race"][child_index], pa.string()),
        "BORN_IN_CANADA": pa.array(demo["born"][child_index], pa.string()),
        "FIRST_LANGUAGE": pa.array(demo["language"][child_index], pa.string()),
        "SOCIETY_CODE": pa.array([societies()[s].code for s in society], pa.string()),
        "SERVICE_TYPE": pa.array(service, pa.string()),
        "CASE_TYPE": pa.array([case[e.legal] for e in episodes], pa.string()),
        "LEGAL_STATUS": pa.array([e.legal for e in episodes], pa.string()),
        "PLACEMENT_TYPE": pa.array(placement.tolist(), pa.string()),
        "EPISODE_START": start_text,
        "EPISODE_END": end_text,
        "CUMULATIVE_DAYS_IN_CARE": pa.array(np.clip(days, 0, 8000), pa.int64()),
        "HT_RISK": pa.array(np.where(rng.random(n) < ht_rate, "Y", "N").tolist(), pa.string()),
        "_person": pa.array(person, pa.int32()),
        "_home_postal": home_postal,
        "_at_placement": pa.array(at_placement),
        "_exit_reason": pa.array([e.exit_reason for e in episodes], pa.string()),
    })
    order = np.lexsort((start, society))
    return table.take(pa.array(order))


def _cpin_demographics(rng: np.random.Generator, p: People, children: IntArray) -> dict[str, npt.NDArray[np.str_]]:
    """Self-identified codes per child (in `children` order), stable across episodes [assumed shares]."""
    n = len(children)
    origin_names = np.array(ORIGINS)[p.origin[children]]
    indigenous = origin_names == "indigenous"
    immigrant = np.isin(origin_names, IMMIGRANT_ORIGINS)
    u = rng.random((n, 4))
    gender = np.where(p.sex[children] == 0, "girl_woman", "boy_man").astype(object)
    gender[u[:, 0] < 0.03] = "not_disclosed"
    gender[(u[:, 0] >= 0.03) & (u[:, 0] < 0.045)] = "non_binary"
    gender[indigenous & (u[:, 0] >= 0.045) & (u[:, 0] < 0.065)] = "two_spirit"
    race = np.array([ORIGIN_RACE[o] for o in ORIGINS], dtype=object)[p.origin[children]]
    race[u[:, 1] < 0.07] = "multiple"
    race[(u[:, 1] >= 0.07) & (u[:, 1] < 0.15)] = "not_disclosed"
    born = np.where(immigrant & (u[:, 2] < 0.25), "N", "Y").astype(object)
    born[u[:, 2] > 0.95] = "U"
    language = np.full(n, "english", dtype=object)
    language[(origin_names == "french") & (u[:, 3] < 0.7)] = "french"
    language[indigenous & (u[:, 3] < 0.1)] = "indigenous_language"
    language[immigrant & (u[:, 3] < 0.35)] = "other"
    language[u[:, 3] > 0.97] = "unknown"
    return {"gender": gender.astype(str), "race": race.astype(str), "born": born.astype(str),
            "language": language.astype(str)}
