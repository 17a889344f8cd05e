"""Benchmark the whole pipeline at provincial scale: extracts to publication, every stage on the zones.

`bench_deid.py` and `bench_publish.py` time their engines on panels generated for them. This one
runs what a unit runs, each command a measured child process, in a fresh workspace:

    linkhaven synth; init, users, gates; intake of OnSIS, EQAO and CPIN      (as in bench_link.py)
    linkhaven link                                          (the map the release is built on)
    linkhaven release create --spec-section analyst_panel   (panel from the content zone, two identity
                                                            values and the map; risk, lattice search,
                                                            encrypted write)
    linkhaven release approve                               (hashes and risk re-verified from the file)
    linkhaven release create --spec-section publication_base, approve   (the tables' own release)
    linkhaven publish --release                             (indicators, suppression, attacker audit)

    .venv/bin/python benchmarks/bench_pipeline.py --scale 1

Results go to benchmarks/results/pipeline-scale<S>.json; the work folder is deleted unless --keep.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from typing import Any

from _measure import ROOT, WORK, commit, machine, now, run_measured, write_result
from bench_link import setup

RELEASE = {"wall_seconds": 300, "peak_rss_gib": 8.0}
LIMITS = {"link": {"wall_seconds": 300, "peak_rss_gib": 8.0}, "release_create": RELEASE,
          "release_create_publication_base": RELEASE, "publish": {"wall_seconds": 180}}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="1")
    parser.add_argument("--keep", action="store_true", help="Keep benchmarks/work/pipeline-scale<S>/ afterwards.")
    args = parser.parse_args()
    work = WORK / f"pipeline-scale{args.scale}"
    work.mkdir(parents=True, exist_ok=True)
    _, workspace, keys, setup_steps = setup(work, args.scale, reuse=False)
    steps: dict[str, Any] = {}

    def measure(step: str, user: str, *command: str) -> Any:
        measured = run_measured(["-w", str(workspace), *command], {"LINKHAVEN_USER": user, "LINKHAVEN_KEYS": str(keys)})
        limits = LIMITS.get(step, {})
        within = measured.seconds <= limits.get("wall_seconds", float("inf")) and measured.peak_rss_gib <= limits.get(
            "peak_rss_gib", float("inf")
        )
        steps[step] = {**measured.figures(), **({"limits": limits, "within_limits": within} if limits else {})}
        print(step, steps[step], flush=True)
        return json.loads(measured.stdout) if "--json" in command else None

    measure("add_deidentifier", "admin", "user", "add", "deidentifier", "--role", "deidentifier")
    measure("link", "linker", "link", "--json")
    measure("disclosure_agreement", "privacy_officer", "agreement", "add", "--kind", "disclosure", "--name",
            "benchmark analysts", "--party", "division_analysts", "--class", "deidentified", "--source", "onsis",
            "--source", "eqao", "--source", "cpin", "--from", "2024-07-26", "--to", "2099-12-31")  # fmt: skip
    release = measure("release_create", "deidentifier", "release", "create", "--spec-section", "analyst_panel",
                      "--json")  # fmt: skip
    measure("release_approve", "privacy_officer", "release", "approve", release["id"])
    base = measure("release_create_publication_base", "deidentifier", "release", "create", "--spec-section",
                   "publication_base", "--json")  # fmt: skip
    measure("release_approve_publication_base", "privacy_officer", "release", "approve", base["id"])
    publication = measure("publish", "deidentifier", "publish", "--release", base["id"], "--json")

    report = json.loads((ROOT / release["report_json"]).read_text())
    base_report = json.loads((ROOT / base["report_json"]).read_text())
    result = {
        "benchmark": "pipeline",
        "measured_at": now(),
        "commit": commit(),
        "scale": float(args.scale),
        "command": f".venv/bin/python benchmarks/bench_pipeline.py --scale {args.scale}",
        "setup": setup_steps,
        "steps": steps,
        "within_limits": all(s.get("within_limits", True) for s in steps.values()),
        "release": {k: release[k] for k in ("id", "rows", "rows_suppressed", "persons", "overall_risk_after",
                                            "threshold")},  # fmt: skip
        "release_levels": {k: v["applied"] for k, v in report["transformations"]["levels"].items()},
        "release_timings_seconds": report["timings_seconds"],
        "publication_base": {k: base[k] for k in ("id", "rows", "rows_suppressed", "persons", "overall_risk_after")},
        "publication_base_levels": {k: v["applied"] for k, v in base_report["transformations"]["levels"].items()},
        "publication": {"cells": publication["cells"], "internal": publication["internal"],
                        "audit": {k: v for k, v in publication["audit"].items() if k != "method"}},  # fmt: skip
        "machine": machine(),
    }
    write_result(f"pipeline-scale{args.scale}", result)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if result["within_limits"] else 1


if __name__ == "__main__":
    sys.exit(main())
