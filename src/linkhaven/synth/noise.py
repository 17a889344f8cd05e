"""Identity errors: turn true identities into what a source actually recorded.

Applied per *unit*: a CPIN episode or an EQAO sitting is its own unit, while OnSIS draws once per
registration spell (a student at one school under one legal name) because a school's record carries
its spelling from year to year until the student moves on. Either way the expected share of records
with each error equals the configured rate.

The draws are vectorised; only the few strings that change are built in Python. Each field's
variants are mutually exclusive (one uniform per unit falls in at most one rate interval), so each
kind can be measured on its own; see `rates.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from linkhaven.synth.arrays import BoolArray, IntArray
from linkhaven.synth.identifiers import corrupt_oen
from linkhaven.synth.names import compound_variants, pick, strip_accents, typo
from linkhaven.synth.rates import ErrorRates


@dataclass(frozen=True)
class Vocabulary:
    """Name vocabularies as Arrow arrays, with the eligibility of each entry for each variant."""

    given: pa.StringArray
    family: pa.StringArray
    given_accented: BoolArray
    given_has_short_form: BoolArray
    family_accented: BoolArray
    family_compound: BoolArray
    nicknames: dict[str, tuple[str, ...]]

    @classmethod
    def build(cls, given: list[str] | tuple[str, ...], family: list[str], nicknames: dict[str, tuple[str, ...]]
              ) -> Vocabulary:
        """Vocabularies and their eligibility flags (vectorised over the family vocabulary)."""
        g = pa.array(list(given), pa.string())
        f = pa.array(family, pa.string())
        return cls(
            given=g,
            family=f,
            given_accented=~pc.string_is_ascii(g).to_numpy(zero_copy_only=False),
            given_has_short_form=np.array([name in nicknames for name in given], dtype=bool),
            family_accented=~pc.string_is_ascii(f).to_numpy(zero_copy_only=False),
            family_compound=pc.match_substring_regex(f, r"[- ']").to_numpy(zero_copy_only=False),
            nicknames=nicknames,
        )


@dataclass
class TrueIdentity:
    """What is true for each unit."""

    given: IntArray  # index into Vocabulary.given
    family: IntArray  # index into Vocabulary.family
    birth: npt.NDArray[np.datetime64]
    oen: IntArray  # -1 when the person has none


@dataclass
class RecordedIdentity:
    """What the source recorded for each unit."""

    given: pa.StringArray
    family: pa.StringArray
    birth_year: IntArray
    birth_month: IntArray
    birth_day: IntArray
    birth_missing: BoolArray
    oen: pa.Array  # strings, null when empty


def _intervals(u: npt.NDArray[np.float64], rates: list[float], eligible: list[BoolArray]) -> list[BoolArray]:
    """Masks for consecutive rate intervals of one uniform, each restricted to its eligible units."""
    out: list[BoolArray] = []
    lo = 0.0
    for rate, ok in zip(rates, eligible, strict=True):
        out.append((u >= lo) & (u < lo + rate) & ok)
        lo += rate
    return out


def _replace(base: pa.StringArray, mask: BoolArray, values: list[str]) -> pa.StringArray:
    if not mask.any():
        return base
    replaced: pa.StringArray = pc.replace_with_mask(base, pa.array(mask), pa.array(values, pa.string()))
    return replaced


def record_identity(
    rng: np.random.Generator,
    source: str,
    truth: TrueIdentity,
    vocab: Vocabulary,
    rates: ErrorRates,
    oen_pool: IntArray,
) -> RecordedIdentity:
    """The source's version of each unit's identity; `oen_pool` holds every valid OEN (for the
    rare OEN that belongs to somebody else)."""
    n = len(truth.given)
    r = {name: getattr(rates, name).for_source(source) for name in (
        "name_swap", "given_name_typo", "given_name_nickname", "given_name_accent_dropped",
        "family_name_typo", "family_name_accent_dropped", "family_name_compound_variant",
        "birth_date_missing", "birth_date_day_month_swap", "birth_date_typo",
        "oen_missing", "oen_invalid", "oen_other_person")}
    given = vocab.given.take(pa.array(truth.given))
    family = vocab.family.take(pa.array(truth.family))

    swap = rng.random(n) < r["name_swap"]
    keep = ~swap
    typo_g, nick_g, accent_g = _intervals(
        rng.random(n),
        [r["given_name_typo"], r["given_name_nickname"], r["given_name_accent_dropped"]],
        [keep, keep & vocab.given_has_short_form[truth.given], keep & vocab.given_accented[truth.given]],
    )
    typo_f, accent_f, compound_f = _intervals(
        rng.random(n),
        [r["family_name_typo"], r["family_name_accent_dropped"], r["family_name_compound_variant"]],
        [keep, keep & vocab.family_accented[truth.family], keep & vocab.family_compound[truth.family]],
    )
    # given name
    variant = np.zeros(n, dtype=np.int8)
    variant[typo_g], variant[nick_g], variant[accent_g] = 1, 2, 3
    changed = np.flatnonzero(variant > 0)
    if len(changed):
        names = given.take(pa.array(changed)).to_pylist()
        u = rng.random((len(changed), 3))
        values = []
        for k, name in enumerate(names):
            kind = variant[changed[k]]
            if kind == 1:
                values.append(typo(name, *u[k]))
            elif kind == 2:
                values.append(pick(vocab.nicknames[name], u[k, 0]))
            else:
                values.append(strip_accents(name))
        given = _replace(given, variant > 0, values)
    # family name
    variant[:] = 0
    variant[typo_f], variant[accent_f], variant[compound_f] = 1, 2, 3
    changed = np.flatnonzero(variant > 0)
    if len(changed):
        names = family.take(pa.array(changed)).to_pylist()
        u = rng.random((len(changed), 3))
        values = []
        for k, name in enumerate(names):
            kind = variant[changed[k]]
            if kind == 1:
                values.append(typo(name, *u[k]))
            elif kind == 2:
                values.append(strip_accents(name))
            else:
                values.append(pick(compound_variants(name), u[k, 0]))
        family = _replace(family, variant > 0, values)
    if swap.any():
        mask = pa.array(swap)
        given, family = pc.if_else(mask, family, given), pc.if_else(mask, given, family)

    year, month, day, missing = _birth_dates(rng, truth.birth, r)
    oen = _oens(rng, truth.oen, r, oen_pool)
    return RecordedIdentity(given, family, year, month, day, missing, oen)


def split_dates(birth: npt.NDArray[np.datetime64]) -> tuple[IntArray, IntArray, IntArray]:
    """Year, month and day of datetime64[D] values."""
    y = birth.astype("datetime64[Y]")
    m = birth.astype("datetime64[M]")
    year = y.astype(np.int64) + 1970
    month = (m - y.astype("datetime64[M]")).astype(np.int64) + 1
    day = (birth - m.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def _birth_dates(
    rng: np.random.Generator, birth: npt.NDArray[np.datetime64], r: dict[str, float]
) -> tuple[IntArray, IntArray, IntArray, BoolArray]:
    year, month, day = split_dates(birth)
    n = len(year)
    swappable = (day <= 12) & (day != month)
    everyone = np.ones(n, dtype=bool)
    missing, swap, wrong = _intervals(
        rng.random(n),
        [r["birth_date_missing"], r["birth_date_day_month_swap"], r["birth_date_typo"]],
        [everyone, swappable, everyone],
    )
    year, month, day = year.copy(), month.copy(), day.copy()
    month[swap], day[swap] = day[swap], month[swap]
    idx = np.flatnonzero(wrong)
    if len(idx):
        part = rng.random(len(idx))
        step = rng.integers(1, 4, len(idx)) * np.where(rng.random(len(idx)) < 0.5, -1, 1)
        days_in_month = _days_in_month(year[idx], month[idx])
        # day off by 1-3, kept inside the month (reflect when it would fall out)
        new_day = day[idx] + step
        new_day = np.where((new_day < 1) | (new_day > days_in_month), day[idx] - step, new_day)
        # or the month off by one, or the year off by one
        new_month = np.where(month[idx] == 12, 11, month[idx] + 1)
        # a month typo only where the day exists in every month, a year typo never on 29 February:
        # exactly one part of the date changes
        is_month = (part >= 0.5) & (part < 0.75) & (day[idx] <= 28)
        is_year = (part >= 0.75) & ~((month[idx] == 2) & (day[idx] == 29))
        is_day = ~is_month & ~is_year
        day[idx] = np.where(is_day, new_day, day[idx])
        month[idx] = np.where(is_month, new_month, month[idx])
        year[idx] = np.where(is_year, year[idx] + np.where(rng.random(len(idx)) < 0.5, -1, 1), year[idx])
    return year, month, day, missing


def _days_in_month(year: IntArray, month: IntArray) -> IntArray:
    first = (year - 1970) * 12 + (month - 1)
    start = first.astype("datetime64[M]").astype("datetime64[D]")
    end = (first + 1).astype("datetime64[M]").astype("datetime64[D]")
    result: IntArray = (end - start).astype(np.int64)
    return result


def _oens(rng: np.random.Generator, true_oen: IntArray, r: dict[str, float], pool: IntArray) -> pa.Array:
    n = len(true_oen)
    has = true_oen >= 0
    missing = has & (rng.random(n) < r["oen_missing"])
    present = has & ~missing
    invalid, other = _intervals(rng.random(n), [r["oen_invalid"], r["oen_other_person"]], [present, present])
    shown = np.where(present, true_oen, 0)
    idx = np.flatnonzero(other)
    if len(idx):
        replacement = pool[rng.integers(0, len(pool), len(idx))]
        same = replacement == true_oen[idx]
        replacement[same] = pool[(np.searchsorted(pool, replacement[same]) + 1) % len(pool)]
        shown[idx] = replacement
    text = pc.utf8_lpad(pa.array(shown, pa.int64()).cast(pa.string()), width=9, padding="0")
    text = pc.if_else(pa.array(present), text, pa.nulls(n, pa.string()))
    bad = np.flatnonzero(invalid)
    if len(bad):
        u = rng.random((len(bad), 3))
        values = [corrupt_oen(int(true_oen[i]), *u[k]) for k, i in enumerate(bad)]
        text = _replace(text, invalid, values)
    return text
