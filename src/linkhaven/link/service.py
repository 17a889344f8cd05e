"""The link stage in a workspace: read the zones, run the engine, write the map, register the run.

Everything a run writes commits in one transaction with its audit event: the map's zone table,
the review extract's zone table, the `linkage_runs` row, the first map version, the models and
the review pairs. If the process dies before the commit, the next command removes the
unregistered zone files, so a run either happened completely or not at all.

What goes where:
- the map (record code -> person key, method, probability): linkage zone, a new table per version;
- the identity values of the records in review pairs: identity zone (a small extract, so that
  showing a pair does not decrypt every delivery), read by the linker role only;
- counts, rates, model JSON (checked to hold no value), review pairs as record codes: the store;
- the report (aggregate figures and charts): `<workspace>/reports/linkage/<run>.{html,json}`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import Connection, func, insert, select, update

from linkhaven import __version__
from linkhaven.errors import WorkspaceError
from linkhaven.governance.permissions import Action
from linkhaven.governance.session import Session, open_session
from linkhaven.link.config import LinkConfig
from linkhaven.link.engine import Decision, EngineResult, ReviewCandidate, SourceInput, link
from linkhaven.schema import link_review_pairs, linkage_map_versions, linkage_models, linkage_runs
from linkhaven.workspace.workspace import Workspace, now

REPORT_DIR = ("reports", "linkage")
METHOD = (
    "as declared in the spec's linkage section (saved with the run as <run>-settings.json): standardisation by "
    "field kind; deterministic identifier rules with corroboration; Splink {splink} probabilistic pass per "
    "declared link and de-duplication (m from deterministic links or EM, u by random sampling), record-level "
    "probability over competing candidates; declared assignment (best, one-to-one, clusters then one-to-one); "
    "clerical review between the spec's thresholds"
)


@dataclass(frozen=True)
class LinkRun:
    """What `run_linkage` did, without a personal value: enough for the CLI and the demo."""

    run_id: str
    map_table: str
    map_version: int
    records: int
    persons: int
    link_rates: dict[str, Any]
    review_pending: int
    review_carried: int
    report_html: Path
    report_json: Path
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "map_table": self.map_table,
            "map_version": self.map_version,
            "records": self.records,
            "persons": self.persons,
            "link_rates": self.link_rates,
            "review_pending": self.review_pending,
            "review_carried": self.review_carried,
            "report_html": str(self.report_html),
            "report_json": str(self.report_json),
            "seconds": round(self.seconds, 1),
        }


# -- reading the workspace ----------------------------------------------------------------------------


def read_inputs(ws: Workspace, sources: list[str]) -> tuple[dict[str, SourceInput], dict[str, list[str]]]:
    """The identity and content tables of the current deliveries of each source."""
    from linkhaven.intake import current_deliveries

    inputs: dict[str, SourceInput] = {}
    used: dict[str, list[str]] = {}
    identity_zone, content_zone = ws.zone("identity"), ws.zone("content")
    for source in sources:
        found = current_deliveries(ws, source)
        used[source] = [d.id for d in found]
        if not found:
            continue
        # Loaders, not tables: the engine reads one table at a time and lets go of it.
        inputs[source] = SourceInput(
            source,
            partial(identity_zone.read_many, [d.identity_table for d in found]),
            partial(content_zone.read_many, [d.content_table for d in found]),
        )
    return inputs, used


def _current_run(conn: Connection) -> dict[str, Any] | None:
    row = conn.execute(select(linkage_runs).where(linkage_runs.c.status == "current")).mappings().first()
    return dict(row) if row else None


def current_run(ws: Workspace) -> dict[str, Any] | None:
    """The register row of the current linkage run, or None before the first run."""
    with ws.engine.connect() as conn:
        return _current_run(conn)


def current_map(ws: Workspace, columns: Sequence[str] | None = None) -> pa.Table:
    """The current linkage map (record_code, source, person_key, method, match_probability), or
    only `columns` of it, with the run id in the schema metadata key `run_id`: what
    de-identification reads."""
    run = current_run(ws)
    if run is None:
        raise WorkspaceError("There is no linkage map yet: run `linkhaven link` (linker role) first.")
    table = ws.zone("linkage").read(run["map_table"], columns)
    return table.replace_schema_metadata({"run_id": run["id"], "map_version": str(run["map_version"])})


def _decisions(conn: Connection) -> list[Decision]:
    """Every clerical decision ever taken, oldest first: each later run applies them again."""
    rows = conn.execute(
        select(
            link_review_pairs.c.left_code,
            link_review_pairs.c.right_code,
            link_review_pairs.c.decision,
            link_review_pairs.c.match_probability,
        )
        .where(link_review_pairs.c.status == "decided", link_review_pairs.c.carried_from.is_(None))
        .order_by(link_review_pairs.c.decided_at, link_review_pairs.c.id)
    ).all()
    return [Decision(r[0], r[1], r[2], r[3]) for r in rows]


# -- the run ----------------------------------------------------------------------------------------------


def run_linkage(
    ws: Workspace,
    config: LinkConfig | None = None,
    user: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> LinkRun:
    """Link the current deliveries as the spec declares (linker), in a `link.run` session audited with counts.

    `config` replaces the one compiled from the spec (tests, benchmarks); `user` defaults to the acting user;
    `progress` is told each step's name as it ends."""
    with open_session(ws, Action.LINK_RUN, "linkage", user) as session:
        return _run(ws, session, config, progress)


