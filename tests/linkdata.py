"""Engine-level linkage inputs made straight from `synth` CSVs, without a workspace.

The tables have exactly the columns intake writes (docs/extract-layouts.md): identity tables with
`record_code`, `source_record_id`, `source_person_id`, `oen`, `given_name`, `family_name`,
`birth_date` (date), `postal_code`; content tables with `record_code` and the canonical content
fields. Values are normalised the way intake normalises them (OEN separators removed and
non-9-digit OENs set to null, postal codes upper-cased without spaces), so engine tests see what
the workspace path sees. Used by the tests and the benchmark.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from linkhaven.link.engine import SourceInput

IDENTITY = {
    "cpin": {"EPISODE_ID": "source_record_id", "PERSON_ID": "source_person_id", "FIRST_NAME": "given_name",
             "LAST_NAME": "family_name", "BIRTH_DATE": "birth_date", "POSTAL_CODE": "postal_code", "OEN": "oen"},
    "onsis": {"ENROLMENT_ID": "source_record_id", "OEN": "oen", "LEGAL_FIRST_NAME": "given_name",
              "LEGAL_LAST_NAME": "family_name", "DATE_OF_BIRTH": "birth_date", "POSTAL_CODE": "postal_code"},
    "eqao": {"EQAO_RECORD_ID": "source_record_id", "OEN": "oen", "FIRST_NAME": "given_name",
             "LAST_NAME": "family_name", "BIRTH_DATE": "birth_date"},
}  # fmt: skip
CONTENT = {
    "cpin": {"GENDER_IDENTITY": "gender", "SOCIETY_CODE": "society_code", "SERVICE_TYPE": "service_type",
             "EPISODE_START": "episode_start", "EPISODE_END": "episode_end"},
    "onsis": {"GENDER": "gender", "SCHOOL_YEAR": "school_year", "BOARD_NUMBER": "board_number", "GRADE": "grade"},
    "eqao": {"SCHOOL_YEAR": "school_year", "BOARD_NUMBER": "board_number", "ASSESSMENT": "assessment"},
}  # fmt: skip
DATE_FORMAT = {"cpin": "%Y-%m-%d", "onsis": "%Y%m%d", "eqao": "%Y-%m-%d"}
ENCODING = {"cpin": "latin-1", "onsis": "utf-8", "eqao": "utf-8"}
POSTAL = "^[ABCEGHJKLMNPRSTVXY][0-9][ABCEGHJKLMNPRSTVWXYZ][0-9][ABCEGHJKLMNPRSTVWXYZ][0-9]$"


def _expr(column: str, name: str, source: str) -> str:
    raw = f"NULLIF(trim(\"{column}\"), '')"
    if name == "oen":
        value = f"regexp_replace({raw}, '[ -]', '', 'g')"
        return f"CASE WHEN regexp_full_match({value}, '^[0-9]{{9}}$') THEN {value} END"
    if name == "postal_code":
        value = f"upper(regexp_replace({raw}, '\\s', '', 'g'))"
        return f"CASE WHEN regexp_full_match({value}, '{POSTAL}') THEN {value} END"
    if name in {"birth_date", "episode_start", "episode_end"}:
        return f"CAST(try_strptime({raw}, '{DATE_FORMAT[source]}') AS DATE)"
    return raw


def source_input(directory: Path, source: str) -> SourceInput:
    """One source's identity and content tables from `directory/<source>.csv`."""
    con = duckdb.connect()
    try:
        path = str(directory / f"{source}.csv").replace("'", "''")
        con.execute(
            f"CREATE TABLE raw AS SELECT gen_random_uuid()::VARCHAR AS record_code, * FROM read_csv('{path}', "
            f"all_varchar = true, header = true, encoding = '{ENCODING[source]}')"
        )
        identity_cols = [f"{_expr(c, n, source)} AS {n}" for c, n in IDENTITY[source].items()]
        if source != "cpin":
            identity_cols.append("NULL::VARCHAR AS source_person_id")
        if source == "eqao":
            identity_cols.append("NULL::VARCHAR AS postal_code")
        identity = con.execute(f"SELECT record_code, {', '.join(identity_cols)} FROM raw").to_arrow_table()
        content_cols = [f"{_expr(c, n, source)} AS {n}" for c, n in CONTENT[source].items()]
        content = con.execute(f"SELECT record_code, {', '.join(content_cols)} FROM raw").to_arrow_table()
    finally:
        con.close()
    order = ["record_code", "source_record_id", "source_person_id", "oen", "given_name", "family_name",
             "birth_date", "postal_code"]  # fmt: skip
    return SourceInput(source, identity.select(order), content)


