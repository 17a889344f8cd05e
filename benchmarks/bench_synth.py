"""Benchmark `linkhaven synth`: wall time and peak memory of a full-scale run, with the machine.

Acceptance (issue 3): scale 1 in at most 5 minutes and 8 GiB peak on this 2-core machine.

    .venv/bin/python benchmarks/bench_synth.py            # scale 1, the acceptance run
    .venv/bin/python benchmarks/bench_synth.py --scale 0.1

Writes into benchmarks/work/ (git-ignored), records benchmarks/results/synth-scale<S>.json, then
deletes the extracts (several GB at scale 1) unless --keep is given.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys

from _measure import WORK, commit, machine, now, run_measured, write_result

LIMITS = {"wall_seconds": 300, "peak_rss_gib": 8.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--inject-faults", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the extracts in benchmarks/work/")
    args = parser.parse_args()

    out = WORK / f"synth-scale{args.scale:g}"
    shutil.rmtree(out, ignore_errors=True)
    command = ["synth", "--scale", f"{args.scale:g}", "--seed", str(args.seed), "--out", str(out), "--json"]
    measured = run_measured(command + (["--inject-faults"] if args.inject_faults else []))
    summary = json.loads(measured.stdout)
    result = {
        "benchmark": "synth",
        "measured_at": now(),
        "commit": commit(),
        "scale": args.scale,
        "seed": args.seed,
        **measured.figures(),
        "generator_seconds": summary["seconds"],
        "limits": LIMITS,
        "within_limits": measured.seconds <= LIMITS["wall_seconds"] and measured.peak_rss_gib <= LIMITS["peak_rss_gib"],
        "rows": summary["files"],
        "persons": summary["persons"],
        "persons_by_source": summary["persons_by_source"],
        "file_bytes": {p.name: p.stat().st_size for p in sorted(out.iterdir())},
        "machine": machine(),
    }
    write_result(f"synth-scale{args.scale:g}", result)
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    print(json.dumps({k: result[k] for k in ("wall_seconds", "peak_rss_gib", "within_limits", "rows")}, indent=2))
    return 0 if result["within_limits"] else 1


if __name__ == "__main__":
    sys.exit(main())
