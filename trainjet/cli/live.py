"""The live training display: the projection's fold of the operation's events, plus what only
a person watching needs.

`TrainingView.apply(event)` runs the very `evolve` functions the API's projection runs (the
operation and its epoch history), so the status, progress, warnings, result and epochs shown
here are what `GET /operations/{id}` and `/metrics` serve: a resumed run's re-done epoch
replaces the earlier one here too. On top of that the view keeps display state only: the
epoch's running mean of batch figures, the ETA counting down between events, the GPU line,
and a "started / resumed on" line until the next progress. No I/O, so the same view renders a
live run, a replay, or a test's recorded events. `render()` returns a rich renderable: the
overall bar with percentage and ETA, the phase or "Epoch k/N · Batch b/B", the latest figures,
a GPU line when the run reports one, and a table of finished epochs.

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

from trainjet.core.events import (
    AnyEvent,
    BatchProgress,
    EpochCompleted,
    OperationStarted,
    OperationStatus,
)
from trainjet.core.projections import (
    EpochRecord,
    OperationInfo,
    OperationMetrics,
    evolve,
    evolve_metrics,
)


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
    # The projection's state, folded by the projection's own functions.
    info: OperationInfo | None = None
    metrics: OperationMetrics | None = None
    # Display state only.
    cancelling: bool = False  # asked from this terminal (Ctrl-C), maybe not yet in the log
    events_seen: int = 0
    loss: float | None = None  # running mean of the current epoch's batches
    accuracy: float | None = None
    eta_seconds: float | None = None
    eta_at: float = 0.0
    gpu: dict[str, Any] | None = None
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None  # when the terminal event arrived: the clocks stop there
    _notice: str | None = field(default=None, repr=False)  # "started / resumed on ..."
    _batch_at: tuple[int, int] = field(default=(0, 0), repr=False)  # (epoch, batch) last shown
    _per_epoch: int = field(default=0, repr=False)  # batches per epoch, from the batch events
    _sums: tuple[float, float, int] = field(default=(0.0, 0.0, 0), repr=False)

    def apply(self, event: AnyEvent) -> None:
        self.events_seen += 1
        before = self.info
        self.info = evolve(self.info, event)
        self.metrics = evolve_metrics(self.metrics, event)
        if self.info is None or self.info is before:
            return  # nothing the projection counts (before the create, or after the end)
        if self.info.status.is_terminal:
            self.ended = self.ended or time.monotonic()
            self._notice = None
        elif isinstance(event, OperationStarted):
            self._notice = _started_line(event)
        elif before is not None and self.info.progress is not before.progress:
            self._notice = None  # the run reports progress again: show that
        if isinstance(event, BatchProgress):
            self._batches(event)
        if isinstance(event, BatchProgress | EpochCompleted) and event.eta_seconds is not None:
            self.eta_seconds = float(event.eta_seconds)
            self.eta_at = time.monotonic()

    def _batches(self, event: BatchProgress) -> None:
        # Each batch is logged with its own figures; show the epoch's running mean, which
        # reads steadily at 10 frames a second where single batches jump about. A new epoch,
        # or a resumed attempt re-reporting from its checkpoint, starts the mean again.
        self._per_epoch = event.batches_per_epoch
        for record in event.batches:
            loss, accuracy, count = self._sums
            if (record.epoch, record.batch) <= self._batch_at or record.epoch != self._batch_at[0]:
                loss, accuracy, count = 0.0, 0.0, 0
            self._sums = (loss + record.loss, accuracy + record.accuracy, count + 1)
            self._batch_at = (record.epoch, record.batch)
            self.loss = self._sums[0] / self._sums[2]
            self.accuracy = self._sums[1] / self._sums[2]
        usage = event.context.get("resource_usage")
        if usage and usage.get("gpu_used", True):  # a CPU snapshot is no GPU line
            self.gpu = usage

    # -- what the projection says ----------------------------------------------------------

    @property
    def status(self) -> OperationStatus:
        return self.info.status if self.info else OperationStatus.PENDING

    @property
    def finished(self) -> bool:
        return self.status.is_terminal

    @property
    def percentage(self) -> float:
        return self.info.progress.percentage if self.info else 0.0

    @property
    def step(self) -> str:
        if self._notice is not None:
            return self._notice
        if self.info is None or not self.info.progress.current_step:
            return "Waiting for a runner…"
        step = self.info.progress.current_step
        # Short epochs reach the log as one burst (their batches, then `epoch_completed`), so
        # the projection's step reads "Epoch k/N" after every burst; the terminal saw the
        # batches themselves and keeps showing where in the epoch the loop got.
        epoch, batch = self._batch_at
        if self._per_epoch and "Batch" not in step and step.startswith(f"Epoch {epoch}/"):
            return f"{step} · Batch {batch}/{self._per_epoch}"
        return step

    @property
    def epochs(self) -> tuple[EpochRecord, ...]:
        """Finished epochs as `/metrics` serves them: a re-done epoch replaces the earlier."""
        return self.metrics.epochs if self.metrics else ()

    @property
    def total_epochs(self) -> int:
        return self.metrics.total_epochs if self.metrics else 0

    @property
    def warnings(self) -> list[str]:
        return self.info.warnings if self.info else []

    @property
    def runner(self) -> str | None:
        return self.info.runner_id if self.info else None

    @property
    def result(self) -> dict[str, Any] | None:
        """The result summary once finished (the partial result of a cancelled/failed run)."""
        return self.info.result_summary if self.info and self.finished else None

    @property
    def error(self) -> str | None:
        return self.info.error_message if self.info else None

    @property
    def cancel_recorded(self) -> bool:
        """The log holds a cancel request."""
        return self.info is not None and self.info.cancel_requested_at is not None

    @property
    def eta_now(self) -> float | None:
        if self.eta_seconds is None or self.finished:
            return None
        return self.eta_seconds - (time.monotonic() - self.eta_at)

    # -- rendering -------------------------------------------------------------------------

    def __rich__(self) -> RenderableType:
        return self.render()

    def render(self) -> RenderableType:
        header = Text.assemble(
            (f"{self.operation_id}  ", "bold"),
            (self.status, _STATUS_STYLE.get(self.status, "white")),
            (
                "  cancelling…"
                if (self.cancelling or self.cancel_recorded) and not self.finished
                else "",
                "magenta",
            ),
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
            if last.val_loss is not None:
                figures.append(f"val_loss {last.val_loss:.4f}")
            if last.val_accuracy is not None:
                figures.append(f"val_acc {last.val_accuracy:.3f}")
        if figures:
            lines.append(Text("  ".join(figures)))
        if self.gpu:
            lines.append(Text(gpu_line(self.gpu), style="green"))
        for warning in self.warnings[-2:]:
            lines.append(Text(f"warning: {warning}", style="yellow"))
        if self.epochs:
            lines.append(epochs_table(self.epochs[-8:], self.total_epochs))
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


def epochs_table(epochs: tuple[EpochRecord, ...], total_epochs: int) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold dim")
    for column in ("epoch", "loss", "acc", "val_loss", "val_acc", "lr", "time"):
        table.add_column(column, justify="right")
    for e in epochs:
        table.add_row(
            f"{e.epoch}/{total_epochs or '?'}",
            _num(e.train_loss, 4),
            _num(e.train_accuracy, 3),
            _num(e.val_loss, 4),
            _num(e.val_accuracy, 3),
            _num(e.learning_rate, 6),
            f"{e.duration_seconds:.2f}s",
        )
    return table


def _num(value: Any, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _started_line(event: OperationStarted) -> str:
    if event.attempt <= 1:
        return f"Started on {event.host or event.runner_id}"
    resumed = event.resumed_from_epoch
    return f"Resumed on {event.runner_id} (attempt {event.attempt}" + (
        f", from epoch {resumed})" if resumed is not None else ")"
    )
