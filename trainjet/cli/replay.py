"""`trainjet replay`: rebuild an operation from its events on JetStream, audit, export, plot.

The events are read from NATS, never from the API, so the rebuild does not trust the thing it
audits. `--audit` then compares the rebuilt `OperationInfo` and metrics with what the API
serves (`GET /operations/{id}` and `/metrics`), or with a saved snapshot (`--against FILE`),
and exits 1 on any difference. Exit codes: 0 ok, 1 audit differences, 2 bad input.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from trainjet.cli.client import ApiClient, CliError
from trainjet.cli.output import console, err_console, print_json
from trainjet.cli.replay_source import (
    ACTIVE,
    Served,
    audit,
    fetch_served,
    load_snapshot,
    read_records,
)
from trainjet.cli.replay_view import audit_table, print_header, print_replay, replay_json
from trainjet.config import Settings
from trainjet.replay import At, Replay, rebuild


def run_replay(
    settings: Settings,
    operation_id: str | None,
    *,
    all_ops: bool,
    audit: bool,
    against: Path | None,
    at: str | None,
    export: Path | None,
    plot: Path | None,
    as_json: bool,
) -> int:
    """`trainjet replay`: check the options against each other, then do one or all."""
    from trainjet.replay import parse_at

    if all_ops:
        if operation_id or against or at or export or plot:
            raise CliError("--all takes only --audit and --json (the rest need one id)", 2)
        from trainjet.cli.replay_all import replay_all

        return replay_all(settings, do_audit=audit, as_json=as_json)
    if not operation_id:
        raise CliError("give an OPERATION_ID, or --all (`trainjet ops list` shows the ids)", 2)
    try:
        moment = parse_at(at) if at is not None else None
    except ValueError as exc:
        raise CliError(str(exc), 2) from exc
    if moment is not None and audit and against is None:
        raise CliError(
            "--at with --audit needs --against SNAPSHOT: the API serves only the current state", 2
        )
    return replay_one(
        settings,
        operation_id,
        do_audit=audit or against is not None,
        against=against,
        at=moment,
        export=export,
        plot=plot,
        as_json=as_json,
    )


def replay_one(
    settings: Settings,
    operation_id: str,
    *,
    do_audit: bool,
    against: Path | None,
    at: At | None,
    export: Path | None,
    plot: Path | None,
    as_json: bool,
) -> int:
    served: Served | None = None
    if against is not None:
        served = load_snapshot(against)
    elif do_audit:  # before reading the log: the log is then at or past what was served
        with ApiClient(settings) as api:
            served = fetch_served(api, operation_id)
    records, url = asyncio.run(read_records(settings, operation_id))
    if not records:
        raise CliError(
            f"no events for operation {operation_id} in the events stream at {url}; check the "
            "id (`trainjet ops list`) and that TRAINJET_NATS_URL names the API's NATS server",
            2,
        )
    cut_at = at
    if served is not None and at is None and served.operation.get("status") in ACTIVE:
        # A live operation moves on: compare at the position the server had reached.
        cut_at = int(served.operation.get("last_sequence") or 0)
        served.notes.append(f"operation still active: compared at stream sequence {cut_at}")
    replay = rebuild(records, operation_id, cut_at)
    differences = audit(replay, served) if served is not None else None
    outputs = _write_files(replay, export, plot, as_json)
    if as_json:
        print_json(replay_json(replay, at, served, differences, outputs, url))
    elif served is not None and differences is not None:
        print_header(replay, at, url)
        for line in outputs:
            console.print(line)
        for note in served.notes:
            console.print(f"[dim]note: {note}[/dim]")
        console.print(audit_table(operation_id, differences, served.source))
    elif outputs:  # writing files: say what was written, not the whole view again
        print_header(replay, at, url)
        for line in outputs:
            console.print(line)
    else:
        print_replay(replay, at, url)
    return 1 if differences else 0


def _write_files(replay: Replay, export: Path | None, plot: Path | None, quiet: bool) -> list[str]:
    from trainjet.replay.export import write_events
    from trainjet.replay.metrics_table import metrics_path, write_metrics

    written = []
    if export is not None:
        table = metrics_path(export)
        try:
            count = write_events(export, replay.events)
            rows = write_metrics(table, replay.events)
        except (OSError, RuntimeError) as exc:
            raise CliError(f"--export {export}: {exc}", 2) from exc
        written.append(f"wrote {count} events to {export}")
        written.append(f"wrote {rows} metric rows (per batch and per epoch) to {table}")
    if plot is not None:
        from trainjet.cli.replay_plot import plot_curves
        from trainjet.replay.analytics import curves

        series = curves(replay.events)
        if series.empty:
            raise CliError(
                f"nothing to plot: operation {replay.operation_id} logged no batches or epochs", 2
            )
        info = replay.info
        strategy = info.metadata.parameters.get("strategy_name", "") if info else ""
        status = info.status.value if info else "?"
        try:
            plot_curves(series, plot, f"{replay.operation_id}  {strategy}  ({status})")
        except (OSError, ValueError) as exc:
            raise CliError(f"--plot {plot}: {exc}", 2) from exc
        written.append(f"wrote the training curves to {plot}")
    if quiet:
        for line in written:
            err_console.print(line)
    return written
