"""Code lists, calendar and calibration targets the generator draws from.

The code lists (regions with their FSAs, the 72 boards, the 50 societies) live as small CSV files in
`linkhaven/synth/data/` so that a reviewer can read and correct them without reading code; this
module loads them once and exposes typed, index-friendly views for the vectorised stages.
Figures come from `shared/reference/ontario-data.md`; `docs/synthetic-data.md` says which are
sourced and which are assumed.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources

import numpy as np

# School years are named by the calendar year they start in: 2017 means 2017-18.
FIRST_YEAR = 2017
LAST_YEAR = 2022
YEARS = tuple(range(FIRST_YEAR, LAST_YEAR + 1))
WINDOW_START = date(2017, 9, 1)
WINDOW_END = date(2023, 8, 31)

# Grade index 0..13 = JK, K, 1..12; OnSIS writes the label.
GRADE_LABELS = ("JK", "K", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12")
GRADE_3, GRADE_6, GRADE_9, GRADE_10, GRADE_12 = 4, 7, 10, 11, 13

ORIGINS = (
    "english",
    "european",
    "french",
    "south_asian",
    "east_asian",
    "arabic",
    "black",
    "filipino",
    "latin_american",
    "southeast_asian",
    "indigenous",
)
# Share of Ontario students by name origin [assumed from the reference's suggested mix]. Indigenous
# about 4%, francophone about 5%; the immigrant origins are concentrated in the GTA (see GTA_FACTOR).
ORIGIN_SHARE = np.array([0.395, 0.16, 0.05, 0.13, 0.06, 0.05, 0.055, 0.025, 0.02, 0.015, 0.04])
IMMIGRANT_ORIGINS = ("south_asian", "east_asian", "arabic", "black", "filipino", "latin_american",
                     "southeast_asian")
GTA_REGIONS = ("toronto", "peel", "york", "durham", "halton")
GTA_FACTOR = 1.7  # immigrant-origin weight inside the GTA; 0.5 elsewhere, 0.25 in the north

# CPIN RACE code by origin (a share is re-coded `multiple` or `not_disclosed`).
ORIGIN_RACE = {
    "english": "white",
    "european": "white",
    "french": "white",
    "south_asian": "south_asian",
    "east_asian": "east_asian",
    "arabic": "middle_eastern",
    "black": "black",
    "filipino": "southeast_asian",
    "latin_american": "latino",
    "southeast_asian": "southeast_asian",
    "indigenous": "indigenous",
}
# Over-representation in child welfare relative to the population [reference: Indigenous and Black
# children are over-represented; the factors are assumed, tuned so about a quarter to a third of children in care are
# Indigenous].
CPIN_ORIGIN_WEIGHT = {
    "english": 1.0,
    "european": 0.7,
    "french": 1.0,
    "south_asian": 0.35,
    "east_asian": 0.25,
    "arabic": 0.7,
    "black": 2.2,
    "filipino": 0.5,
    "latin_american": 1.0,
    "southeast_asian": 0.5,
    "indigenous": 3.5,
}

# EQAO calendar [reference §1c]: G3/G6 written 2017-18, 2018-19, 2021-22, 2022-23; nothing in
# 2019-20; 2020-21 only optional online field tests for G9 math and the OSSLT.
EQAO_FULL_YEARS = (2017, 2018, 2021, 2022)
EQAO_FIELD_TEST_YEAR = 2020
EQAO_FIELD_TEST_SHARE = 0.10  # [assumed] share of eligible students who wrote the optional field test
EQAO_ASSESSMENTS = ("G3_READING", "G3_WRITING", "G3_MATH", "G6_READING", "G6_WRITING", "G6_MATH",
                    "G9_MATH", "OSSLT")
# Share at or above the provincial standard among participants, by assessment and year [reference §1c:
# 2018-19, 2021-22, 2022-23 published; 2017-18 assumed equal to 2018-19; field tests assumed].
EQAO_STANDARD = {
    "G3_READING": {2017: 0.75, 2018: 0.75, 2021: 0.73, 2022: 0.73},
    "G3_WRITING": {2017: 0.70, 2018: 0.70, 2021: 0.65, 2022: 0.65},
    "G3_MATH": {2017: 0.60, 2018: 0.60, 2021: 0.59, 2022: 0.60},
    "G6_READING": {2017: 0.81, 2018: 0.81, 2021: 0.85, 2022: 0.84},
    "G6_WRITING": {2017: 0.80, 2018: 0.81, 2021: 0.84, 2022: 0.84},
    "G6_MATH": {2017: 0.49, 2018: 0.48, 2021: 0.47, 2022: 0.50},
    "G9_MATH": {2017: 0.72, 2018: 0.72, 2020: 0.50, 2021: 0.52, 2022: 0.54},
}
# OSSLT success among first-time eligible [reference: 79% 2017-18, 80% 2018-19, 82% 2021-22, 85% 2022-23].
OSSLT_SUCCESS = {2017: 0.79, 2018: 0.80, 2020: 0.80, 2021: 0.82, 2022: 0.85}
OSSLT_SUCCESS_PREVIOUSLY_ELIGIBLE = 0.55  # [assumed]

# Children in care, monthly average [reference §1b: almost 12,000 in 2017-18, almost 8,700 in 2020-21;
# 2018-19 almost 10,000; 2021-22 and 2022-23 assumed flat]. Used as the count in care on 1 September.
IN_CARE_TARGET = {2017: 12000, 2018: 10000, 2019: 9300, 2020: 8700, 2021: 8700, 2022: 8700, 2023: 8700}
KINSHIP_SERVICE_TARGET = 3000  # [inference] a few thousand a year
CCSY_INITIAL = 2000  # [inference, unverified] 2-3k CCSY youth a year, the rest flow in from care
VYSA_ENTRIES = 600  # [assumed] new VYSA agreements a year
# COVID moratorium on ageing out [reference: spring 2020 to 30 Sep 2022].
MORATORIUM_START = date(2020, 3, 15)
MORATORIUM_END = date(2022, 9, 30)


@dataclass(frozen=True)
class Region:
    """A planning region: its FSAs, share of students and the boards and societies that serve it."""

    code: str
    name: str
    weight: float
    north: bool
    indigenous_factor: float
    french_factor: float
    fsas: tuple[str, ...]


@dataclass(frozen=True)
class Board:
    """A district school board: number `B` + MIDENT, language, system, relative size and regions."""

    number: str
    name: str
    language: str  # english | french
    system: str  # public | catholic
    size: float
    number_source: str  # reference | stand-in
    regions: tuple[str, ...]

    @property
    def system_code(self) -> int:
        """0 English public, 1 English Catholic, 2 French public, 3 French Catholic."""
        return (2 if self.language == "french" else 0) + (1 if self.system == "catholic" else 0)


@dataclass(frozen=True)
class Society:
    """A children's aid society or Indigenous well-being agency (`CAS01`..`CAS50`)."""

    code: str
    name: str
    indigenous: bool
    weight: float
    active_from: int  # first school year it serves (a designation during the window)
    regions: tuple[str, ...]


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("linkhaven.synth").joinpath("data").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@cache
def regions() -> tuple[Region, ...]:
    """The regions in file order; a region's index is its code in the vectorised stages."""
    return tuple(
        Region(
            code=r["region"],
            name=r["name"],
            weight=float(r["weight"]),
            north=r["north"] == "Y",
            indigenous_factor=float(r["indigenous_factor"]),
            french_factor=float(r["french_factor"]),
            fsas=tuple(r["fsas"].split()),
        )
        for r in _rows("regions.csv")
    )


@cache
def boards() -> tuple[Board, ...]:
    """The 72 district school boards."""
    return tuple(
        Board(
            number=r["board_number"],
            name=r["name"],
            language=r["language"],
            system=r["system"],
            size=float(r["size"]),
            number_source=r["number_source"],
            regions=tuple(r["regions"].split(";")),
        )
        for r in _rows("boards.csv")
    )


@cache
def societies() -> tuple[Society, ...]:
    """The 50 societies, `CAS01`..`CAS50`."""
    return tuple(
        Society(
            code=r["society_code"],
            name=r["name"],
            indigenous=r["indigenous"] == "Y",
            weight=float(r["weight"]),
            active_from=int(r["active_from"]),
            regions=tuple(r["regions"].split(";")),
        )
        for r in _rows("societies.csv")
    )


def school_year_label(year: int) -> str:
    """2017 -> '2017-18'."""
    return f"{year}-{(year + 1) % 100:02d}"
