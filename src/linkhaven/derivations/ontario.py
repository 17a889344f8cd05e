"""Ontario derivations: the school year, grade order, EQAO outcomes, the child-welfare year, and
Ontario's identifier rules (the Ontario Education Number, the Canadian postal code).

The one module of linkhaven that knows Ontario's education and child-welfare vocabulary (the
synthetic generator aside). Every derivation is parameterised by the spec's field names, with
the Ontario project's names as defaults, so the spec (`projects/ontario-children-in-care.yaml`,
`panels:`) says which source and fields each one reads; no pipeline stage names a source.
"""

from __future__ import annotations

import datetime as dt

from linkhaven.derivations.identifiers import STRIP_SEPARATORS, UPPER_NO_SPACE, IdentifierRule
from linkhaven.derivations.identifiers import register as register_identifier
from linkhaven.derivations.registry import (
    ALIAS,
    ColumnInfo,
    Contribution,
    DerivationError,
    Kind,
    Params,
    Period,
    PeriodPlan,
    SpecFacts,
    TableContext,
    param,
    register,
)
from linkhaven.sqlquote import lit
from linkhaven.sqlquote import q as quote

SERVICES = ("in_care", "ccsy", "vysa", "kinship_service")
"""CPIN service types in the priority `care_status` uses (the most intensive service of the year wins)."""
NOT_INVOLVED = "not_involved"


# -- periods and orderings ---------------------------------------------------------------------------------
@register("school_year", Kind.PERIOD)
def school_year(_params: Params, spec: SpecFacts) -> PeriodPlan:
    """Ontario school years, 1 September to 31 August, labelled '2017-18', over the spec's `window`.

    The window's end date is the last day counted (e.g. days in care up to 31 August 2023). A
    source places a record in a school year by its school-year field (`period: {school_year: ...}`)
    or by its episode dates overlapping the year.
    """
    window = spec.window
    if not window.school_years:
        raise DerivationError("the school_year period needs the spec's `window` with its school years")
    periods = tuple(
        Period(year, dt.date(int(year[:4]), 9, 1), dt.date(int(year[:4]) + 1, 8, 31)) for year in window.school_years
    )
    return PeriodPlan(periods, window.end_date)


@register("grade_order", Kind.ORDER)
def grade_order(value: str, _params: Params) -> str:
    """Ontario grades in school order: JK, K, then 1 to 12 (a value that is none of these ranks last)."""
    return f"CASE {value} WHEN 'JK' THEN -1 WHEN 'K' THEN 0 ELSE TRY_CAST({value} AS INTEGER) END"


# -- EQAO assessment outcomes ------------------------------------------------------------------------------
def assessment_column(code: str) -> str:
    """`eqao_g3_reading` for G3_READING; the OSSLT is `osslt` (the publication's indicator names)."""
    return "osslt" if code.upper() == "OSSLT" else f"eqao_{code.lower()}"


_OUTCOME_FIELDS = {"assessment": "assessment", "participation": "participation", "level": "achievement_level",
                   "outcome": "osslt_outcome"}  # fmt: skip


def _outcome_fields(params: Params) -> dict[str, str]:
    return {key: str(param(params, key, default)) for key, default in _OUTCOME_FIELDS.items()}


def _assessment_codes(params: Params, spec: SpecFacts) -> tuple[str, ...]:
    code_list = str(param(params, "code_list", "assessment"))
    if code_list not in spec.code_lists:
        raise DerivationError(f"code list '{code_list}' (parameter 'code_list') is not declared under code_lists")
    return tuple(spec.code_lists[code_list])


def _outcome_columns(params: Params, spec: SpecFacts) -> tuple[ColumnInfo, ...]:
    fields = _outcome_fields(params)
    origin = f"{fields['level']}, {fields['outcome']}, {fields['participation']}"
    return tuple(
        ColumnInfo(
            assessment_column(code),
            f"EQAO {code}: achievement level or OSSLT outcome if the student participated that year, "
            "else the participation code; empty if not assessed",
            origin,
        )
        for code in _assessment_codes(params, spec)
    )


@register("assessment_outcomes", Kind.TABLE, reads=lambda p: tuple(_outcome_fields(p).values()),
          columns=_outcome_columns)  # fmt: skip
