"""CLI: verify and read the audit log."""

from __future__ import annotations

import typer

from linkhaven.cli._common import JSON_OPTION, emit_json, emit_table, open_workspace
from linkhaven.governance.permissions import Action

audit_app = typer.Typer(help="Verify and read the hash-chained audit log.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """Check every event's hash, seal and order, and the head; exit 1 naming the first broken event."""
    workspace = open_workspace(ctx)
    with workspace.act(Action.AUDIT_VERIFY) as act:
        result = workspace.audit.verify()
        act.detail.update(events=result.events, intact=result.ok)
    if json_out:
        emit_json(result.as_dict())
    elif result.ok:
        typer.echo(f"Audit log intact: {result.events} events.")
    else:
        typer.echo(f"Audit log BROKEN at event {result.first_broken}: {result.problem}", err=True)
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("show")
def show(
    ctx: typer.Context,
    since: int = typer.Option(0, "--since", help="Show events after this sequence number."),
    limit: int = typer.Option(50, "--limit", help="At most this many events."),
    json_out: bool = JSON_OPTION,
) -> None:
    """List audit events (who, when, action, object, outcome, counts)."""
    workspace = open_workspace(ctx)
    with workspace.act(Action.AUDIT_SHOW):
        events = [e.as_dict() for e in workspace.audit.events(since, limit)]
    if json_out:
        emit_json(events)
    else:
        emit_table("Audit events", events, ["seq", "ts", "actor", "role", "action", "object", "outcome", "detail"])
