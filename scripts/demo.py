"""`make demo` / `make demo-febrl`: the whole pipeline of an example project on data it makes, under
demo/ or demo-febrl/ (git-ignored).

    python scripts/demo.py                     # Ontario children in care, synthetic extracts -> demo/
    python scripts/demo.py --project febrl     # the FEBRL benchmark (docs/example-febrl.md) -> demo-febrl/

It runs the unit as a unit would: on the "server machine" the admin creates the workspace and its
keys (`init`), gives each user a password and, for the roles that need one, an authenticator
(`account`), and starts `linkhaven serve` on 127.0.0.1 with the demo keys. Each user then signs in
(`login`, with their authenticator's code where required) and every stage is a real `linkhaven`
command they run as a client of the service, each in their own configuration folder
(<folder>/clients/<user>/, where their token is kept); no client holds a key or sets LINKHAVEN_USER.
The service is stopped at the end, and its log and audit log are searched for sampled personal values.

The figures of every stage are collected into <folder>/summary.json. A project differs only in
what its `Project` below declares: its spec, how its extracts are made, its governance paperwork,
and which release sections are read by an analyst and published.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCALE = os.environ.get("LINKHAVEN_DEMO_SCALE", "0.002")
SEED = "20261124"
ROLES = ["steward", "linker", "deidentifier", "privacy_officer", "analyst"]
SECOND_FACTOR = {"admin", "linker", "privacy_officer"}
SERVER_COMMANDS = {("init",), ("synth",), ("account",), ("serve",), ("spec", "check"), ("notice", "render")}
"""What runs on the server machine (as its admin) rather than as a client of the service."""


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
    print(f"$ python scripts/febrl_extracts.py --out {shown(out)}", flush=True)
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


def linkhaven(
    project: Project,
    user: str,
    *args: str,
    workspace: bool = True,
    parse: bool = True,
    stdin: str | None = None,
    expect: int = 0,
) -> Any:
    """Run one command as `user`: on the server machine for the commands that run there, else as a
    client of the service signed in as them. Stop the demo with the command's own message if it does
    not end with `expect` (0, or 3 for a refusal the demo shows)."""
    where = project.folder / "workspace"
    on_server = args[:1] in SERVER_COMMANDS or args[:2] in SERVER_COMMANDS
    command = [sys.executable, "-m", "linkhaven", *(["-w", str(where)] if workspace and on_server else []), *args]
    env = {k: v for k, v in os.environ.items() if k not in ("LINKHAVEN_USER", "LINKHAVEN_KEYS", "LINKHAVEN_CONFIG")}
    if on_server:
        env["LINKHAVEN_USER"] = "admin"  # the server machine's administrator
        prompt = f"[server, admin] $ {' '.join(['linkhaven', *command[3:]])}"
    else:
        env["LINKHAVEN_CONFIG"] = str(project.folder / "clients" / user)
        prompt = f"[{user}] $ {' '.join(['linkhaven', *command[3:]])}"
    print(prompt.replace(str(ROOT) + "/", ""), flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT, input=stdin)
    if done.returncode != expect:
        sys.stderr.write(done.stdout + done.stderr)
        sys.exit(f"demo stopped: the command above exited with {done.returncode}")
    if expect:
        print(f"  refused, as it must be: {done.stderr.strip()[:160]}", flush=True)
        return done.stdout + done.stderr
    print(f"  ok ({time.perf_counter() - started:.1f} s)", flush=True)
    return json.loads(done.stdout) if parse else done.stdout


def shown(path: Path) -> str:
    """A path as the demo prints it: relative to the repository when it is inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def service(project: Project, port: int) -> Iterator[str]:
    """`linkhaven serve` on 127.0.0.1 with the demo keys, its log in <folder>/service.log; stopped after."""
    folder = project.folder
    command = [sys.executable, "-m", "linkhaven", "-w", str(folder / "workspace"), "serve", "--keys",
               str(folder / "keys"), "--port", str(port)]  # fmt: skip
    print(f"[server, admin] $ linkhaven -w {shown(folder / 'workspace')} serve --keys "
          f"{shown(folder / 'keys')} --port {port} &", flush=True)  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("LINKHAVEN_USER", "LINKHAVEN_KEYS")}
    with (folder / "service.log").open("wb") as log:
        server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                if server.poll() is not None:
                    sys.exit(f"demo stopped: the service did not start (see {folder / 'service.log'})")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    time.sleep(0.1)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=60)
            print("[server, admin] service stopped", flush=True)


