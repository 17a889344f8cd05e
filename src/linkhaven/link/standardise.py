"""Standardisation of identity fields: the raw values stay, standardised columns are added.

Names are standardised once per *distinct* value in Python (a province has a few hundred thousand
distinct name spellings against millions of rows) and joined back in DuckDB, so no Python runs per
row. Everything else (dates, postal codes) is plain SQL.

What a name becomes, and why:
- `fold`: case, accents and letters outside ASCII (Hélène -> helene, Øyvind -> oyvind), apostrophes
  and periods removed so that O'Brien, OBrien and O Brien meet, every other non-letter (hyphen,
  space, digit) a token break, so Bélanger-Côté and Belanger Cote are the same tokens;
- family names: `st`/`ste` written out as `saint`/`sainte` (St-Pierre = Saint-Pierre); the
  *joined* form (tokens glued, particles kept) makes De Luca = DeLuca and Van der Berg =
  Vanderberg; the *core tokens* (particles de, van, le, al... dropped) make Al-Khatib meet Khatib
  and a compound name meet one of its parts (Bélanger-Côté contains Côté);
- given names: the tokens (Marie-Ève contains Marie) and the equivalence groups of the shipped
  table of English and French short forms (Bill and William, Guillaume and William, Kate and
  Catherine);
- a phonetic key (NYSIIS, below) of the first given-name token and of the family core, for
  spelling variants the other rules miss (Katlyn / Caitlin, Mohammed / Muhammad).
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable
from functools import cache
from importlib.resources import files

import pyarrow as pa

from linkhaven.sqlquote import lit

_SPECIAL = str.maketrans(
    {"ß": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ø": "o", "Ø": "o", "ł": "l", "Ł": "l",
     "đ": "d", "Đ": "d", "ð": "d", "þ": "th", "Þ": "th", "ı": "i"}
)  # fmt: skip
_JOINING = re.compile(r"[’'`´ʼ.]")
_BREAKING = re.compile(r"[^a-z]+")

PARTICLES = frozenset(
    {"de", "del", "dela", "della", "der", "den", "des", "di", "da", "das", "do", "dos", "du", "la", "le", "les",
     "van", "von", "ter", "ten", "al", "el", "y", "e", "d", "l"}
)  # fmt: skip
"""Family-name particles that records drop or glue on (de Sousa, Van Dyk, Al-Khatib, d'Amour)."""
_EXPANSIONS = {"st": "saint", "ste": "sainte"}


def fold(text: str | None) -> str:
    """Lower-case ASCII letters and single spaces; apostrophes join, other punctuation separates."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKD", text.translate(_SPECIAL))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = _JOINING.sub("", text)
    return " ".join(_BREAKING.sub(" ", text).split())


def family_tokens(text: str | None) -> list[str]:
    return [_EXPANSIONS.get(t, t) for t in fold(text).split()]


def core_tokens(tokens: list[str]) -> list[str]:
    """Tokens without particles; a name made only of particles keeps them all."""
    core = [t for t in tokens if t not in PARTICLES]
    return core or tokens


# -- NYSIIS --------------------------------------------------------------------------------------
_VOWELS = frozenset("AEIOU")
_FIRST = (("MAC", "MCC"), ("KN", "NN"), ("K", "C"), ("PH", "FF"), ("PF", "FF"), ("SCH", "SSS"))
_LAST = (("EE", "Y"), ("IE", "Y"), ("DT", "D"), ("RT", "D"), ("RD", "D"), ("NT", "D"), ("ND", "D"))


def nysiis(word: str) -> str:
    """The NYSIIS phonetic key (New York State Identification and Intelligence System, 1970).

    Chosen over Soundex because it keeps vowel positions and more of the name, so it separates
    more distinct names while still merging the common spelling variants; it is deterministic and
    needs no dictionary. Input is folded ASCII; the key is not truncated, and a Y inside a name
    counts as a vowel (Smyth = Smith, Kaytlin = Kaitlin), a common variant of the original rules.
    """
    name = "".join(ch for ch in word.upper() if "A" <= ch <= "Z")
    if not name:
        return ""
    for old, new in _FIRST:
        if name.startswith(old):
            name = new + name[len(old) :]
            break
    for old, new in _LAST:
        if name.endswith(old):
            name = name[: -len(old)] + new
            break
    key = [name[0]]
    chars = list(name)
    i = 1
    while i < len(chars):
        ch = chars[i]
        if ch == "E" and i + 1 < len(chars) and chars[i + 1] == "V":
            chars[i : i + 2] = ["A", "F"]
        elif ch in _VOWELS or (ch == "Y" and i + 1 < len(chars)):
            chars[i] = "A"
        elif ch == "Q":
            chars[i] = "G"
        elif ch == "Z":
            chars[i] = "S"
        elif ch == "M":
            chars[i] = "N"
        elif ch == "K":
            chars[i] = "N" if i + 1 < len(chars) and chars[i + 1] == "N" else "C"
        elif ch == "S" and chars[i + 1 : i + 3] == ["C", "H"]:
            chars[i : i + 3] = ["S", "S", "S"]
        elif ch == "P" and i + 1 < len(chars) and chars[i + 1] == "H":
            chars[i : i + 2] = ["F", "F"]
        elif (
            ch == "H"
            and (
                chars[i - 1] not in _VOWELS
                or (i + 1 < len(chars) and chars[i + 1] not in _VOWELS)
                or i + 1 == len(chars)
            )
            or ch == "W"
            and chars[i - 1] in _VOWELS
        ):
            chars[i] = chars[i - 1]
        if chars[i] != key[-1]:
            key.append(chars[i])
        i += 1
    text = "".join(key)
    if len(text) > 1 and text.endswith("S"):
        text = text[:-1]
    if len(text) > 1 and text.endswith("AY"):
        text = text[:-2] + "Y"
    if len(text) > 1 and text.endswith("A"):
        text = text[:-1]
    return text


# -- given-name equivalents ------------------------------------------------------------------------
@cache
def equivalence_groups() -> dict[str, tuple[str, ...]]:
    """Folded given name -> the equivalence groups it belongs to (from data/given_name_equivalents.csv)."""
    text = files("linkhaven.link").joinpath("data/given_name_equivalents.csv").read_text(encoding="utf-8")
    rows = csv.reader(line for line in text.splitlines() if line and not line.startswith("#"))
    next(rows)  # header
    groups: dict[str, set[str]] = {}
    for group, names in rows:
        for name in names.split("|"):
            groups.setdefault(fold(name), set()).add(fold(group))
    return {name: tuple(sorted(g)) for name, g in groups.items()}


# -- the per-distinct-name table -------------------------------------------------------------------
NAME_COLUMNS = (
    "raw", "given_std", "given_first", "given_joined", "given_tokens", "given_groups", "given_phon",
    "family_std", "family_joined", "family_core", "family_tokens", "family_phon",
)  # fmt: skip


def name_table(values: Iterable[str]) -> pa.Table:
    """Standardised forms of each distinct raw name, both as a given and as a family name.

    A raw value that folds to nothing (punctuation only) gets nulls, so it compares as missing
    rather than as an empty string that would match every other empty string.
    """
    groups = equivalence_groups()
    out: dict[str, list[object]] = {c: [] for c in NAME_COLUMNS}
    for raw in values:
        folded = fold(raw)
        given = folded.split()
        family = family_tokens(raw)
        core = core_tokens(family)
        out["raw"].append(raw)
        out["given_std"].append(folded or None)
        out["given_first"].append(given[0] if given else None)
        out["given_joined"].append("".join(given) or None)
        out["given_tokens"].append(given or None)
        out["given_groups"].append(list(groups.get(folded, ())) if given else None)
        out["given_phon"].append(nysiis(given[0]) or None if given else None)
        out["family_std"].append(" ".join(family) or None)
        out["family_joined"].append("".join(family) or None)
        out["family_core"].append("".join(core) or None)
        out["family_tokens"].append(core or None)
        out["family_phon"].append(nysiis("".join(core)) or None if core else None)
    lists = {"given_tokens", "given_groups", "family_tokens"}
    return pa.table({c: pa.array(v, pa.list_(pa.string()) if c in lists else pa.string()) for c, v in out.items()})


def postcode_sql(column: str, pattern: str | None) -> str:
    """SQL: a postcode upper-cased without spaces or hyphens, NULL unless it matches the country's
    `pattern` in full (the spec's `linkage.fields`; none: any letters and digits)."""
    cleaned = f"upper(regexp_replace({column}, '[^A-Za-z0-9]', '', 'g'))"
    if pattern is None:
        return f"NULLIF({cleaned}, '')"
    return f"CASE WHEN regexp_full_match({cleaned}, {lit(pattern)}) THEN {cleaned} END"


def address_sql(column: str) -> str:
    """SQL: free-text address folded as names are (case, accents, punctuation), NULL when empty."""
    folded = f"lower(strip_accents(CAST({column} AS VARCHAR)))"
    return f"NULLIF(trim(regexp_replace(regexp_replace({folded}, '[.''`]', '', 'g'), '[^a-z0-9]+', ' ', 'g')), '')"


def dob_sql(column: str) -> str:
    """SQL: a birth date as DATE whether it arrives typed (intake) or as ISO / YYYYMMDD text."""
    return (
        f"CASE WHEN typeof({column}) = 'DATE' THEN TRY_CAST({column} AS DATE) ELSE coalesce("
        f"CAST(try_strptime(CAST({column} AS VARCHAR), '%Y-%m-%d') AS DATE), "
        f"CAST(try_strptime(CAST({column} AS VARCHAR), '%Y%m%d') AS DATE)) END"
    )
