"""What every benchmark records: the machine, the command, wall time and peak memory of a child process.

Each measured step runs as its own child process (the command a user would run), so its peak
resident memory is the child's own `ru_maxrss`, read from `wait4`, not the benchmark driver's.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
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
        # A benchmark rewriting its own results file does not make the measured code dirty.
        ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks/results"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return done.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Measured:
    command: str
    seconds: float
    peak_rss_gib: float
    stdout: str
    other_cpu_share: float
    """CPU the rest of the machine used during the run, as a share of all cores: a busy machine inflates times."""

    def figures(self) -> dict[str, object]:
        return {
            "command": self.command,
            "wall_seconds": self.seconds,
            "peak_rss_gib": self.peak_rss_gib,
            "other_processes_cpu_share": self.other_cpu_share,
        }


class ChildFailed(SystemExit):
    """A measured child exited non-zero; `stdout` keeps what it printed before failing."""

    def __init__(self, shown: str, stderr: str, stdout: str) -> None:
        super().__init__(f"benchmark step failed: {shown}\n{stderr[-2000:]}")
        self.stdout = stdout


def run_child(command: list[str], shown: str, env: dict[str, str] | None = None) -> Measured:
    """Run `command` as a child; its own wall time and peak RSS (`wait4`). Output goes to temporary
    files, not pipes, so a child that prints much cannot block while we wait for it."""
    busy_before = busy_cpu_seconds()
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True, cwd=ROOT,
                                   env={**os.environ, **(env or {})})  # fmt: skip
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise ChildFailed(shown, stderr, stdout)
    own_cpu = usage.ru_utime + usage.ru_stime
    others = max(0.0, (busy_cpu_seconds() - busy_before - own_cpu) / (seconds * (os.cpu_count() or 1)))
    return Measured(shown, round(seconds, 1), round(usage.ru_maxrss * 1024 / 2**30, 2), stdout, round(others, 3))


def _shown(words: list[str]) -> str:
    return " ".join(w.replace(str(ROOT) + "/", "") for w in words)


def run_measured(args: list[str], env: dict[str, str] | None = None) -> Measured:
    """`python -m linkhaven ARGS`, measured: the command a user would run."""
    return run_child([sys.executable, "-m", "linkhaven", *args], "linkhaven " + _shown(args), env)


def run_script(args: list[str], env: dict[str, str] | None = None) -> Measured:
    """`python ARGS` (a benchmark's own child step), measured."""
    return run_child([sys.executable, *args], "python " + _shown(args), env)


def write_result(name: str, result: dict[str, object]) -> Path:
    """Write `benchmarks/results/NAME.json` and say where."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / f"{name}.json"
    target.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {target.relative_to(ROOT)}")
    return target


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
