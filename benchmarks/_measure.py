"""What every benchmark records: the machine, the command, wall time and peak memory of a child process.

Each measured step runs as its own child process (the command a user would run), so its peak
resident memory is the child's own `ru_maxrss`, read from `wait4`, not the benchmark driver's.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "work"
RESULTS = ROOT / "benchmarks" / "results"


def machine() -> dict[str, object]:
    """Cores, memory, CPU model, Python and engine versions."""
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = int(line.split()[1]) * 1024
    import duckdb
    import pyarrow

    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory / 2**30, 1),
        "cpu_model": model,
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
    }


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, cwd=ROOT
    )
    return done.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


@dataclass(frozen=True)
class Measured:
    command: str
    seconds: float
    peak_rss_gib: float
    stdout: str


def run_measured(args: list[str], env: dict[str, str] | None = None) -> Measured:
    """Run `python -m linkhaven ARGS` as a child; its own wall time and peak RSS."""
    command = [sys.executable, "-m", "linkhaven", *args]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, **(env or {})}
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    stdout = process.stdout.read() if process.stdout else ""
    stderr = process.stderr.read() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark step failed: linkhaven {' '.join(args)}\n{stderr[-2000:]}")
    shown = "linkhaven " + " ".join(a.replace(str(ROOT) + "/", "") for a in args)
    return Measured(shown, round(seconds, 1), round(usage.ru_maxrss * 1024 / 2**30, 2), stdout)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