def give_account(project: Project, user: str) -> dict[str, str]:
    """On the server machine: a password for `user` (and an authenticator where their role needs one),
    kept for the demo in <folder>/clients/<user>/ (mode 0600), as a real user would keep their own."""
    folder = project.folder / "clients" / user
    folder.mkdir(parents=True, mode=0o700, exist_ok=True)
    password = secrets.token_urlsafe(18)
    linkhaven(project, "admin", "account", "set-password", user, "--keys", str(project.folder / "keys"),
              "--password-stdin", parse=False, stdin=password + "\n")  # fmt: skip
    (folder / "password").touch(mode=0o600)
    (folder / "password").write_text(password + "\n")
    account = {"password": password}
    if user in SECOND_FACTOR:
        uri_file = folder / "authenticator.uri"
        linkhaven(project, "admin", "account", "enrol", user, "--keys", str(project.folder / "keys"),
                  "--secret-out", str(uri_file), parse=False)  # fmt: skip
        account["uri"] = uri_file.read_text().strip()
    return account


def sign_in(project: Project, url: str, user: str, account: dict[str, str]) -> None:
    """`linkhaven login` as `user`, with their authenticator's current code where their role needs one."""
    args = ["login", "--server", url, "--name", user, "--password-stdin"]
    if "uri" in account:
        import pyotp

        args += ["--code", pyotp.parse_uri(account["uri"]).now()]
    linkhaven(project, user, *args, parse=False, stdin=account["password"] + "\n")


def sampled_values(project: Project, extracts: Path, every: int = 97) -> set[str]:
    """The direct identifiers (as the spec declares them) of every 97th record of each extract, of
    5 characters or more so that no short code matches by chance: what must never reach a log."""
    from linkhaven.spec import load_spec

    spec = load_spec(project.spec)
    found: set[str] = set()
    for source in project.sources:
        columns = [f.column for f in spec.sources[source].fields if f.role == "direct_identifier"]
        declared = str(spec.sources[source].format.encoding)
        encoding = "cp1252" if declared == "detect" else declared
        with (extracts / f"{source}.csv").open(encoding=encoding, errors="replace", newline="") as handle:
            for number, row in enumerate(csv.DictReader(handle)):
                if number % every == 0:
                    found |= {row[c].strip() for c in columns if len((row.get(c) or "").strip()) >= 5}
    return found


def secrets_given(project: Project) -> set[str]:
    """Every user's password, authenticator secret and token, as the demo kept them."""
    found: set[str] = set()
    for folder in (project.folder / "clients").iterdir():
        found.add((folder / "password").read_text().strip())
        if (folder / "authenticator.uri").exists():
            found.add(re.sub(r".*secret=([A-Z2-7]+).*", r"\1", (folder / "authenticator.uri").read_text().strip()))
        if (folder / "session.json").exists():
            found.add(json.loads((folder / "session.json").read_text())["token"])
    return found


