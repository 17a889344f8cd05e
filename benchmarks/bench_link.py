"""Benchmark linkage: the link step on synthetic extracts, its quality against truth, and plain Splink.

Acceptance (issue 5): at scale 1 the whole link step (reading the zones, linking, writing the map
and the report) within 5 minutes and 8 GiB peak on this 2-core machine; CPIN to OnSIS precision
at least 0.995 and recall at least 0.99, EQAO to OnSIS precision and recall at least 0.999.

    .venv/bin/python benchmarks/bench_link.py --scale 0.05
    .venv/bin/python benchmarks/bench_link.py                  # scale 1
    .venv/bin/python benchmarks/bench_link.py --no-baseline    # skip the plain-Splink comparison

Steps: `linkhaven synth` (or `--reuse` extracts left by an earlier `--keep` run), a fresh workspace
with its gates, intake of the three extracts, then the measured commands: `linkhaven link --json`
and `linkhaven link evaluate --truth ... --json`, each a child process whose own wall time and peak
RSS (`wait4`) are recorded. The baseline is plain Splink on the same zone data, in its own child
process: the same standardised columns and comparisons plus an exact-match OEN comparison (plain
Splink has no deterministic pass), blocking on exact fields only, m by EM, u by random sampling,
link-only CPIN -> OnSIS and EQAO -> OnSIS at record level, and clusters at the spec's accept
threshold; no spine deduplication, record-level probability, one-to-one assignment, source
clustering or twin guard. Work files live in benchmarks/work/ (git-ignored) and are deleted unless
--keep; results go to benchmarks/results/link-scale<S>.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from _measure import RESULTS, ROOT, WORK, ChildFailed, commit, machine, now, run_measured, run_script

SPEC = ROOT / "projects" / "ontario-children-in-care.yaml"
LIMITS = {"wall_seconds": 300, "peak_rss_gib": 8.0}
TARGETS = {"cpin~onsis": {"precision": 0.995, "recall": 0.99}, "eqao~onsis": {"precision": 0.999, "recall": 0.999}}
PLAIN_RULES = [("oen",), ("given_std", "family_joined", "dob"), ("dob", "family_joined"), ("given_std", "dob")]


def setup(work: Path, scale: str, reuse: bool) -> tuple[Path, Path, Path, dict[str, Any]]:
    extracts, workspace, keys = work / "extracts", work / "ws", work / "keys"
    admin = {"LINKHAVEN_USER": "admin"}
    steps: dict[str, Any] = {}
    done = workspace / "intake.done"
    if reuse and done.exists():
        return extracts, workspace, keys, json.loads(done.read_text())
    if not (reuse and (extracts / "truth.csv").exists()):
        shutil.rmtree(extracts, ignore_errors=True)
        synth = run_measured(["synth", "--scale", scale, "--seed", "1", "--out", str(extracts)], admin)
        steps["synth"] = synth.figures()
    shutil.rmtree(workspace, ignore_errors=True)
    shutil.rmtree(keys, ignore_errors=True)
    run_measured(["init", str(workspace), "--spec", str(SPEC), "--keys", str(keys)], admin)
    w = ["-w", str(workspace)]
    for role in ("steward", "linker", "privacy_officer"):
        run_measured([*w, "user", "add", role, "--role", role], admin)
    officer = {"LINKHAVEN_USER": "privacy_officer"}
    for kind in ("pia", "tra"):
        run_measured([*w, "assessment", "add", "--kind", kind, "--title", kind, "--date", "2024-06-01"], officer)
    run_measured([*w, "notice", "publish", "--date", "2025-07-11"], officer)
    run_measured([*w, "agreement", "add", "--name", "bench", "--party", "EDU", "--source", "onsis", "--source", "eqao",
                  "--source", "cpin", "--from", "2024-01-01", "--to", "2099-12-31"], officer)  # fmt: skip
    for source in ("onsis", "eqao", "cpin"):
        measured = run_measured(
            [*w, "intake", "--source", source, str(extracts / f"{source}.csv"), "--json"], {"LINKHAVEN_USER": "steward"}
        )
        loaded = json.loads(measured.stdout)
        steps[f"intake_{source}"] = {**measured.figures(), "rows_loaded": loaded["rows_loaded"],
                                     "rows_quarantined": loaded["rows_quarantined"]}  # fmt: skip
        print(source, steps[f"intake_{source}"], flush=True)
    done.write_text(json.dumps(steps))
    return extracts, workspace, keys, steps


# -- the plain-Splink baseline (runs in a child process) ----------------------------------------------


def baseline(workspace: Path, truth: Path, threshold: float) -> dict[str, Any]:
    """Plain Splink on the zone data; prints pairwise quality and its own step timings."""
    import pyarrow.compute as pc
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from linkhaven.governance.session import parse_workspace_spec
    from linkhaven.link import LinkConfig, evaluate
    from linkhaven.link.context import RunContext
    from linkhaven.link.model import comparisons
    from linkhaven.link.service import read_inputs
    from linkhaven.link.sql import connect
    from linkhaven.link.steps.prepare import load, standardise
    from linkhaven.workspace import Workspace

    for name in ("splink", "sqlglot"):
        logging.getLogger(name).setLevel(logging.WARNING)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        timings[name] = round(time.perf_counter() - clock, 1)
        clock = time.perf_counter()

    ws = Workspace.open(workspace)
    config = LinkConfig.from_spec(parse_workspace_spec(ws))
    inputs, _ = read_inputs(ws, ["onsis", "eqao", "cpin"])
    lap("read_zones")
    scratch = Path(tempfile.mkdtemp(dir=WORK))
    con = connect(scratch, config.threads, config.memory_limit)
    try:
        ctx = RunContext(con, inputs, config, scratch)
        load(ctx)
        standardise(ctx)  # the same standardised columns the comparisons read
        lap("standardise")
        columns = (
            "record_code AS unique_id, oen, given_std, given_first, given_joined, given_tokens, given_groups, "
            "given_phon, family_std, family_joined, family_core, family_tokens, family_phon, dob, dob_str"
        )
        postal = (
            "CASE WHEN postal IS NOT NULL THEN [postal] END AS postal_set, CASE WHEN postal IS NOT NULL THEN "
            "[left(postal, 3)] END AS postal_p3, CASE WHEN postal IS NOT NULL THEN [left(postal, 1)] END AS postal_p1"
        )
        figures: dict[str, Any] = {}
        quality: dict[str, Any] = {}
        cpin_map = None
        con.execute(
            f"CREATE TABLE truth AS SELECT * FROM read_csv('{truth}', header = true, all_varchar = true)"
        )
        for source in ("cpin", "eqao"):
            extra = postal if source == "cpin" else "NULL::VARCHAR[] AS postal_set, NULL::VARCHAR[] AS postal_p3, " \
                                                      "NULL::VARCHAR[] AS postal_p1"  # fmt: skip
            con.execute(f"CREATE OR REPLACE TABLE b_left AS SELECT {columns}, {extra} FROM stdn_{source}")
            con.execute(f"CREATE OR REPLACE TABLE b_right AS SELECT {columns}, {postal} FROM stdn_onsis")
            api = DuckDBAPI(connection=con)
            left = api.register("b_left", dataset_display_name=source)
            right = api.register("b_right", dataset_display_name="onsis")
            fields = {"given_name", "family_name", "dob"} | ({"postal"} if source == "cpin" else set())
            chosen = comparisons(config, fields) + [cl.ExactMatch("oen")]
            settings = SettingsCreator(
                link_type="link_only", unique_id_column_name="unique_id", comparisons=chosen,
                blocking_rules_to_generate_predictions=[block_on(*rule) for rule in PLAIN_RULES],
                retain_matching_columns=False, retain_intermediate_calculation_columns=False,
            )  # fmt: skip
            linker = Linker([left, right], settings, log_level=logging.WARNING)
            linker.training.estimate_probability_two_random_records_match(
                [block_on("oen", "dob"), block_on("given_std", "family_joined", "dob")], recall=0.8
            )
            linker.training.estimate_u_using_random_sampling(max_pairs=config.u_max_pairs, seed=1, num_chunks=1)
            for rule in (block_on("oen"), block_on("dob", "family_joined")):
                linker.training.estimate_parameters_using_expectation_maximisation(rule, max_pairs=config.em_max_pairs)
            lap(f"train_{source}")
            # Chunked on the left so a province's blocked pairs (and their comparison columns) are
            # scored a slice at a time; unchunked, EQAO x OnSIS exhausted a 40 GB spill allowance.
            left_rows = con.execute("SELECT count(*) FROM b_left").fetchone()
            chunks = max(1, int(left_rows[0]) // 400_000) if left_rows else 1
            predictions = linker.inference.predict(
                threshold_match_probability=0.5, num_chunks_left=chunks, num_chunks_right=1
            )
            pairs = con.execute(f"SELECT count(*) FROM {predictions.physical_name}").fetchone()
            lap(f"predict_{source}")
            figures[source] = {"pairs_above_0.5": int(pairs[0]) if pairs else 0}
            # Pairwise quality straight from the pairs at the threshold. Splink's own clustering of
            # EQAO x OnSIS edges (27 million at scale 1) exhausted a 40 GB spill allowance, so only
            # CPIN (small) is clustered, for its within-source pairs.
            quality[f"{source}~onsis"] = _pair_quality(con, predictions.physical_name, source, threshold)
            if source == "cpin":
                cpin_map = _cluster_cpin(con, api, predictions.physical_name, threshold)
            lap(f"evaluate_{source}")
            linker.table_management.delete_tables_created_by_splink_from_db()
            _progress(quality, timings, figures)
    finally:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)
    if cpin_map is not None:
        cpin_only = cpin_map.filter(pc.equal(cpin_map["source"], "cpin"))
        ev = evaluate(cpin_only, {"cpin": inputs["cpin"]}, truth, config, pairs=[("cpin", "cpin")], scratch=WORK)
        quality.update(ev["pairs"])
    lap("evaluate_cpin_clusters")
    return {"pairs": quality, "seconds_by_step": timings, "predictions": figures,
            "blocking_rules": [" AND ".join(f"l.{c} = r.{c}" for c in rule) for rule in PLAIN_RULES]}  # fmt: skip


def _cluster_cpin(con: Any, api: Any, predictions: str, threshold: float) -> Any:
    """Splink's own connected components over the CPIN -> OnSIS pairs at the threshold.

    The nodes are the CPIN records and the OnSIS records some CPIN record reaches: every other
    OnSIS record is a singleton that cannot change a CPIN cluster. Given all 12 million OnSIS
    records as nodes (the linker's `clustering` method), Splink's clustering exhausted a 40 GB spill
    allowance at scale 1.
    """
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    con.execute(
        f"""CREATE OR REPLACE TABLE b_edges AS
        SELECT unique_id_l, unique_id_r, match_probability FROM {predictions}
        WHERE match_probability >= {threshold}"""
    )
    con.execute(
        """CREATE OR REPLACE TABLE b_nodes AS
        SELECT unique_id FROM b_left
        UNION SELECT unique_id_l FROM b_edges UNION SELECT unique_id_r FROM b_edges"""
    )
    clusters = cluster_pairwise_predictions_at_threshold(
        "b_nodes", "b_edges", api, node_id_column_name="unique_id", threshold_match_probability=threshold
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE b_map AS
        SELECT c.unique_id AS record_code, CASE WHEN l.unique_id IS NULL THEN 'onsis' ELSE 'cpin' END AS source,
          c.cluster_id AS person_key, 'probabilistic' AS method, NULL::DOUBLE AS match_probability
        FROM {clusters.physical_name} c LEFT JOIN b_left l USING (unique_id)"""
    )
    return con.execute("SELECT * FROM b_map").to_arrow_table()


