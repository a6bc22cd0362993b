"""`trainjet ops list|show|cancel|tail|events|tag|note|compare`."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from trainjet.cli.client import ApiClient, CliError
from trainjet.cli.context import settings_from
from trainjet.cli.output import (
    console,
    err_console,
    operation_table,
    operations_table,
    print_json,
    status_text,
)
from trainjet.cli.runtime import resolve_api_url
from trainjet.config import Settings
from trainjet.core.events import TERMINAL_STATUS, OperationStatus

app = typer.Typer(help="Inspect, follow and cancel operations.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output")]


def complete_operation_id(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """Shell completion: recent operation ids from the API (nothing when it is not up)."""
    api_url = ctx.find_root().params.get("api_url")
    settings = resolve_api_url(Settings.from_env(api_url=api_url), explicit=api_url is not None)
    import httpx  # here, not at the top: `trainjet api` imports this module and never needs it

    try:
        body = httpx.get(
            f"{settings.api_url.rstrip('/')}/api/v1/operations",
            params={"limit": 200},
            timeout=2.0,
        ).json()
        rows = body["data"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return []
    return [
        (row["operation_id"], f"{row['operation_type']} {row['status']}")
        for row in rows
        if str(row.get("operation_id", "")).startswith(incomplete)
    ]


OperationArg = Annotated[
    str, typer.Argument(help="Operation id", autocompletion=complete_operation_id)
]


@contextlib.contextmanager
def unknown_id_hint() -> Iterator[None]:
    """A 404 from the API gets the way to find the right id."""
    try:
        yield
    except CliError as exc:
        if exc.status_code == 404:
            raise CliError(
                f"{exc.message}; `trainjet ops list` shows the known operation ids", exc.exit_code
            ) from exc
        raise


@app.command("list")
def list_ops(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option("--status", "-s", help="pending|running|completed|failed|cancelled"),
    ] = None,
    operation_type: Annotated[
        str | None, typer.Option("--type", "-t", help="training, dummy, ...")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-l", min=1, max=1000)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    active: Annotated[
        bool, typer.Option("--active", "-a", help="Only pending and running")
    ] = False,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Only with this tag (repeat: all of them)")
    ] = None,
    strategy: Annotated[str | None, typer.Option("--strategy", help="Strategy name")] = None,
    symbol: Annotated[str | None, typer.Option("--symbol", help="A symbol trained on")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List operations, newest first."""
    params: dict[str, Any] = {"limit": limit, "offset": offset, "active_only": active}
    if tag:
        params["tag"] = tag
    if strategy:
        params["strategy"] = strategy
    if symbol:
        params["symbol"] = symbol
    if status:
        params["status"] = status
    if operation_type:
        params["operation_type"] = operation_type
    with ApiClient(settings_from(ctx)) as api:
        body = api.get("/operations", params=params)
    if as_json:
        print_json(body)
        return
    console.print(operations_table(body["data"], body["total_count"], body["active_count"]))


@app.command("show")
def show(ctx: typer.Context, operation_id: OperationArg, as_json: JsonOpt = False) -> None:
    """Show one operation."""
    with unknown_id_hint(), ApiClient(settings_from(ctx)) as api:
        body = api.get(f"/operations/{operation_id}")
    if as_json:
        print_json(body["data"])
        return
    console.print(operation_table(body["data"]))


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    operation_id: OperationArg,
    reason: Annotated[str | None, typer.Option("--reason", "-r")] = None,
    force: Annotated[
        bool, typer.Option("--force", "-f", help="End it even if the runner does not confirm")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Cancel an operation and wait for the runner to confirm."""
    with unknown_id_hint(), ApiClient(settings_from(ctx)) as api:
        body = api.post(
            f"/operations/{operation_id}/cancel", json={"reason": reason, "force": force}
        )
    data = body["data"]
    if as_json:
        print_json(data)
        return
    if data["confirmed"]:
        console.print(
            f"{operation_id}: {status_text(str(data['status']))} "
            f"(confirmed in {data['cancel_latency_ms']:.0f} ms)"
        )
    else:
        console.print(f"{operation_id}: cancelling… the runner has not confirmed yet")


@app.command("events")
def events(
    ctx: typer.Context,
    operation_id: OperationArg,
    as_json: JsonOpt = False,
) -> None:
    """Print the raw event history of an operation (one JSON object a line with --json)."""
    with unknown_id_hint(), ApiClient(settings_from(ctx)) as api:
        body = api.get(f"/operations/{operation_id}/events")
    items = body["data"]["events"]
    if as_json:
        for item in items:
            print_json(item)
        return
    for item in items:
        console.print(_event_line(item))


@app.command("tail")
def tail(
    ctx: typer.Context,
    operation_id: OperationArg,
    raw: Annotated[
        bool, typer.Option("--raw", help="One line per event instead of the live display")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Watch an operation live until it ends, with the display of `train` (exit code: 0
    completed, 1 failed, 130 cancelled). Ctrl-C detaches (exit 0): the operation goes on."""
    from trainjet.cli.follow import event_json, follow_events
    from trainjet.cli.train import EXIT

    settings = settings_from(ctx)
    # A live tail of an id nobody wrote would wait for ever: ask the API first when it is up.
    try:
        with ApiClient(settings, timeout=5.0) as api:
            api.get(f"/operations/{operation_id}")
    except CliError as exc:
        if exc.status_code == 404:
            with unknown_id_hint():
                raise
        # Any other failure (the API is down) is no reason to stop: NATS may still answer.
    if not (raw or as_json):
        from trainjet.cli.watch import watch_operation

        raise typer.Exit(watch_operation(settings, operation_id))
    ended: OperationStatus | None = None
    try:
        for record in follow_events(settings, operation_id):
            ended = TERMINAL_STATUS.get(type(record.event), ended)
            item = event_json(record)
            if as_json:
                print_json(item)
            else:
                console.print(_event_line(item))
    except KeyboardInterrupt:
        # Watching is not owning: Ctrl-C stops the tail, never the operation, and 130 would
        # say "cancelled".
        err_console.print(f"detached from {operation_id}: the operation goes on")
        raise typer.Exit(0) from None
    raise typer.Exit(EXIT[ended] if ended else 1)


def _event_line(item: dict[str, Any]) -> str:
    skip = {"type", "event_id", "operation_id", "occurred_at", "schema_version", "seq", "subject"}
    rest = {k: v for k, v in item.items() if k not in skip and v not in (None, {}, [])}
    stamp = str(item.get("occurred_at", ""))[11:23]
    return (
        f"[dim]{item.get('seq', '')!s:>6} {stamp}[/dim] [bold]{item['type']}[/bold] "
        + json.dumps(rest, default=str)[:300]
    )


def _register_run_commands() -> None:
    """`tag`, `note` and `compare` live in their own module (ops_runs) to keep this one small."""
    from trainjet.cli import ops_runs

    app.command("tag")(ops_runs.tag)
    app.command("note")(ops_runs.note)
    app.command("compare")(ops_runs.compare)


_register_run_commands()

__all__ = ["CliError", "app"]
