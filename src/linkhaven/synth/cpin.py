"""Child-welfare careers: who is served, when, under which status and placement.

CPIN is small (tens of thousands of children at scale 1), so each child's career is simulated in
plain Python, event by event, which keeps the rules readable:

* **In care.** Interim society care (ISC) ends with a return home or becomes extended society care
  (ESC); a temporary care agreement (TCA) is short; ESC and customary care last until an exit
  (adoption, custody, return home) or the 18th birthday. During the COVID moratorium (15 March 2020
  to 30 September 2022) nobody ages out: youth who turn 18 stay in care until it ends. Some children
  return home and come back later; some are transferred to another society (a new episode there).
* **Kinship service** (with kin, not in care), sometimes followed by care.
* **VYSA** agreements for 16- and 17-year-olds.
* **CCSY** after ageing out of ESC or customary care, until the 21st birthday (or the end of the
  moratorium).

The number of children in care on each 1 September follows `IN_CARE_TARGET`: each year new
admissions are simulated until enough of them are still in care a year later. Children are drawn
from the population by birth year with weights that over-represent Indigenous and Black children,
as Ontario's child-welfare population does. Episodes that began before the window are exported from
the window start (EPISODE_START is "within the window" in the layout), with their earlier days in
care counted in CUMULATIVE_DAYS_IN_CARE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt

from linkhaven.synth.names import name_tables
from linkhaven.synth.population import People
from linkhaven.synth.rates import ErrorRates
from linkhaven.synth.reference import (
    CCSY_INITIAL,
    CPIN_ORIGIN_WEIGHT,
    IN_CARE_TARGET,
    KINSHIP_SERVICE_TARGET,
    MORATORIUM_END,
    MORATORIUM_START,
    ORIGINS,
    VYSA_ENTRIES,
    WINDOW_END,
    WINDOW_START,
    YEARS,
    regions,
)

W0 = WINDOW_START.toordinal()
W1 = WINDOW_END.toordinal()
M0 = MORATORIUM_START.toordinal()
M1 = MORATORIUM_END.toordinal()
EPOCH = date(1970, 1, 1).toordinal()
YEAR_DAYS = 365.25

# Durations and transition probabilities [assumed; chosen so the in-care counts, the ESC share
# (~45%) and the share of 16+ youth look like the reference's OACAS figures].
ISC_MEAN_DAYS = 300
ISC_TO_ESC = 0.35
TCA_MEAN_DAYS = 150
ESC_EXIT_HAZARD_YOUNG = 0.12  # a year, under 10
ESC_EXIT_HAZARD_OLD = 0.06
ADOPTION_SHARE_YOUNG = 0.6  # of ESC exits under 12
CUSTOMARY_MEAN_YEARS = 3.0
TRANSFER_HAZARD = 0.03  # a year
REENTRY = 0.15
REENTRY_GAP_DAYS = 365
CCSY_TAKE_UP = 0.8
CCSY_MEAN_YEARS = 3.0
KINSHIP_MEAN_DAYS = 365
KINSHIP_TO_CARE = 0.08
VYSA_MEAN_DAYS = 240
# Age at admission (0..17) and age of the children already in care on 1 Sep 2017 [assumed shapes:
# many infants, then teenagers].
ENTRY_AGE_WEIGHTS = np.array([12, 4, 4, 4, 4] + [3.5] * 7 + [6, 6, 6, 6, 5, 4], dtype=float)
STOCK_AGE_WEIGHTS = np.array([3] * 5 + [3.5] * 5 + [4.5, 4.5, 5, 6, 8, 10, 11, 12], dtype=float)
EXTRA_WEIGHT = 1.5  # persons outside OnSIS (on reserve, not enrolled) are more likely to be served
NORTH_WEIGHT = 1.5


@dataclass
class Episode:
    """One service episode of one child (dates are proleptic ordinals; `end` None = still open)."""

    person: int
    start: int
    end: int | None
    service: str  # in_care | kinship_service | ccsy | vysa
    legal: str
    placement: str
    exit_reason: str
    prior_days: int  # days in care before this episode
    transfer: bool = False  # begins at another society after a transfer
    chain: int = 0  # episode number within the child's career


@dataclass
class Draws:
    """Uniform numbers served from pre-drawn numpy blocks: fast and reproducible scalar draws."""

    rng: np.random.Generator
    block: list[float] = field(default_factory=list)
    pos: int = 0

    def u(self) -> float:
        """One uniform number in [0, 1)."""
        if self.pos >= len(self.block):
            self.block = self.rng.random(65536).tolist()
            self.pos = 0
        value = self.block[self.pos]
        self.pos += 1
        return value

    def exp(self, mean: float) -> float:
        """An exponential duration with the given mean."""
        return -mean * math.log(1.0 - self.u())

    def choice(self, options: tuple[str, ...], weights: tuple[float, ...]) -> str:
        """One option drawn with the weights."""
        x = self.u() * sum(weights)
        for option, w in zip(options, weights, strict=True):
            x -= w
            if x < 0:
                return option
        return options[-1]


class PersonQueue:
    """Persons by birth year in weighted random order: each draw takes the next unused person,
    so a child is never drawn twice and over-represented groups come first more often."""

    def __init__(self, rng: np.random.Generator, people: People) -> None:
        origin_w = np.array([CPIN_ORIGIN_WEIGHT[o] for o in ORIGINS])[people.origin]
        north = np.array([r.north for r in regions()])[people.region]
        w = origin_w * np.where(people.extra, EXTRA_WEIGHT, 1.0) * np.where(north, NORTH_WEIGHT, 1.0)
        is_co_twin = (people.twin_of >= 0) & (np.arange(people.n) > people.twin_of)
        w = np.where(is_co_twin, 0.0, w)
        key = rng.exponential(size=people.n) / np.maximum(w, 1e-12)
        key = np.where(w > 0, key, np.inf)
        birth_year = people.birth_year
        order = np.lexsort((key, birth_year))
        order = order[np.isfinite(key[order])]
        self.by_year: dict[int, list[int]] = {}
        years = birth_year[order]
        for y in np.unique(years):
            self.by_year[int(y)] = order[years == y].tolist()[::-1]  # pop() takes from the front

    def take(self, birth_year: int) -> int | None:
        """The next person born in `birth_year` (or the nearest year that still has one)."""
        for delta in (0, 1, -1, 2, -2):
            pool = self.by_year.get(birth_year + delta)
            if pool:
                return pool.pop()
        return None


class CareerSimulator:
    """Simulates careers child by child; `episodes` accumulates everything within the window."""

    def __init__(self, draws: Draws, people: People, rates: ErrorRates) -> None:
        self.d = draws
        self.people = people
        self.rates = rates
        self.birth = people.birth.astype(np.int64) + EPOCH  # ordinals
        self.indigenous = ORIGINS.index("indigenous")
        self.episodes: list[Episode] = []
        self.adopted: list[tuple[int, int]] = []  # (person, adoption ordinal)

    # --- helpers ------------------------------------------------------------------------------
    def age(self, person: int, when: int) -> float:
        """Age in years on an ordinal day."""
        return (when - int(self.birth[person])) / YEAR_DAYS

    def birthday(self, person: int, years: int) -> int:
        """Ordinal of the given birthday."""
        b = date.fromordinal(int(self.birth[person]))
        day = 28 if (b.month, b.day) == (2, 29) else b.day
        return date(b.year + years, b.month, day).toordinal()

    def leaves_at_18(self, person: int) -> int:
        """When a youth in care leaves: the 18th birthday, or the moratorium's end if it covers it."""
        b18 = self.birthday(person, 18)
        return M1 if M0 <= b18 <= M1 else b18

    def placement(self, person: int, when: int, legal: str) -> str:
        """Placement type by age at the start of an in-care episode [assumed mix; family-based
        care is about three quarters of days in care in the reference]."""
        a = self.age(person, when)
        if legal == "customary_care":
            return self.d.choice(("kinship_care", "foster", "group_care"), (0.6, 0.3, 0.1))
        if a < 12:
            return self.d.choice(
                ("foster", "kinship_care", "group_care", "hospital", "mental_health"),
                (0.66, 0.22, 0.06, 0.03, 0.03),
            )
        options = ("foster", "kinship_care", "group_care", "independent_living", "mental_health",
                   "youth_justice", "hospital")
        weights = (0.42, 0.12, 0.26, 0.08 if a >= 16 else 0.0, 0.05, 0.05, 0.02)
        return self.d.choice(options, weights)

    def add(self, ep: Episode) -> None:
        """Keep an episode if it overlaps the window; clip open ends."""
        if ep.start > W1 or (ep.end is not None and ep.end < W0):
            return
        if ep.end is not None and ep.end > W1:
            ep.end = None
        self.episodes.append(ep)

    # --- careers ------------------------------------------------------------------------------
    def in_care(self, person: int, start: int, clock: int, legal: str, prior: int, chain: int = 0,
                kin: bool = False) -> None:
        """An in-care spell from `start`; remaining durations are drawn from `clock` (the window
        start for children already in care), then what follows it."""
        d = self.d
        leave18 = self.leaves_at_18(person)
        if clock >= leave18:
            clock = leave18 - 1
        end: int
        reason: str
        if legal == "tca":
            end, reason = clock + int(d.exp(TCA_MEAN_DAYS)) + 1, "returned_home"
        elif legal == "isc":
            end, reason = clock + int(d.exp(ISC_MEAN_DAYS)) + 1, "returned_home"
            if d.u() < ISC_TO_ESC and end < leave18:
                legal = "esc"
                end, reason = self._esc_end(person, end, leave18)
        elif legal == "customary_care":
            end, reason = clock + int(d.exp(CUSTOMARY_MEAN_YEARS * YEAR_DAYS)) + 1, "returned_home"
        else:
            end, reason = self._esc_end(person, clock, leave18)
        if end >= leave18:
            end, reason = leave18, "aged_out"
        placement = "kinship_care" if kin else self.placement(person, start, legal)
        if reason == "adopted":
            placement = "adoption_probation"
        # one transfer to another society at most
        transfer_at = clock + int(d.exp(YEAR_DAYS / TRANSFER_HAZARD))
        if start < transfer_at < end - 30 and transfer_at > W0:
            self.add(Episode(person, start, transfer_at, "in_care", legal, placement, "transferred", prior,
                             chain=chain))
            prior += transfer_at - start + 1
            start, chain = transfer_at + 1, chain + 1
            transferred = True
        else:
            transferred = False
        self.add(Episode(person, start, end, "in_care", legal, placement, reason, prior, transferred, chain))
        days = prior + (end - start + 1)
        if end > W1:
            return
        if reason == "adopted":
            self.adopted.append((person, end))
        elif reason == "returned_home" and d.u() < REENTRY:
            back = end + 1 + int(d.exp(REENTRY_GAP_DAYS))
            if back < self.leaves_at_18(person) and back <= W1:
                self.in_care(person, back, back, "isc", days, chain + 1)
        elif reason == "aged_out" and legal in ("esc", "customary_care") and d.u() < CCSY_TAKE_UP:
            self.ccsy(person, end + 1, end + 1, days, chain + 1)

    def _esc_end(self, person: int, clock: int, leave18: int) -> tuple[int, str]:
        a = self.age(person, clock)
        hazard = ESC_EXIT_HAZARD_YOUNG if a < 10 else ESC_EXIT_HAZARD_OLD
        end = clock + int(self.d.exp(YEAR_DAYS / hazard)) + 1
        if end >= leave18:
            return leave18, "aged_out"
        if self.age(person, end) < 12 and self.d.u() < ADOPTION_SHARE_YOUNG:
            return end, "adopted"
        return end, self.d.choice(("returned_home", "legal_custody"), (0.6, 0.4))

    def ccsy(self, person: int, start: int, clock: int, prior: int, chain: int = 0) -> None:
        """Continued care and support for youth, until the 21st birthday (moratorium aside)."""
        b21 = self.birthday(person, 21)
        limit = M1 if M0 <= b21 <= M1 else b21
        end = min(limit, clock + int(self.d.exp(CCSY_MEAN_YEARS * YEAR_DAYS)) + 1)
        if end <= start:
            return
        placement = "independent_living" if self.d.u() < 0.6 else "none"
        reason = "aged_out" if end == limit else "ended"
        self.add(Episode(person, start, end, "ccsy", "ccsy_agreement", placement, reason, prior, chain=chain))

    def kinship(self, person: int, start: int, clock: int) -> None:
        """Kinship service: with kin, not in care; sometimes followed by care."""
        leave18 = self.birthday(person, 18)
        if start >= leave18 - 30:  # drawn by birth year, the child may already be (nearly) 18
            return
        end = min(clock + int(self.d.exp(KINSHIP_MEAN_DAYS)) + 1, leave18)
        self.add(Episode(person, start, end, "kinship_service", "kinship_service", "none", "ended", 0))
        if end < leave18 - 30 and end < W1 and self.d.u() < KINSHIP_TO_CARE:
            self.in_care(person, end + 1, end + 1, "isc", 0, 1, kin=True)

    def vysa(self, person: int, start: int) -> None:
        """A voluntary youth services agreement, ending by the 18th birthday."""
        b16, b18 = self.birthday(person, 16), self.birthday(person, 18)
        start = min(max(start, b16), b18 - 60)
        end = min(b18, start + int(self.d.exp(VYSA_MEAN_DAYS)) + 1)
        placement = self.d.choice(("independent_living", "group_care", "none"), (0.5, 0.3, 0.2))
        self.add(Episode(person, start, end, "vysa", "vysa_agreement", placement, "ended", 0))

    def entry_status(self, person: int) -> str:
        """Legal status at admission; customary care is for Indigenous children."""
        if int(self.people.origin[person]) == self.indigenous:
            return self.d.choice(("isc", "tca", "customary_care"), (0.45, 0.1, 0.45))
        return self.d.choice(("isc", "tca"), (0.85, 0.15))

    def stock_status(self, person: int) -> str:
        """Legal status of a child already in care at the window start."""
        if int(self.people.origin[person]) == self.indigenous:
            return self.d.choice(("esc", "isc", "tca", "customary_care"), (0.35, 0.2, 0.05, 0.4))
        return self.d.choice(("esc", "isc", "tca"), (0.42, 0.48, 0.10))