def _progress(quality: dict[str, Any], timings: dict[str, float], figures: dict[str, Any]) -> None:
    """One JSON line per finished source, so a later failure still leaves the figures measured so far."""
    print(json.dumps({"pairs": dict(quality), "seconds_by_step": dict(timings), "predictions": dict(figures),
                      "partial": True}), flush=True)  # fmt: skip


def _pair_quality(con: Any, predictions: str, source: str, threshold: float) -> dict[str, Any]:
    """Pairwise precision, recall and F1 of the (source record, OnSIS record) pairs at the threshold."""

    def count(sql: str) -> int:
        row = con.execute(sql).fetchone()
        return int(row[0] or 0) if row else 0

    con.execute(
        f"""CREATE OR REPLACE TABLE b_pairs AS
        SELECT CASE WHEN source_dataset_l = '{source}' THEN unique_id_l ELSE unique_id_r END AS a,
          CASE WHEN source_dataset_l = '{source}' THEN unique_id_r ELSE unique_id_l END AS b
        FROM {predictions} WHERE match_probability >= {threshold}"""
    )
    person = """(SELECT x.record_code, t.person_id FROM std_{s} x
        JOIN truth t ON t.source = '{s}' AND t.record_id = x.source_record_id)"""
    tp = count(
        f"""SELECT count(*) FROM b_pairs p JOIN {person.format(s=source)} ta ON ta.record_code = p.a
        JOIN {person.format(s="onsis")} tb ON tb.record_code = p.b WHERE ta.person_id = tb.person_id"""
    )
    predicted = count("SELECT count(*) FROM b_pairs")
    true = count(
        f"""SELECT sum(a.n * b.n) FROM (SELECT person_id, count(*) AS n FROM {person.format(s=source)} GROUP BY 1) a
        JOIN (SELECT person_id, count(*) AS n FROM {person.format(s="onsis")} GROUP BY 1) b USING (person_id)"""
    )
    precision = tp / predicted if predicted else 1.0
    recall = tp / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 6), "recall": round(recall, 6), "f1": round(f1, 6), "tp": tp,
            "fp": predicted - tp, "fn": true - tp, "true_pairs": true, "predicted_pairs": predicted}  # fmt: skip