def leak_check(project: Project, extracts: Path, events: list[dict[str, Any]], refusals: list[str]) -> dict[str, Any]:
    """Search the service's log, the values of every audit event and what refused commands printed for
    the sampled identifiers and for every password, authenticator secret and token, each as a whole
    word (a name inside a longer word, e.g. 'alisa' in 'generalisation', is not a leak)."""
    values = sampled_values(project, extracts) | secrets_given(project)
    audit_values = [str(e.get(k)) for e in events for k in ("actor", "object")]
    audit_values += [json.dumps(list(e.get("detail", {}).values())) for e in events]
    texts = {"service log": (project.folder / "service.log").read_text(errors="replace"),
             "audit log": "\n".join(audit_values), "refused requests": "\n".join(refusals)}  # fmt: skip
    found = {}
    for where, text in texts.items():
        hits = [v for v in values if re.search(rf"(?<![\w]){re.escape(v)}(?![\w])", text)]
        if hits:
            found[where] = len(hits)
    if found:
        sys.exit(f"demo stopped: sampled personal values or secrets were found in {found}")
    return {"values_sampled": len(values), "searched": sorted(texts), "found": 0}


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

    def cli(user: str, *args: str, workspace: bool = True, parse: bool = True, expect: int = 0) -> Any:
        return linkhaven(project, user, *args, workspace=workspace, parse=parse, expect=expect)

    stage(project.extracts_stage, project.make_extracts(project, extracts))

    spec = str(project.spec)
    cli("admin", "spec", "check", spec, workspace=False, parse=False)
    for fmt in ("md", "html"):
        out = reports / f"notice.{fmt}"
        cli("admin", "notice", "render", "--spec", spec, "--format", fmt, "--out", str(out), workspace=False,
            parse=False)  # fmt: skip

    stage("init", cli("admin", "init", str(workspace), "--spec", spec, "--keys", str(keys), "--json",
                      workspace=False))  # fmt: skip
    accounts = {"admin": give_account(project, "admin")}
    with service(project, free_port()) as url:
        sign_in(project, url, "admin", accounts["admin"])
        for role in ROLES:
            cli("admin", "user", "add", role, "--role", role, parse=False)
            accounts[role] = give_account(project, role)
            sign_in(project, url, role, accounts[role])
        evaluation, analyst_copy, events, refusals = pipeline(project, cli)
    stage("leak_check", leak_check(project, extracts, events, refusals))
    report(project, evaluation, analyst_copy)


def pipeline(project: Project, cli: Callable[..., Any]) -> tuple[dict[str, Any], Path, list[dict[str, Any]], list[str]]:
    """Every stage, each run by the user of its role as a client of the service."""
    demo, extracts = project.folder, project.folder / "extracts"
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
    refusals = [  # the roles are enforced by the service, whatever a client sends
        cli("analyst", "link", "review", "list", expect=3),
        cli("analyst", "quarantine", "export", "--delivery", "D0001", "--out", str(demo / "refused.csv"), expect=3),
        cli("steward", "release", "read", release_id, "--out", str(demo / "refused.parquet"), expect=3),
        cli("deidentifier", "release", "approve", release_id, expect=3),
    ]
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
    events = cli("privacy_officer", "audit", "show", "--limit", "1000000", "--json")
    return evaluation, analyst_copy, events, refusals


def report(project: Project, evaluation: dict[str, Any], analyst_copy: Path) -> None:
    demo, extracts, keys, reports = (project.folder, project.folder / "extracts", project.folder / "keys",
                                     project.folder / "reports")  # fmt: skip
    workspace = demo / "workspace"
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
    print(f"  extracts and truth:           {shown(extracts)}/")
    print(f"  keys (outside the workspace): {shown(keys)}/")
    print(f"  workspace (encrypted zones):  {shown(workspace)}/")
    print(f"  public notice:                {shown(reports)}/notice.md, notice.html")
    stages: dict[str, Any] = summary["stages"]
    print(f"  linkage report:               {shown(Path(stages['link']['report_html']))}")
    print(f"  release for analysts:         {shown(analyst_copy)} (the analyst's audited copy)")
    publication = shown(Path(stages["publish"]["folder"]))
    print(f"  publication (tables, audit):  {publication}/")
    print(f"  reports:                      {publication}/report.html, report-young-readers.html")
    print(f"  review pack for the IPC:      {shown(demo / 'oversight-pack')}/index.html")
    print(f"  figures of every stage:       {shown(demo / 'summary.json')}")
    print(f"  service log (searched):       {shown(demo / 'service.log')}")
    print("Replay any step: start the service, then run a command as a signed-in user, e.g.")
    print(f"  .venv/bin/linkhaven -w {shown(workspace)} serve --keys {shown(keys)} &")
    officer = shown(demo / "clients" / "privacy_officer")
    print(f"  LINKHAVEN_CONFIG={officer} .venv/bin/linkhaven audit show")
    print(
        f"  (sign in again with `linkhaven login --server URL --name USER`; demo passwords are in "
        f"{shown(demo / 'clients')}/USER/password)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", choices=sorted(PROJECTS), default="ontario")
    parser.add_argument("--out", type=Path, help="Folder to write into (default: demo/ or demo-febrl/).")
    args = parser.parse_args()
    project = PROJECTS[args.project]
    run(dataclasses.replace(project, folder=args.out.resolve()) if args.out else project)


if __name__ == "__main__":
    main()
