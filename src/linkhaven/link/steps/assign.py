"""Step 5, assignment: each linked source's records or clusters to at most one target person.

- `best`: each record takes its own best person, deterministic first, then the model (records
  without person ids, many of which may belong to one person);
- `one_to_one`: each record to at most one person and each person to at most one record;
- `cluster_one_to_one`: records are first clustered (the source's person id, plus its own
  duplicates found with the link's model), and each cluster is then assigned one-to-one.
"""

from __future__ import annotations

from typing import Any

from linkhaven.link.context import RunContext
from linkhaven.link.graph import components, one_to_one
from linkhaven.link.steps.deterministic import applicable_rule
from linkhaven.link.types import ReviewCandidate
from linkhaven.spec.linkage import Assignment


def assign(ctx: RunContext) -> None:
    for source in ctx.links:
        if ctx.config.assignment(source) is Assignment.BEST:
            assign_records(ctx, source)
        else:
            assign_clusters(ctx, source)


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def assign_records(ctx: RunContext, source: str) -> None:
    """Each record to its own best target person: deterministic first, then the model."""
    cfg = ctx.config
    target = cfg.link_of(source).to
    rule = applicable_rule(ctx, source)
    own = f"CASE WHEN r.{rule.identifier} IS NOT NULL THEN 'o:' || r.{rule.identifier} ELSE 'r:' || r.record_code END" \
        if rule else "'r:' || r.record_code"  # fmt: skip
    ctx.sql(
        f"""CREATE TABLE best_{source} AS
        SELECT record_code, arg_max(spine_id, p) AS spine_id, max(p) AS p, arg_max(w, p) AS w,
          arg_max(right_code, p) AS right_code, arg_max(guard, p) AS guard
        FROM cand_{source} GROUP BY record_code"""
    )
    accepted = f"b.p >= {cfg.accept_probability} AND NOT b.guard"
    ctx.sql(
        f"""CREATE TABLE assigned_{source} AS
        SELECT r.record_code,
          CASE WHEN d.spine_id IS NOT NULL THEN d.spine_id WHEN {accepted} THEN b.spine_id END AS spine_id,
          CASE WHEN d.spine_id IS NOT NULL THEN 'deterministic' WHEN {accepted} THEN 'probabilistic'
               ELSE 'unlinked' END AS method,
          CASE WHEN d.spine_id IS NOT NULL THEN 1.0 WHEN {accepted} THEN b.p END AS probability,
          {own} AS own_cluster
        FROM std_{source} r
        LEFT JOIN (SELECT * FROM det_{source} WHERE ok) d USING (record_code)
        LEFT JOIN best_{source} b USING (record_code)"""
    )
    band = ctx.rows(
        f"""SELECT b.record_code, b.right_code, b.p, b.w, CASE WHEN b.guard THEN 'twin_guard' ELSE 'band' END
        FROM best_{source} b JOIN assigned_{source} a USING (record_code)
        WHERE a.method = 'unlinked' AND b.p >= {cfg.review_lower_probability} ORDER BY b.p DESC, 1"""
    )
    for left_code, right_code, p, w, reason in band:
        ctx.review.append(ReviewCandidate(f"{source}~{target}", left_code, right_code, float(p), _num(w), reason))


