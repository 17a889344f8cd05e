"""CLI: suspension, assessments, incidents, retention and destruction, and the review pack."""

from __future__ import annotations

import tempfile
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import typer

from linkhaven.cli._common import JSON_OPTION, check_out, emit_json, emit_table, iso_date, parse_date, service

project_app = typer.Typer(help="Suspend or resume the project (an IPC order).", no_args_is_help=True)
assessment_app = typer.Typer(help="Privacy impact and threat-risk assessments.", no_args_is_help=True)
incident_app = typer.Typer(help="The incident and breach register.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention periods and secure destruction.", no_args_is_help=True)
oversight_app = typer.Typer(help="Evidence for the Information and Privacy Commissioner.", no_args_is_help=True)

NO_PI = "Describe what happened without personal information (no names, numbers or dates of birth)."


def register(app: typer.Typer) -> None:
    app.add_typer(project_app, name="project")
    app.add_typer(assessment_app, name="assessment")
    app.add_typer(incident_app, name="incident")
    app.add_typer(retention_app, name="retention")
    app.add_typer(oversight_app, name="oversight")


@project_app.command("suspend")
def suspend(ctx: typer.Context, reason: str = typer.Option(..., "--reason", help="Why (e.g. the IPC order).")) -> None:
    """Stop every collection, linkage, release and disclosure until resumed."""
    service().call("POST", "/project/suspend", json={"reason": reason})
    typer.echo("Project suspended: collection, linkage, release and disclosure are halted.")


@project_app.command("resume")
def resume(ctx: typer.Context, reason: str = typer.Option(..., "--reason", help="Why it may resume.")) -> None:
    """Lift a suspension."""
    service().call("POST", "/project/resume", json={"reason": reason})
    typer.echo("Project resumed.")


