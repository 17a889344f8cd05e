"""CLI: publish indicator tables from an approved release, list publications, rerun the audit."""

from __future__ import annotations

from pathlib import Path

import typer

from linkhaven.cli._common import JSON_OPTION, emit_json, emit_table, run_job, service
from linkhaven.errors import LinkhavenError

publish_app = typer.Typer(
    help="Publish the spec's indicators from an approved release (suppressed, audited, ledgered).",
    invoke_without_command=True,
)

_COLUMNS = ["id", "release_id", "cells", "cells_primary", "cells_secondary", "audit_passed", "created_at", "folder"]


def register(app: typer.Typer) -> None:
    app.add_typer(publish_app, name="publish")


@publish_app.callback()
def publish(
    ctx: typer.Context,
    release: str | None = typer.Option(None, "--release", help="The approved release to publish from."),
    json_out: bool = JSON_OPTION,
) -> None:
    """`publish --release ID` writes tables, the audit and both reports under <workspace>/publications/<ID>/
    on the service's machine (a job this command follows)."""
    if ctx.invoked_subcommand is not None:
        return
    if release is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(2)
    client = service()
    summary = run_job(client, client.submit("publish", release_id=release), json_out)
    if json_out:
        emit_json(summary)
    else:
        cells, internal = summary["cells"], summary["internal"]
        typer.echo(
            f"Publication {summary['publication']}: {cells['published']} cells published, "
            f"{cells['suppressed']} suppressed; attacker audit of the files passed "
            f"({summary['audit']['linear_programs']} linear programs). Folder: {summary['folder']}\n"
            f"For the privacy officer only (the published files mark every hidden cell alike): "
            f"{internal['hidden_by_rules']} hidden by the rules, {internal['hidden_as_complements']} hidden as "
            "complements."
        )


@publish_app.command("list")
def list_(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """List publications with their folders."""
    rows = service().call("GET", "/publications")
    if json_out:
        emit_json(rows)
    else:
        emit_table("Publications", rows, _COLUMNS)


@publish_app.command("verify")
def verify(
    folder: Path = typer.Argument(..., help="A publication folder."),
    earlier: list[Path] = typer.Option([], "--earlier", help="Earlier publication folders (repeatable)."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Rerun the attacker audit from the published files alone, as any reader can; exit 1 if it fails."""
    from linkhaven import publish as lib

    if not (folder / "tables").is_dir():
        raise LinkhavenError(f"{folder} is not a publication folder (no tables/).")
    result = lib.reaudit(folder, earlier)
    payload = {
        "passed": result.passed,
        "hidden_cells_audited": int(result.audited.sum()),
        "failing": len(result.failing),
        "linear_programs": result.programs,
    }
    if json_out:
        emit_json(payload)
    else:
        typer.echo(
            f"Attacker audit from the files: {'passed' if result.passed else 'FAILED'} "
            f"({payload['hidden_cells_audited']} hidden cells, "
            f"{payload['failing']} narrower than the protection level)."
        )
    if not result.passed:
        raise typer.Exit(1)
