"""Helpers every stage's CLI module shares: the service client, following a job, printing JSON or tables,
checking `--out`; and, for the few commands that run on the server machine, opening the workspace."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from linkhaven.errors import LinkhavenError

if TYPE_CHECKING:
    from linkhaven.client import ServiceClient
    from linkhaven.workspace import Workspace

console = Console()

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON object instead of a table.")
KEYS_OPTION = typer.Option(None, "--keys", help="Key directory (default: LINKHAVEN_KEYS, else the one given at init).")
FORCE_OPTION = typer.Option(False, "--force", help="Replace what --out names if it already exists.")


def parse_date(text: str, option: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise LinkhavenError(f"{option} must be a date as YYYY-MM-DD.") from None


def iso_date(text: str | None, option: str) -> str | None:
    """An optional date option as the service takes it (YYYY-MM-DD), checked here first."""
    return None if text is None else parse_date(text, option).isoformat()


def open_workspace(ctx: typer.Context, keys: Path | None = None) -> Workspace:
    """Only for the commands that run on the server machine (init, serve, account): every other command
    is a client of the service and holds no key."""
    import linkhaven

    root = (ctx.find_root().obj or {}).get("workspace")
    return linkhaven.open_workspace(root, keys)


def service() -> ServiceClient:
    """The service, as the user signed in with `linkhaven login` (refused if nobody is)."""
    from linkhaven.client import ServiceClient

    return ServiceClient.signed_in()


def follow(client: ServiceClient, job: dict[str, Any], quiet: bool) -> dict[str, Any]:
    """Follow a job until it ends, with a progress line (stage, steps done, time) unless `quiet`."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
        console=console, transient=True, disable=quiet,
    ) as bar:  # fmt: skip
        task = bar.add_task(f"{job['kind']} {job['id']}: queued", total=None)

        def show(now: dict[str, Any]) -> None:
            bar.update(task, description=f"{now['kind']} {now['id']}: {now['stage']} (step {now['steps_done']})")

        return client.wait(job, show)


def run_job(client: ServiceClient, job: dict[str, Any], quiet: bool) -> Any:
    """Follow a submitted job to its end; its result, or its error with the library's exit code."""
    return client.outcome(follow(client, job, quiet))


def emit_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, indent=2, default=str))


def emit_table(title: str, rows: list[dict[str, Any]], columns: list[str] | None = None) -> None:
    columns = columns or (list(rows[0]) if rows else [])
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in columns))
    console.print(table)


def workspace_containing(path: Path) -> Path | None:
    """The workspace directory `path` is in (or is), if any: a directory holding the spec and the metadata store."""
    from linkhaven.workspace.workspace import DB_FILE, SPEC_FILE

    resolved = path.expanduser().resolve()
    for directory in (resolved, *resolved.parents):
        if (directory / SPEC_FILE).is_file() and (directory / DB_FILE).is_file():
            return directory
    return None


def check_out(path: Path, force: bool = False, folder: bool = False, what: str = "the output") -> Path:
    """The one rule for every `--out`: never inside a workspace, and never over what exists unless `force`.

    A workspace holds only governed files (its spec, its store, sealed zones); writing a file into one
    could replace the spec every command trusts, or leave plain data where only ciphertext belongs. For
    a file, an existing one is replaced only with `--force` (never a directory); for a folder, an
    existing non-empty one is written into only with `--force`. Commands whose file must always be new
    (exports of personal or de-identified data) offer no `--force`.
    """
    workspace = workspace_containing(path)
    if workspace is not None:
        raise LinkhavenError(
            f"--out {path} is inside the workspace {workspace}; write {what} outside any workspace "
            "(a workspace holds only its spec, its store and sealed zone files)."
        )
    if folder:
        if path.exists() and not path.is_dir():
            raise LinkhavenError(f"--out {path} exists and is not a folder; name a folder for {what}.")
        if path.is_dir() and any(path.iterdir()) and not force:
            raise LinkhavenError(
                f"--out {path} is a folder that is not empty; name a new or empty folder for {what}, "
                "or add --force to write into it (files of the same name are replaced)."
            )
        return path
    if path.is_dir():
        raise LinkhavenError(f"--out {path} is a folder; name a file for {what}.")
    if (path.exists() or path.is_symlink()) and not force:
        raise LinkhavenError(f"--out {path} already exists; name a new file for {what}, or add --force to replace it.")
    return path
