"""Benchmark `linkhaven synth`: wall time and peak memory of a full-scale run, with the machine.

Runs the CLI as a child process (so the measurement is the command a user runs, and its peak
resident memory can be read from `getrusage(RUSAGE_CHILDREN)`), writes into `benchmarks/work/`
(git-ignored), records the result in `benchmarks/results/synth-scale<S>.json`, then deletes the
extracts (several GB at scale 1) unless `--keep` is given.

    .venv/bin/python benchmarks/bench_synth.py            # scale 1, the acceptance run
    .venv/bin/python benchmarks/bench_synth.py --scale 0.1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "work"
RESULTS = ROOT / "benchmarks" / "results"
LIMIT_SECONDS = 300
LIMIT_BYTES = 8 * 2**30


def machine() -> dict[str, object]:
    """Cores, memory, CPU model, Python and library versions."""
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_total = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total = int(line.split()[1]) * 1024
    import numpy
    import pyarrow

    return {
        "cores": os.cpu_count(),
        "memory_bytes": mem_total,
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": numpy.__version__,
        "pyarrow": pyarrow.__version__,
    }


def busy_cpu_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (from /proc/stat)."""
    stat = Path("/proc/stat")
    if not stat.exists():
        return None
    fields = [int(x) for x in stat.read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def git_commit() -> str | None:
    """The commit measured, with '+dirty' when the tree has uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--inject-faults", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the extracts in benchmarks/work/")
    args = parser.parse_args()

    out = WORK / f"synth-scale{args.scale:g}"
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "linkhaven", "synth", "--scale", f"{args.scale:g}", "--seed", str(args.seed),
               "--out", str(out), "--json"]
    if args.inject_faults:
        command.append("--inject-faults")
    busy_before = busy_cpu_seconds()
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    busy_after = busy_cpu_seconds()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_rss = usage.ru_maxrss * 1024  # kilobytes on Linux
    child_cpu = usage.ru_utime + usage.ru_stime
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        return done.returncode
    summary = json.loads(done.stdout)
    sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
    cores = os.cpu_count() or 1
    # CPU the rest of the machine used during the run, as a share of all cores
    others = (
        max(0.0, (busy_after - busy_before - child_cpu) / (seconds * cores))
        if busy_before is not None and busy_after is not None else None
    )
    result = {
        "benchmark": "synth",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["linkhaven", *command[3:]]).replace(str(ROOT) + "/", ""),
        "commit": git_commit(),
        "scale": args.scale,
        "seed": args.seed,
        "wall_seconds": round(seconds, 1),
        "generator_seconds": summary["seconds"],
        "peak_rss_bytes": peak_rss,
        "peak_rss_gib": round(peak_rss / 2**30, 2),
        "limits": {"wall_seconds": LIMIT_SECONDS, "peak_rss_bytes": LIMIT_BYTES},
        "within_limits": seconds <= LIMIT_SECONDS and peak_rss <= LIMIT_BYTES,
        "rows": summary["files"],
        "persons": summary["persons"],
        "persons_by_source": summary["persons_by_source"],
        "file_bytes": sizes,
        "machine": machine(),
        "synth_cpu_seconds": round(child_cpu, 1),
        "other_processes_cpu_share": None if others is None else round(others, 3),
        "note": (
            "Unknown whether other work was running (no /proc/stat)." if others is None else
            f"Other processes used {others:.0%} of the machine's CPU during the run"
            + ("; the time may be high." if others > 0.1 else " (otherwise idle).")
        ),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / f"synth-scale{args.scale:g}.json"
    target.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    print(json.dumps({k: result[k] for k in ("wall_seconds", "peak_rss_gib", "within_limits", "rows")}, indent=2))
    print(f"written {target.relative_to(ROOT)}")
    return 0 if result["within_limits"] else 1


if __name__ == "__main__":
    sys.exit(main())
