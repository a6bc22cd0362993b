# size: the command tree's registration, each command keeping its lazy imports beside it
"""The `trainjet` command. Heavy imports (torch, FastAPI, nats) happen inside the commands
that need them, so `trainjet --help` answers at once."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from trainjet import __version__
from trainjet.cli import models, ops, strategies
from trainjet.cli.client import CliError
from trainjet.cli.context import settings_from
from trainjet.cli.errors import exit_code
from trainjet.cli.output import err_console, print_json
from trainjet.config import ConfigError
from trainjet.core.errors import TrainjetError

app = typer.Typer(
    name="trainjet",
    help="Event-sourced ML training on NATS JetStream: run, watch, cancel and audit training jobs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(ops.app, name="ops")
app.add_typer(models.app, name="models")
app.add_typer(strategies.app, name="strategies")


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
    from trainjet.cli.runtime import resolve_nats_url
    from trainjet.cli.serve import run_api, wait_for_nats

    settings = resolve_nats_url(
        replace(settings_from(ctx), nats_url=nats_url or None, api_host=host, api_port=port)
    )
    if not settings.nats_url:
        raise CliError(
            "no NATS server: set TRAINJET_NATS_URL or --nats-url (or use `trainjet serve`)", 2
        )
    wait_for_nats(settings)
    from trainjet.cli.setup import preflight
    from trainjet.system import API_PARTS

    preflight(settings, API_PARTS)
    run_api(settings)


MAX_CONCURRENCY = 10_000


@app.command()
def runner(
    ctx: typer.Context,
    nats_url: NatsOpt = None,
    pool: Annotated[str, typer.Option(help="local or host")] = "local",
    concurrency: Annotated[
        int,
        typer.Option(
            min=1,
            # the pool consumer's max_ack_pending: no runner can hold more commands at once
            max=MAX_CONCURRENCY,
            help="Operations run at once (dummy operations are cheap; trainings take a thread "
            "each)",
        ),
    ] = 1,
) -> None:
    """One runner process: takes start commands of its pool and runs them."""
    from trainjet.cli.runtime import resolve_nats_url
    from trainjet.cli.serve import run_runner

    if pool not in ("local", "host"):
        raise CliError(f"unknown pool {pool!r}: use 'local' or 'host'", 2)
    settings = resolve_nats_url(replace(settings_from(ctx), nats_url=nats_url or None))
    if not settings.nats_url:
        raise CliError(
            "no NATS server: set TRAINJET_NATS_URL or --nats-url (or use `trainjet serve`)", 2
        )
    from trainjet.cli.setup import preflight
    from trainjet.system import RUNNER_PARTS

    preflight(settings, RUNNER_PARTS, [pool])
    run_runner(settings, pool, concurrency)


@app.command()
def setup(ctx: typer.Context, nats_url: NatsOpt = None) -> None:
    """Create (or check) the streams, buckets and pool consumers, with admin credentials
    (TRAINJET_NATS_USER=trainjet-admin); idempotent. `trainjet serve` does it by itself when
    it starts its embedded NATS."""
    from trainjet.cli.runtime import resolve_nats_url
    from trainjet.cli.setup import run_setup

    settings = resolve_nats_url(replace(settings_from(ctx), nats_url=nats_url or None))
    if not settings.nats_url:
        raise CliError("no NATS server: set TRAINJET_NATS_URL or --nats-url", 2)
    run_setup(settings)


@app.command()
def train(
    ctx: typer.Context,
    strategy: Annotated[
        str, typer.Argument(help="Strategy name (a file stem in the strategies dir)")
    ],
    symbol: Annotated[
        list[str] | None, typer.Option("--symbol", "-s", help="Repeat for several")
    ] = None,
    timeframe: Annotated[
        list[str] | None, typer.Option("--timeframe", "-t", help="Repeat for several")
    ] = None,
    start_date: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    end_date: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    epochs: Annotated[
        int | None, typer.Option(min=1, help="Override the strategy's epochs")
    ] = None,
    mode: Annotated[str | None, typer.Option("--mode", help="local | host | auto")] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Random seed (recorded)")] = None,
    task_id: Annotated[
        str | None, typer.Option(help="Your own operation id (idempotency key)")
    ] = None,
    detailed_analytics: Annotated[bool, typer.Option("--detailed-analytics")] = False,
    detach: Annotated[
        bool, typer.Option("--detach", help="Print the operation id and return")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per event, then a summary")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the final summary")] = False,
) -> None:
    """Train a strategy and follow it live (Ctrl-C cancels; exit 0 completed, 1 failed,
    2 bad input, 130 cancelled)."""
    from trainjet.cli.train import follow_training, start_training

    if mode is not None and mode not in ("local", "host", "auto"):
        raise CliError(f"unknown mode {mode!r}: use local, host or auto", 2)
    settings = settings_from(ctx)
    body = {
        "strategy_name": strategy,
        "symbols": symbol or None,
        "timeframes": timeframe or None,
        "start_date": start_date,
        "end_date": end_date,
        "epochs": epochs,
        "training_mode": mode,
        "seed": seed,
        "task_id": task_id,
        "detailed_analytics": detailed_analytics,
    }
    try:
        started = start_training(settings, {k: v for k, v in body.items() if v is not None})
    except KeyboardInterrupt:
        raise CliError(
            "interrupted while starting; the training may have been accepted: "
            "see `trainjet ops list --active`",
            130,
        ) from None
    op_id = started["task_id"]
    if detach:
        if as_json:
            print_json(started)
        else:
            typer.echo(op_id)
        return
    if not as_json and not quiet:
        err_console.print(f"[dim]{started['message']} · operation {op_id}[/dim]")
    raise typer.Exit(follow_training(settings, op_id, as_json=as_json, quiet=quiet))


@app.command()
def replay(
    ctx: typer.Context,
    operation_id: Annotated[
        str | None,
        typer.Argument(help="Operation to rebuild", autocompletion=ops.complete_operation_id),
    ] = None,
    all_ops: Annotated[
        bool, typer.Option("--all", help="Every operation in the stream (with --audit: all)")
    ] = False,
    audit: Annotated[
        bool,
        typer.Option("--audit", help="Compare with what the API serves; exit 1 on a difference"),
    ] = False,
    against: Annotated[
        Path | None,
        typer.Option(
            "--against",
            help="Audit against a saved JSON snapshot instead of the live API "
            "(`replay --audit --json` output, or `ops show ID --json`)",
            dir_okay=False,
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="State as of a stream sequence (42) or a time (ISO, UTC)"),
    ] = None,
    export: Annotated[
        Path | None,
        typer.Option("--export", help="Write the events to FILE (.jsonl, or .parquet)"),
    ] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Draw the training curves to FILE.png")
    ] = None,
    verify_snapshot: Annotated[
        bool,
        typer.Option(
            "--verify-snapshot",
            help="Check the API's stored projection snapshot against the full fold of the log",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object")] = False,
    nats_url: NatsOpt = None,
) -> None:
    """Rebuild an operation's state from its events on JetStream: audit it against the API,
    show it as it was at any point, export the events, plot the training curves."""
    from trainjet.cli.replay import run_replay

    settings = settings_from(ctx)
    settings = replace(settings, nats_url=nats_url or settings.nats_url)
    if verify_snapshot:
        if operation_id or all_ops or audit or against or at or export or plot:
            raise CliError("--verify-snapshot takes only --json", 2)
        from trainjet.cli.replay_snapshot import verify_stored_snapshot

        raise typer.Exit(verify_stored_snapshot(settings, as_json=as_json))
    raise typer.Exit(
        run_replay(
            settings,
            operation_id,
            all_ops=all_ops,
            audit=audit,
            against=against,
            at=at,
            export=export,
            plot=plot,
            as_json=as_json,
        )
    )


@app.command("runners")
def runners_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON output")] = False,
) -> None:
    """The live runners: pool, host, device, what each is running, last heartbeat."""
    from trainjet.cli.runners import show_runners

    raise typer.Exit(show_runners(settings_from(ctx), as_json=as_json))


@app.command()
def demo(
    ctx: typer.Context,
    strategy: Annotated[str, typer.Option(help="Example strategy to train")] = "eurusd_rsi_mlp",
    epochs: Annotated[int | None, typer.Option(min=1)] = None,
) -> None:
    """Start everything (embedded NATS, API, one runner), train the example strategy with live
    progress, print the result table, and stop everything again."""
    from trainjet.cli.demo import run_demo

    raise typer.Exit(run_demo(settings_from(ctx), strategy, epochs))


def main() -> None:
    try:
        app()
    except CliError as exc:
        # soft_wrap: one line whatever the terminal width, so scripts and logs can grep it.
        err_console.print(f"[red]error:[/red] {exc.message}", soft_wrap=True)
        raise SystemExit(exc.exit_code) from None
    except TrainjetError as exc:  # raised by a command that works without the API
        err_console.print(f"[red]error:[/red] {escape(exc.message)}", soft_wrap=True)
        raise SystemExit(exit_code(exc)) from None
    except ConfigError as exc:  # a bad environment value: a usage error, one line
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True, highlight=False)
        raise SystemExit(2) from None
