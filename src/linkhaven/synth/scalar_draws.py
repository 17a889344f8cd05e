"""`Draws`: scalar random numbers for code that decides one event at a time.

The child-welfare simulation runs in plain Python, child by child, and draws one number per
decision. A numpy call per number would cost more than the decision itself, so numbers are drawn in
blocks of 65,536 and served one by one, still from the stage's numpy stream, so a seed gives the
same careers on every run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


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
