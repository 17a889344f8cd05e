"""`make demo`: the whole pipeline on small synthetic data, under demo/ (git-ignored).

Every step is a real `linkhaven` command run as the user of the role that would run it, so any
step can be replayed by hand, e.g. `LINKHAVEN_USER=linker linkhaven -w demo/workspace link`.
The figures of every stage are collected into demo/summary.json.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo"
EXTRACTS = DEMO / "extracts"
KEYS = DEMO / "keys"
WORKSPACE = DEMO / "workspace"
REPORTS = DEMO / "reports"
SPEC = ROOT / "projects" / "ontario-children-in-care.yaml"
SCALE = os.environ.get("LINKHAVEN_DEMO_SCALE", "0.002")
SEED = "20261124"
ROLES = ["steward", "linker", "deidentifier", "privacy_officer", "analyst"]

summary: dict[str, object] = {"scale": float(SCALE), "seed": int(SEED), "stages": {}}


def linkhaven(user: str, *args: str, workspace: bool = True, parse: bool = True) -> object:
    """Run one command as `user`; stop the demo with the command's own message if it fails."""
    command = [sys.executable, "-m", "linkhaven", *(["-w", str(WORKSPACE)] if workspace else []), *args]
    env = {**os.environ, "LINKHAVEN_USER": user, "LINKHAVEN_KEYS": str(KEYS)}
    shown = " ".join(["linkhaven", *command[3:]]).replace(str(ROOT) + "/", "")
    print(f"$ LINKHAVEN_USER={user} {shown}", flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        sys.exit(f"demo stopped: the command above exited with {done.returncode}")
    print(f"  ok ({time.perf_counter() - started:.1f} s)", flush=True)
    return json.loads(done.stdout) if parse else done.stdout


def stage(name: str, figures: object) -> None:
    summary["stages"][name] = figures  # type: ignore[index]


def main() -> None:
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir()
    REPORTS.mkdir()

    stage("synth", linkhaven("admin", "synth", "--scale", SCALE, "--seed", SEED, "--out", str(EXTRACTS), "--json",
                             workspace=False))  # fmt: skip

    linkhaven("admin", "spec", "check", str(SPEC), workspace=False, parse=False)
    for fmt in ("md", "html"):
        out = REPORTS / f"notice.{fmt}"
        linkhaven("admin", "notice", "render", "--spec", str(SPEC), "--format", fmt, "--out", str(out),
                  workspace=False, parse=False)  # fmt: skip

    stage("init", linkhaven("admin", "init", str(WORKSPACE), "--spec", str(SPEC), "--keys", str(KEYS), "--json",
                            workspace=False))  # fmt: skip
    for role in ROLES:
        linkhaven("admin", "user", "add", role, "--role", role, parse=False)

    assessments = [
        linkhaven("privacy_officer", "assessment", "add", "--kind", kind, "--title", title, "--date", "2024-06-28",
                  "--reference", f"MCCSS-IMDIU-{kind.upper()}-2024", "--json")
        for kind, title in (("pia", "Children in care and education PIA"), ("tra", "IMDIU platform TRA"))
    ]  # fmt: skip
    notice = linkhaven("privacy_officer", "notice", "publish", "--date", "2025-07-11", "--json")
    agreements = [
        linkhaven("privacy_officer", "agreement", "add", "--name", "MCCSS CPIN extract for data integration",
                  "--party", "MCCSS Child Welfare", "--party", "MCCSS IMDIU", "--source", "cpin",
                  "--from", "2024-07-26", "--to", "2029-03-31", "--json"),
        linkhaven("privacy_officer", "agreement", "add", "--name", "EDU OnSIS and EQAO extracts for data integration",
                  "--party", "Ministry of Education", "--party", "MCCSS IMDIU", "--source", "onsis", "--source", "eqao",
                  "--from", "2024-07-26", "--to", "2029-03-31", "--json"),
    ]  # fmt: skip
    stage("governance", {"assessments": assessments, "notice": notice, "agreements": agreements})

    deliveries = {
        source: linkhaven("steward", "intake", "--source", source, str(EXTRACTS / f"{source}.csv"), "--json")
        for source in ("onsis", "eqao", "cpin")
    }
    stage("intake", deliveries)

    stage("link", linkhaven("linker", "link", "--json"))
    evaluation = linkhaven("linker", "link", "evaluate", "--truth", str(EXTRACTS / "truth.csv"), "--json")
    stage("link_evaluation", evaluation)

    disclosure_agreement = linkhaven(
        "privacy_officer", "agreement", "add", "--kind", "disclosure", "--name", "Analysts: de-identified panel",
        "--party", "division_analysts", "--class", "deidentified", "--source", "onsis", "--source", "eqao",
        "--source", "cpin", "--from", "2024-07-26", "--to", "2029-03-31", "--json",
    )  # fmt: skip
    release = linkhaven("deidentifier", "release", "create", "--spec-section", "analyst_panel", "--json")
    release_id = str(release["id"])  # type: ignore[index]
    linkhaven("privacy_officer", "release", "approve", release_id, parse=False)
    linkhaven("privacy_officer", "release", "grant", release_id, "--user", "analyst", parse=False)
    analyst_copy = DEMO / "analyst" / "panel.parquet"
    linkhaven("analyst", "release", "read", release_id, "--out", str(analyst_copy), parse=False)
    stage("release", {"agreement": disclosure_agreement, "release": linkhaven("privacy_officer", "release", "show",
                                                                              release_id, "--json")})  # fmt: skip

    # The indicator tables come from their own release, which keeps care status (docs/publication.md).
    base = linkhaven("deidentifier", "release", "create", "--spec-section", "publication_base", "--json")
    linkhaven("privacy_officer", "release", "approve", str(base["id"]), parse=False)  # type: ignore[index]
    stage("publish", linkhaven("deidentifier", "publish", "--release", str(base["id"]), "--json"))  # type: ignore[index]

    stage("retention", linkhaven("privacy_officer", "retention", "status", "--json"))
    stage("audit", linkhaven("privacy_officer", "audit", "verify", "--json"))
    stage(
        "oversight", linkhaven("privacy_officer", "oversight", "pack", "--out", str(DEMO / "oversight-pack"), "--json")
    )

    (DEMO / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    pairs = evaluation["pairs"]  # type: ignore[index]
    print()
    print("Linkage against the synthetic truth:")
    for pair, figures in pairs.items():
        print(
            f"  {pair:12} precision {figures['precision']:.4f}  recall {figures['recall']:.4f}  f1 {figures['f1']:.4f}"
        )
    print()
    print("Demo complete. Outputs:")
    print(f"  synthetic extracts and truth: {EXTRACTS.relative_to(ROOT)}/")
    print(f"  keys (outside the workspace): {KEYS.relative_to(ROOT)}/")
    print(f"  workspace (encrypted zones):  {WORKSPACE.relative_to(ROOT)}/")
    print(f"  public notice:                {REPORTS.relative_to(ROOT)}/notice.md, notice.html")
    stages: dict[str, Any] = summary["stages"]  # type: ignore[assignment]
    print(f"  linkage report:               {Path(stages['link']['report_html']).relative_to(ROOT)}")
    print(f"  release for analysts:         {analyst_copy.relative_to(ROOT)} (the analyst's audited copy)")
    publication = Path(stages["publish"]["folder"]).relative_to(ROOT)
    print(f"  publication (tables, audit):  {publication}/")
    print(f"  reports:                      {publication}/report.html, report-young-readers.html")
    print(f"  review pack for the IPC:      {(DEMO / 'oversight-pack').relative_to(ROOT)}/index.html")
    print(f"  figures of every stage:       {(DEMO / 'summary.json').relative_to(ROOT)}")
    print("Replay any step, e.g.: LINKHAVEN_USER=privacy_officer .venv/bin/linkhaven -w demo/workspace audit show")


if __name__ == "__main__":
    main()
