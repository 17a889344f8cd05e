"""Step 4b, de-duplication: a Splink model within each source declared `dedupe: by: probabilistic`.

No labels exist within one file, so u comes from random sampling and m from expectation
maximisation on the spec's training blocking rules; pairs at or above the accept threshold are
edges, and a person is a connected component of them. Pairs between the thresholds across two
persons go to clerical review.
"""

from __future__ import annotations

from linkhaven.link import model as splink_model
from linkhaven.link.charts import model_charts
from linkhaven.link.context import RunContext
from linkhaven.link.graph import components
from linkhaven.link.steps.assign import duplicate_band
from linkhaven.link.steps.probabilistic import record_columns


def dedupe(ctx: RunContext) -> None:
    for source in ctx.config.probabilistic_dedupes:
        if source in ctx.inputs:
            dedupe_source(ctx, source)
            ctx.lap(f"dedupe_{source}")


def dedupe_source(ctx: RunContext, source: str) -> None:
    cfg = ctx.config
    fields = ctx.carried.get(source, set())
    ctx.sql(
        f"""CREATE TABLE dd_{source} AS
        SELECT r.record_code AS unique_id, {", ".join(record_columns(ctx, fields))} FROM stdn_{source} r"""
    )
    pair = f"{source}~{source}"
    n = ctx.scalar(f"SELECT count(*) FROM dd_{source}")
    if n < 2:
        ctx.sql(f"CREATE TABLE dpairs_{source} (a VARCHAR, b VARCHAR, p DOUBLE, w DOUBLE, guard BOOLEAN)")
    else:
        run = splink_model.fit_dedupe(ctx.con, pair, f"dd_{source}", cfg, min(0.01, cfg.review_lower_probability),
                                      fields)  # fmt: skip
        ctx.models[pair] = run.model
        ctx.blocking[pair] = run.blocking_rules
        ctx.sql(
            f"""CREATE TABLE dpairs_{source} AS
            SELECT unique_id_l AS a, unique_id_r AS b, match_probability AS p, match_weight AS w, false AS guard
            FROM {run.predictions.physical_name}"""
        )
        ctx.stats["models"][pair] = {
            "records_scored": n,
            "training": run.training,
            "pairs_scored_above_floor": ctx.scalar(f"SELECT count(*) FROM dpairs_{source}"),
            "probability_two_random_records_match": run.model.get("probability_two_random_records_match"),
        }
        ctx.charts.update(model_charts(ctx.con, run, pair))
        run.linker.table_management.delete_tables_created_by_splink_from_db()
    ctx.sql(f"CREATE TABLE dedges_{source} AS SELECT a, b FROM dpairs_{source} WHERE p >= {cfg.accept_probability}")
    components(ctx.con, f"std_{source}", f"dedges_{source}", f"dcluster_{source}")
    duplicate_band(ctx, source, f"dpairs_{source}", f"dcluster_{source}")
    ctx.stats.setdefault("clusters", {})[source] = {
        "clusters": ctx.scalar(f"SELECT count(DISTINCT cluster) FROM dcluster_{source}"),
        "duplicate_edges": ctx.scalar(f"SELECT count(*) FROM dedges_{source}"),
    }