def synth_inputs(directory: Path) -> dict[str, SourceInput]:
    """All three sources of a `linkhaven synth` output directory."""
    return {s: source_input(directory, s) for s in ("onsis", "eqao", "cpin")}


def as_table(rows: list[dict[str, object]]) -> pa.Table:
    """A small identity table from dicts (missing identity columns are null)."""
    columns = ["record_code", "source_record_id", "source_person_id", "oen", "given_name", "family_name",
               "birth_date", "postal_code"]  # fmt: skip
    data = {c: [r.get(c) for r in rows] for c in columns}
    types = {c: pa.date32() if c == "birth_date" else pa.string() for c in columns}
    return pa.table({c: pa.array(v, types[c]) for c, v in data.items()})


# -- crafted records ------------------------------------------------------------------------------------
# Records built from spine persons of a synth extract, each exercising one rule. Their ids start
# with E9 / P9 so they cannot collide with the generator's; they are not in truth.csv, so the
# evaluation ignores them.


def spine_people(directory: Path, count: int = 6) -> list[dict[str, str]]:
    """Distinct OnSIS students (one row each, their first year) with a postal code and a plain
    one-word given and family name, chosen reproducibly from the extract."""
    con = duckdb.connect()
    try:
        path = str(directory / "onsis.csv").replace("'", "''")
        rows = con.execute(
            f"""SELECT OEN, LEGAL_FIRST_NAME, LEGAL_LAST_NAME, DATE_OF_BIRTH, POSTAL_CODE, GENDER
            FROM read_csv('{path}', all_varchar = true, header = true)
            WHERE POSTAL_CODE IS NOT NULL AND regexp_full_match(LEGAL_FIRST_NAME, '[A-Z][a-z]{{3,}}')
              AND regexp_full_match(LEGAL_LAST_NAME, '[A-Z][a-z]{{3,}}') AND GENDER IN ('F', 'M')
              AND LEGAL_FIRST_NAME <> LEGAL_LAST_NAME
            QUALIFY row_number() OVER (PARTITION BY OEN ORDER BY SCHOOL_YEAR) = 1
              AND count(*) OVER (PARTITION BY LEGAL_FIRST_NAME, LEGAL_LAST_NAME) = 1
            ORDER BY hash(OEN) LIMIT {count}"""
        ).fetchall()
    finally:
        con.close()
    keys = ["oen", "given_name", "family_name", "birth_date", "postal_code", "gender"]
    people = [dict(zip(keys, r, strict=True)) for r in rows]
    for p in people:
        b = p["birth_date"]
        p["birth_date"] = f"{b[:4]}-{b[4:6]}-{b[6:]}"
    return people


def _sibling_date(iso: str) -> str:
    """Another child's birth date: three years apart (staying a minor in 2019), another month and day."""
    year = int(iso[:4]) + (-3 if int(iso[:4]) >= 2003 else 3)
    month = (int(iso[5:7]) + 4) % 12 + 1
    day = 27 if int(iso[8:10]) < 20 else 4
    return f"{year}-{month:02d}-{day:02d}"


def crafted_cpin(people: list[dict[str, str]]) -> dict[str, dict[str, str | None]]:
    """CPIN identities by case name (see the tests): conflict, swap, twin_a, twin_b, accent."""
    s0, s1, s2, s3 = people[:4]
    return {
        # shares s0's OEN but is clearly someone else (a sibling's file): flagged, not linked
        "conflict": {"given_name": "Zebulon", "family_name": s0["family_name"], "oen": s0["oen"],
                     "birth_date": _sibling_date(s0["birth_date"]),
                     "postal_code": s0["postal_code"],
                     "gender": "boy_man"},
        # s1 with given and family names exchanged, no OEN: linked by the model
        "swap": {"given_name": s1["family_name"], "family_name": s1["given_name"], "oen": None,
                 "birth_date": s1["birth_date"], "postal_code": s1["postal_code"],
                 "gender": "girl_woman" if s1["gender"] == "F" else "boy_man"},
        # s2 exactly, and a look-alike of s2 (other given name) under another person id: one-to-one
        "twin_a": {"given_name": s2["given_name"], "family_name": s2["family_name"], "oen": None,
                   "birth_date": s2["birth_date"], "postal_code": s2["postal_code"],
                   "gender": "girl_woman" if s2["gender"] == "F" else "boy_man"},
        "twin_b": {"given_name": "Xanthippe" if s2["gender"] == "F" else "Xenophon", "family_name": s2["family_name"],
                   "oen": None, "birth_date": s2["birth_date"], "postal_code": s2["postal_code"],
                   "gender": "girl_woman" if s2["gender"] == "F" else "boy_man"},
        # s3 typed with accents, upper case and a hyphenated second family name
        "accent": {"given_name": s3["given_name"].upper().replace("E", "É").replace("A", "À"),
                   "family_name": s3["family_name"] + "-Côté", "oen": None, "birth_date": s3["birth_date"],
                   "postal_code": s3["postal_code"][:3] + " " + s3["postal_code"][3:],
                   "gender": "girl_woman" if s3["gender"] == "F" else "boy_man"},
    }  # fmt: skip


