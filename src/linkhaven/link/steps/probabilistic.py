"""Step 4, probabilistic: a Splink model per declared link, between the source's records and the
target's person variants, over the identity fields both carry.

Every record not linked deterministically is scored; so is a sample of those linked, whose links
are the training labels for m (and, for cluster assignment, all of them: a cluster's other
records need their scores too). The pairwise probabilities become a record-level probability per
candidate person (the model's prior gives the share of records expected to have a person in the
target), and a twin guard marks pairs that look like twins where the link declares it.
"""

from __future__ import annotations

from typing import Any

from linkhaven.link import model as splink_model
from linkhaven.link.charts import model_charts
from linkhaven.link.context import RunContext
from linkhaven.link.sql import given_close, names_swapped
from linkhaven.link.steps.deterministic import applicable_rule
from linkhaven.spec.linkage import NAME_PREFIX, Assignment, Kind
from linkhaven.sqlquote import lit


def twin_guard(left: str, right: str, date: str) -> str:
    """SQL: the pair looks like twins (or siblings born the same day): same date, given names that
    clearly differ (not even one typo apart) and are not swapped with the family names.

    Family name, birth date and address agree for twins as they do for one person, and the model,
    which treats fields as independent, adds their weights into a near-certain match. Such a pair
    is never linked automatically; above the review threshold it goes to clerical review."""
    return (
        f"(NOT {given_close(left, right)} AND NOT {names_swapped(left, right)} "
        f"AND coalesce({left}.{date} = {right}.{date}, false) AND {left}.given_std IS NOT NULL "
        f"AND {right}.given_std IS NOT NULL)"
    )


def record_columns(ctx: RunContext, fields: set[str]) -> list[str]:
    """SELECT list over `stdn_<source>` giving a record the comparison columns of `fields`, in the
    shape a target person has them (postcodes and codes-in-period as one-element lists)."""
    out = []
    for name, spec in ctx.config.linkage.fields.items():
        if name not in fields:
            continue
        if spec.kind in NAME_PREFIX:
            out += list(ctx.config.columns(name))
        elif spec.kind is Kind.DATE:
            out += [name, f"{name}_str"]
        elif spec.kind is Kind.POSTCODE:
            out.append(f"CASE WHEN {name} IS NOT NULL THEN [{name}] END AS {name}_set")
            out += [f"CASE WHEN {name} IS NOT NULL THEN [left({name}, {n})] END AS {name}_p{n}" for n in spec.prefixes]
        elif spec.kind is Kind.CODE_IN_PERIOD:
            out.append(f"CASE WHEN {name} IS NOT NULL THEN [{name}] END AS {name}_set")
        else:
            out.append(name)
    return out


def _alias(column: str) -> str:
    return column.rsplit(" AS ", 1)[-1]


def probabilistic(ctx: RunContext) -> None:
    for source in ctx.links:
        score_link(ctx, source)
        ctx.lap(f"probabilistic_{source}")


