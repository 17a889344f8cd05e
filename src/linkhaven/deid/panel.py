"""Building a panel the spec declares (`panels:`), in DuckDB, from content tables and the linkage map.

Inputs are the content zone tables of the sources the panel reads (keyed by record code), the
base source's identity values that the panel generalises at once (an age from a birth date, a
postcode prefix; nothing else from the identity zone is read, and no identity value itself
reaches the panel), and the linkage map (record code -> person key, with the link's method and
probability). `plan_panel` works out from the spec which columns of which source are read, so a
loader decodes no others; `build_panel` creates the panel table, one row per person (and period),
in the columns' declared order after `person_key` and the period column.

How the rows come about: the base source's linked records, one per person and period (a person
with two records in one period, a duplicate the linkage merged, keeps the one `prefer` ranks
first, then the lowest record code; duplicates are counted). Columns then come from the base
record, from picks and table derivations over the person's records of any source in the period
(or over all of them), from value derivations on the row, and linkage quality travels with the
row: the weakest method and lowest probability among the records that built it (a deterministic
link has probability 1), or among the person's records of one source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

import duckdb
import pyarrow as pa

from linkhaven import derivations
from linkhaven.deid.panel_sql import assemble
from linkhaven.derivations import Kind, PeriodPlan
from linkhaven.errors import SpecError, WorkspaceError
from linkhaven.spec import FieldType, ProjectSpec
from linkhaven.spec.panels import Panel, column_kind
from linkhaven.sqlquote import lit
from linkhaven.sqlquote import q as quote

TableSource: TypeAlias = pa.Table | Callable[[], pa.Table]
"""A table, or a loader that returns it: `build_panel` calls a loader once and copies its table into
DuckDB (which can spill) before loading the next, so a province's inputs are never all decoded at once."""

MAP_COLUMNS = ("record_code", "person_key", "method", "match_probability")
SQL_TYPES = {FieldType.STRING: "VARCHAR", FieldType.CODE: "VARCHAR", FieldType.DATE: "DATE",
             FieldType.INTEGER: "BIGINT", FieldType.DECIMAL: "DOUBLE"}  # fmt: skip
"""How a content field is typed in the panel builder, whatever the stored type (as intake types it)."""


@dataclass(frozen=True)
class PanelPlan:
    """What building panel `name` reads: per source its content fields, and the base identity fields."""

    name: str
    panel: Panel
    spec: ProjectSpec
    periods: PeriodPlan | None
    reads: Mapping[str, tuple[str, ...]]
    """Source -> the content fields read (the period field included), in a stable order."""
    identity_fields: tuple[str, ...]

    @property
    def base(self) -> str:
        return self.panel.base

    def columns(self, source: str) -> tuple[str, ...]:
        """The content table columns a loader of `source` must provide."""
        return ("record_code", *self.reads[source])

    @property
    def identity_columns(self) -> tuple[str, ...]:
        return ("record_code", *self.identity_fields)


@dataclass(frozen=True)
class PanelInputs:
    """What a panel is built from: content tables by source, the base identity values, the map."""

    content: Mapping[str, TableSource | None]
    """Source name -> its content table (None: no delivery; its columns are then empty)."""
    identity: TableSource | None
    """record_code and the plan's identity fields of the base source (None if the panel reads none)."""
    linkage_map: TableSource
    """record_code, source, person_key, method, match_probability."""


@dataclass(frozen=True)
class PanelStats:
    """Counts for the report: base records, unmapped, duplicates, rows, persons, per-source records."""

    counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        return dict(self.counts)


def panel_name(spec: ProjectSpec, name: str | None = None) -> str:
    """`name`, or the spec's only panel; SpecError when there is none to choose."""
    if name is not None:
        if name not in spec.panels:
            raise SpecError(
                f"The project spec declares no panel '{name}'; it declares: {', '.join(spec.panels) or 'none'}."
            )
        return name
    if len(spec.panels) != 1:
        raise SpecError(
            f"The project spec declares {len(spec.panels)} panels; a release is made from one: declare it under "
            "`panels:` (see docs/spec.md) and name it in the release section."
        )
    return next(iter(spec.panels))


def plan_panel(spec: ProjectSpec, name: str | None = None) -> PanelPlan:
    """Which fields of which source panel `name` reads, and its periods; SpecError if it cannot be built."""
    name = panel_name(spec, name)
    panel = spec.panels[name]
    reads: dict[str, list[str]] = {panel.base: []}
    identity: list[str] = []

    def read(source: str, *names: str | None) -> None:
        wanted = reads.setdefault(source, [])
        for name in names:
            if name is not None and name not in wanted:
                wanted.append(name)

    periods = None
    if panel.period is not None:
        period = derivations.get(panel.period.derivation, Kind.PERIOD)
        periods = period.function(panel.period.params, spec)
        base_period = spec.source(panel.base).period
        assert base_period is not None and base_period.school_year is not None  # checked at load
        read(panel.base, base_period.school_year)
    read(panel.base, *(p.field for p in panel.prefer))
    for column in panel.columns:
        source = column.source or panel.base
        kind = column_kind(column)
        fields = {f.name: f for f in spec.source(source).fields}
        if kind == "value" and column.field is not None and fields[column.field].is_identity:
            identity += [column.field] if column.field not in identity else []
        elif kind in ("row", "value"):
            read(panel.base, column.field)
        elif kind == "pick":
            read(source, column.field, column.order_by, *_period_fields(spec, source, panel, column.per))
        elif kind == "table":
            derivation = derivations.get(str(column.derive))
            read(source, *derivation.reads(column.params), *_period_fields(spec, source, panel, "period"))
        elif kind == "quality" and column.source is not None:
            read(column.source)
    return PanelPlan(name, panel, spec, periods, {s: tuple(f) for s, f in reads.items()}, tuple(identity))


