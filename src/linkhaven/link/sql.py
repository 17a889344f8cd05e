"""SQL helpers shared by the linkage engine: the DuckDB connection and the agreement predicates.

The agreement predicates are the deterministic pass's notion of "corroborated": they are written
once here so that the identifier rule, a target's coherence check and the tests all mean the same.
They read the standardised name columns (given_*, family_*) and a date column (`date`, with its
`<date>_str` digits), as the name and date kinds of the spec's `linkage.fields` produce them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from linkhaven.sqlquote import lit


def connect(scratch: Path, threads: int, memory_limit: str, max_spill: str = "40GB") -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that spills only into `scratch` (a private directory deleted afterwards)."""
    con = duckdb.connect(config={"threads": threads, "memory_limit": memory_limit})
    con.execute(f"SET temp_directory = {lit(str(scratch))}")
    # A runaway query must fail, not fill a disk that other work shares.
    con.execute(f"SET max_temp_directory_size = {lit(max_spill)}")
    con.execute("SET preserve_insertion_order = false")
    return con


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    return None if row is None else row[0]


def given_agrees(left: str, right: str) -> str:
    """Same given name up to spelling: equal, equivalent (nickname / other-language form), one name
    part of the other (Marie-Ève / Marie), Jaro-Winkler >= 0.9, or the same phonetic key."""
    a, b = left, right
    return f"""coalesce({a}.given_std = {b}.given_std
        OR list_has_any({a}.given_groups, {b}.given_groups)
        OR list_has_all({a}.given_tokens, {b}.given_tokens) OR list_has_all({b}.given_tokens, {a}.given_tokens)
        OR jaro_winkler_similarity({a}.given_std, {b}.given_std) >= 0.9
        OR {a}.given_phon = {b}.given_phon, false)"""


def given_close(left: str, right: str) -> str:
    """Given names that may be one name typed twice: `given_agrees`, or one keystroke apart
    (Damerau-Levenshtein <= 1, which Jaro-Winkler scores low on short names: Eli / Sli), or
    Jaro-Winkler >= 0.8, or a shared name part."""
    a, b = left, right
    return f"""coalesce({given_agrees(a, b)}
        OR damerau_levenshtein({a}.given_std, {b}.given_std) <= 1
        OR jaro_winkler_similarity({a}.given_std, {b}.given_std) >= 0.8
        OR list_has_any({a}.given_tokens, {b}.given_tokens), false)"""


def family_agrees(left: str, right: str) -> str:
    """Same family name up to spelling: equal when joined (De Luca / DeLuca), one compound part of
    the other (Bélanger-Côté / Côté), Jaro-Winkler >= 0.9, or the same phonetic key."""
    a, b = left, right
    return f"""coalesce({a}.family_joined = {b}.family_joined OR {a}.family_core = {b}.family_core
        OR list_has_all({a}.family_tokens, {b}.family_tokens) OR list_has_all({b}.family_tokens, {a}.family_tokens)
        OR jaro_winkler_similarity({a}.family_joined, {b}.family_joined) >= 0.9
        OR {a}.family_phon = {b}.family_phon, false)"""


def names_swapped(left: str, right: str) -> str:
    a, b = left, right
    return f"coalesce({a}.given_joined = {b}.family_joined AND {a}.family_joined = {b}.given_joined, false)"


def dob_agrees(left: str, right: str, date: str = "dob") -> str:
    """Same birth date up to one recording error: equal, day and month exchanged, one digit typed
    wrong or two adjacent digits exchanged, or only one of year, month, day differing (the year by one)."""
    a, b = f"{left}.{date}", f"{right}.{date}"
    return f"""coalesce({a} = {b}
        OR (year({a}) = year({b}) AND month({a}) = day({b}) AND day({a}) = month({b}))
        OR damerau_levenshtein({left}.{date}_str, {right}.{date}_str) <= 1
        OR (year({a}) = year({b}) AND month({a}) = month({b}))
        OR (year({a}) = year({b}) AND day({a}) = day({b}))
        OR (month({a}) = month({b}) AND day({a}) = day({b}) AND abs(year({a}) - year({b})) = 1), false)"""


def corroborated(left: str, right: str, date: str = "dob") -> str:
    """Two records that share an identifier are the same person when at least two of given name,
    family name and birth date agree, or the names are swapped and the birth date agrees.

    Why two of three: a sibling's identifier (the commonest wrong identifier) comes with the same family name
    but another given name and birth date, so one agreement is not enough; a nickname, a new
    family name after adoption or a typed-wrong date still leaves two."""
    g, f, d = given_agrees(left, right), family_agrees(left, right), dob_agrees(left, right, date)
    return f"""(({g})::INT + ({f})::INT + ({d})::INT >= 2 OR (({names_swapped(left, right)}) AND ({d})))"""
