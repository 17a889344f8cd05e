"""CLI: de-identified releases (create, list, show, approve, grant, revoke, read) and the disclosure register."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from linkhaven.cli._common import JSON_OPTION, check_out, console, emit_json, emit_table, open_workspace
from linkhaven.errors import LinkhavenError

if TYPE_CHECKING:
    from linkhaven import deid as lib

release_app = typer.Typer(help="Build, approve, grant, revoke and read de-identified releases.", no_args_is_help=True)

_COLUMNS = ["id", "section", "status", "release_model", "recipient", "rows", "persons", "overall_risk_after",
            "threshold", "created_at"]  # fmt: skip


def register(app: typer.Typer) -> None:
    app.add_typer(release_app, name="release")
    app.command("disclose")(disclose)
    app.command("disclosures")(disclosures)


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise LinkhavenError(f"{option} must be a date as YYYY-MM-DD.") from None


def _print(info: lib.ReleaseInfo, json_out: bool, message: str) -> None:
    if json_out:
        emit_json(info.as_dict())
    else:
        typer.echo(message)


@release_app.command("create")
def create(
    ctx: typer.Context,
    section: str = typer.Option(..., "--spec-section", help="The release section of the spec to build."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Build a release from the zones and the linkage map (deidentifier); it stays unusable until approved."""
    from linkhaven import deid as lib

    ws = open_workspace(ctx)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                  transient=True, disable=json_out) as progress:  # fmt: skip
        task = progress.add_task(f"release {section}", total=None)
        info = lib.create_release(
            ws, section, progress=lambda step: progress.update(task, description=f"release {section}: {step}")
        )
    _print(info, json_out, f"Release {info.id} created from section {section}: {info.rows} rows, {info.persons} "
                           f"persons, overall risk {info.overall_risk_after:.4f} (threshold {info.threshold}). "
                           f"Report: {info.report_html}. It needs the privacy officer's approval.")  # fmt: skip


@release_app.command("list")
def list_(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """List releases (an analyst sees only the approved releases granted to them)."""
    from linkhaven import deid as lib

    rows = [r.as_dict() for r in lib.list_releases(open_workspace(ctx))]
    emit_json(rows) if json_out else emit_table("Releases", rows, _COLUMNS)


@release_app.command("show")
def show(ctx: typer.Context, release_id: str = typer.Argument(...), json_out: bool = JSON_OPTION) -> None:
    """Status, files, quasi-identifier and sensitive columns, threshold and risk of one release."""
    from linkhaven import deid as lib

    info = lib.show_release(open_workspace(ctx), release_id)
    if json_out:
        emit_json(info.as_dict())
    else:
        emit_table(f"Release {release_id}", [{"field": k, "value": v} for k, v in info.as_dict().items()])


@release_app.command("approve")
def approve(
    ctx: typer.Context,
    release_id: str = typer.Argument(...),
    on: str | None = typer.Option(None, "--date", help="Day the agreement must be in force (default: today)."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Approve a release (privacy officer): integrity, risk recomputed from the file, agreement in force."""
    from linkhaven import deid as lib

    info = lib.approve_release(open_workspace(ctx), release_id, _date(on, "--date"))
    _print(info, json_out, f"Release {release_id} approved (agreement {info.agreement_id or '-'}).")


@release_app.command("grant")
def grant(
    ctx: typer.Context,
    release_id: str = typer.Argument(...),
    user: str = typer.Option(..., "--user", help="The analyst who may read the release."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Let an analyst read an approved release (privacy officer)."""
    from linkhaven import deid as lib

    info = lib.grant_release(open_workspace(ctx), release_id, user)
    _print(info, json_out, f"Release {release_id} granted to {user}.")


@release_app.command("revoke")
def revoke(
    ctx: typer.Context,
    release_id: str = typer.Argument(...),
    reason: str = typer.Option(..., "--reason", help="Why the release is withdrawn (recorded)."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Withdraw a release (privacy officer): nobody can read it any more."""
    from linkhaven import deid as lib

    info = lib.revoke_release(open_workspace(ctx), release_id, reason)
    _print(info, json_out, f"Release {release_id} revoked.")


@release_app.command("read")
def read(
    ctx: typer.Context,
    release_id: str = typer.Argument(...),
    out: Path = typer.Option(..., "--out", help="New Parquet file to write, outside any workspace."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Write a plain Parquet copy of a granted, approved release (analyst); the read is audited."""
    from linkhaven import deid as lib

    check_out(out, what="the copy")
    receipt = lib.read_release(open_workspace(ctx), release_id, out)
    if json_out:
        emit_json(receipt.as_dict())
    else:
        typer.echo(f"{receipt.rows} rows of release {release_id} written to {out}. De-identified data: keep it "
                   "within the terms of your agreement.")  # fmt: skip


def disclose(
    ctx: typer.Context,
    recipient: str = typer.Option(..., "--recipient", help="A recipient on the spec's list."),
    basis: str = typer.Option(..., "--basis", help="A disclosure basis of the spec (e.g. ipc, required_by_law)."),
    data_class: str = typer.Option(..., "--class", help="personal, coded or deidentified."),
    description: str = typer.Option(..., "--description", help="What is disclosed (no personal values)."),
    release: str | None = typer.Option(None, "--release", help="The release disclosed, if any."),
    rows: int | None = typer.Option(None, "--rows", help="How many records are disclosed."),
    on: str | None = typer.Option(None, "--date", help="Disclosure date YYYY-MM-DD (default: today)."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Record a disclosure (privacy officer); refused unless recipient, basis and agreement all allow it."""
    from linkhaven import deid as lib

    record = lib.disclose(open_workspace(ctx), recipient, basis, data_class, description,
                          on=_date(on, "--date"), release_id=release, rows=rows)  # fmt: skip
    if json_out:
        emit_json(record.as_dict())
    else:
        typer.echo(f"Disclosure {record.id} recorded: {data_class} data to {recipient} ({basis}), agreement "
                   f"{record.agreement_id}.")  # fmt: skip


def disclosures(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """List the disclosure register (privacy officer)."""
    from linkhaven import deid as lib

    rows = [d.as_dict() for d in lib.list_disclosures(open_workspace(ctx))]
    emit_json(rows) if json_out else emit_table("Disclosures", rows)
