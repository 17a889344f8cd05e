"""Who child welfare serves: persons by birth year, in an order weighted towards the groups that
Ontario's child-welfare population over-represents.

The simulation asks for "a child born in year Y" each time it admits someone. Drawing without
replacement from a weighted queue (an exponential key per person divided by their weight, the
order of a weighted sample) keeps any child from being drawn twice while Indigenous and Black
children, persons outside OnSIS and children in the north come first more often. Co-twins (the
copies appended by `twins_and_namesakes.py`) are never drawn, so at most one of a twin pair is
served.
"""

from __future__ import annotations

import numpy as np

from linkhaven.synth.people import People
from linkhaven.synth.reference import CPIN_ORIGIN_WEIGHT, ORIGINS, regions

EXTRA_WEIGHT = 1.5  # persons outside OnSIS (on reserve, not enrolled) are more likely to be served
NORTH_WEIGHT = 1.5


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
