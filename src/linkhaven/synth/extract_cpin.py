"""The CPIN extract: one row per child per child-welfare service episode.

The episodes are simulated in `child_welfare.py`; this module turns them into the rows the
children's aid societies report. Besides the recorded identity (with CPIN's error rates), each row
gets the society serving the child (following the home region, stable per child, moved by a
transfer; Indigenous children mostly served by an Indigenous agency where one serves the region),
a postal code that for some in-care placements is the placement's rather than the home's, a
PERSON_ID that for a few children changes from some episode on, and the child's self-identified
demographic codes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from linkhaven.synth.arrays import IntArray
from linkhaven.synth.child_welfare_episodes import EPOCH, W1, Episode
from linkhaven.synth.extract_columns import date_strings, postal_column
from linkhaven.synth.identifiers import format_ids, scrambled_ids
from linkhaven.synth.noise import TrueIdentity, record_identity
from linkhaven.synth.people import People
from linkhaven.synth.rates import ErrorRates
from linkhaven.synth.reference import FIRST_YEAR, IMMIGRANT_ORIGINS, ORIGIN_RACE, ORIGINS, YEARS, regions, societies
from linkhaven.synth.residence import fresh_postal_codes
from linkhaven.synth.world import World

PLACEMENTS_WITH_ADDRESS = ("foster", "kinship_care", "group_care", "adoption_probation", "independent_living")


def _societies_for(region: int, year: int, indigenous: bool) -> list[tuple[int, float]]:
    """(society index, weight) of the societies (Indigenous or not) serving a region in a year."""
    code = regions()[region].code
    return [
        (i, s.weight)
        for i, s in enumerate(societies())
        if code in s.regions and s.indigenous == indigenous and s.active_from <= year
    ]


def _weighted_pick(items: list[tuple[int, float]], u: float) -> int:
    """The item the uniform number `u` falls on, by weight."""
    total = sum(w for _, w in items)
    x = u * total
    for i, w in items:
        x -= w
        if x < 0:
            return i
    return items[-1][0]


def _school_year(ordinal: IntArray) -> IntArray:
    """School year (the calendar year it starts) of each proleptic ordinal day."""
    d = (ordinal - EPOCH).astype("datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = (d.astype("datetime64[M]") - d.astype("datetime64[Y]").astype("datetime64[M]")).astype(np.int64) + 1
    result: IntArray = np.where(m >= 9, y, y - 1)
    return result


def _assign_societies(
    rng: np.random.Generator, p: People, episodes: list[Episode], region: IntArray, school_year: IntArray
) -> tuple[IntArray, IntArray]:
    """The society of each episode and the region it serves from: stable per child within a region;
    Indigenous children mostly served by an Indigenous agency where one serves the region; a transfer
    moves the file to another society (in another region when the home region has no other)."""
    n = len(episodes)
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
    return society, society_region


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

    society, society_region = _assign_societies(rng, p, episodes, region, school_year)
    placement = np.array([e.placement for e in episodes])
    at_placement = (
        np.array([s == "in_care" for s in service], dtype=bool)
        & np.isin(placement, PLACEMENTS_WITH_ADDRESS)
        & (rng.random(n) < rates.placement_address)
    )
    placement_postal = fresh_postal_codes(rng, society_region)
    true_postal = pc.if_else(pa.array(at_placement), placement_postal, home_postal)
    postal = postal_column(rng, true_postal, "cpin", rates)

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
        person_number[first_index[k] + split : first_index[k] + counts[k]] = ids[len(children) + k]

    demo = _cpin_demographics(rng, p, children)
    child_index = np.searchsorted(children, person)
    ht_rate = np.where(
        np.array([s in ("in_care", "vysa", "ccsy") for s in service]), np.where(p.sex[person] == 0, 0.08, 0.03), 0.01
    )
    age = (start - (p.birth[person].astype(np.int64) + EPOCH)) / 365.25
    ht_rate = np.where((age >= 12) & (age < 21), ht_rate, 0.002)
    case = {
        "isc": "protection",
        "esc": "child_in_care",
        "tca": "child_in_care",
        "customary_care": "child_in_care",
        "kinship_service": "kinship",
        "ccsy_agreement": "youth_services",
        "vysa_agreement": "youth_services",
    }
    days = np.array(
        [
            e.prior_days + ((min(e.end, W1) if e.end is not None else W1) - e.start + 1)
            if e.service == "in_care"
            else e.prior_days
            for e in episodes
        ],
        dtype=np.int64,
    )
    start_text = pa.array((start - EPOCH).astype("datetime64[D]"), pa.date32()).cast(pa.string())
    end_text = pa.array(np.maximum(end - EPOCH, 0).astype("datetime64[D]"), pa.date32()).cast(pa.string())
    end_text = pc.if_else(pa.array(end < 0), pa.nulls(n, pa.string()), end_text)
    table = pa.table(
        {
            "EPISODE_ID": format_ids(scrambled_ids(rng, n, 9), "E", 9),
            "PERSON_ID": format_ids(person_number, "P", 8),
            "FIRST_NAME": recorded.given,
            "LAST_NAME": recorded.family,
            "BIRTH_DATE": date_strings(
                recorded.birth_year, recorded.birth_month, recorded.birth_day, recorded.birth_missing, compact=False
            ),
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
        }
    )
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
    return {
        "gender": gender.astype(str),
        "race": race.astype(str),
        "born": born.astype(str),
        "language": language.astype(str),
    }
