"""CLI for the spec stage: check a project spec, render its public notice, put a new version in force.

`check` and `render` only read a spec file (`linkhaven.spec`); `update` sends it to the service. A
broken spec raises `SpecError`, which the CLI core prints with every problem and turns into exit code 2.
"""

from __future__ import annotations

from pathlib import Path

import typer

from linkhaven.cli._common import FORCE_OPTION, check_out

spec_app = typer.Typer(help="Check a project spec; register a new version in a workspace.", no_args_is_help=True)
notice_app = typer.Typer(help="The public notice of indirect collection, rendered from the spec.", no_args_is_help=True)
"""Other stages add notice commands here (e.g. `notice publish`)."""


def register(app: typer.Typer) -> None:
    app.add_typer(spec_app, name="spec")
    app.add_typer(notice_app, name="notice")


@spec_app.command("check")
def check(file: Path = typer.Argument(..., help="Project spec YAML.")) -> None:
    """Validate a project spec; every problem is listed with its line."""
    from linkhaven.spec import load_spec, spec_hash

    spec = load_spec(file)
    fields = sum(len(source.fields) for source in spec.sources.values())
    typer.echo(
        f"OK {file}: project {spec.project.id}, {len(spec.sources)} sources, {fields} fields, "
        f"{len(spec.code_lists)} code lists, {len(spec.categories)} categories (sha256 {spec_hash(file)[:12]})"
    )


@spec_app.command("update")
def update(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="The new project spec YAML."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Register a new version of the workspace's spec and put it in force (privacy officer); audited."""
    from linkhaven.cli._common import emit_json, service

    summary = service().upload("/spec", file, method="PUT")
    if json_out:
        emit_json(summary)
    else:
        typer.echo(f"Spec version {summary['version']} registered and in force (sha256 {summary['sha256'][:12]}).")


@notice_app.command("render")
def render(
    spec: Path = typer.Option(..., "--spec", help="Project spec YAML."),
    fmt: str = typer.Option("md", "--format", help="md (Markdown) or html (self-contained HTML)."),
    out: Path | None = typer.Option(
        None, "--out", help="File to write, outside any workspace (default: standard output)."
    ),
    force: bool = FORCE_OPTION,
) -> None:
    """Render the public notice from the spec, so it states exactly what the unit collects."""
    from linkhaven.spec import NoticeFormat, load_spec, render_notice

    if fmt not in tuple(NoticeFormat):
        raise typer.BadParameter("use md or html", param_hint="--format")
    if out is not None:
        check_out(out, force, what="the notice")
    text = render_notice(load_spec(spec), NoticeFormat(fmt))
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"Notice ({fmt}) written to {out}")
