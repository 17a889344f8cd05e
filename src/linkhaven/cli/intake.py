"""CLI: notices, agreements, intake of deliveries, and the quarantine."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from linkhaven.cli._common import JSON_OPTION, check_out, emit_json, emit_table, parse_date, run_job, service
from linkhaven.errors import LinkhavenError

agreement_app = typer.Typer(help="Register and list data-sharing agreements.", no_args_is_help=True)
quarantine_app = typer.Typer(help="See and export rows that intake refused.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    from linkhaven.cli.spec import notice_app

    notice_app.command("publish")(notice_publish)
    notice_app.command("list")(notice_list)
    app.add_typer(agreement_app, name="agreement")
    app.command("intake")(intake)
    app.add_typer(quarantine_app, name="quarantine")


def notice_publish(
    ctx: typer.Context,
    published_on: str = typer.Option(None, "--date", help="Publication date YYYY-MM-DD (default: today)."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Record the notice rendered from the workspace's spec as a published version (privacy officer)."""
    day = parse_date(published_on, "--date") if published_on else date.today()
    version = service().call("POST", "/notices", json={"published_on": day.isoformat()})
    if json_out:
        emit_json(version)
    else:
        typer.echo(f"Notice version {version['version']} published on {version['published_on']}.")


def notice_list(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """List the notice versions and their publication dates."""
    rows = service().call("GET", "/notices")
    emit_json(rows) if json_out else emit_table("Notices", rows)


@agreement_app.command("add")
def agreement_add(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", help="The agreement's title."),
    party: list[str] = typer.Option(..., "--party", help="A party to the agreement (repeat)."),
    source: list[str] = typer.Option(..., "--source", help="A source it covers (repeat)."),
    data_class: list[str] = typer.Option(
        ["personal", "coded"], "--class", help="A data class it covers (repeat): personal, coded, deidentified."
    ),
    valid_from: str = typer.Option(..., "--from", help="First day in force, YYYY-MM-DD."),
    valid_to: str = typer.Option(..., "--to", help="Last day in force, YYYY-MM-DD."),
    kind: str = typer.Option("collection", "--kind", help="collection or disclosure."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Register a data-sharing agreement (privacy officer)."""
    body = {"name": name, "kind": kind, "parties": party, "sources": source, "data_classes": data_class,
            "valid_from": parse_date(valid_from, "--from").isoformat(),
            "valid_to": parse_date(valid_to, "--to").isoformat()}  # fmt: skip
    agreement = service().call("POST", "/agreements", json=body)
    if json_out:
        emit_json(agreement)
    else:
        typer.echo(f"Agreement {agreement['id']} registered ({agreement['valid_from']} to {agreement['valid_to']}).")


@agreement_app.command("list")
def agreement_list(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """List registered agreements."""
    rows = service().call("GET", "/agreements")
    emit_json(rows) if json_out else emit_table("Agreements", rows)


def intake(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="The delivery file to take in, or `status` to list deliveries."),
    source: str = typer.Option(None, "--source", help="Which source the file comes from (as named in the spec)."),
    supersedes: str = typer.Option(None, "--supersedes", help="Delivery id this corrected re-delivery replaces."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Take in a delivery (`intake --source NAME FILE`), or list deliveries (`intake status`).

    The file is sent to the service, which takes it in as a job; this command follows it to its end."""
    client = service()
    if target == "status" and source is None:
        rows = client.call("GET", "/deliveries")
        columns = ["id", "source", "file_name", "status", "rows_read", "rows_loaded", "rows_quarantined",
                   "received_at", "received_by", "supersedes"]  # fmt: skip
        emit_json(rows) if json_out else emit_table("Deliveries", rows, columns)
        return
    if source is None:
        raise LinkhavenError("Name the source of the file with --source NAME, as the spec names it under `sources:`.")
    delivery = Path(target)
    if not delivery.is_file():
        raise LinkhavenError(f"{delivery}: no such file; name the delivery file to take in.")
    result = run_job(client, client.submit_intake(source, delivery, supersedes), json_out)
    if json_out:
        emit_json(result)
        return
    typer.echo(
        f"Delivery {result['delivery_id']} ({result['source']}): {result['rows_read']} rows read, "
        f"{result['rows_loaded']} loaded, {result['rows_quarantined']} quarantined."
    )
    for reason, count in result["quarantined_by_reason"].items():
        typer.echo(f"  quarantined {reason}: {count}")
    if result["columns_dropped"]:
        typer.echo(f"  undeclared columns dropped: {', '.join(result['columns_dropped'])}")


@quarantine_app.command("list")
def quarantine_list(
    ctx: typer.Context,
    delivery: str = typer.Option(None, "--delivery", help="Only this delivery."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Quarantined rows by reason and field, with line numbers (no values)."""
    rows = service().call("GET", "/quarantine", params={"delivery_id": delivery} if delivery else None)
    emit_json(rows) if json_out else emit_table("Quarantine", rows)


@quarantine_app.command("export")
def quarantine_export(
    ctx: typer.Context,
    delivery: str = typer.Option(..., "--delivery", help="The delivery whose quarantined rows to export."),
    out: Path = typer.Option(..., "--out", help="New CSV file to write, outside any workspace."),
) -> None:
    """Export a delivery's quarantined rows WITH their values, so they can be fixed at the source (audited)."""
    check_out(out, what="the export")
    count = service().download(f"/quarantine/{delivery}/rows", out)["X-Rows"]
    typer.echo(f"{count} quarantined rows written to {out}. It holds personal information: handle it accordingly.")
