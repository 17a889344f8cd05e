"""Benchmark: risk-assess and release a provincial person-year panel (target: <= 5 min, <= 8 GiB).

The upstream pipeline at scale 1 (intake of 17 million records, then Splink linkage) is a separate
benchmark, so the panel is generated here: `linkhaven synth` data at the given scale (realistic
distributions: ~2 million students a year, ~55,000 children served by child welfare), turned into
content tables with the ground truth as the linkage map (10 % of links marked probabilistic), and
built into the panel by the real panel builder. That is step 1 (`panel`), measured for information.
(`bench_pipeline.py` times `release create` on real zones after intake and linkage instead.)

Step 2 (`release`) is what the target is about, in a fresh child process: a real workspace, then
`create_release_from_panel` with the Ontario spec's `analyst_panel` section: risk before, the
lattice search, the transformation, the encrypted write, the risk recomputed from the stored file,
report, dictionary and manifest, registers and audit. Step 3 (`approve`) times the privacy
officer's approval, which re-verifies hashes and recomputes the risk from the file again.

    .venv/bin/python benchmarks/bench_deid.py --scale 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from _measure import ROOT, WORK, commit, machine, now, write_result

SPEC = ROOT / "projects" / "ontario-children-in-care.yaml"
LIMIT_SECONDS = 300
LIMIT_BYTES = 8 * 1024**3


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def step_panel(scale: float, seed: int, out: Path) -> dict[str, object]:
    import duckdb

    from linkhaven.deid.panel import build_panel, plan_panel
    from linkhaven.deid.rehearsal import rehearsal_inputs
    from linkhaven.spec import load_spec
    from linkhaven.synth import synthesize

    spec = load_spec(SPEC)
    started = time.perf_counter()
    data = synthesize(scale=scale, seed=seed)
    plan = plan_panel(spec, spec.releases["analyst_panel"].panel)
    inputs = rehearsal_inputs(data, plan, seed=seed)
    del data
    generated = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET temp_directory = '{WORK / 'duckdb-tmp'}'")
    con.execute("SET memory_limit = '6GB'")
    stats = build_panel(con, plan, inputs)
    del inputs
    built = time.perf_counter()
    con.execute(f"COPY panel TO '{out}' (FORMAT parquet, COMPRESSION zstd)")
    con.close()
    return {"synth_and_inputs_seconds": round(generated - started, 1),
            "panel_build_seconds": round(built - generated, 1), "panel": stats.as_dict(),
            "peak_rss_bytes": _peak()}  # fmt: skip


def step_release(panel: Path, workspace: Path, keys: Path) -> dict[str, object]:
    from linkhaven import Role, add_user, create_workspace
    from linkhaven.deid import create_release_from_panel

    shutil.rmtree(workspace, ignore_errors=True)
    shutil.rmtree(keys, ignore_errors=True)
    os.environ["LINKHAVEN_USER"] = "admin"
    ws = create_workspace(workspace, SPEC, keys, user="admin")
    add_user(ws, "deidentifier", Role.DEIDENTIFIER, user="admin")
    add_user(ws, "privacy_officer", Role.PRIVACY_OFFICER, user="admin")
    os.environ["LINKHAVEN_USER"] = "deidentifier"
    laps: dict[str, float] = {}
    started = time.perf_counter()
    current = ["starting"]
    last = [started]

    def progress(step: str) -> None:
        now = time.perf_counter()
        laps[current[0]] = round(now - last[0], 1)
        current[0], last[0] = step, now

    info = create_release_from_panel(ws, "analyst_panel", panel, provenance={"benchmark": "bench_deid"},
                                     progress=progress)  # fmt: skip
    seconds = time.perf_counter() - started
    laps[current[0] + " (and registering)"] = round(time.perf_counter() - last[0], 1)
    report = json.loads(Path(info.report_json).read_text())
    return {
        "release_seconds": round(seconds, 1),
        "step_seconds": laps,
        "engine_timings_seconds": report["timings_seconds"],
        "release_id": info.id,
        "rows_released": info.rows,
        "rows_suppressed": info.rows_suppressed,
        "persons": info.persons,
        "overall_risk_before": report["risk_before"]["overall_risk"],
        "overall_risk_after": info.overall_risk_after,
        "threshold": info.threshold,
        "strategy": report["transformations"]["strategy"],
        "levels": {k: v["applied"] for k, v in report["transformations"]["levels"].items()},
        "lattice_size": report["transformations"]["lattice_size"],
        "nodes_evaluated": report["transformations"]["nodes_evaluated"],
        "optimal": report["transformations"]["optimal"],
        "information_loss": report["utility"]["information_loss"],
        "suppressed_share_within_protected": report["suppression"]["share_within_protected_groups"],
        "peak_rss_bytes": _peak(),
    }


def step_approve(workspace: Path, keys: Path, release_id: str) -> dict[str, object]:
    from linkhaven.deid import approve_release
    from linkhaven.intake import add_agreement
    from linkhaven.workspace import Workspace

    os.environ["LINKHAVEN_USER"] = "privacy_officer"
    ws = Workspace.open(workspace, keys)
    today = datetime.now(UTC).date()
    add_agreement(ws, "benchmark DSA", "disclosure", ["division_analysts"], ["onsis"], ["deidentified"],
                  today.replace(year=today.year - 1), today.replace(year=today.year + 1))  # fmt: skip
    started = time.perf_counter()
    info = approve_release(ws, release_id)
    return {"approve_seconds": round(time.perf_counter() - started, 1), "status": info.status,
            "peak_rss_bytes": _peak()}  # fmt: skip


def _child(*args: str) -> tuple[dict[str, object], float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        sys.exit(f"benchmark step {args[0]} failed with exit code {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1]), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reuse-panel", action="store_true", help="Keep a panel built by an earlier run.")
    parser.add_argument("--step", choices=["panel", "release", "approve"], help=argparse.SUPPRESS)
    parser.add_argument("--panel", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--release-id", help=argparse.SUPPRESS)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    workspace, keys = WORK / "deid-workspace", WORK / "deid-keys"
    if args.step == "panel":
        print(json.dumps(step_panel(args.scale, args.seed, args.panel)))
        return
    if args.step == "release":
        print(json.dumps(step_release(args.panel, workspace, keys)))
        return
    if args.step == "approve":
        print(json.dumps(step_approve(workspace, keys, args.release_id)))
        return

    panel_path = WORK / f"deid-panel-scale{args.scale:g}.parquet"
    sidecar = panel_path.with_suffix(".json")
    if args.reuse_panel and panel_path.exists() and sidecar.exists():
        panel = json.loads(sidecar.read_text())
        panel_wall = float(panel.pop("wall_seconds"))
    else:
        panel, panel_wall = _child("--step", "panel", "--scale", str(args.scale), "--seed", str(args.seed),
                                   "--panel", str(panel_path))  # fmt: skip
        sidecar.write_text(json.dumps({**panel, "wall_seconds": panel_wall}))
    release, release_wall = _child("--step", "release", "--panel", str(panel_path))
    approve, approve_wall = _child("--step", "approve", "--release-id", str(release["release_id"]))
    peak = int(release["peak_rss_bytes"])  # type: ignore[call-overload]
    result = {
        "benchmark": "deid",
        "measured_at": now(),
        "command": f".venv/bin/python benchmarks/bench_deid.py --scale {args.scale:g} --seed {args.seed}",
        "commit": commit(),
        "scale": args.scale,
        "seed": args.seed,
        "panel_source": "generated in the benchmark: linkhaven synth data at this scale, content tables as intake "
                        "types them, the ground truth as the linkage map (10 % of links marked probabilistic), "
                        "built by linkhaven.deid.panel.build_panel from the spec's `panels:` section; intake and "
                        "Splink linkage are not part of it",
        "target": "release step (risk assessment, lattice search, transformation, encrypted write, risk recomputed "
                  "from the stored file, report, registers) in a fresh process",
        "release_wall_seconds": round(release_wall, 1),
        "release_peak_rss_bytes": peak,
        "release_peak_rss_gib": round(peak / 1024**3, 2),
        "limits": {"wall_seconds": LIMIT_SECONDS, "peak_rss_bytes": LIMIT_BYTES},
        "within_limits": release_wall <= LIMIT_SECONDS and peak <= LIMIT_BYTES,
        "release": release,
        "panel_step": {**panel, "wall_seconds": round(panel_wall, 1)},
        "approve_step": {**approve, "wall_seconds": round(approve_wall, 1)},
        "machine": machine(),
    }  # fmt: skip
    write_result(f"deid-scale{args.scale:g}", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