def in_care_on(episodes: list[Episode], day: int) -> int:
    """Children in care on a day."""
    return len({e.person for e in episodes if e.service == "in_care" and e.start <= day
                and (e.end is None or e.end >= day)})


def simulate(rng: np.random.Generator, people: People, scale: float, rates: ErrorRates) -> list[Episode]:
    """All child-welfare episodes in the window. Marks the children in `people.cpin` and records
    adoptions with a surname change in `people`."""
    draws = Draws(rng)
    queue = PersonQueue(rng, people)
    sim = CareerSimulator(draws, people, rates)

    def draw_age(weights: npt.NDArray[np.float64]) -> int:
        return int(np.searchsorted(np.cumsum(weights) / weights.sum(), draws.u(), side="right"))

    # already in care / in service on 1 September 2017: children born before it and not yet 18
    stock, attempts = round(IN_CARE_TARGET[2017] * scale), 0
    limit = 10 * stock + 100
    while stock > 0 and attempts < limit:
        attempts += 1
        p = queue.take(2017 - draw_age(STOCK_AGE_WEIGHTS))
        if p is None:
            break
        born = int(sim.birth[p])
        if born >= W0 or sim.leaves_at_18(p) <= W0:
            continue
        legal = sim.stock_status(p)
        mean_elapsed = 4 * YEAR_DAYS if legal == "esc" else 200.0
        elapsed = min(int(draws.exp(mean_elapsed)) + 1, W0 - born)
        sim.in_care(p, W0 - elapsed, W0, legal, 0)
        stock -= 1
    for _ in range(max(1, round(KINSHIP_SERVICE_TARGET * scale))):
        p = queue.take(2017 - int(draws.u() * 18))
        if p is not None:
            start = max(W0 - int(draws.exp(180)), int(sim.birth[p]) + 1)
            sim.kinship(p, start, max(start, W0))
    for _ in range(max(1, round(CCSY_INITIAL * scale))):
        p = queue.take(1997 + int(draws.u() * 3))
        if p is None:
            continue
        start = max(W0 - int(draws.exp(400)), sim.birthday(p, 18))
        sim.ccsy(p, start, max(start, W0), 1000 + int(draws.u() * 5000))

    # admissions, year by year, until the next 1 September count is met
    for year in YEARS:
        year_start = date(year, 9, 1).toordinal()
        year_end = date(year + 1, 8, 31).toordinal()
        next_count_day = year_end + 1
        need = round(IN_CARE_TARGET[year + 1] * scale) - in_care_on(sim.episodes, next_count_day)
        guard, limit = 0, 100 * max(need, 0) + 1000
        while need > 0 and guard < limit:
            guard += 1
            when = year_start + int(draws.u() * (year_end - year_start + 1))
            p = queue.take(year - draw_age(ENTRY_AGE_WEIGHTS))
            if p is None:
                break
            start = max(when, int(sim.birth[p]) + 1 + int(draws.u() * 30))
            if start > W1 or sim.age(p, start) >= 17.9:
                continue
            before = len(sim.episodes)
            sim.in_care(p, start, start, sim.entry_status(p), 0)
            if any(e.service == "in_care" and e.start <= next_count_day and
                   (e.end is None or e.end >= next_count_day) for e in sim.episodes[before:]):
                need -= 1
        # kinship service and VYSA entries through the year
        for _ in range(max(0, round(KINSHIP_SERVICE_TARGET * 0.9 * scale))):
            p = queue.take(year - int(draws.u() * 18))
            if p is not None:
                when = year_start + int(draws.u() * (year_end - year_start + 1))
                sim.kinship(p, max(when, int(sim.birth[p]) + 1), max(when, int(sim.birth[p]) + 1))
        for _ in range(max(0, round(VYSA_ENTRIES * scale))):
            p = queue.take(year - 17)
            if p is not None:
                sim.vysa(p, year_start + int(draws.u() * (year_end - year_start + 1)))

    episodes = sorted(sim.episodes, key=lambda e: (e.person, e.start, e.chain))
    for e in episodes:
        e.start = max(e.start, W0)
        people.cpin[e.person] = True
    _record_adoptions(draws, people, sim.adopted, rates.adoption_surname_change)
    return episodes


def _record_adoptions(draws: Draws, people: People, adopted: list[tuple[int, int]], rate: float) -> None:
    """After an adoption the child's family name changes (with `rate`) from the next school year to
    the adoptive family's (English-origin 60% of the time, else the child's origin)."""
    tables = name_tables()
    english = ORIGINS.index("english")
    index = {name: i for i, name in enumerate(people.family_vocab)}
    for person, day in adopted:
        if draws.u() >= rate:
            continue
        origin = english if draws.u() < 0.6 else int(people.origin[person])
        wl = tables.surname_lists[origin]
        pick = min(int(np.searchsorted(wl.cumulative, draws.u(), side="right")), len(wl.index) - 1)
        text = tables.surnames[int(wl.index[pick])]
        if text == people.family_vocab[people.family[person]]:
            text = tables.surnames[(int(wl.index[pick]) + 1) % len(tables.surnames)]
        if text not in index:
            index[text] = len(people.family_vocab)
            people.family_vocab.append(text)
        d = date.fromordinal(day)
        school_year = d.year if d.month >= 9 else d.year - 1
        people.new_family[person] = index[text]
        people.change_year[person] = school_year + 1
        people.change_reason[person] = 1
