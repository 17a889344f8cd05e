"""Family names: how they are made at birth and how they change during the window.

A family name is an index into `People.family_vocab`, a vocabulary that starts with the surname list
and grows as two-part names are made here. Names that change are what defeat exact matching on
names, so every way a true family name is built or changed lives in this one module:

* at birth, some families carry a two-part name (hyphenated; a space for Latin American double
  surnames);
* some students' names change from a school year on (a new surname or a hyphenated one);
* after an adoption, a child may take the adoptive family's name from the next school year.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from linkhaven.synth.arrays import IntArray
from linkhaven.synth.demographics import draw_categorical
from linkhaven.synth.names import COMPOUND_SHARE, NameTables, name_tables
from linkhaven.synth.people import People
from linkhaven.synth.reference import FIRST_YEAR, LAST_YEAR, ORIGIN_SHARE, ORIGINS
from linkhaven.synth.scalar_draws import Draws


def draw_family_names(rng: np.random.Generator, tables: NameTables, origin: IntArray) -> tuple[IntArray, list[str]]:
    """Family-name indices into a vocabulary that starts with the surname list and gains the
    two-part names built here (hyphenated; a space for Latin American double surnames)."""
    family = tables.sample_surname(rng, origin)
    vocab = list(tables.surnames)
    share = np.array([COMPOUND_SHARE[o] for o in ORIGINS])[origin]
    compound = np.flatnonzero(rng.random(len(origin)) < share)
    if len(compound):
        # the second part: same origin mostly, any origin for a mixed family
        second_origin = np.where(
            rng.random(len(compound)) < 0.7,
            origin[compound],
            draw_categorical(rng, ORIGIN_SHARE[None, :], np.zeros(len(compound), dtype=np.int64)),
        )
        second = tables.sample_surname(rng, second_origin)
        latin = ORIGINS.index("latin_american")
        index: dict[str, int] = {}
        new_idx = np.empty(len(compound), dtype=np.int64)
        firsts = family[compound]
        for k in range(len(compound)):
            a, b = tables.surnames[firsts[k]], tables.surnames[second[k]]
            if a == b or "-" in a or "-" in b:
                new_idx[k] = firsts[k]
                continue
            text = f"{a} {b}" if origin[compound[k]] == latin and " " not in a + b else f"{a}-{b}"
            if text not in index:
                index[text] = len(vocab)
                vocab.append(text)
            new_idx[k] = index[text]
        family[compound] = new_idx
    return family, vocab


def add_surname_changes(rng: np.random.Generator, people: People, tables: NameTables, share: float) -> None:
    """Some students' family names change from a school year on: a new surname or a hyphenated one."""
    chosen = np.flatnonzero(people.student & (rng.random(people.n) < share) & (people.twin_of < 0))
    if not len(chosen):
        return
    new_surname = tables.sample_surname(rng, people.origin[chosen])
    hyphenate = rng.random(len(chosen)) < 0.5
    vocab = people.family_vocab
    index = {name: i for i, name in enumerate(vocab)}
    new_idx = np.empty(len(chosen), dtype=np.int64)
    for k, p in enumerate(chosen):
        old = vocab[people.family[p]]
        new = tables.surnames[new_surname[k]]
        if new == old or (hyphenate[k] and "-" in old):
            new = tables.surnames[(new_surname[k] + 1) % len(tables.surnames)]
        text = f"{old}-{new}" if hyphenate[k] and "-" not in old and " " not in old else new
        if text not in index:
            index[text] = len(vocab)
            vocab.append(text)
        new_idx[k] = index[text]
    people.new_family[chosen] = new_idx
    people.change_year[chosen] = rng.integers(FIRST_YEAR + 1, LAST_YEAR + 1, len(chosen))
    people.change_reason[chosen] = 2


def rename_after_adoptions(draws: Draws, people: People, adopted: list[tuple[int, int]], rate: float) -> None:
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
