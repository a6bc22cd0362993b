"""`trainjet train`: start a training through the API and follow it live from its events.

Ctrl-C once asks the API to cancel and keeps following until the runner confirms (exit 130);
Ctrl-C twice leaves without waiting for the runner (as soon as the log shows the cancel
request, so the training does not go on). Exit codes: 0 completed, 1 failed, 2 bad input,
130 cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.live import Live

from trainjet.cli.client import ApiClient, CliError
from trainjet.cli.follow import aiter_events, event_json
from trainjet.cli.live import TrainingView, fmt_seconds
from trainjet.cli.output import console, err_console, print_json
from trainjet.cli.run_tables import training_result_table
from trainjet.config import Settings
from trainjet.core.events import (
    TERMINAL_TYPES,
    AnyEvent,
    EpochCompleted,
    OperationStarted,
    OperationStatus,
    PhaseChanged,
    type_name,
)

EXIT = {OperationStatus.COMPLETED: 0, OperationStatus.FAILED: 1, OperationStatus.CANCELLED: 130}


def start_training(settings: Settings, body: dict[str, Any]) -> dict[str, Any]:
    with ApiClient(settings) as api:
        return dict(api.post("/trainings/start", json=body))


def follow_training(
    settings: Settings, operation_id: str, *, as_json: bool = False, quiet: bool = False
) -> int:
    view = TrainingView(operation_id)
    try:
        asyncio.run(_follow(settings, view, as_json=as_json, quiet=quiet))
    except KeyboardInterrupt:
        return 130
    if as_json:
        print_json(
            {
                "type": "summary",
                "operation_id": operation_id,
                "status": view.status,
                "events": view.events_seen,
                "error": view.error,
                "result": view.result,
            }
        )
    else:
        print_result(view)
    return EXIT.get(view.status, 1)


async def _follow(settings: Settings, view: TrainingView, *, as_json: bool, quiet: bool) -> None:
    loop = asyncio.get_running_loop()
    live_display = console.is_terminal and not as_json and not quiet
    # What the user reads about the cancellation never goes into a stream a script parses.
    notices = console if live_display or not (as_json or quiet) else err_console
    interrupts = 0
    live: Live | None = None
    # Set once the cancel request is in the log (or could not be made): see leave_soon.
    settled = asyncio.Event()
    leaving: set[asyncio.Task[None]] = set()

    def leave() -> None:
        if live is not None:
            live.stop()  # shows the cursor again and ends the display's last line
        sys.stdout.flush()
        os._exit(130)

    async def leave_soon() -> None:
        # The first Ctrl-C's request may still be on its way: leaving before the API recorded
        # it would leave the training running. The log says when it is recorded; wait for
        # that, briefly.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(settled.wait(), 3.0)
        leave()

    def cancel_failed() -> None:
        loop.call_soon_threadsafe(settled.set)

    def on_sigint() -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts > 2:
            leave()
        if interrupts == 2:
            notices.print("[red]interrupted again: leaving without waiting for the runner[/red]")
            task = loop.create_task(leave_soon())
            leaving.add(task)
            return
        view.cancelling = True
        notices.print("[magenta]cancelling… (Ctrl-C again to leave at once)[/magenta]")
        loop.run_in_executor(None, _cancel, settings, view.operation_id, notices, cancel_failed)

    def apply(event: AnyEvent) -> None:
        view.apply(event)
        if view.cancel_recorded:
            settled.set()

    loop.add_signal_handler(signal.SIGINT, on_sigint)
    try:
        if live_display:
            # The view renders itself on each of Live's frames (10 a second): applying an
            # event is bookkeeping only, and the ETA and elapsed time tick between events.
            with Live(view, console=console, refresh_per_second=10, transient=False) as live:
                async for record in aiter_events(settings, view.operation_id):
                    apply(record.event)
        else:
            async for record in aiter_events(settings, view.operation_id):
                apply(record.event)
                if as_json:
                    print_json(event_json(record))
                elif not quiet:
                    _plain_line(view, record.event)
    finally:
        with contextlib.suppress(Exception):
            loop.remove_signal_handler(signal.SIGINT)


def _cancel(
    settings: Settings, operation_id: str, notices: Console, failed: Callable[[], None]
) -> None:
    try:
        with ApiClient(settings) as api:
            api.post(
                f"/operations/{operation_id}/cancel",
                json={"reason": "Cancelled from the CLI (Ctrl-C)"},
            )
    except CliError as exc:
        failed()
        notices.print(f"[yellow]cancel request: {exc.message}[/yellow]")


def _plain_line(view: TrainingView, event: AnyEvent) -> None:
    """Without a terminal: one line per phase and per epoch, nothing per batch."""
    if isinstance(event, PhaseChanged):
        print(f"[{view.percentage:5.1f}%] {view.step}", flush=True)
    elif isinstance(event, EpochCompleted):
        val_text = (
            f" val_loss={event.val_loss:.4f} val_acc={event.val_accuracy or 0:.3f}"
            if event.val_loss is not None
            else ""
        )
        print(
            f"[{view.percentage:5.1f}%] Epoch {event.epoch}/{event.total_epochs} "
            f"loss={event.train_loss:.4f} acc={event.train_accuracy:.3f}{val_text} "
            f"ETA {fmt_seconds(view.eta_now)}",
            flush=True,
        )
    elif isinstance(event, (OperationStarted, *TERMINAL_TYPES)):
        kind = type_name(type(event)).removeprefix("operation_")
        print(f"[{view.percentage:5.1f}%] {kind}", flush=True)


def print_result(view: TrainingView) -> None:
    if view.status == "completed" and view.result:
        console.print("[green]✅ Training completed[/green]")
        console.print(training_result_table(view.result))
    elif view.status == "cancelled":
        console.print(f"[magenta]Training cancelled[/magenta]: {view.error}")
        if view.result and view.result.get("training_metrics"):
            console.print(training_result_table(view.result))
    elif view.status == "failed":
        console.print(f"[red]❌ Training failed[/red]: {view.error}")