def assessment_outcomes(ctx: TableContext, params: Params, spec: SpecFacts) -> Contribution:
    """EQAO: one column per assessment of the code list (`eqao_g3_reading`..., `osslt`), per school year.

    The column holds the achievement level (or the OSSLT outcome) when the student participated,
    else the participation code (absent, exempt...). Of several sittings of one assessment in a
    year, a participated one wins, then a successful OSSLT, then the higher level. Parameters:
    the fields `assessment`, `participation`, `level`, `outcome` and the `code_list` of assessments.
    """
    if not ctx.by_period:
        raise DerivationError("assessment outcomes need a panel period and a source with a period field")
    f = {key: quote(name) for key, name in _outcome_fields(params).items()}
    rows = f"{ctx.out}_rows"
    ctx.con.execute(
        f"""CREATE TEMP TABLE {rows} AS
        SELECT person_key, __period AS period, {f["assessment"]} AS assessment,
          CASE WHEN {f["participation"]} = 'participated'
               THEN coalesce({f["outcome"]}, {f["level"]}, 'participated') ELSE {f["participation"]} END AS outcome,
          mrank, p
        FROM {ctx.source}
        QUALIFY row_number() OVER (PARTITION BY person_key, __period, {f["assessment"]}
          ORDER BY ({f["participation"]} = 'participated') DESC, ({f["outcome"]} = 'successful') DESC NULLS LAST,
          {f["level"]} DESC NULLS LAST, record_code) = 1"""
    )
    codes = _assessment_codes(params, spec)
    pivot = "".join(
        f", max(outcome) FILTER (WHERE assessment = {lit(c)}) AS {quote(assessment_column(c))}" for c in codes
    )
    ctx.con.execute(
        f"""CREATE TEMP TABLE {ctx.out} AS SELECT person_key, period, min(mrank) AS mrank, min(p) AS p{pivot}
        FROM {rows} GROUP BY person_key, period"""
    )
    ctx.con.execute(f"DROP TABLE {rows}")
    selects = tuple((assessment_column(c), f"{ALIAS}.{quote(assessment_column(c))}") for c in codes)
    return Contribution(per_period=True, selects=selects, quality=True)


# -- the child-welfare year ---------------------------------------------------------------------------------
_WELFARE_FIELDS = {"service": "service_type", "legal_status": "legal_status", "placement": "placement_type",
                   "society": "society_code", "ht_risk": "ht_risk", "days_in_care": "days_in_care",
                   "start": "episode_start", "end": "episode_end"}  # fmt: skip


def _welfare_fields(params: Params) -> dict[str, str]:
    return {key: str(param(params, key, default)) for key, default in _WELFARE_FIELDS.items()}


def _welfare_columns(params: Params, _spec: SpecFacts) -> tuple[ColumnInfo, ...]:
    f = _welfare_fields(params)
    service = f["service"]
    return (
        ColumnInfo("care_status", "Child-welfare service that year: in_care, ccsy, vysa, kinship_service "
                   "(most intensive first), or not_involved", f"{service}, derived"),
        ColumnInfo("cw_in_care", "In care at some time in the school year", service),
        ColumnInfo("cw_ccsy", "In Continued Care and Support for Youth in the school year", service),
        ColumnInfo("cw_vysa", "Under a Voluntary Youth Services Agreement in the school year", service),
        ColumnInfo("cw_kinship_service", "In kinship service at some time in the school year", service),
        ColumnInfo("legal_status", "Legal status of the latest episode of the year", f["legal_status"]),
        ColumnInfo("placement_type", "Placement type of the latest episode of the year", f["placement"]),
        ColumnInfo("society", "Children's aid society of the latest episode of the year", f["society"]),
        ColumnInfo("days_in_care", "Cumulative days in care at the end of the school year", f["days_in_care"]),
        ColumnInfo("ht_risk", "Human-trafficking risk identified in an episode of the year (Y/N)", f["ht_risk"]),
    )  # fmt: skip


@register("child_welfare_by_year", Kind.TABLE, reads=lambda p: tuple(_welfare_fields(p).values()),
          columns=_welfare_columns)  # fmt: skip
