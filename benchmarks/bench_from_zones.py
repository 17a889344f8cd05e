"""Benchmark the stages after linkage on real zones: release and publication from a linked workspace.

`bench_deid.py` and `bench_publish.py` time the engines on panels generated for them, because a
scale-1 approved release needs the whole pipeline first. This one takes that pipeline's output:
the workspace `bench_link.py --keep` leaves (17 million records taken in and linked at scale 1),
and runs the commands a unit would, each as a measured child process:

    linkhaven release create --spec-section analyst_panel   (panel from the zones and the linkage map,
                                                            risk, lattice search, encrypted write)
    linkhaven release approve                               (hashes and risk re-verified from the file)
    linkhaven publish --release                             (indicators, suppression, attacker audit)

    .venv/bin/python benchmarks/bench_link.py --scale 1 --keep --no-baseline
    .venv/bin/python benchmarks/bench_from_zones.py --scale 1

Results go to benchmarks/results/from-zones-scale<S>.json. The workspace is left in place.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from _measure import RESULTS, ROOT, WORK, commit, machine, now, run_measured

LIMITS = {"release": {"wall_seconds": 300, "peak_rss_gib": 8.0}, "publish": {"wall_seconds": 180}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="1", help="The scale of the kept bench_link.py workspace to use.")
    args = parser.parse_args()
    work = WORK / f"link-scale{args.scale}"
    workspace, keys = work / "ws", work / "keys"
    if not (workspace / "workspace.json").exists():
        sys.exit(f"no linked workspace at {workspace}: run bench_link.py --scale {args.scale} --keep first")
    w = ["-w", str(workspace)]

    def as_user(user: str, *command: str) -> Any:
        measured = run_measured([*w, *command], {"LINKHAVEN_USER": user, "LINKHAVEN_KEYS": str(keys)})
        return measured, (json.loads(measured.stdout) if "--json" in command else None)

    users = as_user("privacy_officer", "user", "list", "--json")[1]
    if not any(u["name"] == "deidentifier" for u in users):
        as_user("admin", "user", "add", "deidentifier", "--role", "deidentifier")
    as_user("privacy_officer", "agreement", "add", "--kind", "disclosure", "--name", "benchmark analysts",
            "--party", "division_analysts", "--class", "deidentified", "--source", "onsis", "--source", "eqao",
            "--source", "cpin", "--from", "2024-07-26", "--to", "2099-12-31")  # fmt: skip

    created, release = as_user("deidentifier", "release", "create", "--spec-section", "analyst_panel", "--json")
    print("release create", created.figures(), flush=True)
    approved, _ = as_user("privacy_officer", "release", "approve", release["id"])
    print("release approve", approved.figures(), flush=True)
    published, publication = as_user("deidentifier", "publish", "--release", release["id"], "--json")
    print("publish", published.figures(), flush=True)

    report = json.loads((ROOT / release["report_json"]).read_text()) if "report_json" in release else {}
    result = {
        "benchmark": "from-zones",
        "measured_at": now(),
        "commit": commit(),
        "scale": float(args.scale),
        "input": f"the workspace bench_link.py --scale {args.scale} --keep leaves: intake and linkage at this scale",
        "release_create": {
            **created.figures(),
            "limits": LIMITS["release"],
            "within_limits": created.seconds <= LIMITS["release"]["wall_seconds"]
            and created.peak_rss_gib <= LIMITS["release"]["peak_rss_gib"],
            "release": release,
            "timings_seconds": report.get("timings_seconds"),
        },
        "release_approve": approved.figures(),
        "publish": {
            **published.figures(),
            "limits": LIMITS["publish"],
            "within_limits": published.seconds <= LIMITS["publish"]["wall_seconds"],
            "publication": publication,
        },
        "machine": machine(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"from-zones-scale{args.scale}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
