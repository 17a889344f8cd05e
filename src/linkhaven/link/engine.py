"""The linkage engine: pure functions of Arrow tables, no workspace, no metadata store.

`link` runs the named steps of `linkhaven.link.steps` in order, each a DuckDB statement over
whole tables (no Python per row), as the spec's `linkage:` section declares them:

1. prepare: load each source and standardise its identity fields by kind;
2. targets: each source others link to becomes persons (by its declared identifier, or each
   record alone) with their identity variants, checked for disagreeing and duplicate identifiers;
3. deterministic: records sharing a declared identifier with a target person are linked when the
   declared corroboration holds, and flagged (never linked) when it clearly fails;
4. probabilistic: a Splink model per declared link; 4b, a model per probabilistic de-duplication;
5. assignment: best person per record, one-to-one, or clusters then one-to-one, as declared;
6. the map: every record code gets a random person key, carried over from the previous map where
   the same records were together, with the method and probability of its link.

The result carries counts and rates for the report, and the models and charts, none of which
hold a personal value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

from linkhaven.link.config import LinkConfig
from linkhaven.link.context import RunContext
from linkhaven.link.graph import apply_decisions, assign_keys, components, one_to_one
from linkhaven.link.sql import connect
from linkhaven.link.steps.assign import assign
from linkhaven.link.steps.dedupe import dedupe
from linkhaven.link.steps.deterministic import deterministic
from linkhaven.link.steps.mapping import build_map, review_identity
from linkhaven.link.steps.prepare import load, standardise
from linkhaven.link.steps.probabilistic import probabilistic
from linkhaven.link.steps.targets import build_targets
from linkhaven.link.types import (
    CONTENT_USED,
    MAP_SCHEMA,
    METHODS,
    Decision,
    EngineResult,
    ReviewCandidate,
    SourceInput,
    TableOrLoader,
)
from linkhaven.sqlquote import lit

__all__ = [
    "CONTENT_USED", "MAP_SCHEMA", "METHODS", "Decision", "EngineResult", "ReviewCandidate", "SourceInput",
    "TableOrLoader", "apply_decisions", "assign_keys", "components", "link", "one_to_one",
]  # fmt: skip

STEPS = (
    ("load", load),
    ("standardise", standardise),
    ("targets", build_targets),
    ("deterministic", deterministic),
    ("probabilistic", probabilistic),
    ("dedupe", dedupe),
    ("assign", assign),
)
"""The steps before the map, in order; each takes the run's context."""


def link(
    inputs: dict[str, SourceInput],
    config: LinkConfig,
    scratch: Path,
    previous_map: TableOrLoader | None = None,
    decisions: Sequence[Decision] = (),
    progress: Callable[[str], None] | None = None,
) -> EngineResult:
    """Link the sources in `inputs` as `config` declares; DuckDB spills only into `scratch`, which
    the caller deletes. Every declared target needs its input (a link to a missing target cannot run).
    `progress` is told each step's name as it ends."""
    missing = [t for t in config.targets if t not in inputs and any(
        link.to == t and link.source in inputs for link in config.links)]  # fmt: skip
    if missing:
        raise ValueError(f"no input for the target source(s) {', '.join(missing)}")
    con = connect(scratch, config.threads, config.memory_limit)
    try:
        ctx = RunContext(con, inputs, config, scratch, progress=progress)
        return run(ctx, previous_map, decisions)
    finally:
        con.close()


def run(ctx: RunContext, previous_map: TableOrLoader | None, decisions: Sequence[Decision]) -> EngineResult:
    for name, step in STEPS:
        step(ctx)
        if name != "probabilistic" and name != "dedupe":  # those two lap per model
            ctx.lap(name)
    build_map(ctx, previous_map, decisions)
    ctx.lap("map")
    from linkhaven.link.stats import collect

    ctx.stats.update(collect(ctx.con, ctx.inputs, ctx.config, ctx.links))
    ctx.lap("stats")
    ctx.stats["peak_rss_gib_after_step"] = ctx.peak_memory
    map_path = ctx.scratch / "link-map.parquet"
    ctx.sql(
        f"""COPY (SELECT record_code, source, person_key, method, match_probability FROM link_map)
        TO {lit(str(map_path))} (FORMAT parquet, COMPRESSION zstd)"""
    )
    identity = review_identity(ctx)
    linked = {r[0] for r in ctx.rows(
        "SELECT m.record_code FROM link_map m JOIN review_codes USING (record_code) WHERE m.method <> 'unlinked'"
    )}  # fmt: skip
    review = [dataclasses.replace(c, left_linked=c.left_code in linked) for c in ctx.review]
    return EngineResult(
        map_path=map_path,
        review=review,
        stats=ctx.stats,
        models=ctx.models,
        charts=ctx.charts,
        blocking_rules=ctx.blocking,
        review_identity=identity,
        timings=ctx.timings,
    )
