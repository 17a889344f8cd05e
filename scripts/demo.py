"""`make demo` / `make demo-febrl`: the whole pipeline of an example project on data it makes, under
demo/ or demo-febrl/ (git-ignored).

    python scripts/demo.py                     # Ontario children in care, synthetic extracts -> demo/
    python scripts/demo.py --project febrl     # the FEBRL benchmark (docs/example-febrl.md) -> demo-febrl/

Every step is a real `linkhaven` command run as the user of the role that would run it, so any
step can be replayed by hand, e.g. `LINKHAVEN_USER=linker linkhaven -w demo/workspace link`.
The figures of every stage are collected into <folder>/summary.json. A project differs only in
what its `Project` below declares: its spec, how its extracts are made, its governance paperwork,
and which release sections are read by an analyst and published.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCALE = os.environ.get("LINKHAVEN_DEMO_SCALE", "0.002")
SEED = "20261124"
ROLES = ["steward", "linker", "deidentifier", "privacy_officer", "analyst"]


@dataclass(frozen=True)
class Agreement:
    name: str
    parties: tuple[str, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Project:
    name: str
    spec: Path
    folder: Path
    make_extracts: Callable[[Project, Path], object]
    """Writes one CSV per source and truth.csv into the folder given; returns the stage's figures."""
    sources: tuple[str, ...]
    assessments: tuple[tuple[str, str, str], ...]
    """(kind, title, reference)."""
    notice_date: str
    collection: tuple[Agreement, ...]
    disclosure: Agreement
    """The analysts' agreement for de-identified data; its first party is the recipient."""
    analyst_release: str
    publication_release: str
    """The release section the indicator tables are published from (may equal analyst_release)."""
    in_force: tuple[str, str] = ("2024-07-26", "2029-03-31")
    assessed_on: str = "2024-06-28"
    extracts_stage: str = "extracts"


def synth_extracts(project: Project, out: Path) -> object:
    return linkhaven(project, "admin", "synth", "--scale", SCALE, "--seed", SEED, "--out", str(out), "--json",
                     workspace=False)  # fmt: skip


def febrl_extracts(project: Project, out: Path) -> object:
    command = [sys.executable, str(ROOT / "scripts" / "febrl_extracts.py"), "--out", str(out)]
    limit = os.environ.get("LINKHAVEN_DEMO_LIMIT")
    if limit:
        command += ["--limit", limit]
    print(f"$ python scripts/febrl_extracts.py --out {out.relative_to(ROOT)}", flush=True)
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        sys.exit("demo stopped: the extracts could not be written")
    return {"files": done.stdout.strip().splitlines()}


PROJECTS = {
    "ontario": Project(
        name="ontario",
        spec=ROOT / "projects" / "ontario-children-in-care.yaml",
        folder=ROOT / "demo",
        make_extracts=synth_extracts,
        sources=("onsis", "eqao", "cpin"),
        assessments=(
            ("pia", "Children in care and education PIA", "MCCSS-IMDIU-PIA-2024"),
            ("tra", "IMDIU platform TRA", "MCCSS-IMDIU-TRA-2024"),
        ),  # fmt: skip
        notice_date="2025-07-11",
        collection=(
            Agreement("MCCSS CPIN extract for data integration", ("MCCSS Child Welfare", "MCCSS IMDIU"), ("cpin",)),
            Agreement(
                "EDU OnSIS and EQAO extracts for data integration",
                ("Ministry of Education", "MCCSS IMDIU"),
                ("onsis", "eqao"),
            ),
        ),  # fmt: skip
        disclosure=Agreement("Analysts: de-identified panel", ("division_analysts",), ("onsis", "eqao", "cpin")),
        analyst_release="analyst_panel",
        publication_release="publication_base",
        extracts_stage="synth",
    ),
    "febrl": Project(
        name="febrl",
        spec=ROOT / "projects" / "febrl.yaml",
        folder=ROOT / "demo-febrl",
        make_extracts=febrl_extracts,
        sources=("febrl4_a", "febrl4_b", "febrl3"),
        assessments=(("pia", "FEBRL linkage rehearsal PIA", "LMRU-PIA-2025"),),
        notice_date="2025-01-15",
        collection=(
            Agreement("FEBRL benchmark files", ("FEBRL benchmark", "LMRU"), ("febrl4_a", "febrl4_b", "febrl3")),
        ),  # fmt: skip
        disclosure=Agreement(
            "Analysts: de-identified FEBRL panels", ("methods_analysts",), ("febrl4_a", "febrl4_b", "febrl3")
        ),  # fmt: skip
        analyst_release="linked_panel",
        publication_release="registry_panel",
        in_force=("2025-01-01", "2029-12-31"),
        assessed_on="2024-12-16",
    ),
}

summary: dict[str, Any] = {"stages": {}}


def linkhaven(project: Project, user: str, *args: str, workspace: bool = True, parse: bool = True) -> Any:
    """Run one command as `user`; stop the demo with the command's own message if it fails."""
    where = project.folder / "workspace"
    command = [sys.executable, "-m", "linkhaven", *(["-w", str(where)] if workspace else []), *args]
    env = {**os.environ, "LINKHAVEN_USER": user, "LINKHAVEN_KEYS": str(project.folder / "keys")}
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
    summary["stages"][name] = figures


def _figure(value: object) -> str:
    return "  n/a " if value is None else f"{float(value):.4f}"  # type: ignore[arg-type]


