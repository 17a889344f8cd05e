"""`linkhaven login`, `logout`, `whoami` and `jobs`: the command line as a client of the service.

These commands hold no key and open no workspace: they carry the signed-in user's token to the
service, which decides. `LINKHAVEN_USER` plays no part in them.
"""

from __future__ import annotations

import getpass

import typer

from linkhaven.cli._common import JSON_OPTION, console, emit_json, emit_table
from linkhaven.cli._common import follow as follow_job

jobs_app = typer.Typer(help="Long work running in the service: list, follow, cancel.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("login")(login)
    app.command("logout")(logout)
    app.command("whoami")(whoami)
    app.command("password")(password)
    app.add_typer(jobs_app, name="jobs")


def login(
    server: str = typer.Option("http://127.0.0.1:8765", "--server", help="The service's address."),
    name: str | None = typer.Option(None, "--name", help="Your user name (not with --id-token-stdin)."),
    code: str | None = typer.Option(None, "--code", help="Your authenticator's code (asked when needed)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
    id_token_stdin: bool = typer.Option(
        False, "--id-token-stdin", help="Sign in with an ID token from the unit's directory, read from standard input."
    ),
) -> None:
    """Sign in to the service; the token is kept, readable only by you, for the other commands."""
    from linkhaven.client import ServiceClient

    if id_token_stdin:
        token = typer.get_text_stream("stdin").readline().strip()
        session = ServiceClient.sign_in_with_directory(server, token)
    else:
        if name is None:
            raise typer.BadParameter("give your user name", param_hint="--name")
        if password_stdin:
            password = typer.get_text_stream("stdin").readline().rstrip("\n")
        else:
            password = getpass.getpass("Password: ")
        if code is None and not password_stdin:
            code = input("Authenticator code (Enter if your role needs none): ").strip() or None
        session = ServiceClient.sign_in(server, name, password, code)
    console.print(f"Signed in to {server} as {session.name} until {session.expires_at}.")


def logout() -> None:
    """Sign out: the service revokes the token and it is deleted here."""
    from linkhaven.client import ServiceClient

    ServiceClient.signed_in().sign_out()
    console.print("Signed out.")


def whoami(json_out: bool = JSON_OPTION) -> None:
    """Who the service takes you for (from your token, never from LINKHAVEN_USER)."""
    from linkhaven.client import ServiceClient

    me = ServiceClient.signed_in().call("GET", "/me")
    if json_out:
        emit_json(me)
    else:
        console.print(f"{me['name']} ({me['role']})")


def password() -> None:
    """Change your own password (asked for the current one, then the new one twice); your other
    sessions and tokens end."""
    from linkhaven.client import ServiceClient

    current = getpass.getpass("Current password: ")
    new = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != new:
        raise typer.BadParameter("the two new passwords differ")
    ServiceClient.signed_in().call("POST", "/password", json={"current": current, "new": new})
    console.print("Password changed; your other sessions have ended.")


@jobs_app.command("list")
def jobs_list(json_out: bool = JSON_OPTION) -> None:
    """Your jobs (a privacy officer or admin sees everyone's)."""
    from linkhaven.client import ServiceClient

    jobs = ServiceClient.signed_in().call("GET", "/jobs")
    if json_out:
        emit_json(jobs)
    else:
        emit_table("Jobs", jobs, ["id", "kind", "user", "state", "stage", "steps_done", "elapsed_seconds"])


@jobs_app.command("show")
def jobs_show(
    job_id: str = typer.Argument(..., help="Job id, e.g. J000001."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Follow it until it ends, with progress."),
    json_out: bool = JSON_OPTION,
) -> None:
    """One job; with --follow, its progress until it ends (exit 1 if it failed or was cancelled)."""
    from linkhaven.client import ServiceClient

    client = ServiceClient.signed_in()
    job = client.call("GET", f"/jobs/{job_id}")
    if follow:
        job = follow_job(client, job, json_out)
    if json_out:
        emit_json(job)
    else:
        console.print(f"{job['id']} {job['kind']}: {job['state']} ({job['stage']}, {job['elapsed_seconds'] or 0} s)")
    if follow and job["state"] != "done":
        raise typer.Exit(1)


@jobs_app.command("cancel")
def jobs_cancel(job_id: str = typer.Argument(...), json_out: bool = JSON_OPTION) -> None:
    """Ask a job to stop at its next step; what it did is rolled back."""
    from linkhaven.client import ServiceClient

    job = ServiceClient.signed_in().call("POST", f"/jobs/{job_id}/cancel")
    if json_out:
        emit_json(job)
    else:
        console.print(f"Cancel asked for {job['id']} ({job['state']}).")
