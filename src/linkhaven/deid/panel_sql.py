"""The SQL of a panel: base rows, the columns' contributions, and the final table in declared order.

Called by `panel.build_panel` once every source is in DuckDB as `lh_src_*` (one row per linked
record: person_key, record_code, mrank, p, the fields read, and `__period` where the source has a
period field), with `lh_map`, `lh_identity` (base identity values) and `lh_periods`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from linkhaven import derivations
from linkhaven.derivations import Kind, TableContext, ValueContext
from linkhaven.derivations.registry import ALIAS, DerivationError
from linkhaven.derivations.values import pick_sql
from linkhaven.errors import SpecError
from linkhaven.spec.panels import PanelColumn, column_kind
from linkhaven.sqlquote import q as quote

if TYPE_CHECKING:
    from linkhaven.deid.panel import PanelPlan

WINDOW = "lh_w"


class _Query:
    """The panel's first-stage SELECT, grown column by column."""

    def __init__(self, plan: PanelPlan) -> None:
        self.plan = plan
        self.selects: list[str] = ["b.person_key"]
        self.joins: list[str] = []
        self.row_quality: list[str] = []
        self.created: list[str] = []
        self.final: list[str] = ["person_key"]
        if plan.periods is not None:
            assert plan.panel.period is not None
            self.selects += ["b.__period AS __period", "per.p_start AS __pstart"]
            self.joins.append("LEFT JOIN lh_periods per ON per.period = b.__period")
            self.final.append(f"__period AS {quote(plan.panel.period.column_name)}")

    def join(self, table: str, per_period: bool) -> str:
        alias = f"c{len(self.joins)}"
        on = f"{alias}.person_key = b.person_key" + (f" AND {alias}.period = b.__period" if per_period else "")
        self.joins.append(f"LEFT JOIN {table} {alias} ON {on}")
        return alias


def assemble(con: duckdb.DuckDBPyConnection, plan: PanelPlan, tables: dict[str, str], out: str) -> list[str]:
    """Create `out`; return the temp tables made on the way (the caller drops them)."""
    panel = plan.panel
    base = tables[panel.base]
    identity = "".join(f", i.{quote(f)} AS {quote('__id_' + f)}" for f in plan.identity_fields)
    join_identity = "LEFT JOIN lh_identity i USING (record_code)" if plan.identity_fields else ""
    con.execute(f"CREATE TEMP TABLE lh_base_all AS SELECT s.*{identity} FROM {base} s {join_identity}")
    order = [_preference(p.field, p.order, p.descending) for p in panel.prefer]
    partition = "person_key, __period" if plan.periods is not None else "person_key"
    con.execute(
        f"""CREATE TEMP TABLE lh_base AS SELECT * FROM lh_base_all
        QUALIFY row_number() OVER (PARTITION BY {partition} ORDER BY {", ".join([*order, "record_code"])}) = 1"""
    )
    query = _Query(plan)
    query.created += ["lh_base_all", "lh_base"]
    pick_tables: dict[tuple[str, str], tuple[str, list[str]]] = {}
    value_columns: dict[str, PanelColumn] = {}
    for index, column in enumerate(panel.columns):
        kind = column_kind(column)
        source = column.source or panel.base
        if kind == "row":
            query.selects.append(f"b.{quote(str(column.field))} AS {quote(str(column.name))}")
            query.final.append(quote(str(column.name)))
        elif kind == "value":
            value_columns[str(column.name)] = column
            if column.field is not None:
                helper = "__id_" + column.field if column.field in plan.identity_fields else column.field
                query.selects.append(f"b.{quote(helper)} AS {quote('__f_' + str(column.name))}")
            query.final.append(f"__value_{column.name}")  # placeholder, rendered below
        elif kind == "pick":
            per = column.per or ("period" if plan.periods is not None else "unit")
            key = (source, per)
            pick_tables.setdefault(key, (f"lh_pick_{len(pick_tables)}", []))
            expression = pick_sql(str(column.pick), _q(column.field), _q(column.order_by), column.value)
            pick_tables[key][1].append(f"{expression} AS {quote(str(column.name))}")
            alias_key = f"__pick_{source}_{per}"
            query.final.append(quote(str(column.name)))
            query.selects.append(_pick_select(column, alias_key))
        elif kind == "table":
            _table(con, plan, query, column, tables[source], f"lh_derived_{index}")
        elif kind == "quality":
            _quality(query, column, tables)
    aliases = _picks(con, plan, query, pick_tables, tables)
    query.selects = [_resolve(s, aliases) for s in query.selects]
    if query.row_quality:
        mranks = ", ".join(f"coalesce({a}.mrank, 3)" for a in query.row_quality)
        ps = ", ".join(f"coalesce({a}.p, 1.0)" for a in query.row_quality)
        row_m, row_p = f"least(b.mrank, {mranks})", f"least(b.p, {ps})"
    else:
        row_m, row_p = "b.mrank", "b.p"
    query.selects = [s.replace("__ROW_MRANK__", row_m).replace("__ROW_P__", row_p) for s in query.selects]
    con.execute(
        f"CREATE TEMP TABLE lh_rows AS SELECT {', '.join(query.selects)} FROM lh_base b {' '.join(query.joins)}"
    )
    query.created.append("lh_rows")
    final = [_value(plan, value_columns, c) if c.startswith("__value_") else c for c in query.final]
    window = (
        f" WINDOW {WINDOW} AS (PARTITION BY person_key ORDER BY __period "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
        if plan.periods is not None
        else ""
    )
    con.execute(f"CREATE TABLE {out} AS SELECT {', '.join(final)} FROM lh_rows{window}")
    return query.created


