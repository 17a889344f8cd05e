"""Linkage: find the same person across the sources a spec declares, and within one source.

Library first; the CLI (`linkhaven link ...`) is a thin layer over these functions. Each one that
acts on a workspace opens its own governance session (`open_session`), which checks the role, the
registered spec and a suspension and audits the outcome; `user` defaults to the acting user.

- `run_linkage(ws, config=None, user=None) -> LinkRun`: link the current deliveries, write the map
  and the report (`link.run`).
- `latest_report(ws)`: the current run's report, aggregate figures only (`link.report`).
- `current_map(ws)`: the current linkage map (what de-identification reads, inside its own session).
- `list_pairs`, `show_pair`, `decide`: clerical review (`link.review`, linker role).
- `evaluate_current(ws, truth)`: pairwise and cluster quality against a ground-truth file (`link.evaluate`).
- Engine level, no workspace: `link(inputs, config, scratch)` and `evaluate(map, inputs, truth)`
  over Arrow tables with the identity-zone columns; `standardise` for the field rules.
"""

from linkhaven.link.config import LinkConfig
from linkhaven.link.engine import Decision, EngineResult, ReviewCandidate, SourceInput, link
from linkhaven.link.evaluate import evaluate
from linkhaven.link.review import DECISIONS, decide, list_pairs, show_pair
from linkhaven.link.service import (
    LinkRun,
    current_map,
    current_run,
    evaluate_current,
    latest_report,
    run_linkage,
)

__all__ = [
    "DECISIONS",
    "Decision",
    "EngineResult",
    "LinkConfig",
    "LinkRun",
    "ReviewCandidate",
    "SourceInput",
    "current_map",
    "current_run",
    "decide",
    "evaluate",
    "evaluate_current",
    "latest_report",
    "link",
    "list_pairs",
    "run_linkage",
    "show_pair",
]
