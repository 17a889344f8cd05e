"""School boards and schools: which board serves a home, and which school a student attends.

Board and school numbers are columns of OnSIS and EQAO, and a change of school starts a new
registration spell, so they have to be stable while a student stays put. Each person carries two
uniform numbers (`People.u_board`, `People.u_school`); the choice is a lookup of those numbers in
per-(region, system) cumulative weights, vectorised over all enrolment rows. School numbers come
from a fixed seed, so the schools are the same whatever the run's seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from linkhaven.synth.arrays import BoolArray, FloatArray, IntArray
from linkhaven.synth.reference import boards, regions

STUDENTS_PER_ELEMENTARY_SCHOOL = 380
STUDENTS_PER_SECONDARY_SCHOOL = 750
SCHOOL_NUMBER_SEED = 20170901  # schools are the same for every seed


@dataclass(frozen=True)
class BoardTable:
    """Board choice per (region, system) as padded cumulative weights, plus school pools per board."""

    candidates: IntArray  # [region*4 + system, k] board index, -1 padding
    cumulative: FloatArray  # [region*4 + system, k]
    elementary_start: IntArray  # per board, into `school_numbers`
    elementary_count: IntArray
    secondary_start: IntArray
    secondary_count: IntArray
    school_numbers: npt.NDArray[np.int64]


def board_table(scale: float) -> BoardTable:
    """Which boards serve which region and system, and each board's schools at this scale."""
    bs = boards()
    rs = regions()
    rcode = {r.code: i for i, r in enumerate(rs)}
    groups: list[list[tuple[int, float]]] = [[] for _ in range(len(rs) * 4)]
    for b_idx, b in enumerate(bs):
        for rc in b.regions:
            groups[rcode[rc] * 4 + b.system_code].append((b_idx, b.size / len(b.regions)))
    # a region without a board of the system falls back to the English public board
    for r in range(len(rs)):
        for s in range(4):
            if not groups[r * 4 + s]:
                groups[r * 4 + s] = list(groups[r * 4])
    k = max(len(g) for g in groups)
    cand = np.full((len(groups), k), -1, dtype=np.int64)
    cum = np.full((len(groups), k), 2.0)
    for g, items in enumerate(groups):
        w = np.array([x[1] for x in items])
        cand[g, : len(items)] = [x[0] for x in items]
        cum[g, : len(items)] = np.cumsum(w) / w.sum()
    size = np.array([b.size for b in bs]) * 1000 * scale
    n_elem = np.clip(np.round(size * 0.68 / STUDENTS_PER_ELEMENTARY_SCHOOL), 1, 500).astype(np.int64)
    n_sec = np.clip(np.round(size * 0.32 / STUDENTS_PER_SECONDARY_SCHOOL), 1, 500).astype(np.int64)
    numbers = np.random.Generator(np.random.PCG64(SCHOOL_NUMBER_SEED)).permutation(900_000)[: len(bs) * 1000]
    numbers = numbers + 100_000
    block = np.arange(len(bs), dtype=np.int64) * 1000
    return BoardTable(cand, cum, block, n_elem, block + 500, n_sec, numbers.astype(np.int64))


def pick_boards(table: BoardTable, region: IntArray, system: IntArray, u: FloatArray) -> IntArray:
    """Board index per row; a person's uniform `u` keeps the choice stable while they stay."""
    group = region * 4 + system
    idx = (u[:, None] > table.cumulative[group]).sum(axis=1)
    picked: IntArray = table.candidates[group, np.minimum(idx, table.candidates.shape[1] - 1)]
    return picked


def pick_schools(table: BoardTable, board: IntArray, secondary: BoolArray, u: FloatArray) -> IntArray:
    """School number per row, from the board's elementary or secondary pool."""
    start = np.where(secondary, table.secondary_start[board], table.elementary_start[board])
    count = np.where(secondary, table.secondary_count[board], table.elementary_count[board])
    picked: IntArray = table.school_numbers[start + (u * count).astype(np.int64)]
    return picked
