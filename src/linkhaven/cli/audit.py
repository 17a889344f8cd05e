"""CLI: verify, anchor and read the audit log."""

from __future__ import annotations

import typer

from linkhaven.cli._common import JSON_OPTION, emit_json, emit_table, service
from linkhaven.errors import LinkhavenError

audit_app = typer.Typer(help="Verify and read the hash-chained audit log.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify(
    ctx: typer.Context,
    anchor: list[str] = typer.Option(
        [],
        "--anchor",
        help="SEQ:HASH recorded in a review pack or publication; check the log still holds that event (repeatable).",
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Check every event's hash, seal and order, the head, the key store's anchor, given anchors and the spec
    in force; exit 1 naming what is wrong."""
    from linkhaven.governance.audit import AuditHead

    try:
        anchors = [AuditHead.parse(text) for text in anchor]
    except ValueError as err:
        raise LinkhavenError(f"--anchor: {err}.") from None
    result = service().call("GET", "/audit/verify", params={"anchor": anchor})
    if json_out:
        emit_json(result)
    elif result["ok"]:
        head = result["head"]
        shown = f"; head at event {AuditHead(head['seq'], head['hash']).short()}" if head else ""
        anchored = ", anchored in the key store" if result["anchor"] == result["head"] else ""
        checked = f"; {len(anchors)} given anchor(s) found unchanged" if anchors else ""
        typer.echo(
            f"Audit log intact: {result['events']} events{shown}{anchored}{checked}. "
            f"Spec version {result['spec_version']} in force."
        )
    else:
        where = f" at event {result['first_broken_event']}" if result["first_broken_event"] is not None else ""
        typer.echo(f"Verification FAILED{where}: {result['problem']}", err=True)
        for problem in result["problems"][1:]:
            typer.echo(f"  also: {problem}", err=True)
    if not result["ok"]:
        raise typer.Exit(1)


@audit_app.command("anchor")
def anchor_log(ctx: typer.Context) -> None:
    """Anchor the log of a workspace created before anchors were kept, once it verifies (admin, privacy officer).

    New workspaces are anchored at init, and the anchor moves forward with every command."""
    from linkhaven.governance.audit import AuditHead

    head = service().call("POST", "/audit/anchor")
    typer.echo(f"Audit log anchored in the key store at event {AuditHead(head['seq'], head['hash']).short()}.")


@audit_app.command("show")
def show(
    ctx: typer.Context,
    since: int = typer.Option(0, "--since", help="Show events after this sequence number."),
    limit: int = typer.Option(50, "--limit", help="At most this many events."),
    json_out: bool = JSON_OPTION,
) -> None:
    """List audit events (who, when, action, object, outcome, counts)."""
    events = service().call("GET", "/audit/events", params={"since": since, "limit": limit})
    if json_out:
        emit_json(events)
    else:
        emit_table("Audit events", events, ["seq", "ts", "actor", "role", "action", "object", "outcome", "detail"])
