"""Compute the declared indicators from a person-year panel into cells, constraints and tables.

The panel is one row per person per school year (the de-identified release). Counts are of
distinct persons; the engine refuses a panel with two rows for one person in one year, because
then totals would not be the sums of their parts and the attacker audit would prove nothing.

Each table is one measure by one breakdown for every year and every care status (with the
hierarchy's totals) and every breakdown code (with the margin 'all'). Breakdown codes come from
the spec's code lists, not from the data, so that a table does not reveal which categories are
empty by leaving them out (OpenDP's "public key set" argument); a code present in the data but
not in the list is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from linkhaven.errors import InputError
from linkhaven.publish.cells import CellSystem, SumKind, cell_key
from linkhaven.spec.indicators import ALL, WHOLE_PERIOD, WHOLE_POPULATION, IndicatorSet, Measure
from linkhaven.sqlquote import q as _quote

UNKNOWN = "unknown"
"""The breakdown code of persons with no value (e.g. a missing placement type); published like any code."""

MEETING, NOT_MEETING = "meeting", "not_meeting"


@dataclass
class Row:
    """One line of a published table; counts point at a cell, rates and means at the cells they follow."""

    year: str
    status: str
    code: str
    statistic: str
    cell: int | None = None
    numerator: int | None = None
    denominator: int | None = None
    mean_sum: float = 0.0
    mean_n: int = 0


@dataclass
class TableDef:
    name: str
    measure: Measure
    breakdown: str
    breakdown_column: str
    rows: list[Row] = field(default_factory=list)


@dataclass
class Computed:
    system: CellSystem
    tables: list[TableDef]
    no_attribute: NDArray[np.bool_]
    years: list[str]
    panel_rows: int


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in(column: str, values: Sequence[str]) -> str:
    return f"CAST({_quote(column)} AS VARCHAR) IN ({', '.join(_literal(v) for v in values)})"


def _measure_aggregates(measure: Measure) -> list[str]:
    """SQL aggregates for a measure, named `<id>__<part>`."""
    where = " AND ".join(_in(c.column, c.values) for c in measure.where) or "TRUE"
    column = _quote(measure.column) if measure.column else ""
    if measure.kind == "count":
        return [f"count(*) FILTER (WHERE {where}) AS {measure.id}__n"]
    if measure.kind == "mean":
        return [
            f"count(*) FILTER (WHERE {where}) AS {measure.id}__n",
            f"count({column}) FILTER (WHERE {where}) AS {measure.id}__k",
            f"sum(CAST({column} AS DOUBLE)) FILTER (WHERE {where}) AS {measure.id}__s",
        ]
    counted = _in(measure.column or "", measure.counted) if measure.counted else f"{column} IS NOT NULL"
    if measure.success_values is not None:
        success = _in(measure.column or "", measure.success_values)
    else:
        success = f"TRY_CAST({column} AS DOUBLE) >= {float(measure.success_at_least or 0)!r}"
    return [
        f"count(*) FILTER (WHERE {where} AND {counted}) AS {measure.id}__n",
        f"count(*) FILTER (WHERE {where} AND {counted} AND {success}) AS {measure.id}__m",
    ]


def _codes(indicators: IndicatorSet, breakdown: str, code_lists: Mapping[str, Sequence[str]]) -> list[str]:
    spec = indicators.breakdowns[breakdown]
    if spec.code_list is None:
        return []
    if spec.code_list not in code_lists:
        raise InputError(f"breakdown '{breakdown}' names code list '{spec.code_list}', which the spec does not declare")
    return [str(code) for code in code_lists[spec.code_list]]


def _whole_columns(indicators: IndicatorSet, columns: set[str]) -> list[str]:
    """The constant columns standing for an undeclared period or status (one period, one group: 'all')."""
    added: list[str] = []
    for declared, name in ((indicators.declared_period, WHOLE_PERIOD), (indicators.declared_status, WHOLE_POPULATION)):
        if declared is None:
            if name in columns:
                raise InputError(f"the release has a column '{name}', the name tables give an undeclared dimension")
            added.append(f"{_literal(ALL)} AS {_quote(name)}")
    return added


def compute(
    panel: pa.Table | duckdb.DuckDBPyRelation | str,
    indicators: IndicatorSet,
    code_lists: Mapping[str, Sequence[str]],
    no_attribute_codes: Sequence[str] = ("not_involved",),
    connection: duckdb.DuckDBPyConnection | None = None,
) -> Computed:
    """Aggregate the panel (Arrow table, DuckDB relation, or Parquet path/glob) into cells and tables."""
    con = connection or duckdb.connect()
    if isinstance(panel, str):
        origin = f"read_parquet({_literal(panel)})"
    else:
        con.register("panel_source", panel)
        origin = "panel_source"
    columns = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {origin}").fetchall()}
    added = "".join(f", {c}" for c in _whole_columns(indicators, columns))
    con.execute(f"CREATE OR REPLACE TEMP VIEW panel AS SELECT *{added} FROM {origin}")
    columns = {row[0] for row in con.execute("DESCRIBE panel").fetchall()}
    needed = {indicators.person, indicators.period, indicators.status.column}
    needed |= {b.column for b in indicators.breakdowns.values()}
    for measure in indicators.measures:
        needed |= {c.column for c in measure.where} | ({measure.column} if measure.column else set())
    missing = sorted(needed - columns)
    if missing:
        raise InputError(f"the release lacks the columns the indicators need: {', '.join(missing)}")
    period, status_col, person = (_quote(c) for c in (indicators.period, indicators.status.column, indicators.person))
    total, distinct = con.execute(f"SELECT count(*), count(DISTINCT ({person}, {period})) FROM panel").fetchone() or (
        0,
        0,
    )
    if total != distinct:
        raise InputError(
            f"the release has {total - distinct} rows repeating a person in a school year; counts of distinct "
            "persons would not add up to their totals, so nothing can be published from it"
        )
    # A release may have generalised the status (e.g. every child-welfare status to 'involved'): the
    # tables then report that level and nothing below it, rather than zeros for the hidden statuses.
    hierarchy = indicators.status.hierarchy
    nodes = indicators.status.descendants(indicators.status.root)
    present = {
        str(r[0])
        for r in con.execute(
            f"SELECT DISTINCT CAST({status_col} AS VARCHAR) FROM panel WHERE {status_col} IS NOT NULL"
        ).fetchall()
    }
    generalised = {n for n in present if n in hierarchy}
    hidden = {d for g in generalised for d in indicators.status.descendants(g) if d != g}
    reported = [n for n in nodes if n not in hidden and (n not in hierarchy or n in generalised)]
    bad = con.execute(
        f"SELECT count(*) FROM panel WHERE {status_col} IS NULL OR NOT ({_in(indicators.status.column, nodes)})"
    ).fetchone()
    if bad and bad[0]:
        raise InputError(
            f"{bad[0]} release rows have a care status outside {', '.join(nodes)}; add the code to "
            "indicators.status.hierarchy or fix the release"
        )
    years = [
        str(r[0]) for r in con.execute(f"SELECT DISTINCT CAST({period} AS VARCHAR) FROM panel ORDER BY 1").fetchall()
    ]

    system = CellSystem()
    tables: list[TableDef] = []
    pending_at_most: list[tuple[int, list[str]]] = []
    no_attribute_keys: set[str] = set()
    for breakdown, spec in indicators.breakdowns.items():
        measures = [m for m in indicators.measures if breakdown in indicators.breakdowns_of(m)]
        if not measures:
            continue
        root = spec.within or indicators.status.root
        statuses = [s for s in indicators.status.descendants(root) if s not in hidden]
        status_leaves = [s for s in statuses if s in reported]
        leaves_of = {s: [x for x in indicators.status.descendants(s) if x in reported] for s in statuses}
        aggregates = ", ".join(a for m in measures for a in _measure_aggregates(m))
        code_col = _quote(spec.column)
        query = (
            f"SELECT CAST({period} AS VARCHAR) AS y, CAST({status_col} AS VARCHAR) AS s, "
            f"CAST({code_col} AS VARCHAR) AS c, {aggregates} FROM panel "
            f"WHERE {_in(indicators.status.column, status_leaves)} GROUP BY ALL"
        )
        result = con.execute(query).to_arrow_table().to_pylist()
        listed = _codes(indicators, breakdown, code_lists)
        seen_codes = {row["c"] for row in result}
        if ALL in seen_codes or UNKNOWN in seen_codes:
            raise InputError(f"breakdown '{breakdown}' uses a code tables reserve ('{ALL}' or '{UNKNOWN}')")
        # Codes outside the list are a generalised release's groups. Such a release cannot say that a
        # listed code is absent (its rows are inside a group), so only the codes it holds are
        # tabulated: zero rows for absent codes are claimed only of a column released as collected.
        unlisted = sorted(c for c in seen_codes if c is not None and c not in listed)
        codes = [*listed, *unlisted] if not unlisted else [*(c for c in listed if c in seen_codes), *unlisted]
        if None in seen_codes:
            codes = [*codes, UNKNOWN]
        leaf_values: dict[tuple[str, str, str], dict[str, Any]] = {}
        for row in result:
            leaf_values[(row["y"], row["s"], row["c"] if row["c"] is not None else UNKNOWN)] = row
        for measure in measures:
            table = TableDef(f"{measure.id}-by-{breakdown.replace('_', '-')}", measure, breakdown, spec.column)
            tables.append(table)
            for year in years:
                if measure.years is not None and year not in measure.years:
                    continue
                _build_year(
                    system,
                    table,
                    indicators,
                    measure,
                    year,
                    root,
                    statuses,
                    leaves_of,
                    codes,
                    leaf_values,
                    pending_at_most,
                    no_attribute_keys,
                    set(no_attribute_codes),
                )
    for small, candidates in pending_at_most:
        for key in candidates:
            big = system.index.get(key)
            if big is not None:
                system.add_at_most(small, big)
    system.check_additive()
    no_attribute = np.zeros(len(system), dtype=bool)
    for key in no_attribute_keys:
        no_attribute[system.index[key]] = True
    tables = [t for t in tables if t.rows]
    return Computed(system, tables, no_attribute, years, int(total))


def _build_year(
    system: CellSystem,
    table: TableDef,
    indicators: IndicatorSet,
    measure: Measure,
    year: str,
    root: str,
    statuses: Sequence[str],
    leaves_of: Mapping[str, Sequence[str]],
    codes: Sequence[str],
    leaf_values: Mapping[tuple[str, str, str], Mapping[str, Any]],
    pending_at_most: list[tuple[int, list[str]]],
    no_attribute_keys: set[str],
    no_attribute_codes: set[str],
) -> None:
    hierarchy = indicators.status.hierarchy

    def value(s: str, c: str, name: str) -> float:
        column = f"{measure.id}__{name}"
        chosen = codes if c == ALL else [c]
        out = 0.0
        for code in chosen:
            for leaf in leaves_of[s]:
                row = leaf_values.get((year, leaf, code))
                if row is not None and row.get(column) is not None:
                    out += float(row[column])
        return out

    if measure.kind == "share" and value(root, ALL, "n") == 0:
        return  # the measure does not exist this period (e.g. the assessment was not held)
    all_codes = [*codes, ALL]
    counted = indicators.wording.counted  # the count statistic: all persons in the group
    outcomes = [counted, MEETING, NOT_MEETING] if measure.kind == "share" else [counted]
    where = {c.column: ",".join(c.values) for c in measure.where}
    cell: dict[tuple[str, str, str], int] = {}
    for s in statuses:
        for c in all_codes:
            for outcome in outcomes:
                conditions = {indicators.period: year, indicators.status.column: s, **where}
                if c != ALL:
                    conditions[table.breakdown_column] = c
                if measure.kind == "share":
                    conditions[measure.id] = outcome
                key = cell_key(conditions)
                n = value(s, c, "n")
                if outcome == MEETING:
                    n = value(s, c, "m")
                elif outcome == NOT_MEETING:
                    n = value(s, c, "n") - value(s, c, "m")
                weight = (
                    1.0 + (4.0 if c == ALL else 0.0) + (2.0 if s in hierarchy else 0.0) + (8.0 if s == root else 0.0)
                )
                weight += 2.0 if outcome == counted and measure.kind == "share" else 0.0
                index = system.add_cell(key, n, table.name, weight)
                cell[(s, c, outcome)] = index
                if s in no_attribute_codes:
                    no_attribute_keys.add(key)
                if measure.kind == "share" and outcome == counted:
                    base = {k: v for k, v in conditions.items() if k != measure.id}
                    bare = {k: v for k, v in base.items() if k not in where}
                    pending_at_most.append((index, [cell_key(base), cell_key(bare)] if where else [cell_key(base)]))
                if measure.kind != "mean":
                    table.rows.append(Row(year, s, c, outcome, cell=index))
            if measure.kind == "share":
                table.rows.append(
                    Row(
                        year,
                        s,
                        c,
                        "percent_meeting",
                        numerator=cell[(s, c, MEETING)],
                        denominator=cell[(s, c, counted)],
                    )
                )
            elif measure.kind == "mean":
                table.rows.append(
                    Row(
                        year,
                        s,
                        c,
                        "mean_percent" if measure.value_range == (0.0, 1.0) else "mean",
                        denominator=cell[(s, c, counted)],
                        mean_sum=value(s, c, "s"),
                        mean_n=int(value(s, c, "k")),
                    )
                )
    for outcome in outcomes:
        for c in all_codes:
            for total, members in hierarchy.items():
                # A generalised status has no parts in this release: it is a value, not a sum.
                if total in statuses and all(m in statuses for m in members):
                    system.add_sum(cell[(total, c, outcome)], [cell[(m, c, outcome)] for m in members], SumKind.STATUS)
        for s in statuses:
            system.add_sum(cell[(s, ALL, outcome)], [cell[(s, c, outcome)] for c in codes], SumKind.BREAKDOWN)
    if measure.kind == "share":
        for s in statuses:
            for c in all_codes:
                system.add_sum(
                    cell[(s, c, counted)], [cell[(s, c, MEETING)], cell[(s, c, NOT_MEETING)]], SumKind.OUTCOME
                )
