"""Homes: where each person lives in each school year, as a region and a postal code.

Postal code is a linkage variable, and it goes stale when a family moves, so homes form a chain per
person: a family moves between school years at the annual move rate (higher for families known to
child welfare), and each residence segment gets a fresh postal code. The segment number is also
what moves a student to another school (see `extract_onsis.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from linkhaven.synth.arrays import IntArray
from linkhaven.synth.demographics import region_weights
from linkhaven.synth.identifiers import postal_codes
from linkhaven.synth.people import People
from linkhaven.synth.rates import ErrorRates
from linkhaven.synth.reference import regions


@dataclass
class Residence:
    """Home region and postal code per residence row (a person in a school year)."""

    region: IntArray
    postal: pa.StringArray
    segment_number: IntArray  # moves so far, within the person


def residence_chain(rng: np.random.Generator, person: IntArray, people: People, rates: ErrorRates) -> Residence:
    """Homes over consecutive rows of each person (rows sorted by person, one per school year).

    Between two rows a family moves with the annual move rate (higher for families known to child
    welfare); a move leaves the region with `move_leaves_region`, else stays in it. Each residence
    segment gets a fresh postal code in its region.
    """
    n = len(person)
    first = np.ones(n, dtype=bool)
    first[1:] = person[1:] != person[:-1]
    move_rate = np.where(people.cpin[person], rates.annual_move_cpin, rates.annual_move)
    moved = (~first) & (rng.random(n) < move_rate)
    new_segment = first | moved
    seg_of_row = np.cumsum(new_segment) - 1
    seg_rows = np.flatnonzero(new_segment)
    n_seg = len(seg_rows)
    seg_first = first[seg_rows]
    leaves = (~seg_first) & (rng.random(n_seg) < rates.move_leaves_region)
    anchor = seg_first | leaves
    region_w = region_weights()
    anchor_region = np.where(
        seg_first, people.region[person[seg_rows]], rng.choice(len(region_w), size=n_seg, p=region_w)
    )
    last_anchor = np.maximum.accumulate(np.where(anchor, np.arange(n_seg), 0))
    seg_region = anchor_region[last_anchor]
    fsa_flat, fsa_start, fsa_count = _fsa_table()
    fsa = fsa_flat[fsa_start[seg_region] + (rng.random(n_seg) * fsa_count[seg_region]).astype(np.int64)]
    seg_postal = postal_codes(rng, fsa)
    starts = np.flatnonzero(first)
    seg_start_of_person = np.repeat(seg_of_row[starts], np.diff(np.append(starts, n)))
    return Residence(
        region=seg_region[seg_of_row].astype(np.int16),
        postal=seg_postal.take(pa.array(seg_of_row)),
        segment_number=(seg_of_row - seg_start_of_person).astype(np.int16),
    )


def _fsa_table() -> tuple[npt.NDArray[np.bytes_], IntArray, IntArray]:
    fsas = [r.fsas for r in regions()]
    flat = np.array([f.encode() for group in fsas for f in group], dtype="S3")
    count = np.array([len(g) for g in fsas], dtype=np.int64)
    start = np.cumsum(count) - count
    return flat, start, count


def fresh_postal_codes(rng: np.random.Generator, region: IntArray, spaced: bool = True) -> pa.StringArray:
    """New postal codes in the given regions (placement addresses, homes of persons outside OnSIS)."""
    fsa_flat, fsa_start, fsa_count = _fsa_table()
    fsa = fsa_flat[fsa_start[region] + (rng.random(len(region)) * fsa_count[region]).astype(np.int64)]
    return postal_codes(rng, fsa, spaced=spaced)
