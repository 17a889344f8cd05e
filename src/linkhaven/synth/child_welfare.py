"""Child-welfare careers: who is served, when, under which status and placement.

`simulate` decides how many children are served and when; the rules of each child's career are in
`child_welfare_careers.py`, who is drawn in `child_welfare_queue.py`. CPIN is small (tens of
thousands of children at scale 1), so careers are simulated in plain Python, event by event, which
keeps the rules readable.

The number of children in care on each 1 September follows `IN_CARE_TARGET`: each year new
admissions are simulated until enough of them are still in care a year later. Children are drawn
from the population by birth year with weights that over-represent Indigenous and Black children,
as Ontario's child-welfare population does. Episodes that began before the window are exported from
the window start (EPISODE_START is "within the window" in the layout), with their earlier days in
care counted in CUMULATIVE_DAYS_IN_CARE.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt

from linkhaven.synth.child_welfare_careers import CareerSimulator
from linkhaven.synth.child_welfare_episodes import W0, W1, YEAR_DAYS, Episode, in_care_on
from linkhaven.synth.child_welfare_queue import PersonQueue
from linkhaven.synth.family_names import rename_after_adoptions
from linkhaven.synth.people import People
from linkhaven.synth.rates import ErrorRates
from linkhaven.synth.reference import CCSY_INITIAL, IN_CARE_TARGET, KINSHIP_SERVICE_TARGET, VYSA_ENTRIES, YEARS
from linkhaven.synth.scalar_draws import Draws

# Age at admission (0..17) and age of the children already in care on 1 Sep 2017 [assumed shapes:
# many infants, then teenagers].
ENTRY_AGE_WEIGHTS = np.array([12, 4, 4, 4, 4] + [3.5] * 7 + [6, 6, 6, 6, 5, 4], dtype=float)
STOCK_AGE_WEIGHTS = np.array([3] * 5 + [3.5] * 5 + [4.5, 4.5, 5, 6, 8, 10, 11, 12], dtype=float)


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
            if any(
                e.service == "in_care" and e.start <= next_count_day and (e.end is None or e.end >= next_count_day)
                for e in sim.episodes[before:]
            ):
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
    rename_after_adoptions(draws, people, sim.adopted, rates.adoption_surname_change)
    return episodes