@assessment_app.command("add")
def assessment_add(
    ctx: typer.Context,
    kind: str = typer.Option(..., "--kind", help="pia or tra."),
    title: str = typer.Option(..., "--title", help="The assessment's title."),
    completed: str = typer.Option(..., "--date", help="Completion date, YYYY-MM-DD."),
    reference: str = typer.Option("", "--reference", help="Document reference."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Record a completed privacy impact or threat-risk assessment (privacy officer)."""
    body = {"kind": kind, "title": title, "completed_on": parse_date(completed, "--date").isoformat(),
            "reference": reference}  # fmt: skip
    record = service().call("POST", "/assessments", json=body)
    emit_json(record) if json_out else typer.echo(f"Assessment {record['id']} ({kind}) recorded.")


@assessment_app.command("list")
def assessment_list(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """List recorded assessments."""
    rows = service().call("GET", "/assessments")
    emit_json(rows) if json_out else emit_table("Assessments", rows)


def _change(
    description: str | None,
    containment: str | None,
    lessons: str | None,
    people: int | None,
    individuals: str | None,
    ipc: str | None,
    data: list[str] | None,
) -> dict[str, Any]:
    """The fields of the library's `IncidentChange` that were given."""
    change = {
        "description": description,
        "containment": containment,
        "lessons": lessons,
        "people_affected": people,
        "individuals_notified_on": iso_date(individuals, "--individuals-notified"),
        "ipc_notified_on": iso_date(ipc, "--ipc-notified"),
        "data_affected": data or None,
    }
    return {name: value for name, value in change.items() if value is not None}


DESCRIPTION = typer.Option(None, "--description", help=NO_PI)
CONTAINMENT = typer.Option(None, "--containment", help="What was done to contain it.")
LESSONS = typer.Option(None, "--lessons", help="Lessons learned.")
PEOPLE = typer.Option(None, "--people-affected", help="How many people were affected (a count).")
INDIVIDUALS = typer.Option(None, "--individuals-notified", help="Date individuals were notified, YYYY-MM-DD.")
IPC = typer.Option(None, "--ipc-notified", help="Date the IPC was notified, YYYY-MM-DD.")
DATA = typer.Option(None, "--data", help="Data affected: a zone, release or delivery id (repeat).")


@incident_app.command("open")
def incident_open(
    ctx: typer.Context,
    title: str = typer.Option(..., "--title", help="Short title, without personal information."),
    found: str = typer.Option(..., "--found", help="Date found, YYYY-MM-DD."),
    description: str | None = DESCRIPTION,
    containment: str | None = CONTAINMENT,
    people: int | None = PEOPLE,
    data: list[str] | None = DATA,
) -> None:
    """Open an incident (privacy officer)."""
    change = _change(description, containment, None, people, None, None, data)
    body = {"title": title, "found_on": parse_date(found, "--found").isoformat(), "change": change}
    incident_id = service().call("POST", "/incidents", json=body)["id"]
    typer.echo(f"Incident {incident_id} opened.")


@incident_app.command("update")
def incident_update(
    ctx: typer.Context,
    incident_id: str = typer.Argument(..., help="Incident id, e.g. I0001."),
    description: str | None = DESCRIPTION,
    containment: str | None = CONTAINMENT,
    lessons: str | None = LESSONS,
    people: int | None = PEOPLE,
    individuals: str | None = INDIVIDUALS,
    ipc: str | None = IPC,
    data: list[str] | None = DATA,
) -> None:
    """Record containment, notifications and lessons."""
    change = _change(description, containment, lessons, people, individuals, ipc, data)
    service().call("POST", f"/incidents/{incident_id}", json={"change": change})
    typer.echo(f"Incident {incident_id} updated.")


@incident_app.command("close")
def incident_close(
    ctx: typer.Context,
    incident_id: str = typer.Argument(..., help="Incident id."),
    lessons: str | None = LESSONS,
) -> None:
    """Close an incident."""
    change = _change(None, None, lessons, None, None, None, None)
    service().call("POST", f"/incidents/{incident_id}", json={"change": change, "close": True})
    typer.echo(f"Incident {incident_id} closed.")


@incident_app.command("list")
def incident_list(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """List incidents."""
    rows = service().call("GET", "/incidents")
    emit_json(rows) if json_out else emit_table(
        "Incidents", rows, ["id", "title", "status", "found_on", "people_affected"]
    )


AS_OF = typer.Option(None, "--as-of", help="Judge expiry as of this date, YYYY-MM-DD (default: today).")


@retention_app.command("status")
def retention_status(ctx: typer.Context, as_of: str | None = AS_OF, json_out: bool = JSON_OPTION) -> None:
    """Every zone, release and publication with its retain-until date, and what is due."""
    day = parse_date(as_of, "--as-of") if as_of else date.today()
    rows = service().call("GET", "/retention", params={"as_of": day.isoformat()})
    emit_json(rows) if json_out else emit_table(f"Retention as of {day}", rows)


@retention_app.command("run")
def retention_run(
    ctx: typer.Context,
    as_of: str | None = typer.Option(
        None, "--as-of", help="Dry run: show what a run on this date, YYYY-MM-DD, would destroy; destroy nothing."
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Destroy what has expired by today (zone key first, then files) and write destruction certificates (admin).

    Nothing is destroyed before its date: with --as-of the run is a dry run and only lists what that date
    would destroy."""
    if as_of is not None:
        day = parse_date(as_of, "--as-of")
        due = service().call("GET", "/retention/preview", params={"as_of": day.isoformat()})
        if json_out:
            emit_json({"dry_run": True, "as_of": day.isoformat(), "destroyed": [], "would_destroy": due})
            return
        typer.echo(f"Dry run as of {day}: nothing was destroyed. Destruction happens only on or after the real date.")
        for item in due:
            typer.echo(f"Would destroy {item['kind']} {item['target']} (retained until {item['retain_until']}).")
        if not due:
            typer.echo("Nothing would be due on that date.")
        return
    certificates = service().call("POST", "/retention/run")
    if json_out:
        emit_json(certificates)
        return
    for c in certificates:
        typer.echo(f"Destroyed {c['kind']} {c['target']}: certificate {c['id']} ({c['files']} files).")
    if not certificates:
        typer.echo("Nothing is due today.")


@oversight_app.command("pack")
def oversight_pack(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="New folder for the pack, outside any workspace."),
    period_from: str | None = typer.Option(None, "--from", help="Start of the review period, YYYY-MM-DD."),
    period_to: str | None = typer.Option(None, "--to", help="End of the review period, YYYY-MM-DD."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Write the review pack for the Commissioner: registers, audit verification, notices, reports, index."""
    check_out(out, folder=True, what="the review pack")
    period = {"period_from": iso_date(period_from, "--from"), "period_to": iso_date(period_to, "--to")}
    with tempfile.TemporaryDirectory(prefix="linkhaven-pack-") as folder:
        archive = Path(folder) / "review-pack.zip"
        files = service().download("/oversight/pack", archive, **period)["X-Files"]
        with zipfile.ZipFile(archive) as pack:
            out.mkdir(parents=True, exist_ok=True)
            pack.extractall(out)
    summary = {"folder": str(out), "index": str(out / "index.html"), "files": int(files)}
    emit_json(summary) if json_out else typer.echo(f"Review pack written to {out} ({summary['files']} files).")