CPIN_CONTENT = {"SOCIETY_CODE": "CAS13", "SERVICE_TYPE": "in_care", "CASE_TYPE": "child_in_care",
                "LEGAL_STATUS": "esc", "PLACEMENT_TYPE": "foster", "EPISODE_START": "2019-10-01",
                "EPISODE_END": "", "CUMULATIVE_DAYS_IN_CARE": "100", "HT_RISK": "N", "RACE": "not_disclosed",
                "BORN_IN_CANADA": "Y", "FIRST_LANGUAGE": "english"}  # fmt: skip


def crafted_csv_rows(people: list[dict[str, str]]) -> list[dict[str, str]]:
    """The crafted CPIN identities as rows of cpin.csv (one episode each, distinct person ids)."""
    rows = []
    for i, (_, p) in enumerate(sorted(crafted_cpin(people).items())):
        rows.append({"EPISODE_ID": f"E9{i:08d}", "PERSON_ID": f"P9{i:07d}", "FIRST_NAME": p["given_name"] or "",
                     "LAST_NAME": p["family_name"] or "", "BIRTH_DATE": p["birth_date"] or "",
                     "POSTAL_CODE": p["postal_code"] or "", "OEN": p["oen"] or "",
                     "GENDER_IDENTITY": p["gender"] or "not_disclosed", **CPIN_CONTENT})  # fmt: skip
    return rows


def crafted_episode_ids(people: list[dict[str, str]]) -> dict[str, str]:
    """Case name -> EPISODE_ID of its crafted row."""
    return {case: f"E9{i:08d}" for i, case in enumerate(sorted(crafted_cpin(people)))}


def append_cpin(source: SourceInput, rows: list[dict[str, str]]) -> SourceInput:
    """`source` (CPIN) with crafted CSV-shaped rows appended, typed as intake would type them."""
    import uuid
    from datetime import date

    def day(text: str) -> date | None:
        return date.fromisoformat(text) if text else None

    codes = [str(uuid.uuid4()) for _ in rows]
    identity = pa.table({
        "record_code": pa.array(codes),
        "source_record_id": pa.array([r["EPISODE_ID"] for r in rows]),
        "source_person_id": pa.array([r["PERSON_ID"] for r in rows]),
        "oen": pa.array([r["OEN"] or None for r in rows], pa.string()),
        "given_name": pa.array([r["FIRST_NAME"] for r in rows]),
        "family_name": pa.array([r["LAST_NAME"] for r in rows]),
        "birth_date": pa.array([day(r["BIRTH_DATE"]) for r in rows], pa.date32()),
        "postal_code": pa.array([(r["POSTAL_CODE"] or "").replace(" ", "").upper() or None for r in rows], pa.string()),
    })  # fmt: skip
    assert source.content is not None
    content = pa.table({
        "record_code": pa.array(codes),
        "gender": pa.array([r["GENDER_IDENTITY"] for r in rows]),
        "society_code": pa.array([r["SOCIETY_CODE"] for r in rows]),
        "service_type": pa.array([r["SERVICE_TYPE"] for r in rows]),
        "episode_start": pa.array([day(r["EPISODE_START"]) for r in rows], pa.date32()),
        "episode_end": pa.array([day(r["EPISODE_END"]) for r in rows], pa.date32()),
    })  # fmt: skip
    return SourceInput(
        source.source,
        pa.concat_tables([source.identity, identity.cast(source.identity.schema)]),
        pa.concat_tables([source.content, content.cast(source.content.schema)]),
    )
