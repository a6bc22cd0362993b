"""The `trainjet` command. Heavy imports (torch, FastAPI, nats) happen inside the commands
that need them, so `trainjet --help` answers at once."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from trainjet import __version__
from trainjet.cli import ops
from trainjet.cli.client import CliError
from trainjet.cli.context import settings_from
from trainjet.cli.output import err_console

app = typer.Typer(
    name="trainjet",
    help="Event-sourced ML training on NATS JetStream: run, watch, cancel and audit training jobs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(ops.app, name="ops")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"trainjet {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    api_url: Annotated[
        str | None,
        typer.Option("--api-url", envvar="TRAINJET_API_URL", help="trainjet API base URL"),
    ] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", envvar="TRAINJET_DATA_DIR")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True)] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = {"api_url": api_url, "data_dir": data_dir}


NatsOpt = Annotated[
    str | None,
    typer.Option(
        "--nats-url", envvar="TRAINJET_NATS_URL", help="External NATS server(s), comma-separated"
    ),
]


@app.command()
def serve(
    ctx: typer.Context,
    nats_url: NatsOpt = None,
    host: Annotated[str, typer.Option(help="Address the API binds to")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    runners: Annotated[int, typer.Option(min=0, max=64, help="Local runner processes")] = 1,
) -> None:
    """Embedded NATS (unless --nats-url) + the API + N local runners, stopped together."""
    from trainjet.cli.serve import serve as _serve

    settings = settings_from(ctx)
    settings = replace(
        settings, nats_url=nats_url or settings.nats_url, api_host=host, api_port=port
    )
    _serve(settings, runners)


@app.command()
def api(
    ctx: typer.Context,
    nats_url: NatsOpt = None,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
) -> None:
    """Only the API (for deployment next to an existing NATS)."""
    from trainjet.cli.serve import resolve_nats_url, run_api

    settings = resolve_nats_url(
        replace(settings_from(ctx), nats_url=nats_url or None, api_host=host, api_port=port)
    )
    if not settings.nats_url:
        raise CliError(
            "no NATS server: set TRAINJET_NATS_URL or --nats-url (or use `trainjet serve`)", 2
        )
    run_api(settings)


@app.command()
def runner(
    ctx: typer.Context,
    nats_url: NatsOpt = None,
    pool: Annotated[str, typer.Option(help="local or host")] = "local",
    concurrency: Annotated[int, typer.Option(min=1, max=1024, help="Operations run at once")] = 1,
) -> None:
    """One runner process: takes start commands of its pool and runs them."""
    from trainjet.cli.serve import resolve_nats_url, run_runner

    if pool not in ("local", "host"):
        raise CliError(f"unknown pool {pool!r}: use 'local' or 'host'", 2)
    settings = resolve_nats_url(replace(settings_from(ctx), nats_url=nats_url or None))
    if not settings.nats_url:
        raise CliError(
            "no NATS server: set TRAINJET_NATS_URL or --nats-url (or use `trainjet serve`)", 2
        )
    run_runner(settings, pool, concurrency)


def main() -> None:
    try:
        app()
    except CliError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise SystemExit(exc.exit_code) from None
