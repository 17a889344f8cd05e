"""The person-year panel: one row per enrolled student per school year, built in DuckDB.

Inputs are the content zone tables (keyed by record code), the two identity values the panel
generalises at once (birth date -> age in the school year, postal code -> FSA; nothing else from
the identity zone is read, and neither value itself reaches the panel), and the linkage map
(record code -> person key, with the link's method and probability).

- Enrolment (the spine, OnSIS) gives the rows: every enrolled student, the comparison group. A
  person with two enrolments in one year (a duplicate the linkage merged) keeps one, chosen by
  highest grade then record code, and the duplicates are counted.
- EQAO: each assessment of the year becomes a column `eqao_<assessment>` holding the level (or the
  OSSLT outcome) when the student participated, else the participation code (absent, exempt...).
- Child welfare (CPIN episodes overlapping the school year, 1 Sept to 31 Aug): flags for in care,
  kinship service, CCSY and VYSA; `care_status`, the one service of the year by that priority; the
  legal status, placement and society of the latest episode; the human-trafficking risk flag if any
  episode has it; cumulative days in care at the end of the school year (CPIN's cumulative count at
  the end of each episode, less the days of that episode after the year's end).
- Person-level CPIN demographics (gender identity, race, born in Canada, first language) from the
  latest episode, and whether the person was ever served / ever in care in the window.
- Linkage quality travels with the row: the weakest method and lowest probability among the
  records that built it, and separately those of the person's CPIN records, so analysts can test
  their findings against linkage error. A deterministic link has probability 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

import duckdb
import pyarrow as pa

from linkhaven.errors import WorkspaceError
from linkhaven.sqlquote import lit as _lit
from linkhaven.sqlquote import q as _quote

METHOD_RANK = {"unlinked": 0, "probabilistic": 1, "clerical": 2, "deterministic": 3}
SERVICES = ("in_care", "ccsy", "vysa", "kinship_service")
"""CPIN service types in the priority `care_status` uses (the most intensive service of the year wins)."""


@dataclass(frozen=True)
class PanelColumn:
    name: str
    description: str
    origin: str


def panel_columns(assessments: tuple[str, ...]) -> tuple[PanelColumn, ...]:
    """Every panel column (besides the internal person key), with what it means, for the dictionary."""
    columns = [
        PanelColumn("school_year", "School year (September to August)", "onsis.school_year"),
        PanelColumn("age", "Age on 31 December of the school year's first calendar year (from the birth date; "
                    "the birth date itself is never released)", "onsis birth_date (identity zone), derived"),
        PanelColumn("gender", "Gender as OnSIS records it", "onsis.gender"),
        PanelColumn("board", "School board of the enrolment", "onsis.board_number"),
        PanelColumn("grade", "Grade of enrolment", "onsis.grade"),
        PanelColumn("fsa", "Forward sortation area of the student's postal code (first three characters; the "
                    "postal code itself is never released)", "onsis postal_code (identity zone), derived"),
        PanelColumn("attendance", "Share of school days attended", "onsis.attendance_rate"),
        PanelColumn("credits_earned", "Credits earned in the year (grades 9-12)", "onsis.credits_earned"),
        PanelColumn("credits_cumulative", "Credits earned in the window up to and including the year",
                    "onsis.credits_earned, derived"),
    ]  # fmt: skip
    for code in assessments:
        columns.append(
            PanelColumn(
                assessment_column(code),
                f"EQAO {code}: achievement level or OSSLT outcome if the student participated that year, "
                "else the participation code; empty if not assessed",
                "eqao.achievement_level, osslt_outcome, participation",
            )
        )
    columns += [
        PanelColumn("care_status", "Child-welfare service that year: in_care, ccsy, vysa, kinship_service "
                    "(most intensive first), or not_involved", "cpin.service_type, derived"),
        PanelColumn("cw_in_care", "In care at some time in the school year", "cpin.service_type"),
        PanelColumn("cw_kinship_service", "In kinship service at some time in the school year", "cpin.service_type"),
        PanelColumn("cw_ccsy", "In Continued Care and Support for Youth in the school year", "cpin.service_type"),
        PanelColumn("cw_vysa", "Under a Voluntary Youth Services Agreement in the school year", "cpin.service_type"),
        PanelColumn("legal_status", "Legal status of the latest episode of the year", "cpin.legal_status"),
        PanelColumn("placement_type", "Placement type of the latest episode of the year", "cpin.placement_type"),
        PanelColumn("society", "Children's aid society of the latest episode of the year", "cpin.society_code"),
        PanelColumn("days_in_care", "Cumulative days in care at the end of the school year", "cpin.days_in_care"),
        PanelColumn("ht_risk", "Human-trafficking risk identified in an episode of the year (Y/N)",
                    "cpin.ht_risk"),
        PanelColumn("cw_ever", "Served by child welfare at some time in the window", "cpin, derived"),
        PanelColumn("cw_ever_in_care", "In care at some time in the window", "cpin.service_type, derived"),
        PanelColumn("gender_identity", "Gender identity as CPIN records it (children served only)", "cpin.gender"),
        PanelColumn("race", "Race as CPIN records it (children served only)", "cpin.race"),
        PanelColumn("born_in_canada", "Born in Canada (Y/N/U, children served only)", "cpin.born_in_canada"),
        PanelColumn("first_language", "First language learned at home (children served only)",
                    "cpin.first_language"),
        PanelColumn("link_method", "Weakest linkage method among the records of the row", "linkage map"),
        PanelColumn("link_probability", "Lowest match probability among the records of the row "
                    "(1 for deterministic links)", "linkage map"),
        PanelColumn("cw_link_method", "Weakest linkage method among the person's CPIN records", "linkage map"),
        PanelColumn("cw_link_probability", "Lowest match probability among the person's CPIN records",
                    "linkage map"),
    ]  # fmt: skip
    return tuple(columns)


def assessment_column(code: str) -> str:
    """`eqao_g3_reading` for G3_READING; the OSSLT is `osslt` (the publication's indicator names)."""
    return "osslt" if code.upper() == "OSSLT" else f"eqao_{code.lower()}"


TableSource: TypeAlias = pa.Table | Callable[[], pa.Table]
"""A table, or a loader that returns it: `build_panel` calls a loader once and copies its table into
DuckDB (which can spill) before loading the next, so a province's inputs are never all decoded at once."""

ENROLMENT_COLUMNS = ("record_code", "school_year", "gender", "board_number", "grade", "attendance_rate",
                     "credits_earned")  # fmt: skip
IDENTITY_COLUMNS = ("record_code", "birth_date", "postal_code")
MAP_COLUMNS = ("record_code", "person_key", "method", "match_probability")
ASSESSMENT_COLUMNS = ("record_code", "school_year", "assessment", "participation", "achievement_level",
                      "osslt_outcome")  # fmt: skip
CHILD_WELFARE_COLUMNS = ("record_code", "gender", "race", "born_in_canada", "first_language", "society_code",
                         "service_type", "legal_status", "placement_type", "ht_risk", "episode_start", "episode_end",
                         "days_in_care")  # fmt: skip
"""The columns the panel reads from each input; a loader need decode no others."""


@dataclass(frozen=True)
class PanelInputs:
    """What the panel is built from. Content tables as intake writes them (canonical names)."""

    enrolment: TableSource
    """OnSIS content: ENROLMENT_COLUMNS."""
    enrolment_identity: TableSource
    """record_code, birth_date (date), postal_code: the only identity values read, generalised at once."""
    linkage_map: TableSource
    """record_code, source, person_key, method, match_probability."""
    assessment: TableSource | None = None
    child_welfare: TableSource | None = None


@dataclass(frozen=True)
class PanelStats:
    enrolment_records: int
    enrolment_unmapped: int
    duplicate_enrolments: int
    rows: int
    persons: int
    assessment_records: int
    child_welfare_records: int
    child_welfare_persons_in_panel: int

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _empty_assessment() -> pa.Table:
    names = ["record_code", "school_year", "assessment", "participation", "achievement_level", "osslt_outcome"]
    return pa.table({n: pa.array([], pa.string()) for n in names})


def _empty_child_welfare() -> pa.Table:
    strings = ["record_code", "gender", "race", "born_in_canada", "first_language", "society_code", "service_type",
               "legal_status", "placement_type", "ht_risk"]  # fmt: skip
    data = {n: pa.array([], pa.string()) for n in strings}
    data["episode_start"] = pa.array([], pa.date32())
    data["episode_end"] = pa.array([], pa.date32())
    data["days_in_care"] = pa.array([], pa.int64())
    return pa.table(data)


def _copy_in(
    con: duckdb.DuckDBPyConnection, name: str, source: TableSource, columns: tuple[str, ...], what: str
) -> None:
    """Copy an input's needed columns into DuckDB table `name`, loading it first if it is a loader."""
    table = source if isinstance(source, pa.Table) else source()
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise WorkspaceError(f"The {what} table lacks column(s) {', '.join(missing)}; is it an intake content table?")
    con.register("lh_arrow_in", table.select(list(columns)))
    con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM lh_arrow_in")
    con.unregister("lh_arrow_in")


def build_panel(
    con: duckdb.DuckDBPyConnection,
    inputs: PanelInputs,
    school_years: tuple[str, ...],
    assessments: tuple[str, ...],
    window_end: str,
    out: str = "panel",
) -> PanelStats:
    """Create table `out` in `con`: the panel, keyed by (person_key, school_year), one row each."""
    assessment = inputs.assessment if inputs.assessment is not None else _empty_assessment()
    child_welfare = inputs.child_welfare if inputs.child_welfare is not None else _empty_child_welfare()
    _copy_in(con, "in_enrolment", inputs.enrolment, ENROLMENT_COLUMNS, "enrolment")
    _copy_in(con, "in_identity", inputs.enrolment_identity, IDENTITY_COLUMNS, "enrolment identity")
    _copy_in(con, "in_map", inputs.linkage_map, MAP_COLUMNS, "linkage map")
    _copy_in(con, "in_assessment", assessment, ASSESSMENT_COLUMNS, "assessment")
    _copy_in(con, "in_cw", child_welfare, CHILD_WELFARE_COLUMNS, "child-welfare")
    rank = " ".join(f"WHEN {_lit(m)} THEN {r}" for m, r in METHOD_RANK.items())
    unrank = " ".join(f"WHEN {r} THEN {_lit(m)}" for m, r in METHOD_RANK.items())
    years = " UNION ALL ".join(
        f"SELECT {_lit(y)} AS school_year, DATE '{int(y[:4])}-09-01' AS y_start, DATE '{int(y[:4]) + 1}-08-31' AS y_end"
        for y in school_years
    )
    con.execute(
        f"""CREATE TEMP TABLE lh_map AS
        SELECT record_code, person_key, CASE method {rank} ELSE 0 END AS mrank,
          CASE WHEN method = 'deterministic' THEN coalesce(match_probability, 1.0) ELSE match_probability END AS p
        FROM in_map WHERE person_key IS NOT NULL"""
    )
    con.execute(f"CREATE TEMP TABLE lh_years AS {years}")
    grade_rank = "CASE e.grade WHEN 'JK' THEN -1 WHEN 'K' THEN 0 ELSE TRY_CAST(e.grade AS INTEGER) END"
    con.execute(
        f"""CREATE TEMP TABLE lh_enr_all AS
        SELECT m.person_key, e.record_code, e.school_year::VARCHAR AS school_year, e.grade::VARCHAR AS grade,
          e.gender::VARCHAR AS gender, e.board_number::VARCHAR AS board_number,
          e.attendance_rate::DOUBLE AS attendance_rate, e.credits_earned::DOUBLE AS credits_earned,
          (TRY_CAST(left(e.school_year::VARCHAR, 4) AS INTEGER) - year(i.birth_date))::SMALLINT AS age,
          upper(left(regexp_replace(i.postal_code::VARCHAR, '\\s', '', 'g'), 3)) AS fsa,
          m.mrank, m.p, {grade_rank} AS grade_rank
        FROM in_enrolment e JOIN lh_map m USING (record_code) LEFT JOIN in_identity i USING (record_code)"""
    )
    con.execute(
        """CREATE TEMP TABLE lh_enr AS SELECT * FROM lh_enr_all
        QUALIFY row_number() OVER (PARTITION BY person_key, school_year ORDER BY grade_rank DESC NULLS LAST,
          record_code) = 1"""
    )
    outcome_cols = ", ".join(
        f"max(outcome) FILTER (WHERE assessment = {_lit(a)}) AS {_quote(assessment_column(a))}" for a in assessments
    )
    con.execute(
        """CREATE TEMP TABLE lh_eq AS
        SELECT m.person_key, a.school_year::VARCHAR AS school_year, a.assessment::VARCHAR AS assessment,
          CASE WHEN a.participation::VARCHAR = 'participated'
               THEN coalesce(a.osslt_outcome::VARCHAR, a.achievement_level::VARCHAR, 'participated')
               ELSE a.participation::VARCHAR END AS outcome,
          m.mrank, m.p
        FROM in_assessment a JOIN lh_map m USING (record_code)
        QUALIFY row_number() OVER (PARTITION BY m.person_key, a.school_year, a.assessment
          ORDER BY (a.participation::VARCHAR = 'participated') DESC, (a.osslt_outcome::VARCHAR = 'successful') DESC
          NULLS LAST, a.achievement_level::VARCHAR DESC NULLS LAST, a.record_code) = 1"""
    )
    pivot_cols = f", {outcome_cols}" if assessments else ""
    con.execute(
        f"""CREATE TEMP TABLE lh_eqp AS SELECT person_key, school_year, min(mrank) AS mrank, min(p) AS p{pivot_cols}
        FROM lh_eq GROUP BY person_key, school_year"""
    )
    con.execute(
        f"""CREATE TEMP TABLE lh_ep AS
        SELECT m.person_key, c.record_code, c.service_type::VARCHAR AS service_type,
          c.legal_status::VARCHAR AS legal_status, c.placement_type::VARCHAR AS placement_type,
          c.society_code::VARCHAR AS society_code, c.ht_risk::VARCHAR AS ht_risk, c.gender::VARCHAR AS gender,
          c.race::VARCHAR AS race, c.born_in_canada::VARCHAR AS born_in_canada,
          c.first_language::VARCHAR AS first_language, c.episode_start::DATE AS episode_start,
          c.episode_end::DATE AS episode_end, m.mrank, m.p,
          greatest(0, c.days_in_care::BIGINT - CASE WHEN c.service_type::VARCHAR = 'in_care'
            THEN greatest(0, date_diff('day', c.episode_start::DATE,
              least(coalesce(c.episode_end::DATE, DATE '{window_end}'), DATE '{window_end}')) + 1) ELSE 0 END)
            AS prior_days
        FROM in_cw c JOIN lh_map m USING (record_code)"""
    )
    overlap = "e.episode_start <= y.y_end AND coalesce(e.episode_end, DATE '9999-12-31') >= y.y_start"
    flags = ", ".join(f"bool_or(e.service_type = {_lit(s)} AND {overlap}) AS {_quote('cw_' + s)}" for s in SERVICES)
    con.execute(
        f"""CREATE TEMP TABLE lh_cw AS
        SELECT e.person_key, y.school_year, {flags},
          bool_or({overlap}) AS cw_served,
          arg_max(e.legal_status, e.episode_start) FILTER (WHERE {overlap}) AS legal_status,
          arg_max(e.placement_type, e.episode_start) FILTER (WHERE {overlap}) AS placement_type,
          arg_max(e.society_code, e.episode_start) FILTER (WHERE {overlap}) AS society,
          max(e.prior_days + CASE WHEN e.service_type = 'in_care' THEN greatest(0, date_diff('day', e.episode_start,
            least(coalesce(e.episode_end, y.y_end), y.y_end)) + 1) ELSE 0 END)::INTEGER AS days_in_care,
          CASE WHEN bool_or({overlap}) THEN CASE WHEN bool_or(e.ht_risk = 'Y' AND {overlap}) THEN 'Y' ELSE 'N' END
            END AS ht_risk,
          min(e.mrank) FILTER (WHERE {overlap}) AS mrank, min(e.p) FILTER (WHERE {overlap}) AS p
        FROM lh_ep e JOIN lh_years y ON e.episode_start <= y.y_end
        GROUP BY e.person_key, y.school_year"""
    )
    con.execute(
        """CREATE TEMP TABLE lh_cwp AS
        SELECT person_key, arg_max(gender, episode_start) AS gender_identity, arg_max(race, episode_start) AS race,
          arg_max(born_in_canada, episode_start) AS born_in_canada,
          arg_max(first_language, episode_start) AS first_language,
          bool_or(service_type = 'in_care') AS ever_in_care, min(mrank) AS mrank, min(p) AS p
        FROM lh_ep GROUP BY person_key"""
    )
    service = " ".join(f"WHEN cw.{_quote('cw_' + s)} THEN {_lit(s)}" for s in SERVICES)
    eqao_select = "".join(f", q.{_quote(assessment_column(a))}" for a in assessments)
    flag_select = ", ".join(f"coalesce(cw.{_quote('cw_' + s)}, false) AS {_quote('cw_' + s)}" for s in SERVICES)
    weakest = "least(n.mrank, coalesce(q.mrank, 3), coalesce(cw.mrank, 3))"
    con.execute(
        f"""CREATE TABLE {out} AS
        SELECT n.person_key, n.school_year, n.age, n.gender, n.board_number AS board, n.grade, n.fsa,
          n.attendance_rate AS attendance, n.credits_earned,
          CASE WHEN count(n.credits_earned) OVER w = 0 THEN NULL ELSE sum(coalesce(n.credits_earned, 0)) OVER w END
            AS credits_cumulative{eqao_select},
          CASE {service} ELSE 'not_involved' END AS care_status, {flag_select},
          cw.legal_status, cw.placement_type, cw.society, cw.days_in_care, cw.ht_risk,
          (p.person_key IS NOT NULL) AS cw_ever, coalesce(p.ever_in_care, false) AS cw_ever_in_care,
          p.gender_identity, p.race, p.born_in_canada, p.first_language,
          CASE {weakest} {unrank} END AS link_method,
          least(n.p, coalesce(q.p, 1.0), coalesce(cw.p, 1.0)) AS link_probability,
          CASE p.mrank {unrank} END AS cw_link_method, p.p AS cw_link_probability
        FROM lh_enr n
        LEFT JOIN lh_eqp q USING (person_key, school_year)
        LEFT JOIN lh_cw cw USING (person_key, school_year)
        LEFT JOIN lh_cwp p USING (person_key)
        WINDOW w AS (PARTITION BY n.person_key ORDER BY n.school_year ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        """
    )

    def one(sql: str) -> int:
        row = con.execute(sql).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    stats = PanelStats(
        enrolment_records=one("SELECT count(*) FROM in_enrolment"),
        enrolment_unmapped=one("SELECT count(*) FROM in_enrolment e ANTI JOIN lh_map m USING (record_code)"),
        duplicate_enrolments=one("SELECT (SELECT count(*) FROM lh_enr_all) - (SELECT count(*) FROM lh_enr)"),
        rows=one(f"SELECT count(*) FROM {out}"),
        persons=one(f"SELECT count(DISTINCT person_key) FROM {out}"),
        assessment_records=one("SELECT count(*) FROM in_assessment"),
        child_welfare_records=one("SELECT count(*) FROM in_cw"),
        child_welfare_persons_in_panel=one(f"SELECT count(DISTINCT person_key) FROM {out} WHERE cw_ever"),
    )
    for name in ("lh_enr_all", "lh_enr", "lh_eq", "lh_eqp", "lh_ep", "lh_cw", "lh_cwp", "lh_map", "lh_years",
                 "in_enrolment", "in_identity", "in_map", "in_assessment", "in_cw"):  # fmt: skip
        con.execute(f"DROP TABLE IF EXISTS {name}")
    return stats
