"""`linkhaven synth`: write the synthetic example project's extracts with their ground truth.

Parses the options and calls `linkhaven.synth.generate`; everything else lives in the library.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from linkhaven.cli._common import FORCE_OPTION, check_out

if TYPE_CHECKING:
    from linkhaven.synth import SynthSummary

console = Console()


def synth(
    out: Path = typer.Option(
        ..., "--out", "-o", help="Directory to write the extracts into (created if missing), outside any workspace."
    ),
    scale: float = typer.Option(
        0.001, "--scale", "-s", help="Share of the province: 1 = about 2 million students a year; 0.001 for tests."
    ),
    seed: int = typer.Option(1, "--seed", help="Random seed; the same seed and scale give the same bytes."),
    inject_faults: bool = typer.Option(
        False, "--inject-faults", help="Also write bad input (malformed rows, forbidden columns...) and faults.json."
    ),
    rates_file: Path | None = typer.Option(
        None, "--rates", help="YAML file overriding identity-error rates (see docs/synthetic-data.md)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
    force: bool = FORCE_OPTION,
) -> None:
    """Write what the example project's institutions would send (one CSV per source), the ground
    truth (truth.csv, persons.csv) and synth.json, from a seeded synthetic population."""
    from linkhaven.synth import ErrorRates, generate, load_rates

    check_out(out, force, folder=True, what="the extracts")

    rates = load_rates(rates_file) if rates_file is not None else ErrorRates()
    if quiet or as_json:
        summary = generate(out, scale, seed, inject_faults=inject_faults, rates=rates)
    else:
        with Progress(
            TextColumn("[bold]synth[/bold] {task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("starting", total=None)

            def progress(stage: str, index: int, total: int) -> None:
                bar.update(task, description=stage, completed=index, total=total)

            summary = generate(out, scale, seed, inject_faults=inject_faults, rates=rates, progress=progress)
    if as_json:
        typer.echo(json.dumps(summary.as_dict(), indent=2))
    else:
        _print_summary(summary)


def _print_summary(summary: SynthSummary) -> None:
    table = Table(title=f"linkhaven synth: scale {summary.scale}, seed {summary.seed}")
    table.add_column("file")
    table.add_column("rows", justify="right")
    table.add_column("faults", justify="right")
    for name, rows in summary.files.items():
        table.add_row(name, f"{rows:,}", str(summary.faults.get(name, "")))
    console.print(table)
    by_source = ", ".join(f"{k} {v:,}" for k, v in summary.persons_by_source.items())
    console.print(
        f"Written to {summary.out_dir}: {summary.persons:,} true persons ({by_source}); {summary.seconds:.1f} s."
    )


def register(app: typer.Typer) -> None:
    """Add the `synth` command."""
    app.command(name="synth")(synth)