def _run(
    ws: Workspace, session: Session, config: LinkConfig | None, progress: Callable[[str], None] | None
) -> LinkRun:
    began = time.perf_counter()
    started_at = now()
    config = config or LinkConfig.from_spec(session.spec)
    inputs, used = read_inputs(ws, list(config.sources))
    missing = [t for t in config.targets if t not in inputs]
    if missing or not inputs:
        raise WorkspaceError(
            f"No delivery of {', '.join(missing or config.sources)} is loaded; linkage needs every source others "
            "are linked to. Take it in first (`linkhaven intake`)."
        )
    with ws.engine.connect() as conn:
        previous = _current_run(conn)
        decisions = _decisions(conn)
        run_id = f"L{int(conn.execute(select(func.count()).select_from(linkage_runs)).scalar_one()) + 1:04d}"
    previous_map = partial(ws.zone("linkage").read, previous["map_table"]) if previous else None
    session.object = f"linkage:{run_id}"
    with ws.exclusive() as scratch:
        result = link(inputs, config, scratch, previous_map, decisions, progress)
        models = {pair: _check_model(model, config) for pair, model in result.models.items()}
        map_table = f"{run_id.lower()}-map-v1"
        written_map = ws.zone("linkage").write_parquet_file(map_table, result.map_path, counts_rows(result))
        review_rows, carried = _review_rows(ws, run_id, result.review)
        written_review = ws.zone("identity").write(f"{run_id.lower()}-review", result.review_identity)
        report_json, report_html = _write_report(ws, run_id, ws.spec_sha256, config, result, used)
        pending = sum(1 for r in review_rows if r["status"] == "pending")
        counts = _counts(result)
        session.detail.update(
            run=run_id,
            records=counts["records"],
            persons=counts["persons"],
            review_pending=pending,
            review_carried=carried,
            **{f"linked_{s}": v.get("linked_to_spine", 0) for s, v in result.stats["link_rates"].items()},
        )
        with session.transaction() as tx:
            ws.register_zone_file(tx, written_map, session.user)
            ws.register_zone_file(tx, written_review, session.user)
            if previous:
                tx.execute(update(linkage_runs).where(linkage_runs.c.id == previous["id"]).values(status="superseded"))
            tx.execute(
                insert(linkage_runs).values(
                    id=run_id,
                    started_at=started_at,
                    finished_at=now(),
                    run_by=session.user,
                    spec_sha256=ws.spec_sha256,
                    software=_software(),
                    inputs=json.dumps(used, sort_keys=True),
                    method=METHOD.format(splink=_splink_version()),
                    blocking_rules=json.dumps(result.blocking_rules, sort_keys=True),
                    accept_probability=config.accept_probability,
                    review_lower_probability=config.review_lower_probability,
                    model_sha256=json.dumps({p: m[0] for p, m in models.items()}, sort_keys=True),
                    counts=json.dumps(counts, sort_keys=True),
                    link_rates=json.dumps(result.stats["link_rates"], sort_keys=True),
                    review_pending=pending,
                    review_decided=carried,
                    clerical_matches=sum(1 for r in review_rows if r.get("decision") == "match"),
                    map_table=map_table,
                    map_version=1,
                    report=str(report_json.relative_to(ws.root)),
                    status="current",
                )
            )
            tx.execute(
                insert(linkage_map_versions).values(
                    run_id=run_id, version=1, map_table=map_table, rows=result.map.num_rows, reason="run",
                    review_pair=None, created_at=now(), created_by=session.user,
                )
            )  # fmt: skip
            for pair, (digest, text) in models.items():
                tx.execute(insert(linkage_models).values(run_id=run_id, pair=pair, sha256=digest, model_json=text))
            if review_rows:
                tx.execute(insert(link_review_pairs), review_rows)
    return LinkRun(
        run_id=run_id,
        map_table=map_table,
        map_version=1,
        records=counts["records"],
        persons=counts["persons"],
        link_rates={s: v.get("link_rate") for s, v in result.stats["link_rates"].items() if "link_rate" in v},
        review_pending=pending,
        review_carried=carried,
        report_html=report_html,
        report_json=report_json,
        seconds=time.perf_counter() - began,
    )


