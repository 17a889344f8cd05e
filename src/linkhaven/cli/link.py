"""CLI for the link stage (being written)."""

import typer


def register(app: typer.Typer) -> None:
    return None
