"""CLI: suspension, assessments, incidents, retention and destruction, and the review pack."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from linkhaven import set_suspended
from linkhaven.cli._common import JSON_OPTION, check_out, emit_json, emit_table, open_workspace, parse_date
from linkhaven.governance import assessments as assessment_lib
from linkhaven.governance import incidents as incident_lib
from linkhaven.governance import pack as pack_lib
from linkhaven.governance import retention as retention_lib

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
    set_suspended(open_workspace(ctx), True, reason)
    typer.echo("Project suspended: collection, linkage, release and disclosure are halted.")


@project_app.command("resume")
def resume(ctx: typer.Context, reason: str = typer.Option(..., "--reason", help="Why it may resume.")) -> None:
    """Lift a suspension."""
    set_suspended(open_workspace(ctx), False, reason)
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
    record = assessment_lib.add_assessment(open_workspace(ctx), kind, title, parse_date(completed, "--date"), reference)
    emit_json(record.as_dict()) if json_out else typer.echo(f"Assessment {record.id} ({kind}) recorded.")


@assessment_app.command("list")
def assessment_list(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """List recorded assessments."""
    rows = [a.as_dict() for a in assessment_lib.recorded_assessments(open_workspace(ctx))]
    emit_json(rows) if json_out else emit_table("Assessments", rows)


def _change(
    description: str | None,
    containment: str | None,
    lessons: str | None,
    people: int | None,
    individuals: str | None,
    ipc: str | None,
    data: list[str] | None,
) -> incident_lib.IncidentChange:
    return incident_lib.IncidentChange(
        description=description,
        containment=containment,
        lessons=lessons,
        people_affected=people,
        individuals_notified_on=parse_date(individuals, "--individuals-notified") if individuals else None,
        ipc_notified_on=parse_date(ipc, "--ipc-notified") if ipc else None,
        data_affected=data or None,
    )


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
    incident_id = incident_lib.open_incident(open_workspace(ctx), title, parse_date(found, "--found"), change)
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
    incident_lib.update_incident(open_workspace(ctx), incident_id, change)
    typer.echo(f"Incident {incident_id} updated.")


@incident_app.command("close")
def incident_close(
    ctx: typer.Context,
    incident_id: str = typer.Argument(..., help="Incident id."),
    lessons: str | None = LESSONS,
) -> None:
    """Close an incident."""
    incident_lib.update_incident(
        open_workspace(ctx), incident_id, _change(None, None, lessons, None, None, None, None), close=True
    )
    typer.echo(f"Incident {incident_id} closed.")


@incident_app.command("list")
def incident_list(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """List incidents."""
    rows = incident_lib.list_incidents(open_workspace(ctx))
    emit_json(rows) if json_out else emit_table(
        "Incidents", rows, ["id", "title", "status", "found_on", "people_affected"]
    )


AS_OF = typer.Option(None, "--as-of", help="Judge expiry as of this date, YYYY-MM-DD (default: today).")


@retention_app.command("status")
def retention_status(ctx: typer.Context, as_of: str | None = AS_OF, json_out: bool = JSON_OPTION) -> None:
    """Every zone, release and publication with its retain-until date, and what is due."""
    day = parse_date(as_of, "--as-of") if as_of else date.today()
    rows = [i.as_dict() for i in retention_lib.retention_status(open_workspace(ctx), day)]
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
        due = [i.as_dict() for i in retention_lib.preview_retention(open_workspace(ctx), day)]
        if json_out:
            emit_json({"dry_run": True, "as_of": day.isoformat(), "destroyed": [], "would_destroy": due})
            return
        typer.echo(f"Dry run as of {day}: nothing was destroyed. Destruction happens only on or after the real date.")
        for item in due:
            typer.echo(f"Would destroy {item['kind']} {item['target']} (retained until {item['retain_until']}).")
        if not due:
            typer.echo("Nothing would be due on that date.")
        return
    certificates = retention_lib.run_retention(open_workspace(ctx))
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
    start = parse_date(period_from, "--from") if period_from else None
    end = parse_date(period_to, "--to") if period_to else None
    entries = pack_lib.build_pack(open_workspace(ctx), out, start, end)
    summary = {"folder": str(out), "index": str(out / "index.html"), "files": len(entries) + 1}
    emit_json(summary) if json_out else typer.echo(f"Review pack written to {out} ({summary['files']} files).")
