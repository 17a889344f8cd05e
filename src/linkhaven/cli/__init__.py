"""The `linkhaven` command: one verb per stage, each a thin layer over the service (or, for the few
commands of the server machine, over the library).

Each stage module under `linkhaven.cli` exposes `register(app)`; this module only wires them
together, owns the global options and turns `LinkhavenError` into a one-line message and an exit
code (2 spec error, 3 permission refused, 4 gate refused, 1 anything else) instead of a traceback;
a refusal from the service carries the same codes.

Most commands send one request to the service as the signed-in user (`linkhaven.client`) and print
its answer; only `init`, `serve`, `account`, `synth`, `spec check`, `notice render` and `publish
verify` use the library here, and they import it (with SciPy, pandas, DuckDB) inside the command, so a
client command starts in a tenth of a second.
"""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path

import typer
from rich.console import Console

from linkhaven.errors import LinkhavenError

err_console = Console(stderr=True)

app = typer.Typer(
    name="linkhaven",
    help="Run a data integration unit: intake, linkage, de-identification, publication, oversight.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Stage modules, in the order of the flow. Each defines `register(app: typer.Typer) -> None`.
STAGE_MODULES = [
    "spec",
    "synth",
    "workspace",
    "service",
    "client",
    "audit",
    "intake",
    "link",
    "oversight",
    "deid",
    "publish",
]


@app.callback()
def _global_options(
    ctx: typer.Context,
    workspace: Path | None = typer.Option(
        None,
        "--workspace",
        "-w",
        envvar="LINKHAVEN_WORKSPACE",
        help="Workspace directory, for the commands of the server machine (or set LINKHAVEN_WORKSPACE).",
    ),
) -> None:
    ctx.obj = {"workspace": workspace}


for _name in STAGE_MODULES:
    importlib.import_module(f"linkhaven.cli.{_name}").register(app)


def run(argv: list[str]) -> int:
    """Run the CLI with `argv` and return its exit code; used by `main` and by the tests."""
    try:
        app(args=argv, prog_name="linkhaven", standalone_mode=True)
    except SystemExit as stop:
        return _exit_code(stop.code)
    except LinkhavenError as err:
        err_console.print(f"[bold red]Error:[/bold red] {err}", highlight=False, soft_wrap=True)
        return err.exit_code
    except KeyboardInterrupt:
        err_console.print("Interrupted; nothing was committed by the step that was running.")
        return 130
    except Exception as err:  # last resort: never print values that may be personal
        if _debug_enabled():
            raise
        logging.getLogger("linkhaven").debug("internal error", exc_info=True)
        err_console.print(
            f"[bold red]Internal error[/bold red] ({type(err).__name__}). Nothing from the data was printed; "
            "rerun with LINKHAVEN_DEBUG=1 in a secure environment to see the traceback."
        )
        return 70
    return 0


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def _debug_enabled() -> bool:
    import os

    return os.environ.get("LINKHAVEN_DEBUG") == "1"


def main() -> None:
    sys.exit(run(sys.argv[1:]))
