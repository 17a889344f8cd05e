"""Step 6, the map: every record code gets a person key, with the method and probability of its link.

Entities first: a target's persons, each linked source's assigned person or own cluster, each
de-duplicated source's clusters, and any other declared source's records alone. Clerical
decisions are applied, then keys are carried over from the previous map where the same records
were together (`graph.assign_keys`), else drawn at random.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from linkhaven.link.context import RunContext
from linkhaven.link.graph import apply_decisions, assign_keys
from linkhaven.link.steps.prepare import RAW
from linkhaven.link.types import Decision, TableOrLoader
from linkhaven.sqlquote import lit

REVIEW_FIXED = ("record_code", "source", "source_record_id", "source_person_id")


def entity_select(ctx: RunContext, source: str) -> str:
    cfg = ctx.config
    name = lit(source)
    if source in cfg.targets:
        method = "'deterministic'" if cfg.dedupe_identifier(source) else "'unlinked'"
        return (f"SELECT record_code, {name} AS source, 't:{source}:' || spine_id AS entity, {method} AS method, "
                f"NULL::DOUBLE AS match_probability FROM rec_{source}")  # fmt: skip
    if source in ctx.links:
        target = cfg.link_of(source).to
        return (f"SELECT record_code, {name}, coalesce('t:{target}:' || spine_id, '{source}:' || own_cluster), "
                f"method, probability FROM assigned_{source}")  # fmt: skip
    if source in cfg.probabilistic_dedupes:
        return (f"SELECT record_code, {name}, '{source}:' || cluster, CASE WHEN count(*) OVER (PARTITION BY cluster) "
                f"> 1 THEN 'probabilistic' ELSE 'unlinked' END, NULL::DOUBLE FROM dcluster_{source}")  # fmt: skip
    identifier = cfg.dedupe_identifier(source)
    entity = f"coalesce({identifier}, 'X' || record_code)" if identifier else "'X' || record_code"
    method = "'deterministic'" if identifier else "'unlinked'"
    return f"SELECT record_code, {name}, '{source}:' || {entity}, {method}, NULL::DOUBLE FROM std_{source}"


def build_map(ctx: RunContext, previous_map: TableOrLoader | None, decisions: Sequence[Decision]) -> None:
    parts = [entity_select(ctx, source) for source in ctx.sources]
    ctx.sql(
        "CREATE TABLE map_entities (record_code VARCHAR, source VARCHAR, entity VARCHAR, method VARCHAR, "
        "match_probability DOUBLE)"
    )
    for part in parts:
        ctx.sql(f"INSERT INTO map_entities {part}")
    apply_decisions(ctx.con, "map_entities", decisions)
    if previous_map is None:
        previous = pa.table({"record_code": pa.array([], pa.string()), "person_key": pa.array([], pa.string())})
    else:
        previous = previous_map if isinstance(previous_map, pa.Table) else previous_map()
    ctx.con.register("arrow_in", previous.select(["record_code", "person_key"]))
    ctx.sql("CREATE TABLE previous_map AS SELECT * FROM arrow_in")
    ctx.con.unregister("arrow_in")
    del previous
    assign_keys(ctx.con, "map_entities", "previous_map", "link_map", ctx.config.spine)


def review_columns(ctx: RunContext) -> tuple[str, ...]:
    """The review extract's columns: record ids, then each identity field under its name."""
    return (*REVIEW_FIXED, *ctx.config.linkage.fields)


def review_identity(ctx: RunContext) -> pa.Table:
    """Identity values of the records in review pairs, as text (identity-zone data: the linker's eyes only)."""
    codes = sorted({c.left_code for c in ctx.review} | {c.right_code for c in ctx.review})
    ctx.con.register("review_codes", pa.table({"record_code": pa.array(codes, pa.string())}))
    parts = []
    for source in ctx.sources:
        carried = {b.identity: RAW.get(b.kind, b.identity) for b in ctx.config.bindings(source)}
        have = {r[0] for r in ctx.rows(f"DESCRIBE std_{source}")}
        values = [
            f"CAST(i.{carried[name]} AS VARCHAR) AS {name}" if carried.get(name) in have else f"NULL::VARCHAR AS {name}"
            for name in ctx.config.linkage.fields
        ]
        parts.append(
            f"SELECT i.record_code, {lit(source)} AS source, i.source_record_id, i.source_person_id, "
            f"{', '.join(values)} FROM std_{source} i JOIN review_codes USING (record_code)"
        )
    table = ctx.con.execute(" UNION ALL ".join(parts)).to_arrow_table()
    columns = review_columns(ctx)
    return table.select(list(columns)).cast(pa.schema([(c, pa.string()) for c in columns]))
