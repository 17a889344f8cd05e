"""Frequency-weighted names and the ways real records get them wrong.

The lists in `data/given_names.csv`, `data/surnames.csv` and `data/nicknames.csv` were written for
this generator: Ontario's mix of English, French, European, South Asian, East Asian, Arabic and
Persian, Black (Caribbean and African), Filipino, Latin American, Southeast Asian and Indigenous
names, with assumed relative weights, so that common names (Singh, Patel, Smith, Nguyen, Li,
Mohammed, Liam, Olivia) collide the way they do in a real province. Every character is encodable in
Windows-1252, because CPIN is delivered in it.

Sampling is vectorised (indices into a vocabulary); the variant functions below work on single
strings and are only called for the few records that carry an error. Each takes its randomness as
uniform numbers drawn by the caller, so the same draws always give the same variant.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from linkhaven.synth.arrays import FloatArray, IntArray
from linkhaven.synth.reference import ORIGINS

# Probability that a child of this origin has a given name from the origin's own list rather than
# the English list (second-generation families often choose English names) [assumed].
OWN_GIVEN_LIST = {
    "english": 1.0,
    "european": 0.6,
    "french": 0.85,
    "south_asian": 0.8,
    "east_asian": 0.7,
    "arabic": 0.8,
    "black": 0.8,
    "filipino": 0.8,
    "latin_american": 0.75,
    "southeast_asian": 0.7,
    "indigenous": 0.65,
}
# Share of persons with a two-part family name built by the generator (hyphenated, or two surnames
# with a space for Latin American names) [assumed]; particles and apostrophes come with the lists.
COMPOUND_SHARE = {
    "english": 0.03,
    "european": 0.03,
    "french": 0.08,
    "south_asian": 0.01,
    "east_asian": 0.005,
    "arabic": 0.01,
    "black": 0.03,
    "filipino": 0.02,
    "latin_american": 0.35,
    "southeast_asian": 0.005,
    "indigenous": 0.03,
}

_KEYBOARD = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]


def _neighbours() -> dict[str, str]:
    pos = {c: (r, i) for r, row in enumerate(_KEYBOARD) for i, c in enumerate(row)}
    out: dict[str, str] = {}
    for c, (r, i) in pos.items():
        near = [
            d
            for d, (r2, i2) in pos.items()
            if d != c and abs(r2 - r) <= 1 and abs((i2 + 0.5 * r2) - (i + 0.5 * r)) <= 1.0
        ]
        out[c] = "".join(sorted(near))
    return out


KEY_NEIGHBOURS = _neighbours()


@dataclass(frozen=True)
class WeightedList:
    """Vocabulary indices with cumulative probabilities, for `searchsorted` sampling."""

    index: IntArray
    cumulative: FloatArray

    def sample(self, rng: np.random.Generator, n: int) -> IntArray:
        """`n` vocabulary indices drawn with the list's weights."""
        pick = np.searchsorted(self.cumulative, rng.random(n), side="right")
        return self.index[np.minimum(pick, len(self.index) - 1)]


@dataclass(frozen=True)
class NameTables:
    """The name vocabularies and per-origin weighted lists."""

    given: tuple[str, ...]
    surnames: tuple[str, ...]
    given_lists: dict[tuple[int, int], WeightedList]  # (origin index, sex 0=F 1=M)
    surname_lists: dict[int, WeightedList]
    nicknames: dict[str, tuple[str, ...]]

    def sample_given(self, rng: np.random.Generator, origin: IntArray, sex: IntArray) -> IntArray:
        """Given-name indices for persons of `origin` and `sex`, mixing in English names."""
        english = ORIGINS.index("english")
        own_p = np.array([OWN_GIVEN_LIST[o] for o in ORIGINS])
        use_own = rng.random(len(origin)) < own_p[origin]
        list_origin = np.where(use_own, origin, english)
        out = np.zeros(len(origin), dtype=np.int64)
        for (o, s), wl in self.given_lists.items():
            sel = np.flatnonzero((list_origin == o) & (sex == s))
            if len(sel):
                out[sel] = wl.sample(rng, len(sel))
        return out

    def sample_surname(self, rng: np.random.Generator, origin: IntArray) -> IntArray:
        """Surname indices for persons of `origin`."""
        out = np.zeros(len(origin), dtype=np.int64)
        for o, wl in self.surname_lists.items():
            sel = np.flatnonzero(origin == o)
            if len(sel):
                out[sel] = wl.sample(rng, len(sel))
        return out


def _data(name: str) -> list[dict[str, str]]:
    text = resources.files("linkhaven.synth").joinpath("data").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _weighted(indices: list[int], weights: list[float]) -> WeightedList:
    w = np.asarray(weights, dtype=np.float64)
    return WeightedList(index=np.asarray(indices, dtype=np.int64), cumulative=np.cumsum(w) / w.sum())


