"""`trainjet train`: start a training through the API and follow it live from its events.

Ctrl-C once asks the API to cancel and keeps following until the runner confirms (exit 130);
Ctrl-C twice leaves at once. Exit codes: 0 completed, 1 failed, 2 bad input, 130 cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from typing import Any

from rich.live import Live
from rich.table import Table

from trainjet.cli.client import ApiClient, CliError
from trainjet.cli.follow import aiter_events
from trainjet.cli.live import TrainingView, fmt_seconds
from trainjet.cli.output import console, print_json
from trainjet.config import Settings

EXIT = {"completed": 0, "failed": 1, "cancelled": 130}


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
    interrupts = 0

    def on_sigint() -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts > 1:
            console.print("[red]interrupted again: leaving without waiting[/red]")
            sys.stdout.flush()
            os._exit(130)
        view.cancelling = True
        if not as_json:
            console.print("[magenta]cancelling… (Ctrl-C again to leave at once)[/magenta]")
        loop.run_in_executor(None, _cancel, settings, view.operation_id)

    loop.add_signal_handler(signal.SIGINT, on_sigint)
    try:
        tty = console.is_terminal and not as_json and not quiet
        if tty:
            with Live(
                view.render(), console=console, refresh_per_second=10, transient=False
            ) as live:
                async for event in aiter_events(settings, view.operation_id):
                    view.apply(event)
                    live.update(view.render())
        else:
            async for event in aiter_events(settings, view.operation_id):
                view.apply(event)
                if as_json:
                    print_json(event)
                elif not quiet:
                    _plain_line(view, event)
    finally:
        with contextlib.suppress(Exception):
            loop.remove_signal_handler(signal.SIGINT)


def _cancel(settings: Settings, operation_id: str) -> None:
    try:
        with ApiClient(settings) as api:
            api.post(
                f"/operations/{operation_id}/cancel",
                json={"reason": "Cancelled from the CLI (Ctrl-C)"},
            )
    except CliError as exc:
        console.print(f"[yellow]cancel request: {exc.message}[/yellow]")


def _plain_line(view: TrainingView, event: dict[str, Any]) -> None:
    """Without a terminal: one line per phase and per epoch, nothing per batch."""
    kind = event.get("type")
    if kind == "phase_changed":
        print(f"[{view.percentage:5.1f}%] {view.step}", flush=True)
    elif kind == "epoch_completed":
        val = event.get("val_loss")
        val_text = (
            f" val_loss={val:.4f} val_acc={event.get('val_accuracy') or 0:.3f}"
            if val is not None
            else ""
        )
        print(
            f"[{view.percentage:5.1f}%] Epoch {event['epoch']}/{event['total_epochs']} "
            f"loss={event['train_loss']:.4f} acc={event['train_accuracy']:.3f}{val_text} "
            f"ETA {fmt_seconds(view.eta_now)}",
            flush=True,
        )
    elif kind in (
        "operation_completed",
        "operation_cancelled",
        "operation_failed",
        "operation_started",
    ):
        print(f"[{view.percentage:5.1f}%] {kind.replace('operation_', '')}", flush=True)


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def result_table(result: dict[str, Any]) -> Table:
    training = result.get("training_metrics") or {}
    test = result.get("test_metrics") or {}
    model = result.get("model_info") or {}
    artifacts = result.get("artifacts") or {}
    table = Table(title="Training Results", show_header=False)
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    size = model.get("model_size_bytes") or artifacts.get("model_size_bytes")
    rows = [
        ("Final Training Accuracy", _pct(training.get("final_train_accuracy"))),
        ("Final Validation Accuracy", _pct(training.get("final_val_accuracy"))),
        ("Epochs Completed", str(training.get("epochs_completed", "-"))),
        ("Best Epoch", str(training.get("best_epoch", "-"))),
        ("Early Stopped", str(training.get("early_stopped", "-"))),
        ("Training Time (min)", f"{training.get('training_time_minutes', 0):.2f}"),
        ("Test Accuracy", _pct(test.get("test_accuracy"))),
        ("Precision", _pct(test.get("precision"))),
        ("Recall", _pct(test.get("recall"))),
        ("F1 Score", _pct(test.get("f1_score"))),
        ("Model Parameters", str(model.get("parameters_count", "-"))),
        ("Model Size (MB)", f"{size / 1e6:.3f}" if size else "-"),
        ("Model Path", str(artifacts.get("model_path", "-"))),
    ]
    for key, value in rows:
        table.add_row(key, value)
    return table


def print_result(view: TrainingView) -> None:
    if view.status == "completed" and view.result:
        console.print("[green]✅ Training completed[/green]")
        console.print(result_table(view.result))
    elif view.status == "cancelled":
        console.print(f"[magenta]Training cancelled[/magenta]: {view.error}")
        if view.result and view.result.get("training_metrics"):
            console.print(result_table(view.result))
    elif view.status == "failed":
        console.print(f"[red]❌ Training failed[/red]: {view.error}")
