"""CLI: de-identified releases (create, list, show, approve, grant, revoke, read) and the disclosure register."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from linkhaven.cli._common import JSON_OPTION, check_out, emit_json, emit_table, iso_date, run_job, service

release_app = typer.Typer(help="Build, approve, grant, revoke and read de-identified releases.", no_args_is_help=True)

_COLUMNS = ["id", "section", "status", "release_model", "recipient", "rows", "persons", "overall_risk_after",
            "threshold", "created_at"]  # fmt: skip


def register(app: typer.Typer) -> None:
    app.add_typer(release_app, name="release")
    app.command("disclose")(disclose)
    app.command("disclosures")(disclosures)


def _print(info: dict[str, Any], json_out: bool, message: str) -> None:
    if json_out:
        emit_json(info)
    else:
        typer.echo(message)


@release_app.command("create")
def create(
    ctx: typer.Context,
    section: str = typer.Option(..., "--spec-section", help="The release section of the spec to build."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Build a release from the zones and the linkage map (deidentifier); it stays unusable until approved."""
    client = service()
    info = run_job(client, client.submit("release", section=section), json_out)
    _print(info, json_out, f"Release {info['id']} created from section {section}: {info['rows']} rows, "
                           f"{info['persons']} persons, overall risk {info['overall_risk_after']:.4f} (threshold "
                           f"{info['threshold']}). Report (on the service's machine): {info['report_html']}. "
                           "It needs the privacy officer's approval.")  # fmt: skip


@release_app.command("list")
def list_(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """List releases (an analyst sees only the approved releases granted to them)."""
    rows = service().call("GET", "/releases")
    emit_json(rows) if json_out else emit_table("Releases", rows, _COLUMNS)


@release_app.command("show")
def show(ctx: typer.Context, release_id: str = typer.Argument(...), json_out: bool = JSON_OPTION) -> None:
    """Status, files, quasi-identifier and sensitive columns, threshold and risk of one release."""
    info = service().call("GET", f"/releases/{release_id}")
    if json_out:
        emit_json(info)
    else:
        emit_table(f"Release {release_id}", [{"field": k, "value": v} for k, v in info.items()])


@release_app.command("approve")
def approve(
    ctx: typer.Context,
    release_id: str = typer.Argument(...),
    on: str | None = typer.Option(None, "--date", help="Day the agreement must be in force (default: today)."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Approve a release (privacy officer): integrity, risk recomputed from the file, agreement in force."""
    day = iso_date(on, "--date")
    info = service().call("POST", f"/releases/{release_id}/approve", params={"on": day} if day else None)
    _print(info, json_out, f"Release {release_id} approved (agreement {info['agreement_id'] or '-'}).")


@release_app.command("grant")
def grant(
    ctx: typer.Context,
    release_id: str = typer.Argument(...),
    user: str = typer.Option(..., "--user", help="The analyst who may read the release."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Let an analyst read an approved release (privacy officer)."""
    info = service().call("POST", f"/releases/{release_id}/grant", json={"analyst": user})
    _print(info, json_out, f"Release {release_id} granted to {user}.")


@release_app.command("revoke")
def revoke(
    ctx: typer.Context,
    release_id: str = typer.Argument(...),
    reason: str = typer.Option(..., "--reason", help="Why the release is withdrawn (recorded)."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Withdraw a release (privacy officer): nobody can read it any more."""
    info = service().call("POST", f"/releases/{release_id}/revoke", json={"reason": reason})
    _print(info, json_out, f"Release {release_id} revoked.")


@release_app.command("read")
def read(
    ctx: typer.Context,
    release_id: str = typer.Argument(...),
    out: Path = typer.Option(..., "--out", help="New Parquet file to write, outside any workspace."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Write a plain Parquet copy of a granted, approved release (analyst); the read is audited."""
    check_out(out, what="the copy")
    headers = service().download(f"/releases/{release_id}/data", out)
    receipt = {"release_id": release_id, "rows": int(headers["X-Rows"]), "sha256": headers["X-SHA256"], "out": str(out)}
    if json_out:
        emit_json(receipt)
    else:
        typer.echo(f"{receipt['rows']} rows of release {release_id} written to {out}. De-identified data: keep it "
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
    body = {"recipient": recipient, "basis": basis, "data_class": data_class, "description": description,
            "on": iso_date(on, "--date"), "release_id": release, "rows": rows}  # fmt: skip
    record = service().call("POST", "/disclosures", json=body)
    if json_out:
        emit_json(record)
    else:
        typer.echo(f"Disclosure {record['id']} recorded: {data_class} data to {recipient} ({basis}), agreement "
                   f"{record['agreement_id']}.")  # fmt: skip


def disclosures(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """List the disclosure register (privacy officer)."""
    rows = service().call("GET", "/disclosures")
    emit_json(rows) if json_out else emit_table("Disclosures", rows)
