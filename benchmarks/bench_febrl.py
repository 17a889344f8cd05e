"""Benchmark the FEBRL example project: linkage quality against the benchmark's ground truth.

Targets (issue 13): F1 at least 0.995 on the two-file linkage of FEBRL 4 without any unique
identifier (the files' soc_sec_id is never taken in), and at least 0.99 on the de-duplication of
FEBRL 3, with nothing but `projects/febrl.yaml` written for the project.

    .venv/bin/python benchmarks/bench_febrl.py                  # writes benchmarks/results/febrl.json
    .venv/bin/python benchmarks/bench_febrl.py --no-baseline    # skip the plain-Splink comparison

Steps, each a child process measured for wall time and peak RSS (`_measure.run_script`), each through
the public library API (`linkhaven.create_workspace`, `add_assessment`, `intake_file`,
`run_linkage`, `evaluate_linkage`): the deliveries and truth from `scripts/febrl_extracts.py`, a fresh workspace
with its notice and agreement, intake of the three files, the link run, and its evaluation. Then
`benchmarks/febrl_splink_baseline.py` (plain Splink on the same deliveries) in its own child. Work
files live in benchmarks/work/febrl/ (git-ignored) and are deleted unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from datetime import date
from pathlib import Path
from typing import Any

from _measure import ROOT, WORK, commit, machine, now, run_script, write_result

SPEC = ROOT / "projects" / "febrl.yaml"
SOURCES = ("febrl4_a", "febrl4_b", "febrl3")
TARGETS = {"febrl4_b~febrl4_a": 0.995, "febrl3~febrl3": 0.99}
USERS = {"steward": "steward", "linker": "linker", "privacy_officer": "privacy_officer"}


# -- the measured steps (each runs in a child process) -------------------------------------------------


def _as(user: str) -> None:
    os.environ["LINKHAVEN_USER"] = user


def step_setup(work: Path, limit: int | None) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "scripts"))
    import linkhaven
    from febrl_extracts import write_extracts

    written = write_extracts(work / "extracts", limit)
    _as("admin")
    ws = linkhaven.create_workspace(work / "ws", SPEC, work / "keys")
    for name, role in USERS.items():
        linkhaven.add_user(ws, name, linkhaven.Role(role))
    _as("privacy_officer")
    linkhaven.add_assessment(ws, "pia", "FEBRL linkage rehearsal PIA", date(2024, 12, 16), "LMRU-PIA-2025")
    linkhaven.publish_notice(ws, date(2025, 1, 15))
    linkhaven.add_agreement(ws, "FEBRL benchmark files", "collection", ["FEBRL benchmark", "LMRU"], list(SOURCES),
                            ["personal", "coded"], date(2025, 1, 1), date(2099, 12, 31))  # fmt: skip
    return {"records": written}


def _workspace(work: Path) -> Any:
    import linkhaven

    return linkhaven.open_workspace(work / "ws", work / "keys")


def step_intake(work: Path) -> dict[str, Any]:
    import linkhaven

    ws = _workspace(work)
    _as("steward")
    out = {}
    for source in SOURCES:
        result = linkhaven.intake_file(ws, source, work / "extracts" / f"{source}.csv")
        figures = result.as_dict() if hasattr(result, "as_dict") else dict(vars(result))
        out[source] = {k: figures.get(k) for k in ("rows_read", "rows_loaded", "rows_quarantined", "values_set_null")}
    return out


def step_link(work: Path) -> dict[str, Any]:
    import linkhaven

    run = linkhaven.run_linkage(_workspace(work), user="linker")
    figures = run.as_dict() if hasattr(run, "as_dict") else dict(vars(run))
    kept = ("run_id", "records", "persons", "link_rates", "review_pending", "seconds")
    return {k: v for k, v in figures.items() if k in kept}


def step_evaluate(work: Path) -> dict[str, Any]:
    import linkhaven

    truth = work / "extracts" / "truth.csv"
    result: dict[str, Any] = linkhaven.evaluate_linkage(_workspace(work), truth, user="linker")
    return result


STEPS = {"intake": step_intake, "link": step_link, "evaluate": step_evaluate}


# -- the driver ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="Keep benchmarks/work/febrl/ afterwards.")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--limit", type=int, help="Only the first N records of each file (a quick run; not written).")
    parser.add_argument("--step", nargs=2, metavar=("STEP", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:  # a child: run one step, print its figures
        name, work = args.step[0], Path(args.step[1])
        figures = step_setup(work, args.limit) if name == "setup" else STEPS[name](work)
        print(json.dumps(figures, default=str))
        return

    work = WORK / "febrl"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    me = str(Path(__file__).resolve())
    limit = ["--limit", str(args.limit)] if args.limit else []
    steps: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    try:
        for name in ("setup", *STEPS):
            measured = run_script([me, "--step", name, str(work), *limit])
            outputs[name] = json.loads(measured.stdout.strip().splitlines()[-1])
            steps[name] = measured.figures()
            print(name, steps[name], flush=True)
        baseline: dict[str, Any] | None = None
        if not args.no_baseline:
            measured = run_script([str(ROOT / "benchmarks" / "febrl_splink_baseline.py"), "--no-write", "--extracts",
                                   str(work / "extracts")])  # fmt: skip
            baseline = {**measured.figures(), "pairs": json.loads(measured.stdout.strip().splitlines()[-1])}
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    evaluation = outputs["evaluate"]
    quality = {pair: evaluation["pairs"][pair] for pair in TARGETS}
    met = {pair: (quality[pair]["f1"] or 0.0) >= target for pair, target in TARGETS.items()}
    result = {
        "benchmark": "febrl",
        "when": now(),
        "commit": commit(),
        "machine": machine(),
        "command": "python benchmarks/bench_febrl.py" + (f" --limit {args.limit}" if args.limit else ""),
        "spec": str(SPEC.relative_to(ROOT)),
        "records": outputs["setup"]["records"],
        "targets_f1": TARGETS,
        "targets_met": met,
        "linkhaven": {
            "pairs": quality,
            "clusters_by_source": evaluation.get("clusters_by_source", {}),
            "clusters": evaluation.get("clusters"),
            "coverage": evaluation.get("coverage"),
            "link_run": outputs["link"],
            "intake": outputs["intake"],
        },
        "steps": steps,
        "plain_splink": baseline,
    }
    for pair in TARGETS:
        ours = quality[pair]
        line = f"{pair:18} linkhaven P {ours['precision']} R {ours['recall']} F1 {ours['f1']}"
        if baseline is not None:
            theirs = baseline["pairs"][pair]
            line += f"   plain Splink P {theirs['precision']} R {theirs['recall']} F1 {theirs['f1']}"
        print(line)
    if args.limit is None:
        write_result("febrl", result)
    else:
        print(json.dumps(result, indent=1, default=str)[:3000])
    if not all(met.values()):
        raise SystemExit(f"targets not met: {met}")


if __name__ == "__main__":
    main()