def _software() -> str:
    return f"linkhaven {__version__}; splink {_splink_version()}; duckdb {duckdb.__version__}"


def _splink_version() -> str:
    import splink

    return str(splink.__version__)


def counts_rows(result: EngineResult) -> int:
    return int(sum(v["records"] for v in result.stats["link_rates"].values()))


def _counts(result: EngineResult) -> dict[str, Any]:
    rates = result.stats["link_rates"]
    return {
        "records": counts_rows(result),
        "persons": int(result.stats["persons"]),
        "by_source": {
            s: {"records": v["records"], "persons": v["persons"], **v["by_method"]} for s, v in rates.items()
        },
        "spine": result.stats.get("spine", {}),
        "deterministic": result.stats.get("deterministic", {}),
        "clusters": result.stats.get("clusters", {}),
        "review_candidates": len(result.review),
    }


def _check_model(model: dict[str, Any], config: LinkConfig) -> tuple[str, str]:
    """Serialise a Splink model for the store, refusing one that holds a string from the data.

    Splink's model JSON holds parameters and SQL over column names; term-frequency tables, which
    do hold names, are not part of it. That is checked, not assumed: every string in the JSON
    must be one the declared comparisons and rules wrote (`model.foreign_strings`)."""
    from linkhaven.link.model import foreign_strings

    if foreign_strings(model, config):
        raise WorkspaceError(
            "The Splink model JSON contains strings that are not part of linkhaven's comparisons; it was not "
            "stored. Report this as a defect: the model must hold parameters only."
        )
    text = json.dumps(model, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest(), text


def _review_rows(ws: Workspace, run_id: str, candidates: list[ReviewCandidate]) -> tuple[list[dict[str, Any]], int]:
    """Register rows for the review candidates; a pair decided in an earlier run keeps its decision."""
    with ws.engine.connect() as conn:
        prior = {
            (r.left_code, r.right_code): r
            for r in conn.execute(
                select(link_review_pairs)
                .where(link_review_pairs.c.status == "decided")
                .order_by(link_review_pairs.c.id)
            )
        }
    rows: list[dict[str, Any]] = []
    carried = 0
    for c in candidates:
        row: dict[str, Any] = {
            "run_id": run_id, "kind": c.kind, "left_code": c.left_code, "right_code": c.right_code,
            "match_probability": c.match_probability, "match_weight": c.match_weight,
            "queue_reason": c.queue_reason, "status": "pending", "decision": None, "reason": None,
            "decided_by": None, "decided_at": None, "map_version": None, "carried_from": None,
        }  # fmt: skip
        earlier = prior.get((c.left_code, c.right_code))
        if earlier is not None:
            row.update(
                status="decided", decision=earlier.decision, reason=earlier.reason, decided_by=earlier.decided_by,
                decided_at=earlier.decided_at, map_version=1, carried_from=earlier.carried_from or earlier.id,
            )  # fmt: skip
            carried += 1
        elif c.queue_reason == "identifier_conflict" and c.left_linked:
            row["status"] = "flagged"  # linked to someone else by the other passes: informative only
        rows.append(row)
    return rows, carried


def report_dir(ws: Workspace) -> Path:
    path = ws.root.joinpath(*REPORT_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write_report(
    ws: Workspace, run_id: str, spec_sha: str, config: LinkConfig, result: EngineResult, used: dict[str, list[str]]
) -> tuple[Path, Path]:
    from linkhaven.link.report import build_report, render_html

    report = build_report(run_id, spec_sha, config, result, used, _software())
    directory = report_dir(ws)
    json_path, html_path = directory / f"{run_id}.json", directory / f"{run_id}.html"
    json_path.write_text(json.dumps(report, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")
    # The compiled settings, saved with the run as Splink saves its model: what this run declared.
    (directory / f"{run_id}-settings.json").write_text(config.as_json() + "\n", encoding="utf-8")
    html_path.write_text(render_html(report, result.charts), encoding="utf-8")
    return json_path, html_path


def latest_report(ws: Workspace, user: str | None = None) -> dict[str, Any]:
    """The JSON report of the current run (aggregate figures only), in a `link.report` session."""
    with open_session(ws, Action.LINK_REPORT, "linkage", user) as session:
        run = current_run(ws)
        if run is None:
            raise WorkspaceError("There is no linkage run yet: run `linkhaven link` (linker role) first.")
        path = ws.root / run["report"]
        if not path.exists():
            raise WorkspaceError(
                f"The report of run {run['id']} is missing from {path.parent}; rerun `linkhaven link`."
            )
        report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        session.object = f"linkage:{run['id']}"
    report["run"]["map_version"] = run["map_version"]
    report["run"]["review_pending"] = run["review_pending"]
    report["run"]["review_decided"] = run["review_decided"]
    report["run"]["clerical_matches"] = run["clerical_matches"]
    return report


def evaluate_current(
    ws: Workspace, truth: Path, pairs: list[tuple[str, str]] | None = None, user: str | None = None
) -> dict[str, Any]:
    """Measure the current map against a ground-truth file (`link.evaluate` describes its columns)
    for `pairs`, by default every declared link and de-duplication, in a `link.evaluate` session."""
    with open_session(ws, Action.LINK_EVALUATE, "linkage", user) as session:
        return _evaluate(ws, session, truth, pairs)


def _evaluate(ws: Workspace, session: Session, truth: Path, pairs: list[tuple[str, str]] | None) -> dict[str, Any]:
    from linkhaven.link.evaluate import evaluate

    if not truth.is_file():
        raise WorkspaceError(f"The truth file {truth} does not exist; give a truth CSV (docs/linkage.md).")
    run = current_run(ws)
    if run is None:
        raise WorkspaceError("There is no linkage map to evaluate: run `linkhaven link` (linker role) first.")
    config = LinkConfig.from_spec(session.spec)
    inputs, _ = read_inputs(ws, list(config.sources))
    linkage_map = ws.zone("linkage").read(run["map_table"])
    session.object = f"linkage:{run['id']}"
    with ws.exclusive() as scratch:
        result = evaluate(linkage_map, inputs, truth, config, pairs, scratch=scratch)
    result["run_id"] = run["id"]
    result["map_version"] = run["map_version"]
    for pair, figures in result["pairs"].items():
        session.detail[f"{pair}_precision"] = figures["precision"]
        session.detail[f"{pair}_recall"] = figures["recall"]
    return result
