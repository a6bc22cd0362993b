"""What a post-run audit looks at, computed from the events alone (pure, no plotting here).

- `epoch_rows`: one row per epoch with the logged figures and what the batches add (how many,
  their loss range and spread, the generalisation gap, the best epoch).
- `curves`: the series a plot draws, on one x axis measured in epochs (batch b of epoch e
  sits at e - 1 + b/B), so per-batch and per-epoch series and event markers line up.
- `batch_losses`: each batch's own loss, as the loop logged it, with the epoch's running mean
  beside it (what `epoch_rows` and the live display summarise).
- `moving_mean`: a trailing mean over a window of batches that runs across epoch boundaries,
  the smoother line a plot draws over the noisy per-batch one (a mean that restarts every
  epoch jumps at each boundary and reads as a change in the training that is not there).
- `markers`: where the run was cancelled, resumed on another attempt, or failed.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from trainjet.core.events import (
    BatchProgress,
    BatchRecord,
    CancelRequested,
    EpochCompleted,
    OperationCancelled,
    OperationFailed,
    OperationStarted,
    RunnerLost,
    type_name,
)
from trainjet.core.projections import EpochRecord, OperationMetrics, batch_curve, evolve_metrics
from trainjet.core.projections.trends import epoch_trends
from trainjet.core.store.port import StoredEvent


@dataclass(frozen=True)
class Marker:
    x: float  # in epochs, like every other series
    kind: str  # an event's type (cancel_requested, runner_lost), or resumed/cancelled/failed
    label: str


@dataclass
class Curves:
    batch_x: list[float] = field(default_factory=list)
    batch_loss: list[float | None] = field(default_factory=list)  # each batch's own, as logged
    batch_smooth_loss: list[float] = field(default_factory=list)  # trailing moving mean
    smooth_window: int = 1  # batches in that mean
    epoch_x: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float | None] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float | None] = field(default_factory=list)
    learning_rate: list[float | None] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    best_epoch: int | None = None  # by validation loss, as `/metrics` and the trends say

    @property
    def empty(self) -> bool:
        return not self.batch_x and not self.epoch_x


def _epochs(events: Sequence[StoredEvent]) -> tuple[EpochRecord, ...]:
    """The epoch history exactly as `/metrics` serves it (a re-done epoch replaces the
    earlier record), by running the same fold."""
    state: OperationMetrics | None = None
    for record in events:
        state = evolve_metrics(state, record.event)
    return state.epochs if state else ()


def _per_epoch(events: Sequence[StoredEvent]) -> int:
    for record in reversed(events):
        if isinstance(record.event, BatchProgress) and record.event.batches_per_epoch:
            return record.event.batches_per_epoch
    return 0


def curves(events: Sequence[StoredEvent]) -> Curves:
    out = Curves()
    per_epoch = _per_epoch(events) or 1
    batches = batch_curve(r.event for r in events)
    # about a quarter of an epoch, within bounds: smooth enough to read, short enough to
    # follow what changes within an epoch
    out.smooth_window = max(1, min(50, per_epoch // 4))
    for b in batches:
        out.batch_x.append(b.epoch - 1 + b.batch / per_epoch)
        out.batch_loss.append(b.loss)
    out.batch_smooth_loss = moving_mean([b.loss for b in batches], out.smooth_window)
    epochs = _epochs(events)
    out.best_epoch = epoch_trends(epochs)["best_epoch"]
    for e in epochs:
        out.epoch_x.append(e.epoch)
        out.train_loss.append(e.train_loss)
        out.val_loss.append(e.val_loss)
        out.train_accuracy.append(e.train_accuracy)
        out.val_accuracy.append(e.val_accuracy)
        out.learning_rate.append(e.learning_rate)
    out.markers = markers(events)
    return out


def moving_mean(values: Sequence[float], window: int) -> list[float]:
    """The trailing mean of up to `window` values ending at each position."""
    out: list[float] = []
    total = 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def batch_losses(events: Sequence[StoredEvent]) -> list[tuple[BatchRecord, float]]:
    """Each logged batch with the running mean of its epoch's losses so far."""
    out: list[tuple[BatchRecord, float]] = []
    epoch, total, count = None, 0.0, 0
    for b in batch_curve(r.event for r in events):
        if b.epoch != epoch:
            epoch, total, count = b.epoch, 0.0, 0
        total, count = total + b.loss, count + 1
        out.append((b, total / count))
    return out


def markers(events: Sequence[StoredEvent]) -> list[Marker]:
    """Positions follow the training: an event sits where the last reported batch was."""
    found: list[Marker] = []
    x = 0.0
    for record in events:
        event = record.event
        match event:
            case BatchProgress() if event.batches and event.batches_per_epoch:
                last = event.batches[-1]
                x = last.epoch - 1 + last.batch / event.batches_per_epoch
            case EpochCompleted():
                x = float(event.epoch)
            case OperationStarted() if event.attempt > 1:
                label = f"attempt {event.attempt}"
                if event.resumed_from_epoch is not None:
                    label += f" (from epoch {event.resumed_from_epoch})"
                found.append(Marker(x, "resumed", label))
            case CancelRequested():
                found.append(Marker(x, type_name(CancelRequested), "cancel requested"))
            case OperationCancelled():
                found.append(Marker(x, "cancelled", "cancelled"))
            case OperationFailed():
                found.append(Marker(x, "failed", f"failed: {event.error_code}"))
            case RunnerLost():
                found.append(Marker(x, type_name(RunnerLost), "runner lost"))
    return found


def epoch_rows(events: Sequence[StoredEvent]) -> list[dict[str, Any]]:
    """Per-epoch analytics: the logged figures plus the batch-level view of each epoch."""
    batches: dict[int, list[float]] = {}
    counts: Counter[int] = Counter()
    for b in batch_curve(r.event for r in events):
        counts[b.epoch] += 1
        batches.setdefault(b.epoch, []).append(b.loss)
    epochs = _epochs(events)
    best = epoch_trends(epochs)["best_epoch"]
    rows = []
    for e in epochs:
        losses = batches.get(e.epoch, [])
        rows.append(
            {
                "epoch": e.epoch,
                "train_loss": e.train_loss,
                "train_accuracy": e.train_accuracy,
                "val_loss": e.val_loss,
                "val_accuracy": e.val_accuracy,
                "gap": None if e.val_loss is None else e.val_loss - e.train_loss,
                "learning_rate": e.learning_rate,
                "seconds": e.duration_seconds,
                "batches": counts[e.epoch],
                "batch_loss_min": min(losses) if losses else None,
                "batch_loss_max": max(losses) if losses else None,
                "batch_loss_std": statistics.pstdev(losses) if len(losses) > 1 else None,
                "best": e.epoch == best,
            }
        )
    return rows


def type_counts(events: Sequence[StoredEvent]) -> dict[str, int]:
    return dict(Counter(type_name(type(r.event)) for r in events))