def child_welfare_by_year(ctx: TableContext, params: Params, _spec: SpecFacts) -> Contribution:
    """CPIN episodes overlapping each school year: care status with service priority, and days in care.

    Columns: flags `cw_in_care`, `cw_ccsy`, `cw_vysa`, `cw_kinship_service` (a service at some time
    in the year); `care_status`, the year's one service by that priority, else `not_involved`; the
    legal status, placement and society of the year's latest episode; the human-trafficking risk
    flag (Y if any episode of the year has it); and cumulative days in care at the end of the
    year: CPIN's cumulative count at the end of each episode, less the days of that episode after
    the year's end (or after the window's end). Parameters: the fields `service`, `legal_status`,
    `placement`, `society`, `ht_risk`, `days_in_care`, `start`, `end`.
    """
    if ctx.periods is None or ctx.window_end is None:
        raise DerivationError("the child-welfare year needs a panel period")
    f = {key: quote(name) for key, name in _welfare_fields(params).items()}
    end = f"DATE {lit(ctx.window_end.isoformat())}"
    episodes = f"{ctx.out}_episodes"
    ctx.con.execute(
        f"""CREATE TEMP TABLE {episodes} AS
        SELECT person_key, record_code, {f["service"]} AS service_type, {f["legal_status"]} AS legal_status,
          {f["placement"]} AS placement_type, {f["society"]} AS society_code, {f["ht_risk"]} AS ht_risk,
          {f["start"]} AS episode_start, {f["end"]} AS episode_end, mrank, p,
          greatest(0, {f["days_in_care"]}::BIGINT - CASE WHEN {f["service"]} = 'in_care'
            THEN greatest(0, date_diff('day', {f["start"]}, least(coalesce({f["end"]}, {end}), {end})) + 1) ELSE 0 END)
            AS prior_days
        FROM {ctx.source}"""
    )
    overlap = "e.episode_start <= y.p_end AND coalesce(e.episode_end, DATE '9999-12-31') >= y.p_start"
    flags = ", ".join(f"bool_or(e.service_type = {lit(s)} AND {overlap}) AS {quote('cw_' + s)}" for s in SERVICES)
    ctx.con.execute(
        f"""CREATE TEMP TABLE {ctx.out} AS
        SELECT e.person_key, y.period, {flags},
          arg_max(e.legal_status, e.episode_start) FILTER (WHERE {overlap}) AS legal_status,
          arg_max(e.placement_type, e.episode_start) FILTER (WHERE {overlap}) AS placement_type,
          arg_max(e.society_code, e.episode_start) FILTER (WHERE {overlap}) AS society,
          max(e.prior_days + CASE WHEN e.service_type = 'in_care' THEN greatest(0, date_diff('day', e.episode_start,
            least(coalesce(e.episode_end, y.p_end), y.p_end)) + 1) ELSE 0 END)::INTEGER AS days_in_care,
          CASE WHEN bool_or({overlap}) THEN CASE WHEN bool_or(e.ht_risk = 'Y' AND {overlap}) THEN 'Y' ELSE 'N' END
            END AS ht_risk,
          min(e.mrank) FILTER (WHERE {overlap}) AS mrank, min(e.p) FILTER (WHERE {overlap}) AS p
        FROM {episodes} e JOIN {ctx.periods} y ON e.episode_start <= y.p_end
        GROUP BY e.person_key, y.period"""
    )
    ctx.con.execute(f"DROP TABLE {episodes}")
    service = " ".join(f"WHEN {ALIAS}.{quote('cw_' + s)} THEN {lit(s)}" for s in SERVICES)
    selects = [("care_status", f"CASE {service} ELSE {lit(NOT_INVOLVED)} END")]
    selects += [("cw_" + s, f"coalesce({ALIAS}.{quote('cw_' + s)}, false)") for s in SERVICES]
    selects += [
        (c, f"{ALIAS}.{quote(c)}") for c in ("legal_status", "placement_type", "society", "days_in_care", "ht_risk")
    ]
    return Contribution(per_period=True, selects=tuple(selects), quality=True)


# --------------------------------------------------------------------------------------------------
# Identifier rules. Kept out of intake and linkage so that those stages read no Ontario name: a spec
# says `check: ontario_oen` (or the short name `oen`) and the stages look the rule up. The OEN's
# official check-digit rule is not public, so production checks the 9-digit format only; the
# synthetic generator's stand-in check digit is Luhn, turned on by the spec's `identifiers` section.
# --------------------------------------------------------------------------------------------------

CANADIAN_POSTAL_PATTERN = "^[ABCEGHJKLMNPRSTVXY][0-9][ABCEGHJKLMNPRSTVWXYZ][0-9][ABCEGHJKLMNPRSTVWXYZ][0-9]$"
"""A Canadian postal code without its space: letter-digit-letter digit-letter-digit (Canada Post letters)."""

ONTARIO_OEN = register_identifier(
    IdentifierRule(
        name="ontario_oen",
        description="Ontario Education Number: nine digits, spaces and hyphens ignored",
        reason="invalid_oen",
        pattern="^[0-9]{9}$",
        normalise=STRIP_SEPARATORS,
        check_digit="luhn",
        aliases=("oen",),
    )
)

CANADIAN_POSTAL_CODE = register_identifier(
    IdentifierRule(
        name="canadian_postal_code",
        description="Canadian postal code, upper-cased without spaces",
        reason="invalid_postal_code",
        pattern=CANADIAN_POSTAL_PATTERN,
        normalise=UPPER_NO_SPACE,
        aliases=("postal_code",),
    )
)