def run(project: Project) -> None:
    demo, extracts, keys, reports = (project.folder, project.folder / "extracts", project.folder / "keys",
                                     project.folder / "reports")  # fmt: skip
    workspace = demo / "workspace"
    shutil.rmtree(demo, ignore_errors=True)
    demo.mkdir()
    reports.mkdir()
    summary.update(project=project.name, spec=str(project.spec.relative_to(ROOT)))
    if project.name == "ontario":
        summary.update(scale=float(SCALE), seed=int(SEED))

    def cli(user: str, *args: str, workspace: bool = True, parse: bool = True) -> Any:
        return linkhaven(project, user, *args, workspace=workspace, parse=parse)

    stage(project.extracts_stage, project.make_extracts(project, extracts))

    spec = str(project.spec)
    cli("admin", "spec", "check", spec, workspace=False, parse=False)
    for fmt in ("md", "html"):
        out = reports / f"notice.{fmt}"
        cli("admin", "notice", "render", "--spec", spec, "--format", fmt, "--out", str(out), workspace=False,
            parse=False)  # fmt: skip

    stage("init", cli("admin", "init", str(workspace), "--spec", spec, "--keys", str(keys), "--json",
                      workspace=False))  # fmt: skip
    for role in ROLES:
        cli("admin", "user", "add", role, "--role", role, parse=False)

    first, last = project.in_force
    assessments = [
        cli("privacy_officer", "assessment", "add", "--kind", kind, "--title", title, "--date", project.assessed_on,
            "--reference", reference, "--json")
        for kind, title, reference in project.assessments
    ]  # fmt: skip
    notice = cli("privacy_officer", "notice", "publish", "--date", project.notice_date, "--json")
    agreements = []
    for agreement in project.collection:
        parties = [word for party in agreement.parties for word in ("--party", party)]
        sources = [word for source in agreement.sources for word in ("--source", source)]
        agreements.append(cli("privacy_officer", "agreement", "add", "--name", agreement.name, *parties, *sources,
                              "--from", first, "--to", last, "--json"))  # fmt: skip
    stage("governance", {"assessments": assessments, "notice": notice, "agreements": agreements})

    deliveries = {
        source: cli("steward", "intake", "--source", source, str(extracts / f"{source}.csv"), "--json")
        for source in project.sources
    }
    stage("intake", deliveries)

    stage("link", cli("linker", "link", "--json"))
    evaluation = cli("linker", "link", "evaluate", "--truth", str(extracts / "truth.csv"), "--json")
    stage("link_evaluation", evaluation)

    disclosure = project.disclosure
    parties = [word for party in disclosure.parties for word in ("--party", party)]
    sources = [word for source in disclosure.sources for word in ("--source", source)]
    disclosure_agreement = cli("privacy_officer", "agreement", "add", "--kind", "disclosure", "--name",
                               disclosure.name, *parties, "--class", "deidentified", *sources, "--from", first,
                               "--to", last, "--json")  # fmt: skip
    release = cli("deidentifier", "release", "create", "--spec-section", project.analyst_release, "--json")
    release_id = str(release["id"])
    cli("privacy_officer", "release", "approve", release_id, parse=False)
    cli("privacy_officer", "release", "grant", release_id, "--user", "analyst", parse=False)
    analyst_copy = demo / "analyst" / "panel.parquet"
    cli("analyst", "release", "read", release_id, "--out", str(analyst_copy), parse=False)
    stage("release", {"agreement": disclosure_agreement,
                      "release": cli("privacy_officer", "release", "show", release_id, "--json")})  # fmt: skip

    if project.publication_release == project.analyst_release:
        base_id = release_id
    else:  # the indicator tables come from their own release (docs/publication.md)
        base = cli("deidentifier", "release", "create", "--spec-section", project.publication_release, "--json")
        base_id = str(base["id"])
        cli("privacy_officer", "release", "approve", base_id, parse=False)
    stage("publish", cli("deidentifier", "publish", "--release", base_id, "--json"))

    stage("retention", cli("privacy_officer", "retention", "status", "--json"))
    stage("audit", cli("privacy_officer", "audit", "verify", "--json"))
    stage("oversight", cli("privacy_officer", "oversight", "pack", "--out", str(demo / "oversight-pack"), "--json"))

    (demo / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print()
    print("Linkage against the truth file:")
    for pair, figures in evaluation["pairs"].items():
        if figures["status"] != "measured":
            continue
        print(f"  {pair:20} precision {_figure(figures['precision'])}  recall {_figure(figures['recall'])}  "
              f"f1 {_figure(figures['f1'])}")  # fmt: skip
    print()
    print("Demo complete. Outputs:")
    print(f"  extracts and truth:           {extracts.relative_to(ROOT)}/")
    print(f"  keys (outside the workspace): {keys.relative_to(ROOT)}/")
    print(f"  workspace (encrypted zones):  {workspace.relative_to(ROOT)}/")
    print(f"  public notice:                {reports.relative_to(ROOT)}/notice.md, notice.html")
    stages: dict[str, Any] = summary["stages"]
    print(f"  linkage report:               {Path(stages['link']['report_html']).relative_to(ROOT)}")
    print(f"  release for analysts:         {analyst_copy.relative_to(ROOT)} (the analyst's audited copy)")
    publication = Path(stages["publish"]["folder"]).relative_to(ROOT)
    print(f"  publication (tables, audit):  {publication}/")
    print(f"  reports:                      {publication}/report.html, report-young-readers.html")
    print(f"  review pack for the IPC:      {(demo / 'oversight-pack').relative_to(ROOT)}/index.html")
    print(f"  figures of every stage:       {(demo / 'summary.json').relative_to(ROOT)}")
    print(f"Replay any step, e.g.: LINKHAVEN_USER=privacy_officer LINKHAVEN_KEYS={keys.relative_to(ROOT)} "
          f".venv/bin/linkhaven -w {workspace.relative_to(ROOT)} audit show")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", choices=sorted(PROJECTS), default="ontario")
    run(PROJECTS[parser.parse_args().project])


if __name__ == "__main__":
    main()
