"""Benchmark intake: the scale-1 OnSIS extract (about 12 million rows) taken into a fresh workspace.

Acceptance (issue 4): at most 4 minutes and 6 GiB peak on this 2-core machine, DuckDB doing the work.

    .venv/bin/python benchmarks/bench_intake.py                 # scale 1: generates the extracts first
    .venv/bin/python benchmarks/bench_intake.py --scale 0.05

The extracts and workspace live in benchmarks/work/ (git-ignored) and are deleted afterwards
unless --keep is given; the result goes to benchmarks/results/intake-scale<S>.json.
"""

from __future__ import annotations

import argparse
import json
import shutil

from _measure import ROOT, WORK, commit, machine, now, run_measured, write_result

SPEC = ROOT / "projects" / "ontario-children-in-care.yaml"
LIMITS = {"wall_seconds": 240, "peak_rss_gib": 6.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="1")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    work = WORK / f"intake-scale{args.scale}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    extracts, workspace, keys = work / "extracts", work / "ws", work / "keys"
    as_admin = {"LINKHAVEN_USER": "admin"}
    run_measured(["synth", "--scale", args.scale, "--seed", "1", "--out", str(extracts)], as_admin)
    run_measured(["init", str(workspace), "--spec", str(SPEC), "--keys", str(keys)], as_admin)
    w = ["-w", str(workspace)]
    for role in ("steward", "privacy_officer"):
        run_measured([*w, "user", "add", role, "--role", role], as_admin)
    officer = {"LINKHAVEN_USER": "privacy_officer"}
    for kind in ("pia", "tra"):
        run_measured([*w, "assessment", "add", "--kind", kind, "--title", kind, "--date", "2024-06-01"], officer)
    run_measured([*w, "notice", "publish", "--date", "2025-07-11"], officer)
    run_measured([*w, "agreement", "add", "--name", "bench", "--party", "EDU", "--source", "onsis", "--source", "eqao",
                  "--source", "cpin", "--from", "2024-01-01", "--to", "2099-12-31"], officer)  # fmt: skip
    results = {}
    for source in ("onsis", "eqao", "cpin"):
        measured = run_measured(
            [*w, "intake", "--source", source, str(extracts / f"{source}.csv"), "--json"], {"LINKHAVEN_USER": "steward"}
        )
        figures = json.loads(measured.stdout)
        results[source] = {
            **measured.figures(),
            "rows_read": figures["rows_read"],
            "rows_loaded": figures["rows_loaded"],
            "rows_quarantined": figures["rows_quarantined"],
            "quarantined_by_reason": figures["quarantined_by_reason"],
            "rows_per_second": round(figures["rows_read"] / measured.seconds),
        }
        print(source, results[source])
    onsis = results["onsis"]
    result = {
        "benchmark": "intake",
        "measured_at": now(),
        "commit": commit(),
        "scale": float(args.scale),
        "sources": results,
        "limits_onsis": LIMITS,
        "onsis_within_limits": onsis["wall_seconds"] <= LIMITS["wall_seconds"]
        and onsis["peak_rss_gib"] <= LIMITS["peak_rss_gib"],
        "machine": machine(),
    }
    write_result(f"intake-scale{args.scale}", result)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