@cache
def name_tables() -> NameTables:
    """Load the packaged name lists once."""
    given: list[str] = []
    given_pos: dict[str, int] = {}
    groups: dict[tuple[int, int], tuple[list[int], list[float]]] = {}
    for row in _data("given_names.csv"):
        name = row["name"]
        if name not in given_pos:
            given_pos[name] = len(given)
            given.append(name)
        key = (ORIGINS.index(row["origin"]), 0 if row["sex"] == "F" else 1)
        idx, wts = groups.setdefault(key, ([], []))
        idx.append(given_pos[name])
        wts.append(float(row["weight"]))
    surnames: list[str] = []
    surname_pos: dict[str, int] = {}
    sgroups: dict[int, tuple[list[int], list[float]]] = {}
    for row in _data("surnames.csv"):
        name = row["name"]
        if name not in surname_pos:
            surname_pos[name] = len(surnames)
            surnames.append(name)
        idx, wts = sgroups.setdefault(ORIGINS.index(row["origin"]), ([], []))
        idx.append(surname_pos[name])
        wts.append(float(row["weight"]))
    nicknames = {r["name"]: tuple(r["short_forms"].split("|")) for r in _data("nicknames.csv")}
    return NameTables(
        given=tuple(given),
        surnames=tuple(surnames),
        given_lists={k: _weighted(*v) for k, v in sorted(groups.items())},
        surname_lists={k: _weighted(*v) for k, v in sorted(sgroups.items())},
        nicknames=nicknames,
    )


# --- variants of one string ---------------------------------------------------------------------


def strip_accents(name: str) -> str:
    """Hélène -> Helene: what a keyboard without accents, or a system that drops them, records."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def has_accent(name: str) -> bool:
    """True when dropping accents changes the name."""
    return strip_accents(name) != name


def compound_variants(name: str) -> list[str]:
    """The other ways a compound family name gets written; empty for a simple name.

    Hyphenated: either part alone (parts of three letters or more), hyphen as space, joined.
    Apostrophe: removed or replaced by a space. Space-separated (particles, double surnames): joined,
    the last part alone, the first part alone when it is not a short particle.
    """
    out: list[str] = []
    if "-" in name:
        parts = [p for p in name.split("-") if p]
        out += [p for p in (parts[0], parts[-1]) if len(p) >= 3]
        out += [name.replace("-", " "), name.replace("-", "")]
    elif "'" in name:
        out += [name.replace("'", ""), name.replace("'", " ")]
    elif " " in name:
        parts = name.split(" ")
        out += [name.replace(" ", ""), parts[-1]]
        if len(parts[0]) > 3:
            out.append(parts[0])
    seen: list[str] = []
    for v in out:
        if v and v != name and v not in seen:
            seen.append(v)
    return seen


def pick(options: Sequence[str], u: float) -> str:
    """The option a uniform number in [0, 1) selects."""
    return options[min(int(u * len(options)), len(options) - 1)]


def typo(name: str, u_op: float, u_pos: float, u_char: float) -> str:
    """One keyboard error: substitution 59%, deletion 16%, insertion 10%, transposition 15%
    (Damerau 1964 as quoted by FEBRL). Only letters are touched, the result always differs from the
    input and is one Damerau-Levenshtein edit away from it."""
    letters = [i for i, c in enumerate(name) if c.isalpha()]
    if not letters:
        return name + "x"
    op = "sub" if u_op < 0.59 else "del" if u_op < 0.75 else "ins" if u_op < 0.85 else "trans"
    if op == "del" and len(name) < 3:
        op = "sub"
    if op == "trans":
        pairs = [i for i in letters if i + 1 < len(name) and name[i + 1].isalpha()
                 and name[i].lower() != name[i + 1].lower()]
        if not pairs:
            op = "sub"
        else:
            i = pairs[min(int(u_pos * len(pairs)), len(pairs) - 1)]
            return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    i = letters[min(int(u_pos * len(letters)), len(letters) - 1)]
    c = name[i]
    base = strip_accents(c).lower() or "e"
    near = KEY_NEIGHBOURS.get(base, "aeiou".replace(base, ""))
    repl = pick(near, u_char)
    if c.isupper():
        repl = repl.upper()
    if op == "sub":
        return name[:i] + repl + name[i + 1 :]
    if op == "del":
        return name[:i] + name[i + 1 :]
    # insertion: a doubled letter or a neighbouring key next to it
    extra = c.lower() if u_char < 0.5 else repl.lower()
    return name[: i + 1] + extra + name[i + 1 :]


def damerau_distance(a: str, b: str) -> int:
    """Optimal string alignment distance; the tests use it to recognise a one-edit typo."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]
