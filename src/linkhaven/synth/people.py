"""`People`: every true person, as columns of numpy arrays indexed by person number.

The population is millions of persons at scale 1, so a person is an index, not an object: each
attribute is one array and every stage works on whole arrays at once. This is the truth the extracts
are drawn from; what the institutions record (with errors) is made later, in `noise.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from linkhaven.synth.arrays import BoolArray, DateArray, FloatArray, IntArray


@dataclass
class People:
    """Every true person, one entry per index. Names are indices into the vocabularies."""

    sex: IntArray  # 0 female, 1 male
    gender_x: BoolArray
    birth: DateArray
    origin: IntArray
    region: IntArray  # home region index
    system: IntArray  # 0 English public, 1 English Catholic, 2 French public, 3 French Catholic
    given: IntArray
    family: IntArray
    new_family: IntArray  # -1 when the family name never changes
    change_year: IntArray  # first school year with the new name, 0 when none
    change_reason: IntArray  # 0 none, 1 adoption, 2 other
    oen: IntArray  # -1 when the person has no OEN
    twin_of: IntArray
    namesake_of: IntArray
    student: BoolArray
    extra: BoolArray  # created for child welfare, outside OnSIS
    ability: FloatArray
    u_board: FloatArray
    u_school: FloatArray
    cpin: BoolArray  # set by the child-welfare stage
    family_vocab: list[str]

    @property
    def n(self) -> int:
        """Number of persons."""
        return len(self.sex)

    @property
    def birth_year(self) -> IntArray:
        """Calendar year of birth."""
        years: IntArray = self.birth.astype("datetime64[Y]").astype(np.int64) + 1970
        return years

    def family_in_year(self, person: IntArray, year: IntArray) -> IntArray:
        """Family-name index in effect in school year `year` (the new name from its change year)."""
        changed = (self.new_family[person] >= 0) & (self.change_year[person] > 0) & (year >= self.change_year[person])
        return np.where(changed, self.new_family[person], self.family[person])
