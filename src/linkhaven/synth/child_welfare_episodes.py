"""Child-welfare episodes and the calendar their dates are counted in.

An `Episode` is one service episode of one child, the unit CPIN reports. The simulation steps
through days, so dates are proleptic ordinals (`date.toordinal()`): plain integers that add and
compare cheaply. The window and the COVID moratorium on ageing out are kept here as ordinals too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from linkhaven.synth.reference import MORATORIUM_END, MORATORIUM_START, WINDOW_END, WINDOW_START

W0 = WINDOW_START.toordinal()
W1 = WINDOW_END.toordinal()
M0 = MORATORIUM_START.toordinal()
M1 = MORATORIUM_END.toordinal()
EPOCH = date(1970, 1, 1).toordinal()
YEAR_DAYS = 365.25


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


def in_care_on(episodes: list[Episode], day: int) -> int:
    """Children in care on a day."""
    return len(
        {e.person for e in episodes if e.service == "in_care" and e.start <= day and (e.end is None or e.end >= day)}
    )
