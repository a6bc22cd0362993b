"""`TrainingProgressBridge`: the training loop's reporter, turning callbacks into events.

Runs on the training thread, so every method is cheap and none waits on the network: events
go to the runner's `EventOutbox`. Batches are coalesced: each batch's loss and accuracy is
kept, and one `batch_progress` carrying all batches since the last one leaves at most every
`flush_seconds`. Short epochs do not add sends: an epoch's last batches and its
`epoch_completed` wait (at most `flush_seconds`) and leave with the next send, in one hand-over
to the outbox, so a training wakes the runner's loop at most once per `flush_seconds` whatever
its epoch length. `flush()` (phases, the end, before a checkpoint) sends everything at once;
a phase leaves in the same hand-over as what was held before it. Per batch the bridge only
keeps the four figures (a tuple) and compares a clock: the records and the event are built
when a send is due. Cancellation is checked on every call.

Percentage: phases before training share a 0-5 % band, training maps global batches done onto
5-95 %, evaluation and saving take the rest (100 % comes with completion).
"""

from __future__ import annotations

import time
from typing import Any

from trainjet.core.cancellation import CancellationError, CancellationToken
from trainjet.core.events import BatchProgress, BatchRecord, EpochCompleted, Event, PhaseChanged
from trainjet.core.metric_names import EPOCH_METRICS
from trainjet.runners.context import OperationContext

PREP_BAND = 5.0
TRAIN_END = 95.0
PHASE_PERCENT = {
    "initializing": 0.0,
    "loading": 0.5,
    "indicators": 1.5,
    "fuzzy": 2.5,
    "features": 3.0,
    "labels": 3.5,
    "splitting": 4.0,
    "model": 4.5,
    "training": PREP_BAND,
    "evaluating": TRAIN_END,
    "saving": 97.5,
}


