"""Who a person is by birth: origin, sex and school-board system, drawn where they live.

Origin drives everything a linker finds hard (which names, how often compound, how often French), so
it is drawn per home region: Indigenous and French shares follow the region, immigrant origins
concentrate in the GTA. The board system (English/French, public/Catholic) follows origin, which is
why French-origin children mostly end up in French-language boards.
"""

from __future__ import annotations

import numpy as np

from linkhaven.synth.arrays import FloatArray, IntArray
from linkhaven.synth.reference import GTA_FACTOR, GTA_REGIONS, IMMIGRANT_ORIGINS, ORIGIN_SHARE, ORIGINS, regions

# Share of children in the Catholic system by origin [assumed]; French-origin families mostly choose
# French-language boards.
CATHOLIC_SHARE = {
    "english": 0.28,
    "european": 0.5,
    "french": 0.6,
    "south_asian": 0.12,
    "east_asian": 0.15,
    "arabic": 0.15,
    "black": 0.25,
    "filipino": 0.65,
    "latin_american": 0.55,
    "southeast_asian": 0.2,
    "indigenous": 0.3,
}
FRENCH_BOARD_SHARE_FRENCH_ORIGIN = 0.8
FRENCH_BOARD_SHARE_OTHER = 0.02


def origin_probabilities() -> FloatArray:
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


def draw_categorical(rng: np.random.Generator, probs: FloatArray, rows: IntArray) -> IntArray:
    """One category per entry of `rows`, each from its own row of `probs` (vectorised)."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(rows))
    picked: IntArray = np.minimum((u[:, None] > cum[rows]).sum(axis=1), probs.shape[1] - 1).astype(np.int64)
    return picked


def region_weights() -> FloatArray:
    """Share of the population living in each region."""
    w = np.array([r.weight for r in regions()])
    share: FloatArray = w / w.sum()
    return share


def draw_demographics(
    rng: np.random.Generator, region: IntArray, origin: IntArray | None = None
) -> tuple[IntArray, IntArray, IntArray]:
    """Origin (if not given), sex and board system for persons living in `region`."""
    n = len(region)
    if origin is None:
        origin = draw_categorical(rng, origin_probabilities(), region)
    sex = (rng.random(n) < 0.513).astype(np.int64)  # slightly more boys among students
    french = ORIGINS.index("french")
    french_board = rng.random(n) < np.where(
        origin == french, FRENCH_BOARD_SHARE_FRENCH_ORIGIN, FRENCH_BOARD_SHARE_OTHER
    )
    catholic_p = np.array([CATHOLIC_SHARE[o] for o in ORIGINS])[origin]
    catholic = rng.random(n) < catholic_p
    system = french_board.astype(np.int64) * 2 + catholic.astype(np.int64)
    return origin, sex, system
