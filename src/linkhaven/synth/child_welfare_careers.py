"""The rules of a child-welfare career, one child at a time.

`CareerSimulator` follows a child from an admission (or from the window start, for a child already
served) event by event, and keeps every episode that overlaps the window. The rules, written as
plain Python so they can be read against the reference:

* **In care.** Interim society care (ISC) ends with a return home or becomes extended society care
  (ESC); a temporary care agreement (TCA) is short; ESC and customary care last until an exit
  (adoption, custody, return home) or the 18th birthday. During the COVID moratorium (15 March 2020
  to 30 September 2022) nobody ages out: youth who turn 18 stay in care until it ends. Some children
  return home and come back later; some are transferred to another society (a new episode there).
* **Kinship service** (with kin, not in care), sometimes followed by care.
* **VYSA** agreements for 16- and 17-year-olds.
* **CCSY** after ageing out of ESC or customary care, until the 21st birthday (or the end of the
  moratorium).

How many children are admitted, and when, is decided in `child_welfare.py`.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from linkhaven.synth.child_welfare_episodes import EPOCH, M0, M1, W0, W1, YEAR_DAYS, Episode
from linkhaven.synth.people import People
from linkhaven.synth.rates import ErrorRates
from linkhaven.synth.reference import ORIGINS
from linkhaven.synth.scalar_draws import Draws

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
        options = (
            "foster",
            "kinship_care",
            "group_care",
            "independent_living",
            "mental_health",
            "youth_justice",
            "hospital",
        )
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
    def in_care(
        self, person: int, start: int, clock: int, legal: str, prior: int, chain: int = 0, kin: bool = False
    ) -> None:
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
            self.add(
                Episode(person, start, transfer_at, "in_care", legal, placement, "transferred", prior, chain=chain)
            )
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