# -- driver --------------------------------------------------------------------------------------------


def plain_splink(workspace: Path, keys: Path, truth: Path, ours: dict[str, Any], accept: float) -> dict[str, Any]:
    """Run the baseline child, measured; its figures beside linkhaven's F1 (or why it failed)."""
    try:
        measured = run_script(
            [str(Path(__file__).resolve()), "--baseline-child", str(workspace), str(truth), str(accept)],
            {"LINKHAVEN_KEYS": str(keys)},
        )
    except ChildFailed as failed:
        lines = failed.stdout.strip().splitlines()
        return {"failed": str(failed)[-1500:], **(json.loads(lines[-1]) if lines else {})}
    plain = json.loads(measured.stdout.strip().splitlines()[-1])
    return {
        "measured_at": now(),
        "commit": commit(),
        **measured.figures(),
        **plain,
        "f1": {p: v["f1"] for p, v in plain["pairs"].items()},
        "linkhaven_f1": {p: v["f1"] for p, v in ours.items()},
    }


def check(pairs: dict[str, Any]) -> dict[str, bool]:
    return {pair: all(pairs[pair][k] >= v for k, v in target.items()) for pair, target in TARGETS.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="1")
    parser.add_argument("--keep", action="store_true", help="Keep benchmarks/work/link-scale<S>/ afterwards.")
    parser.add_argument(
        "--reuse", action="store_true", help="Reuse the extracts (and taken-in workspace) of an earlier --keep run."
    )
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--baseline-only", action="store_true", help="Only the plain-Splink run, on a --keep workspace."
    )
    parser.add_argument(
        "--baseline-child", nargs=3, metavar=("WORKSPACE", "TRUTH", "THRESHOLD"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.baseline_child:
        workspace, truth, threshold = args.baseline_child
        print(json.dumps(baseline(Path(workspace), Path(truth), float(threshold))))
        return
    work = WORK / f"link-scale{args.scale}"
    work.mkdir(parents=True, exist_ok=True)
    out_path = RESULTS / f"link-scale{args.scale}.json"
    if args.baseline_only:
        result = json.loads(out_path.read_text())
        truth = work / "extracts" / "truth.csv"
        accept = float(result.get("accept", 0.95))
        result["plain_splink"] = plain_splink(work / "ws", work / "keys", truth, result["quality"]["pairs"], accept)
        out_path.write_text(json.dumps(result, indent=2) + "\n")
        print("plain splink", json.dumps(result["plain_splink"])[:3000], flush=True)
        return
    extracts, workspace, keys, setup_steps = setup(work, args.scale, args.reuse)
    linker = {"LINKHAVEN_USER": "linker", "LINKHAVEN_KEYS": str(keys)}
    link = run_measured(["-w", str(workspace), "link", "--json"], linker)
    linked = json.loads(link.stdout)
    report = json.loads(Path(linked["report_json"]).read_text())
    print("link", link.figures(), flush=True)
    truth = extracts / "truth.csv"
    evaluated = run_measured(["-w", str(workspace), "link", "evaluate", "--truth", str(truth), "--json"], linker)
    quality = json.loads(evaluated.stdout)
    print("quality", json.dumps(quality["pairs"]), flush=True)
    result: dict[str, Any] = {
        "benchmark": "link",
        "measured_at": now(),
        "commit": commit(),
        "scale": float(args.scale),
        "link": {
            **link.figures(),
            "within_limits": link.seconds <= LIMITS["wall_seconds"] and link.peak_rss_gib <= LIMITS["peak_rss_gib"],
            "limits": LIMITS,
            "records": linked["records"],
            "persons": linked["persons"],
            "link_rates": linked["link_rates"],
            "review_pending": linked["review_pending"],
            "seconds_by_step": report["run"]["seconds_by_step"],
            "engine_counts": {k: report[k] for k in ("spine", "deterministic", "clusters", "models")},
            "model_estimates": report["model_estimates"],
        },
        "evaluate": {**evaluated.figures()},
        "quality": {
            "pairs": quality["pairs"],
            "targets": TARGETS,
            "meets_targets": check(quality["pairs"]),
            "clusters": quality["clusters"],
            "coverage": quality["coverage"],
            "subgroup_recall_cpin_onsis": quality["subgroup_recall"].get("cpin~onsis", {}),
        },
        "setup": setup_steps,
        "machine": machine(),
    }
    result["accept"] = report["run"]["thresholds"]["accept_probability"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2) + "\n")  # written now: the baseline may fail
    if not args.no_baseline:
        result["plain_splink"] = plain_splink(workspace, keys, truth, quality["pairs"], result["accept"])
        print("plain splink", json.dumps(result["plain_splink"])[:3000], flush=True)
        out_path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out_path.relative_to(ROOT)}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