class TrainingProgressBridge:
    def __init__(
        self,
        ctx: OperationContext,
        *,
        flush_seconds: float = 0.1,
        gpu_probe: Any = None,
        gpu_every_seconds: float = 2.0,
    ) -> None:
        self.ctx = ctx
        self.token: CancellationToken = ctx.token
        self.flush_seconds = flush_seconds
        self.gpu_probe = gpu_probe
        self.gpu_every_seconds = gpu_every_seconds
        # (epoch, batch, loss, accuracy) per batch since the last batch_progress
        self._pending: list[tuple[int, int, float, float]] = []
        self._is_cancelled = ctx.token.is_set  # bound once: checked on every batch
        self._held: list[Event] = []  # built, waiting for the next send (in order)
        self._last_flush = time.monotonic()
        self._last_gpu = 0.0
        self._gpu: dict[str, Any] | None = None
        self._train_started: float | None = None
        self._done_at_start = 0
        self.items_processed = 0
        self.items_total = 0
        self.percentage = 0.0
        self._total_epochs_hint = 0
        self._per_epoch_hint = 0

    # -- TrainingReporter ------------------------------------------------------------------

    @property
    def cancelled(self) -> bool:
        return self.token.is_cancelled

    def check_cancelled(self) -> None:
        if self._is_cancelled():
            raise CancellationError(
                self.token.reason or "Training operation cancelled", self.ctx.operation_id
            )

    def on_phase(self, phase: str, message: str = "", **context: Any) -> None:
        self.check_cancelled()
        now = time.monotonic()
        self._hold_batches(now)
        percent = PHASE_PERCENT.get(phase)
        if percent is not None:
            self.percentage = max(self.percentage, percent)
        self._held.append(
            self.ctx.make(
                PhaseChanged,
                phase=phase,
                message=message or phase.replace("_", " ").title(),
                percentage=self.percentage,
                context=context,
            )
        )  # after everything held before it: the order holds, in one hand-over
        self._last_flush = now
        self._send()

    def on_batch(
        self,
        epoch: int,
        batch: int,
        batches_per_epoch: int,
        total_epochs: int,
        loss: float,
        accuracy: float,
    ) -> None:
        now = time.monotonic()
        if self._train_started is None:
            self._train_started = now
            self.items_total = batches_per_epoch * total_epochs
            self._done_at_start = (epoch - 1) * batches_per_epoch + batch - 1
        self._pending.append((epoch, batch, loss, accuracy))
        if self._is_cancelled():
            # this batch ran (its step is in the weights): log it, then stop the loop
            self._total_epochs_hint, self._per_epoch_hint = total_epochs, batches_per_epoch
            self.flush()
            self.check_cancelled()
        if now - self._last_flush >= self.flush_seconds:
            self._flush_batches(now, total_epochs, batches_per_epoch)
            self._send()
        elif batch == batches_per_epoch:
            # The epoch's last batches go before its epoch_completed: build them now, send
            # them with it at the next tick.
            self._flush_batches(self._last_flush, total_epochs, batches_per_epoch)

    def on_epoch(self, epoch: int, total_epochs: int, metrics: dict[str, Any]) -> None:
        now = time.monotonic()
        if self._pending:  # an epoch that ended before its last batch was reported
            last_batch = self._pending[-1][1]
            self._flush_batches(self._last_flush, total_epochs, self._per_epoch_hint or last_batch)
        event = self.ctx.make(
            EpochCompleted,
            epoch=epoch,
            total_epochs=total_epochs,
            train_loss=float(metrics.get("train_loss", 0.0)),
            train_accuracy=float(metrics.get("train_accuracy", 0.0)),
            val_loss=_opt_float(metrics.get("val_loss")),
            val_accuracy=_opt_float(metrics.get("val_accuracy")),
            learning_rate=_opt_float(metrics.get("learning_rate")),
            duration_seconds=float(metrics.get("duration_seconds", 0.0)),
            items_processed=self.items_processed,
            items_total=self.items_total or None,
            percentage=self.percentage,
            eta_seconds=self._eta(time.monotonic()),
            extra={k: v for k, v in metrics.items() if k not in EPOCH_METRICS and _jsonable(v)},
        )
        self._held.append(event)
        if now - self._last_flush >= self.flush_seconds or self.token.is_cancelled:
            self._last_flush = now
            self._send()
        self.check_cancelled()

    # -- internals -------------------------------------------------------------------------

    def flush(self) -> None:
        """Send everything not yet sent (before a phase, a checkpoint or the terminal event)."""
        now = time.monotonic()
        self._hold_batches(now)
        self._last_flush = now
        self._send()

    def _hold_batches(self, now: float) -> None:
        if self._pending:
            last_batch = self._pending[-1][1]
            self._flush_batches(now, self._total_epochs_hint, self._per_epoch_hint or last_batch)

    def _send(self) -> None:
        """Hand the held events to the outbox in one call (one wake of the loop)."""
        if self._held:
            events, self._held = self._held, []
            self.ctx.emit_many(events)

    def _flush_batches(self, now: float, total_epochs: int, per_epoch: int) -> None:
        """Build the batch_progress of the pending batches and hold it for the next send."""
        self._total_epochs_hint, self._per_epoch_hint = total_epochs, per_epoch
        pending, self._pending = self._pending, []
        epoch, batch = pending[-1][0], pending[-1][1]
        self.items_processed = (epoch - 1) * per_epoch + batch
        batches = [BatchRecord(*figures) for figures in pending]
        self._last_flush = now
        if self.items_total:
            self.percentage = (
                PREP_BAND + (TRAIN_END - PREP_BAND) * self.items_processed / self.items_total
            )
        context: dict[str, Any] = {}
        gpu = self._gpu_figures(now)
        if gpu:
            context["resource_usage"] = gpu
        self._held.append(
            self.ctx.make(
                BatchProgress,
                batches=batches,
                total_epochs=total_epochs,
                batches_per_epoch=per_epoch,
                items_processed=self.items_processed,
                items_total=self.items_total,
                percentage=round(self.percentage, 3),
                eta_seconds=self._eta(now),
                context=context,
            )
        )

    def _eta(self, now: float) -> float | None:
        if self._train_started is None or not self.items_total:
            return None
        done = self.items_processed - self._done_at_start
        if done <= 0:
            return None
        rate = (now - self._train_started) / done
        return round(rate * (self.items_total - self.items_processed), 2)

    def _gpu_figures(self, now: float) -> dict[str, Any] | None:
        if self.gpu_probe is None:
            return None
        if now - self._last_gpu >= self.gpu_every_seconds:
            self._last_gpu = now
            try:
                self._gpu = self.gpu_probe()
            except Exception:  # a failing probe must never break training
                self._gpu = None
        return self._gpu


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _jsonable(value: Any) -> bool:
    return isinstance(value, (int, float, str, bool)) or value is None
