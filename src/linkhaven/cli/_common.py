"""Helpers every stage's CLI module shares: opening the workspace, printing JSON or tables."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from linkhaven.errors import LinkhavenError
from linkhaven.workspace import Workspace

console = Console()

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON object instead of a table.")
KEYS_OPTION = typer.Option(None, "--keys", help="Key directory (default: LINKHAVEN_KEYS, else the one given at init).")


def parse_date(text: str, option: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise LinkhavenError(f"{option} must be a date as YYYY-MM-DD.") from None


def open_workspace(ctx: typer.Context, keys: Path | None = None) -> Workspace:
    root = (ctx.find_root().obj or {}).get("workspace")
    return Workspace.open(root, keys)


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