def assign_clusters(ctx: RunContext, source: str) -> None:
    """Cluster the source's records (person id and own duplicates where declared; else each record
    alone), then link each cluster to at most one target person and each person to at most one cluster."""
    cfg = ctx.config
    link = cfg.link_of(source)
    target = link.to
    clustered = link.assignment is Assignment.CLUSTER_ONE_TO_ONE
    parts = ["SELECT NULL::VARCHAR AS a, NULL::VARCHAR AS b WHERE false"]
    if clustered:
        parts.append(
            f"""SELECT r.record_code AS a, first_value(r.record_code) OVER (PARTITION BY r.source_person_id
              ORDER BY r.record_code) AS b
            FROM std_{source} r WHERE r.source_person_id IS NOT NULL"""
        )
    if clustered and link.find_duplicates:
        parts.append(f"SELECT a, b FROM dup_{source} WHERE p >= {cfg.accept_probability} AND NOT guard")
    ctx.sql(f"CREATE TABLE edges_{source} AS {' UNION ALL '.join(parts)}")
    components(ctx.con, f"std_{source}", f"edges_{source}", f"cluster_{source}")
    ctx.sql(
        f"""CREATE TABLE ccand_{source} AS
        WITH joined AS (
          SELECT d.record_code, d.spine_id, 1.0 AS p, NULL::DOUBLE AS w, true AS det, v.rep_code AS right_code,
            false AS guard
          FROM det_{source} d JOIN var_{target} v ON v.unique_id = d.variant WHERE d.ok
          UNION ALL
          SELECT record_code, spine_id, p, w, false, right_code, guard FROM cand_{source})
        SELECT c.cluster, j.spine_id, max(j.p) AS p, bool_or(j.det) AS det, arg_max(j.w, j.p) AS w,
          arg_max(j.record_code, j.p) AS left_code, arg_max(j.right_code, j.p) AS right_code,
          arg_max(j.guard, j.p) AND NOT bool_or(j.det) AS guard
        FROM joined j JOIN cluster_{source} c USING (record_code)
        GROUP BY c.cluster, j.spine_id"""
    )
    ctx.sql(f"CREATE VIEW eligible_{source} AS SELECT * FROM ccand_{source} WHERE NOT guard")
    one_to_one(ctx.con, f"eligible_{source}", f"chosen_{source}", cfg.accept_probability)
    ctx.sql(
        f"""CREATE TABLE assigned_{source} AS
        SELECT c.record_code, ch.spine_id,
          CASE WHEN ch.det THEN 'deterministic' WHEN ch.spine_id IS NOT NULL THEN 'probabilistic'
               ELSE 'unlinked' END AS method,
          ch.p AS probability, 'c:' || c.cluster AS own_cluster
        FROM cluster_{source} c LEFT JOIN chosen_{source} ch USING (cluster)"""
    )
    band = ctx.rows(
        f"""SELECT left_code, right_code, p, w,
          CASE WHEN guard THEN 'twin_guard' WHEN p >= {cfg.accept_probability} THEN 'one_to_one' ELSE 'band' END
        FROM ccand_{source} c
        WHERE c.cluster NOT IN (SELECT cluster FROM chosen_{source}) AND c.p >= {cfg.review_lower_probability}
        QUALIFY row_number() OVER (PARTITION BY c.cluster ORDER BY c.p DESC, c.spine_id) = 1
        ORDER BY p DESC, 1"""
    )
    for left_code, right_code, p, w, reason in band:
        ctx.review.append(ReviewCandidate(f"{source}~{target}", left_code, right_code, float(p), _num(w), reason))
    stats: dict[str, Any] = {
        "person_ids": ctx.scalar(f"SELECT count(DISTINCT source_person_id) FROM std_{source}"),
        "clusters": ctx.scalar(f"SELECT count(DISTINCT cluster) FROM cluster_{source}"),
        "linked_one_to_one": ctx.scalar(f"SELECT count(*) FROM chosen_{source}"),
    }
    if clustered and link.find_duplicates:
        duplicate_band(ctx, source, f"dup_{source}", f"cluster_{source}")
        stats["duplicate_edges"] = ctx.scalar(
            f"SELECT count(*) FROM dup_{source} WHERE p >= {cfg.accept_probability} AND NOT guard"
        )
        stats["twin_guarded_pairs"] = ctx.scalar(
            f"SELECT count(*) FROM dup_{source} WHERE p >= {cfg.accept_probability} AND guard"
        )
    ctx.stats.setdefault("clusters", {})[source] = stats


def duplicate_band(ctx: RunContext, source: str, pairs: str, clusters: str) -> None:
    """Queue for review the best pair between two clusters of one source that scored between the
    thresholds (or above accept but twin-guarded)."""
    cfg = ctx.config
    rows = ctx.rows(
        f"""SELECT d.a, d.b, d.p, d.w, CASE WHEN d.guard AND d.p >= {cfg.accept_probability} THEN 'twin_guard'
          ELSE 'band' END FROM {pairs} d
        JOIN {clusters} ca ON ca.record_code = d.a JOIN {clusters} cb ON cb.record_code = d.b
        WHERE ca.cluster <> cb.cluster AND d.p >= {cfg.review_lower_probability}
        QUALIFY row_number() OVER (PARTITION BY least(ca.cluster, cb.cluster), greatest(ca.cluster, cb.cluster)
          ORDER BY d.p DESC) = 1
        ORDER BY d.p DESC, 1"""
    )
    for left_code, right_code, p, w, reason in rows:
        ctx.review.append(ReviewCandidate(f"{source}~{source}", left_code, right_code, float(p), _num(w), reason))