def score_link(ctx: RunContext, source: str) -> None:
    cfg = ctx.config
    link = cfg.link_of(source)
    target = link.to
    fields = ctx.both_carry(source, target)
    columns = record_columns(ctx, fields)
    keep_all = link.assignment is Assignment.CLUSTER_ONE_TO_ONE
    sample = "" if keep_all else (
        f"""OR r.record_code IN (SELECT record_code FROM det_{source} WHERE ok
            ORDER BY hash(record_code || {lit(str(cfg.seed))}) LIMIT {cfg.label_sample})"""
    )  # fmt: skip
    ctx.sql(
        f"""CREATE TABLE left_{source} AS
        SELECT r.record_code AS unique_id, r.source_person_id, {", ".join(columns)}
        FROM stdn_{source} r
        WHERE {"true" if keep_all else "false"}
          OR r.record_code NOT IN (SELECT record_code FROM det_{source} WHERE ok) {sample}"""
    )
    right = ["unique_id", "NULL::VARCHAR AS source_person_id", *(_alias(c) for c in columns)]
    ctx.sql(f"CREATE OR REPLACE VIEW right_{source} AS SELECT {', '.join(right)} FROM cmp_{target}")
    ctx.sql(
        f"""CREATE TABLE labels_{source} AS
        SELECT '{splink_model.LEFT}' AS source_dataset_l, d.record_code AS unique_id_l,
          '{splink_model.RIGHT}' AS source_dataset_r, v.unique_id AS unique_id_r
        FROM det_{source} d JOIN var_{target} v USING (spine_id)
        WHERE d.ok AND d.record_code IN (SELECT unique_id FROM left_{source})"""
    )
    n_left = ctx.scalar(f"SELECT count(*) FROM left_{source}")
    n_labels = ctx.scalar(f"SELECT count(DISTINCT unique_id_l) FROM labels_{source}")
    pair = f"{source}~{target}"
    if n_left == 0:
        ctx.sql(f"CREATE TABLE cand_{source} (record_code VARCHAR, spine_id VARCHAR, p_pair DOUBLE, w DOUBLE, "
                "right_code VARCHAR, p DOUBLE, guard BOOLEAN)")  # fmt: skip
        ctx.stats["models"][pair] = {"records_scored": 0}
        if link.find_duplicates:
            ctx.sql(f"CREATE TABLE dup_{source} (a VARCHAR, b VARCHAR, p DOUBLE, w DOUBLE, guard BOOLEAN)")
        return
    min_p = min(0.01, cfg.review_lower_probability)
    labels = f"labels_{source}" if applicable_rule(ctx, source) is not None else None
    run = splink_model.fit_and_predict(
        ctx.con, pair, f"left_{source}", f"right_{source}", labels, n_labels, cfg, min_p, fields
    )
    ctx.models[pair] = run.model
    ctx.blocking[pair] = run.blocking_rules
    pred = run.predictions.physical_name
    # The share of the source's records expected to be in the target, from the model's prior.
    persons = ctx.scalar(f"SELECT count(*) FROM person_{target}")
    lam = float(run.model.get("probability_two_random_records_match") or 0.0)
    in_target = min(cfg.max_share_in_spine, max(0.01, lam * persons))
    base = (1.0 - in_target) + in_target * cfg.blocking_miss_mass
    date = cfg.date
    guard = twin_guard("r", "v", date) if link.twin_guard and date else "false"
    ctx.sql(
        f"""CREATE TABLE cand_{source} AS
        WITH scored AS (
          SELECT CASE WHEN source_dataset_l = '{splink_model.LEFT}' THEN unique_id_l ELSE unique_id_r END
              AS record_code,
            CASE WHEN source_dataset_l = '{splink_model.LEFT}' THEN unique_id_r ELSE unique_id_l END AS variant,
            match_probability AS p, match_weight AS w
          FROM {pred}),
        per_person AS (
          SELECT s.record_code, v.spine_id, max(s.p) AS p_pair, max(s.w) AS w,
            arg_max(v.rep_code, s.w) AS right_code, arg_max(v.unique_id, s.w) AS variant
          FROM scored s JOIN var_{target} v ON v.unique_id = s.variant
          WHERE NOT EXISTS (SELECT 1 FROM det_{source} d
                            WHERE d.record_code = s.record_code AND d.spine_id = v.spine_id AND NOT d.ok)
          GROUP BY s.record_code, v.spine_id)
        SELECT pp.record_code, pp.spine_id, pp.p_pair, pp.w, pp.right_code,
          pow(2.0, pp.w) / ({base!r} + sum(pow(2.0, pp.w)) OVER (PARTITION BY pp.record_code)) AS p,
          {guard} AS guard
        FROM per_person pp JOIN stdn_{source} r USING (record_code) JOIN var_{target} v ON v.unique_id = pp.variant"""
    )
    ctx.stats["models"][pair] = {
        "records_scored": n_left,
        "training": run.training,
        "labelled_records": n_labels,
        "pairs_scored_above_floor": ctx.scalar(f"SELECT count(*) FROM {pred}"),
        "probability_two_random_records_match": run.model.get("probability_two_random_records_match"),
        "share_expected_in_spine": round(in_target, 6),
    }
    ctx.charts.update(model_charts(ctx.con, run, pair))
    # Splink's working tables (the target with term frequencies, the predictions) are done with.
    run.linker.table_management.delete_tables_created_by_splink_from_db()
    if link.find_duplicates:
        find_duplicates(ctx, source, run.model, fields)


def find_duplicates(ctx: RunContext, source: str, fitted: dict[str, Any], fields: set[str]) -> None:
    """Pairs of the source's own records, scored with its fitted link model (duplicate persons)."""
    available = {r[0] for r in ctx.rows(f"DESCRIBE left_{source}")}
    linker, predictions = splink_model.dedupe_predict(
        ctx.con, f"left_{source}", fitted, min(0.01, ctx.config.review_lower_probability),
        splink_model.exact_rule(ctx.config, available),
    )  # fmt: skip
    date = ctx.config.date
    guard = twin_guard("x", "y", date) if ctx.config.link_of(source).twin_guard and date else "false"
    ctx.sql(
        f"""CREATE TABLE dup_{source} AS
        SELECT d.unique_id_l AS a, d.unique_id_r AS b, d.match_probability AS p, d.match_weight AS w,
          {guard} AS guard
        FROM {predictions.physical_name} d
        JOIN stdn_{source} x ON x.record_code = d.unique_id_l
        JOIN stdn_{source} y ON y.record_code = d.unique_id_r"""
    )
    linker.table_management.delete_tables_created_by_splink_from_db()
    del fields
