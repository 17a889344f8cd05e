"""`linkhaven serve` and `linkhaven account ...`: run the service, and set who may sign in to it.

Both run on the server machine, as the service account that owns the key directory: `account`
commands are how the first admin gets a password and second factor (`linkhaven init` made them
admin), and how an admin resets a colleague's password, enrols their authenticator or lifts a lockout.
"""

from __future__ import annotations

import getpass
from pathlib import Path

import typer

from linkhaven.cli._common import KEYS_OPTION, console, open_workspace

account_app = typer.Typer(help="Passwords, second factors and lockouts of the service's users.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(account_app, name="account")


def serve(
    ctx: typer.Context,
    keys: Path | None = KEYS_OPTION,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (default: this machine only)."),
    port: int = typer.Option(8765, "--port", help="Port to listen on."),
    tls_certificate: Path | None = typer.Option(None, "--tls-certificate", help="PEM certificate chain for HTTPS."),
    tls_private_key: Path | None = typer.Option(None, "--tls-private-key", help="PEM private key for HTTPS."),
    oidc_settings: Path | None = typer.Option(
        None, "--oidc-settings", help="JSON settings for sign-in through the unit's directory (OpenID Connect)."
    ),
) -> None:
    """Run the service: the only process that holds the keys; everyone else signs in to it."""
    import uvicorn

    from linkhaven.governance.oidc import OidcSettings
    from linkhaven.service import ServiceSettings, check_key_directory, create_app
    from linkhaven.workspace.workspace import ignore_environment_user

    ws = open_workspace(ctx, keys)
    check_key_directory(ws.keys.path)
    if (tls_certificate is None) != (tls_private_key is None):
        raise typer.BadParameter("give both --tls-certificate and --tls-private-key, or neither")
    settings = ServiceSettings(ws.root, ws.keys.path, host, port, tls_certificate, tls_private_key)
    oidc = OidcSettings.load(oidc_settings) if oidc_settings else None
    ignore_environment_user()
    console.print(f"linkhaven service for {ws.root} on {settings.url} (Ctrl-C stops it)")
    uvicorn.run(
        create_app(ws, oidc),
        host=host,
        port=port,
        ssl_certfile=str(tls_certificate) if tls_certificate else None,
        ssl_keyfile=str(tls_private_key) if tls_private_key else None,
        access_log=False,  # request lines carry paths and ids; the audit log records what was done
        log_level="warning",
    )


def _new_password(name: str) -> str:
    first = getpass.getpass(f"New password for {name}: ")
    if getpass.getpass("Again: ") != first:
        raise typer.BadParameter("the two passwords differ")
    return first


@account_app.command("set-password")
def set_password(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The registered user."),
    keys: Path | None = KEYS_OPTION,
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
) -> None:
    """Admin: set a user's password (asked twice, never echoed; or one line on standard input)."""
    from linkhaven.governance import accounts

    password = typer.get_text_stream("stdin").readline().rstrip("\n") if password_stdin else _new_password(name)
    accounts.set_password(open_workspace(ctx, keys), name, password)
    console.print(f"Password set for {name}.")


@account_app.command("enrol")
def enrol(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The registered user."),
    keys: Path | None = KEYS_OPTION,
    secret_out: Path | None = typer.Option(
        None, "--secret-out", help="Write the otpauth:// URI to this file (mode 0600) instead of printing it."
    ),
) -> None:
    """Admin: give a user a new authenticator secret; hand the URI (or its QR code) to them in person."""
    from linkhaven.governance import accounts

    uri = accounts.enrol_second_factor(open_workspace(ctx, keys), name)
    if secret_out is None:
        console.print(uri, highlight=False, soft_wrap=True)
        return
    secret_out.touch(mode=0o600, exist_ok=False)
    secret_out.write_text(uri + "\n")
    console.print(f"Authenticator secret for {name} written to {secret_out}.")


@account_app.command("unlock")
def unlock(ctx: typer.Context, name: str = typer.Argument(...), keys: Path | None = KEYS_OPTION) -> None:
    """Admin: lift a lockout before it expires."""
    from linkhaven.governance import accounts

    accounts.unlock_account(open_workspace(ctx, keys), name)
    console.print(f"{name} may sign in again.")