def _period_fields(spec: ProjectSpec, source: str, panel: Panel, per: str | None) -> tuple[str | None, ...]:
    """The fields that place a record of `source` in a period, if the column works per period."""
    if panel.period is None or per == "unit":
        return ()
    period = spec.source(source).period
    if period is None:
        raise SpecError(f"Panel column from source '{source}' works per period, but '{source}' declares no period.")
    return (period.school_year, period.start, period.end)


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


def _empty(plan: PanelPlan, source: str) -> pa.Table:
    fields = {f.name: f for f in plan.spec.source(source).fields}
    arrow = {"VARCHAR": pa.string(), "DATE": pa.date32(), "BIGINT": pa.int64(), "DOUBLE": pa.float64()}
    data = {"record_code": pa.array([], pa.string())}
    data |= {n: pa.array([], arrow[SQL_TYPES[fields[n].type]]) for n in plan.reads[source]}
    return pa.table(data)


def build_panel(con: duckdb.DuckDBPyConnection, plan: PanelPlan, inputs: PanelInputs, out: str = "panel") -> PanelStats:
    """Create table `out` in `con`: the panel, keyed by person_key (and period), one row each."""
    _copy_in(con, "lh_in_map", inputs.linkage_map, MAP_COLUMNS, "linkage map")
    rank = " ".join(f"WHEN {lit(m)} THEN {r}" for m, r in derivations.values.METHOD_RANK.items())
    con.execute(
        f"""CREATE TEMP TABLE lh_map AS
        SELECT record_code, person_key, CASE method {rank} ELSE 0 END AS mrank,
          CASE WHEN method = 'deterministic' THEN coalesce(match_probability, 1.0) ELSE match_probability END AS p
        FROM lh_in_map WHERE person_key IS NOT NULL"""
    )
    con.execute("DROP TABLE lh_in_map")
    counts: dict[str, int] = {}
    tables: dict[str, str] = {}
    for index, (source, fields) in enumerate(plan.reads.items()):
        given = inputs.content.get(source)
        if given is None and source == plan.base:
            raise WorkspaceError(f"No delivery of the panel's base source '{source}' is loaded; the panel has no rows.")
        raw, table = f"lh_in_{index}", f"lh_src_{index}"
        _copy_in(con, raw, given if given is not None else _empty(plan, source), plan.columns(source), source)
        counts[f"records_{source}"] = _one(con, f"SELECT count(*) FROM {raw}")
        types = {f.name: SQL_TYPES[f.type] for f in plan.spec.source(source).fields}
        period = plan.spec.source(source).period
        label = period.school_year if period is not None and plan.periods is not None else None
        typed = "".join(f", s.{quote(f)}::{types[f]} AS {quote(f)}" for f in fields)
        labelled = f", s.{quote(label)}::VARCHAR AS __period" if label and label in fields else ""
        if source == plan.base:
            counts["base_unmapped"] = _one(con, f"SELECT count(*) FROM {raw} s ANTI JOIN lh_map m USING (record_code)")
        con.execute(
            f"""CREATE TEMP TABLE {table} AS SELECT m.person_key, s.record_code, m.mrank, m.p{typed}{labelled}
            FROM {raw} s JOIN lh_map m USING (record_code)"""
        )
        con.execute(f"DROP TABLE {raw}")
        tables[source] = table
    if plan.identity_fields:
        if inputs.identity is None:
            raise WorkspaceError("The panel generalises identity values of its base source, but none were supplied.")
        _copy_in(con, "lh_identity", inputs.identity, plan.identity_columns, f"{plan.base} identity")
    if plan.periods is not None:
        years = " UNION ALL ".join(
            f"SELECT {lit(p.label)} AS period, DATE {lit(p.start.isoformat())} AS p_start, "
            f"DATE {lit(p.end.isoformat())} AS p_end"
            for p in plan.periods.periods
        )
        con.execute(f"CREATE TEMP TABLE lh_periods AS {years}")
    created = assemble(con, plan, tables, out)
    counts["base_records"] = counts.pop(f"records_{plan.base}")
    counts["duplicate_base_records"] = _one(
        con, "SELECT (SELECT count(*) FROM lh_base_all) - (SELECT count(*) FROM lh_base)"
    )
    counts["rows"] = _one(con, f"SELECT count(*) FROM {out}")
    counts["persons"] = _one(con, f"SELECT count(DISTINCT person_key) FROM {out}")
    for source, table in tables.items():
        if source != plan.base:
            counts[f"persons_in_panel_{source}"] = _one(
                con, f"SELECT count(DISTINCT person_key) FROM {out} SEMI JOIN {table} USING (person_key)"
            )
    for name in (*tables.values(), *created, "lh_map", "lh_identity", "lh_periods"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    return PanelStats(counts)


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0
