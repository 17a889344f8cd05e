"""CLI: create a workspace (on the server machine) and manage its users (through the service)."""

from __future__ import annotations

from pathlib import Path

import typer

from linkhaven.cli._common import JSON_OPTION, emit_json, emit_table, service
from linkhaven.governance.permissions import Role

user_app = typer.Typer(help="Register users and their roles.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.add_typer(user_app, name="user")


def init(
    directory: Path = typer.Argument(..., help="New, empty workspace directory."),
    spec: Path = typer.Option(..., "--spec", help="Project spec YAML."),
    keys: Path | None = typer.Option(
        None, "--keys", envvar="LINKHAVEN_KEYS", help="Key directory to create (outside the workspace)."
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Create a workspace with its metadata store, zones and keys; you become its admin."""
    from linkhaven import create_workspace

    workspace = create_workspace(directory, spec, keys)
    summary = {
        "workspace": str(workspace.root),
        "keys": str(workspace.keys.path),
        "project": workspace.info["project_id"],
        "admin": workspace.users()[0]["name"],
    }
    if json_out:
        emit_json(summary)
    else:
        typer.echo(
            f"Workspace created at {summary['workspace']} (keys in {summary['keys']}); admin: {summary['admin']}"
        )


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="User name (letters, digits, '_', '.', '-')."),
    role: Role = typer.Option(..., "--role", help="The user's role."),
) -> None:
    """Register a user with one role (admin only); they sign in once an admin on the server machine has
    set their password (`linkhaven account set-password`)."""
    service().call("POST", "/users", json={"name": name, "role": str(role)})
    typer.echo(f"User {name} registered as {role}.")


@user_app.command("list")
def user_list(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """List registered users and their roles."""
    users = service().call("GET", "/users")
    if json_out:
        emit_json(users)
    else:
        emit_table("Users", users, ["name", "role", "added_at", "added_by"])
