"""Benchmark publication: the full indicator set from a scale-1 panel, with suppression and audit.

Acceptance (issue 6 follow-up, publication): at most 3 minutes on this 2-core machine.

    .venv/bin/python benchmarks/bench_publish.py            # scale 1, the acceptance run
    .venv/bin/python benchmarks/bench_publish.py --scale 0.1

A scale-1 approved release needs the whole pipeline (synth, intake, linkage, de-identification),
so the benchmark generates a realistic person-year panel with the release's columns instead
(`linkhaven.publish.rehearsal_panel`: about 2 million students a year, six school years, codes
from the spec) and says so in the result. The measured child process reads that panel from
Parquet and does everything `publish --release` does after opening the release: indicators,
primary and complementary suppression, the attacker audit, the CSV/JSON tables, both reports and
the manifest. Results go to benchmarks/results/publish-scale<S>.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from _measure import ROOT, WORK, commit, machine, now, run_script, write_result

LIMITS = {"wall_seconds": 180}


def child(panel: str, out: str) -> int:
    """The measured work: publish the spec's indicators from the panel into `out`."""
    from linkhaven.publish import publish_panel
    from linkhaven.spec import load_spec

    spec = load_spec(ROOT / "projects" / "ontario-children-in-care.yaml")
    started = time.perf_counter()
    protected, manifest = publish_panel(panel, spec, Path(out), {"publication": "benchmark (rehearsal panel)"})
    print(
        json.dumps(
            {
                "seconds": round(time.perf_counter() - started, 2),
                "panel_rows": protected.computed.panel_rows,
                "tables": len(manifest["tables"]),
                "cells": {**manifest["cells"], **protected.hidden_counts()},
                "suppression": protected.stats.as_dict(),
                "audit": manifest["audit"],
                "timings_seconds": manifest["timings_seconds"],
            }
        )
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the panel and the publication in benchmarks/work/")
    parser.add_argument("--child", nargs=2, metavar=("PANEL", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)

    import pyarrow.parquet as pq

    from linkhaven.publish import rehearsal_panel
    from linkhaven.spec import load_spec

    WORK.mkdir(parents=True, exist_ok=True)
    panel_path = WORK / f"publish-panel-scale{args.scale:g}.parquet"
    out = WORK / f"publish-scale{args.scale:g}"
    shutil.rmtree(out, ignore_errors=True)
    spec = load_spec(ROOT / "projects" / "ontario-children-in-care.yaml")
    started = time.perf_counter()
    panel = rehearsal_panel({k: list(v) for k, v in spec.code_lists.items()}, scale=args.scale, seed=args.seed)
    pq.write_table(panel, panel_path)
    panel_seconds = time.perf_counter() - started
    rows = panel.num_rows
    del panel

    measured = run_script([str(Path(__file__).resolve()), "--child", str(panel_path), str(out)])
    summary = json.loads(measured.stdout.strip().splitlines()[-1])
    result = {
        "benchmark": "publish",
        "measured_at": now(),
        "commit": commit(),
        "command": f"python benchmarks/bench_publish.py --scale {args.scale:g} --seed {args.seed}",
        "measured_step": "publish_panel(panel.parquet) in a child process: indicators, primary and complementary "
        "suppression, attacker audit, tables, reports, manifest",
        "input": "generated rehearsal panel (linkhaven.publish.rehearsal_panel), not a de-identified release: "
        "no scale-1 approved release was available to the benchmark",
        "scale": args.scale,
        "seed": args.seed,
        "panel_rows": rows,
        "panel_generation_seconds": round(panel_seconds, 1),
        "wall_seconds": measured.seconds,
        "peak_rss_gib": measured.peak_rss_gib,
        "other_processes_cpu_share": measured.other_cpu_share,
        "limits": LIMITS,
        "within_limits": measured.seconds <= LIMITS["wall_seconds"],
        **{k: summary[k] for k in ("tables", "cells", "suppression", "timings_seconds")},
        "audit": {k: v for k, v in summary["audit"].items() if k != "method"},
        "machine": machine(),
    }
    write_result(f"publish-scale{args.scale:g}", result)
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
        panel_path.unlink(missing_ok=True)
    print(json.dumps({k: result[k] for k in ("wall_seconds", "peak_rss_gib", "within_limits", "cells")}, indent=2))
    return 0 if result["within_limits"] else 1


if __name__ == "__main__":
    sys.exit(main())
