"""Measure identity-error rates from generated extracts against the ground truth.

Reads the written files (`<source>.csv`, `truth.csv`, `persons.csv`), joins every record to its
true person and classifies how each identity field differs from the truth. Used by
`tests/test_synth.py`; kept apart so the classification rules are readable on their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from linkhaven.synth.identifiers import is_valid_oen
from linkhaven.synth.names import compound_variants, damerau_distance, name_tables, strip_accents

COLUMNS = {
    "cpin": ("EPISODE_ID", "FIRST_NAME", "LAST_NAME", "BIRTH_DATE", "%Y-%m-%d", "cp1252"),
    "onsis": ("ENROLMENT_ID", "LEGAL_FIRST_NAME", "LEGAL_LAST_NAME", "DATE_OF_BIRTH", "%Y%m%d", "utf-8"),
    "eqao": ("EQAO_RECORD_ID", "FIRST_NAME", "LAST_NAME", "BIRTH_DATE", "%Y-%m-%d", "utf-8"),
}


def read(path: Path, encoding: str = "utf-8") -> pd.DataFrame:
    """A CSV as strings, empty cells as empty strings."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)


@dataclass
class Count:
    """Hits among eligible records."""

    hits: int = 0
    eligible: int = 0

    @property
    def rate(self) -> float:
        return self.hits / self.eligible if self.eligible else math.nan

    def within(self, expected: float, sigmas: float = 4.0, units: int | None = None) -> bool:
        """Is the measured rate within `sigmas` binomial standard errors (plus a small floor) of
        `expected`? `units` is the number of independent draws when records share them."""
        n = units if units is not None else self.eligible
        if n == 0:
            return expected == 0
        se = math.sqrt(max(expected * (1 - expected), 1e-9) / n)
        return abs(self.rate - expected) <= sigmas * se + 0.5 / n


@dataclass
class Measured:
    """Error counts for one source."""

    counts: dict[str, Count] = field(default_factory=dict)
    unexplained: list[tuple[str, str, str]] = field(default_factory=list)
    records: int = 0
    persons: int = 0

    def tally(self, kind: str, hits: pd.Series) -> None:
        """Record a boolean series of hits over the eligible records."""
        self.counts[kind] = Count(int(hits.sum()), len(hits))


def joined(out_dir: Path, source: str) -> pd.DataFrame:
    """The extract with each record's true person and the family name in effect at its date."""
    id_col, _, _, _, _, encoding = COLUMNS[source]
    extract = read(out_dir / f"{source}.csv", encoding)
    truth = read(out_dir / "truth.csv")
    truth = truth[truth["source"] == source][["record_id", "person_id"]]
    persons = read(out_dir / "persons.csv")
    df = extract.merge(truth, left_on=id_col, right_on="record_id", how="left", validate="one_to_one")
    df = df.merge(persons.add_prefix("true_"), left_on="person_id", right_on="true_person_id", how="left")
    if source == "cpin":
        year = df["EPISODE_START"].str[:4].astype(int) - (df["EPISODE_START"].str[5:7].astype(int) < 9)
    else:
        year = df["SCHOOL_YEAR"].str[:4].astype(int)
    change = pd.to_numeric(df["true_name_change_year"].str[:4], errors="coerce")
    changed = (df["true_new_family_name"] != "") & (year >= change)
    df["true_family"] = df["true_family_name"].where(~changed, df["true_new_family_name"])
    return df


def measure(out_dir: Path, source: str) -> Measured:
    """Classify every record's identity against its true person. OnSIS draws its errors once per
    registration spell (a person at one school under one name), so it is measured per spell."""
    _, given_col, family_col, dob_col, dob_format, _ = COLUMNS[source]
    df = joined(out_dir, source)
    if source == "onsis":
        df = df.drop_duplicates(["person_id", "SCHOOL_NUMBER", "true_family"])
    nicknames = name_tables().nicknames
    m = Measured(records=len(df), persons=df["person_id"].nunique())
    given, family = df["true_given_name"], df["true_family"]
    rec_given, rec_family = df[given_col], df[family_col]
    swapped = (rec_given == family) & (rec_family == given) & (given != family)
    m.tally("name_swap", swapped)
    kept = df[~swapped]
    _classify_names(m, "given", kept["true_given_name"], kept[given_col], nicknames)
    _classify_names(m, "family", kept["true_family"], kept[family_col], nicknames)
    _classify_birth(m, df["true_birth_date"], df[dob_col], dob_format)
    if "OEN" in df.columns:
        _classify_oen(m, df["true_oen"], df["OEN"])
    return m


def _classify_names(m: Measured, part: str, true: pd.Series, rec: pd.Series,
                    nicknames: dict[str, tuple[str, ...]]) -> None:
    unique = pd.Series(true.unique())
    accented = true.map(dict(zip(unique, unique.map(lambda n: strip_accents(n) != n), strict=True)))
    if part == "given":
        special = true.map(dict(zip(unique, unique.map(lambda n: n in nicknames), strict=True)))
    else:
        special = true.map(dict(zip(unique, unique.map(lambda n: bool(compound_variants(n))), strict=True)))
    differs = rec != true
    kinds = pd.Series("", index=true.index)
    for i in np.flatnonzero(differs.to_numpy()):
        t, r = true.iloc[i], rec.iloc[i]
        if strip_accents(t) != t and r == strip_accents(t):
            kinds.iloc[i] = "accent"
        elif part == "given" and r in nicknames.get(t, ()) or part == "family" and r in compound_variants(t):
            kinds.iloc[i] = "special"
        elif damerau_distance(r, t) == 1:
            kinds.iloc[i] = "typo"
        else:
            m.unexplained.append((part, t, r))
    special_name = "given_name_nickname" if part == "given" else "family_name_compound_variant"
    m.tally(f"{part}_name_typo", kinds == "typo")
    m.tally(f"{part}_name_accent_dropped", kinds[accented] == "accent")
    m.tally(special_name, kinds[special] == "special")


def _classify_birth(m: Measured, true: pd.Series, rec: pd.Series, fmt: str) -> None:
    t = pd.to_datetime(true, format="%Y-%m-%d")
    missing = rec == ""
    r = pd.to_datetime(rec.where(~missing), format=fmt)
    ty, tm, td = t.dt.year, t.dt.month, t.dt.day
    ry, rm, rd = r.dt.year, r.dt.month, r.dt.day
    swappable = (td <= 12) & (td != tm)
    swap = ~missing & (ry == ty) & (rm == td) & (rd == tm) & swappable
    changed_parts = (ry != ty).astype(int) + (rm != tm).astype(int) + (rd != td).astype(int)
    typo = ~missing & ~swap & (changed_parts == 1)
    m.tally("birth_date_missing", missing)
    m.tally("birth_date_day_month_swap", swap[swappable])
    m.tally("birth_date_typo", typo)
    for i in np.flatnonzero((~missing & (changed_parts > 0) & ~swap & ~typo).to_numpy()):
        m.unexplained.append(("birth", true.iloc[i], rec.iloc[i]))


def _classify_oen(m: Measured, true: pd.Series, rec: pd.Series) -> None:
    holds = true != ""
    m.tally("oen_absent_kept_empty", rec[~holds] == "")
    m.tally("oen_missing", rec[holds] == "")
    present = holds & (rec != "")
    valid = rec[present].map(is_valid_oen)
    m.tally("oen_invalid", ~valid)
    m.tally("oen_other_person", valid & (rec[present] != true[present]))
