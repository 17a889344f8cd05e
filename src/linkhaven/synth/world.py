"""The world the extracts are cut from: the people, their careers, their homes and their boards.

OnSIS, EQAO and CPIN must agree about where a child lived and which board they were in, so these are
settled once, here, before any extract is built. Homes are chained only for the rows that need them:
one per enrolment row of a student outside child welfare; for a child known to child welfare, a
six-year grid (one row per school year) that both their enrolment rows and their CPIN episodes read;
a co-twin shares the home of the twin whose career it copies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from linkhaven.synth.arrays import IntArray
from linkhaven.synth.enrolment import Careers
from linkhaven.synth.names import name_tables
from linkhaven.synth.noise import Vocabulary
from linkhaven.synth.people import People
from linkhaven.synth.rates import ErrorRates
from linkhaven.synth.reference import FIRST_YEAR, YEARS
from linkhaven.synth.residence import Residence, residence_chain
from linkhaven.synth.schools import BoardTable, board_table, pick_boards


@dataclass
class World:
    """Everything the builders share: the people, their careers and homes, boards and vocabularies."""

    people: People
    careers: Careers
    residence_row: IntArray  # per career row: index into `residence`
    residence: Residence
    cpin_grid_start: IntArray  # per person: first residence row of their 6-year grid, -1 if none
    board: IntArray  # per career row
    boards: BoardTable
    vocab: Vocabulary
    oen_pool: IntArray


def build_world(rng: np.random.Generator, people: People, careers: Careers, scale: float, rates: ErrorRates) -> World:
    """Homes for everyone who appears somewhere, and the board of every enrolment row."""
    n_rows = len(careers.person)
    co_twin_row = careers.twin_source_row >= 0
    cpin_row = people.cpin[careers.person]
    base = np.flatnonzero(~co_twin_row & ~cpin_row)
    cpin_people = np.flatnonzero(people.cpin)
    grid_person = np.repeat(cpin_people, len(YEARS))
    person_all = np.concatenate([careers.person[base], grid_person])
    residence = residence_chain(rng, person_all, people, rates)
    grid_start = np.full(people.n, -1, dtype=np.int64)
    grid_start[cpin_people] = len(base) + np.arange(len(cpin_people)) * len(YEARS)
    row_res = np.full(n_rows, -1, dtype=np.int32)
    row_res[base] = np.arange(len(base))
    cp = np.flatnonzero(cpin_row & ~co_twin_row)
    row_res[cp] = grid_start[careers.person[cp]] + (careers.year[cp] - FIRST_YEAR)
    tw = np.flatnonzero(co_twin_row)
    row_res[tw] = row_res[careers.twin_source_row[tw]]
    table = board_table(scale)
    board = pick_boards(
        table, residence.region[row_res], people.system[careers.person], people.u_board[careers.person]
    ).astype(np.int16)
    tables = name_tables()
    vocab = Vocabulary.build(tables.given, people.family_vocab, tables.nicknames)
    oen_pool = np.sort(people.oen[people.oen >= 0])
    return World(people, careers, row_res, residence, grid_start, board, table, vocab, oen_pool)
