"""Standardisation and the deterministic agreement rules, on hand-written values."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from linkhaven.derivations.ontario import CANADIAN_POSTAL_PATTERN
from linkhaven.link.sql import corroborated, dob_agrees, family_agrees, given_agrees, names_swapped
from linkhaven.link.standardise import dob_sql, equivalence_groups, fold, name_table, nysiis, postcode_sql


def std(name: str) -> dict[str, object]:
    row: dict[str, object] = name_table([name]).to_pylist()[0]
    return row


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("Hélène", "helene"),
        ("ÉMILIE", "emilie"),
        ("Øyvind", "oyvind"),
        ("Strauß", "strauss"),
        ("O'Brien", "obrien"),
        ("O’Neill", "oneill"),
        ("Bélanger-Côté", "belanger cote"),
        ("  de   Sousa ", "de sousa"),
        ("St. Pierre", "st pierre"),
        ("--", ""),
    ],
)
def test_fold_handles_case_accents_and_punctuation(raw: str, folded: str) -> None:
    assert fold(raw) == folded


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("De Luca", "DeLuca"),
        ("Van der Berg", "Vanderberg"),
        ("O'Brien", "OBrien"),
        ("St-Pierre", "Saint-Pierre"),
        ("Bélanger-Côté", "Belanger Cote"),
        ("D'Amico", "DAmico"),
    ],
)
def test_family_name_variants_join_to_the_same_form(a: str, b: str) -> None:
    assert std(a)["family_joined"] == std(b)["family_joined"]


def test_particles_are_dropped_from_the_core_and_compound_parts_kept() -> None:
    assert std("Al-Khatib")["family_tokens"] == ["khatib"]
    assert std("Van der Berg")["family_core"] == "berg"
    assert std("Bélanger-Côté")["family_tokens"] == ["belanger", "cote"]
    assert std("De")["family_tokens"] == ["de"]  # a name made only of a particle keeps it


def test_given_name_equivalents_english_and_french() -> None:
    groups = equivalence_groups()

    def equivalent(a: str, b: str) -> bool:
        return bool(set(groups.get(fold(a), ())) & set(groups.get(fold(b), ())))

    for a, b in [("Bill", "William"), ("Guillaume", "William"), ("Kate", "Catherine"), ("Peggy", "Margaret"),
                 ("Mathieu", "Matthew"), ("Alex", "Alexandre"), ("Mo", "Mohamed"), ("Liz", "Élisabeth")]:  # fmt: skip
        assert equivalent(a, b), (a, b)
    for a, b in [("Alexander", "Alexandra"), ("John", "Ian"), ("Liam", "Noah")]:
        assert not equivalent(a, b), (a, b)


def test_compound_given_names_keep_their_parts() -> None:
    assert std("Marie-Ève")["given_tokens"] == ["marie", "eve"]
    assert std("Marie-Ève")["given_first"] == "marie"


@pytest.mark.parametrize(
    ("a", "b"), [("Smith", "Smyth"), ("Mohammed", "Muhammad"), ("MacDonald", "McDonald"), ("Philippe", "Filip")]
)
def test_phonetic_key_merges_spelling_variants(a: str, b: str) -> None:
    assert nysiis(fold(a)) == nysiis(fold(b))


def test_phonetic_key_separates_different_names() -> None:
    assert nysiis("liam") != nysiis("noah")
    assert nysiis("") == ""


def test_postal_code_and_birth_date_sql() -> None:
    con = duckdb.connect()
    con.register(
        "t",
        pa.table(
            {
                "p": ["k1a 0b1", "K1A-0B1", "K1A0B1", "D1A 0B1", None],
                "d": ["2010-03-15", "20100315", "x", None, "2010-02-30"],
            }
        ),
    )
    postcode = postcode_sql("p", CANADIAN_POSTAL_PATTERN)
    rows = con.execute(f"SELECT {postcode}, {dob_sql('d')}::VARCHAR FROM t").fetchall()
    assert [r[0] for r in rows] == ["K1A0B1", "K1A0B1", "K1A0B1", None, None]  # D is never a first letter
    assert [r[1] for r in rows] == ["2010-03-15", "2010-03-15", None, None, None]


def _pair_table(left: dict[str, object], right: dict[str, object]) -> duckdb.DuckDBPyConnection:
    """Two one-row tables `l` and `r` with the standardised columns the rules read."""
    con = duckdb.connect()
    for alias, record in (("l", left), ("r", right)):
        g, f = std(str(record["given"])), std(str(record["family"]))
        table = pa.table({
            "given_std": [g["given_std"]], "given_joined": [g["given_joined"]], "given_tokens": [g["given_tokens"]],
            "given_groups": [g["given_groups"]], "given_phon": [g["given_phon"]], "family_joined": [f["family_joined"]],
            "family_core": [f["family_core"]], "family_tokens": [f["family_tokens"]], "family_phon": [f["family_phon"]],
            "dob": pa.array([record["dob"]], pa.string()).cast(pa.date32()),
            "dob_str": [str(record["dob"]).replace("-", "")],
        })  # fmt: skip
        con.register(alias, table)
    return con


def _holds(con: duckdb.DuckDBPyConnection, predicate: str) -> bool:
    row = con.execute(f"SELECT {predicate} FROM l, r").fetchone()
    assert row is not None
    return bool(row[0])


CHILD = {"given": "William", "family": "Bélanger-Côté", "dob": "2010-03-15"}


@pytest.mark.parametrize(
    ("other", "expected"),
    [
        ({"given": "Bill", "family": "Belanger Cote", "dob": "2010-03-15"}, True),  # nickname, accents
        ({"given": "William", "family": "Côté", "dob": "2010-03-15"}, True),  # one part of the compound
        ({"given": "William", "family": "Tremblay", "dob": "2010-03-15"}, True),  # new family name (adoption)
        ({"given": "William", "family": "Bélanger-Côté", "dob": "2010-03-16"}, True),  # date typo
        ({"given": "Bélanger-Côté", "family": "William", "dob": "2010-03-15"}, True),  # names swapped
        ({"given": "Sophie", "family": "Bélanger-Côté", "dob": "2012-07-01"}, False),  # a sibling's OEN
        ({"given": "Noah", "family": "Singh", "dob": "2010-03-15"}, False),  # only the date agrees
    ],
)
def test_corroboration_of_a_shared_oen(other: dict[str, object], expected: bool) -> None:
    con = _pair_table(CHILD, other)
    assert _holds(con, corroborated("l", "r")) is expected


def test_agreement_parts() -> None:
    con = _pair_table(CHILD, {"given": "Bélanger-Côté", "family": "William", "dob": "2010-03-15"})
    assert _holds(con, names_swapped("l", "r"))
    assert not _holds(con, given_agrees("l", "r"))
    con = _pair_table(CHILD, {"given": "Willem", "family": "Belanger-Cote", "dob": "2010-05-13"})
    assert _holds(con, given_agrees("l", "r")) and _holds(con, family_agrees("l", "r"))
    con = _pair_table(
        {"given": "A", "family": "B", "dob": "2010-03-05"}, {"given": "A", "family": "B", "dob": "2010-05-03"}
    )
    assert _holds(con, dob_agrees("l", "r"))  # day and month exchanged