def _q(name: str | None) -> str | None:
    return None if name is None else quote(name)


def _preference(field: str, order: str, descending: bool) -> str:
    ranked = derivations.get(order, Kind.ORDER).function(quote(field), {})
    return f"{ranked} {'DESC' if descending else 'ASC'} NULLS LAST"


def _pick_select(column: PanelColumn, alias_key: str) -> str:
    name = quote(str(column.name))
    if column.pick in ("any", "exists"):
        return f"coalesce({alias_key}.{name}, false) AS {name}"
    return f"{alias_key}.{name} AS {name}"


def _resolve(select: str, aliases: dict[str, str]) -> str:
    for key, alias in aliases.items():
        select = select.replace(f"{key}.", f"{alias}.")
    return select


def _picks(
    con: duckdb.DuckDBPyConnection,
    plan: PanelPlan,
    query: _Query,
    pick_tables: dict[tuple[str, str], tuple[str, list[str]]],
    tables: dict[str, str],
) -> dict[str, str]:
    """One table per (source, per) holding every pick of that source; per-period ones carry quality."""
    aliases: dict[str, str] = {}
    for (source, per), (name, expressions) in pick_tables.items():
        aggregates = ", ".join(expressions)
        src = tables[source]
        if per == "unit":
            con.execute(f"CREATE TEMP TABLE {name} AS SELECT person_key, {aggregates} FROM {src} GROUP BY person_key")
        else:
            con.execute(f"CREATE TEMP TABLE {name} AS {_per_period(plan, source, src, aggregates)}")
        query.created.append(name)
        alias = query.join(name, per == "period")
        if per == "period":
            query.row_quality.append(alias)
        aliases[f"__pick_{source}_{per}"] = alias
    return aliases


def _per_period(plan: PanelPlan, source: str, table: str, aggregates: str) -> str:
    period = plan.spec.source(source).period
    quality = "min(s.mrank) AS mrank, min(s.p) AS p"
    if period is not None and period.school_year is not None:
        return f"SELECT s.person_key, s.__period AS period, {quality}, {aggregates} FROM {table} s GROUP BY ALL"
    assert period is not None and period.start is not None
    start = f"s.{quote(period.start)}"
    end = f"coalesce(s.{quote(period.end)}, DATE '9999-12-31')" if period.end else start
    return (
        f"SELECT s.person_key, y.period, {quality}, {aggregates} FROM {table} s "
        f"JOIN lh_periods y ON {start} <= y.p_end AND {end} >= y.p_start GROUP BY ALL"
    )


def _table(
    con: duckdb.DuckDBPyConnection, plan: PanelPlan, query: _Query, column: PanelColumn, source: str, out: str
) -> None:
    derivation = derivations.get(str(column.derive), Kind.TABLE)
    period = plan.spec.source(str(column.source)).period
    by_period = plan.periods is not None and period is not None and period.school_year is not None
    context = TableContext(
        con=con,
        source=source,
        source_name=str(column.source),
        periods="lh_periods" if plan.periods is not None else None,
        window_end=plan.periods.window_end if plan.periods is not None else None,
        out=out,
        by_period=by_period,
    )
    try:
        contribution = derivation.function(context, column.params, plan.spec)
    except DerivationError as err:
        raise SpecError(f"Panel '{plan.name}', derivation '{derivation.name}': {err}") from None
    query.created.append(out)
    alias = query.join(out, contribution.per_period)
    if contribution.quality and contribution.per_period:
        query.row_quality.append(alias)
    for name, expression in contribution.selects:
        query.selects.append(f"{expression.replace(ALIAS + '.', alias + '.')} AS {quote(name)}")
        query.final.append(quote(name))


def _quality(query: _Query, column: PanelColumn, tables: dict[str, str]) -> None:
    derivation = derivations.get(str(column.derive), Kind.QUALITY)
    if column.source is None:
        mrank, p = "__ROW_MRANK__", "__ROW_P__"
    else:
        alias = f"c{len(query.joins)}"
        query.joins.append(
            f"LEFT JOIN (SELECT person_key, min(mrank) AS mrank, min(p) AS p FROM {tables[column.source]} "
            f"GROUP BY person_key) {alias} ON {alias}.person_key = b.person_key"
        )
        mrank, p = f"{alias}.mrank", f"{alias}.p"
    query.selects.append(f"{derivation.function(mrank, p)} AS {quote(str(column.name))}")
    query.final.append(quote(str(column.name)))


def _value(plan: PanelPlan, columns: dict[str, PanelColumn], placeholder: str) -> str:
    name = placeholder.removeprefix("__value_")
    column = columns[name]
    derivation = derivations.get(str(column.derive), Kind.VALUE)
    context = ValueContext(
        field=quote("__f_" + name) if column.field is not None else None,
        period_start="__pstart" if plan.periods is not None else None,
        window=WINDOW if plan.periods is not None else None,
        column=quote,
    )
    try:
        expression = derivation.function(context, column.params)
    except DerivationError as err:
        raise SpecError(f"Panel '{plan.name}', column '{name}': {err}") from None
    return f"{expression} AS {quote(name)}"
