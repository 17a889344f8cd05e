"""Set operations on record graphs, shared by the run's assignment and map steps and by clerical
review: connected components, greedy one-to-one assignment, applying decisions, person keys."""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from linkhaven.link.sql import scalar
from linkhaven.link.types import Decision
from linkhaven.sqlquote import lit


def components(con: duckdb.DuckDBPyConnection, nodes: str, edges: str, out: str) -> None:
    """Connected components of record codes: `out(record_code, cluster)`, cluster = smallest code.

    Label propagation with pointer jumping, in SQL: each round every node takes the smallest
    label among itself and its neighbours, then the label of its label; it ends in a few rounds
    on the small graphs of one source's duplicates."""
    con.execute(f"CREATE TABLE {out} AS SELECT record_code, record_code AS cluster FROM {nodes}")
    con.execute(
        f"""CREATE TEMP TABLE __edges AS SELECT a, b FROM {edges} WHERE a <> b
        UNION SELECT b, a FROM {edges} WHERE a <> b"""
    )
    while True:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE __next AS
            WITH step AS (
              SELECT o.record_code, least(o.cluster, min(n.cluster)) AS cluster
              FROM {out} o LEFT JOIN __edges e ON e.a = o.record_code LEFT JOIN {out} n ON n.record_code = e.b
              GROUP BY o.record_code, o.cluster)
            SELECT s.record_code, least(s.cluster, j.cluster) AS cluster
            FROM step s JOIN step j ON j.record_code = s.cluster"""
        )
        changed = scalar(
            con, f"SELECT count(*) FROM __next n JOIN {out} o USING (record_code) WHERE n.cluster <> o.cluster"
        )
        con.execute(f"CREATE OR REPLACE TABLE {out} AS SELECT * FROM __next")
        if not changed:
            break
    con.execute("DROP TABLE __edges")
    con.execute("DROP TABLE __next")


def one_to_one(con: duckdb.DuckDBPyConnection, candidates: str, out: str, accept: float) -> None:
    """Greedy one-to-one assignment of clusters to spine persons among candidates at or above `accept`.

    Each round takes every pair that is the best remaining choice of both its cluster and its
    spine person (deterministic links first, then by probability); the round's winners leave the
    pool and the next round runs on what is left. The global best pair always qualifies, so each
    round makes progress; ties are broken by identifier so the result is reproducible."""
    con.execute(f"CREATE TABLE {out} AS SELECT cluster, spine_id, p, det FROM {candidates} WHERE false")
    while True:
        added = con.execute(
            f"""INSERT INTO {out}
            WITH pool AS (
              SELECT * FROM {candidates} c WHERE c.p >= {accept}
                AND c.cluster NOT IN (SELECT cluster FROM {out})
                AND c.spine_id NOT IN (SELECT spine_id FROM {out})),
            ranked AS (
              SELECT *, row_number() OVER (PARTITION BY cluster ORDER BY det DESC, p DESC, spine_id) AS rc,
                row_number() OVER (PARTITION BY spine_id ORDER BY det DESC, p DESC, cluster) AS rs
              FROM pool)
            SELECT cluster, spine_id, p, det FROM ranked WHERE rc = 1 AND rs = 1"""
        ).fetchone()
        if not added or not added[0]:
            break


def apply_decisions(con: duckdb.DuckDBPyConnection, table: str, decisions: Iterable[Decision]) -> int:
    """Apply each `match` decision to `table` (record_code, source, entity, method, match_probability).

    Across sources, the left record's side moves: every record of the left record's source that
    shares its entity joins the right record's entity (a person's episodes, a record and the
    records sharing its identifier), while records of other sources stay where they are; a
    decision about a linked source's person never moves a target person's records. Within one
    source (duplicate identifiers, duplicate persons) the two entities merge whole. Moved records
    take method `clerical` and the
    pair's probability. Returns the number of decisions that changed something."""
    applied = 0
    for decision in decisions:
        if decision.decision != "match":
            continue
        found = con.execute(
            f"""SELECT l.entity, l.source, r.entity, r.source FROM {table} l, {table} r
            WHERE l.record_code = ? AND r.record_code = ?""",
            [decision.left_code, decision.right_code],
        ).fetchone()
        if found is None or found[0] == found[2]:
            continue
        left_entity, left_source, right_entity, right_source = found
        scope = "" if left_source == right_source else f" AND source = {lit(left_source)}"
        con.execute(
            f"UPDATE {table} SET entity = ?, method = 'clerical', match_probability = ? WHERE entity = ?{scope}",
            [right_entity, decision.probability, left_entity],
        )
        applied += 1
    return applied


def assign_keys(
    con: duckdb.DuckDBPyConnection, entities: str, previous: str, out: str, spine: str | None = None
) -> None:
    """Give each entity a person key: the previous key most of its records had, when this entity
    holds more of that key's records than any other entity; otherwise a new random key. Records of
    the spine count first, so when a person's records join a spine person the spine person's
    key survives, as a clerical merge does; remaining ties go to the key that sorts last (reproducible).

    Keys are 128 random bits from DuckDB's UUID generator, never derived from identifiers, so the
    map says nothing about a person by itself; carrying them over keeps a person's key stable
    across reruns and clerical map versions, which downstream panels rely on."""
    anchor = lit(spine) if spine else "NULL"
    con.execute(
        f"""CREATE TABLE __keys AS
        WITH votes AS (
          SELECT e.entity, p.person_key,
            struct_pack(spine := count(*) FILTER (WHERE e.source = {anchor}), n := count(*)) AS weight
          FROM {entities} e JOIN {previous} p USING (record_code)
          GROUP BY ALL),
        holder AS (
          SELECT person_key, arg_max(entity, struct_pack(w := weight, e := entity)) AS entity,
            max(weight) AS weight
          FROM votes GROUP BY person_key),
        kept AS (
          SELECT entity, arg_max(person_key, struct_pack(w := weight, k := person_key)) AS person_key
          FROM holder GROUP BY entity)
        SELECT e.entity, coalesce(k.person_key, replace(gen_random_uuid()::VARCHAR, '-', '')) AS person_key
        FROM (SELECT DISTINCT entity FROM {entities}) e LEFT JOIN kept k USING (entity)"""
    )
    con.execute(
        f"""CREATE TABLE {out} AS
        SELECT e.record_code, e.source, k.person_key, e.method, e.match_probability
        FROM {entities} e JOIN __keys k USING (entity)"""
    )
    con.execute("DROP TABLE __keys")
