"""The live training display: a fold of the operation's events into what a person watches.

`TrainingView.apply(event)` is pure bookkeeping (no I/O), so the same view renders a live run,
a replay, or a test's recorded events. `render()` returns a rich renderable: the overall bar
with percentage and ETA, the phase or "Epoch k/N · Batch b/B", the latest figures, a GPU line
when the run reports one, and a table of finished epochs.

The view is itself renderable (`__rich__`): rich's `Live` asks it for a fresh rendering on every
frame, so the screen shows the state as of the last event applied before that frame (never more
than one frame behind) and no event pays for a rendering nobody sees.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

TERMINAL = {
    "operation_completed": "completed",
    "operation_cancelled": "cancelled",
    "operation_failed": "failed",
}


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


@dataclass
class TrainingView:
    operation_id: str
    status: str = "pending"
    percentage: float = 0.0
    step: str = "Waiting for a runner…"
    phase: str | None = None
    epoch: int = 0
    total_epochs: int = 0
    batch: int = 0
    batches_per_epoch: int = 0
    loss: float | None = None
    accuracy: float | None = None
    eta_seconds: float | None = None
    eta_at: float = 0.0
    gpu: dict[str, Any] | None = None
    epochs: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: str | None = None
    runner: str | None = None
    cancelling: bool = False
    cancel_recorded: bool = False  # the log holds a cancel_requested
    events_seen: int = 0
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None  # when the terminal event arrived: the clocks stop there
    warnings: list[str] = field(default_factory=list)
    _sums: list[float] = field(default_factory=lambda: [0.0, 0.0, 0], repr=False)

    def apply(self, event: dict[str, Any]) -> None:
        self.events_seen += 1
        kind = event.get("type")
        if kind == "operation_started":
            self.status = "running"
            self.runner = event.get("runner_id")
            self.step = f"Started on {event.get('host') or event.get('runner_id')}"
            if (event.get("attempt") or 1) > 1:
                resumed = event.get("resumed_from_epoch")
                self.step = f"Resumed on {event.get('runner_id')} (attempt {event['attempt']}" + (
                    f", from epoch {resumed})" if resumed is not None else ")"
                )
        elif kind == "runner_lost":
            self.warnings.append(
                f"runner {event.get('runner_id')} lost; the operation waits for another runner"
            )
        elif kind == "phase_changed":
            self.phase = event.get("phase")
            self.step = event.get("message") or str(self.phase)
            if event.get("percentage") is not None:
                self.percentage = float(event["percentage"])
        elif kind == "progress_updated":
            self.percentage = float(event.get("percentage", self.percentage))
            self.step = event.get("message") or self.step
        elif kind == "batch_progress":
            # Each batch is logged with its own figures; show the epoch's running mean, which
            # reads steadily at 10 frames a second where single batches jump about.
            for epoch, batch, loss, accuracy in event.get("batches") or []:
                if epoch != self.epoch:
                    self._sums = [0.0, 0.0, 0]
                self._sums = [self._sums[0] + loss, self._sums[1] + accuracy, self._sums[2] + 1]
                self.epoch, self.batch = epoch, batch
                self.loss = self._sums[0] / self._sums[2]
                self.accuracy = self._sums[1] / self._sums[2]
            self.total_epochs = event.get("total_epochs", self.total_epochs)
            self.batches_per_epoch = event.get("batches_per_epoch", self.batches_per_epoch)
            self.percentage = float(event.get("percentage", self.percentage))
            self._eta(event.get("eta_seconds"))
            self.step = f"Epoch {self.epoch}/{self.total_epochs} · Batch {self.batch}/{self.batches_per_epoch}"
            usage = (event.get("context") or {}).get("resource_usage")
            if usage and usage.get("gpu_used", True):  # a CPU snapshot is no GPU line
                self.gpu = usage
        elif kind == "epoch_completed":
            self.epochs.append(event)
            self.total_epochs = event.get("total_epochs", self.total_epochs)
            self.percentage = float(event.get("percentage", self.percentage))
            self._eta(event.get("eta_seconds"))
        elif kind == "warning_raised":
            self.warnings.append(str(event.get("message")))
        elif kind == "cancel_requested":
            self.cancelling = self.cancel_recorded = True
        elif kind in TERMINAL:
            self.status = TERMINAL[kind]
            self.ended = time.monotonic()
            if kind == "operation_completed":
                self.percentage = 100.0
                self.result = event.get("result_summary") or {}
            else:
                self.result = event.get("partial_result")
                self.error = event.get("reason") or event.get("error")

    def _eta(self, eta: float | None) -> None:
        if eta is not None:
            self.eta_seconds = float(eta)
            self.eta_at = time.monotonic()

    @property
    def eta_now(self) -> float | None:
        if self.eta_seconds is None or self.finished:
            return None
        return self.eta_seconds - (time.monotonic() - self.eta_at)

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL.values()

    # -- rendering -------------------------------------------------------------------------

    def __rich__(self) -> RenderableType:
        return self.render()

    def render(self) -> RenderableType:
        header = Text.assemble(
            (f"{self.operation_id}  ", "bold"),
            (self.status, _STATUS_STYLE.get(self.status, "white")),
            ("  cancelling…" if self.cancelling and not self.finished else "", "magenta"),
        )
        bar = Table.grid(padding=(0, 1))
        bar.add_row(
            ProgressBar(total=100.0, completed=self.percentage, width=40),
            Text(f"{self.percentage:5.1f}%", style="bold"),
            Text(f"ETA {fmt_seconds(self.eta_now)}", style="cyan"),
            Text(
                f"elapsed {fmt_seconds((self.ended or time.monotonic()) - self.started)}",
                style="dim",
            ),
        )
        lines: list[RenderableType] = [header, bar, Text(self.step, style="bold cyan")]
        figures = []
        if self.loss is not None:
            figures.append(f"loss {self.loss:.4f}")
        if self.accuracy is not None:
            figures.append(f"acc {self.accuracy:.3f}")
        if self.epochs:
            last = self.epochs[-1]
            if last.get("val_loss") is not None:
                figures.append(f"val_loss {last['val_loss']:.4f}")
            if last.get("val_accuracy") is not None:
                figures.append(f"val_acc {last['val_accuracy']:.3f}")
        if figures:
            lines.append(Text("  ".join(figures)))
        if self.gpu:
            lines.append(Text(gpu_line(self.gpu), style="green"))
        for warning in self.warnings[-2:]:
            lines.append(Text(f"warning: {warning}", style="yellow"))
        if self.epochs:
            lines.append(epochs_table(self.epochs[-8:]))
        return Group(*lines)


_STATUS_STYLE = {"running": "cyan", "completed": "green", "failed": "red", "cancelled": "magenta"}


def gpu_line(gpu: dict[str, Any]) -> str:
    name = gpu.get("device_name") or gpu.get("name") or gpu.get("device") or "GPU"
    parts = [f"GPU {name}"]
    if gpu.get("utilization_percent") is not None:
        parts.append(f"util {gpu['utilization_percent']:.0f}%")
    used, total = gpu.get("memory_used_mb"), gpu.get("memory_total_mb")
    if used is not None and total:
        parts.append(f"mem {used:.0f}/{total:.0f} MB")
    return "  ".join(parts)


def epochs_table(epochs: list[dict[str, Any]]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold dim")
    for column in ("epoch", "loss", "acc", "val_loss", "val_acc", "lr", "time"):
        table.add_column(column, justify="right")
    for e in epochs:
        table.add_row(
            f"{e['epoch']}/{e.get('total_epochs', '?')}",
            _num(e.get("train_loss"), 4),
            _num(e.get("train_accuracy"), 3),
            _num(e.get("val_loss"), 4),
            _num(e.get("val_accuracy"), 3),
            _num(e.get("learning_rate"), 6),
            f"{e.get('duration_seconds', 0):.2f}s",
        )
    return table


def _num(value: Any, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
