"""`TrainingProgressBridge`: the training loop's reporter, turning callbacks into events.

Runs on the training thread, so every method is cheap and none waits on the network: events
go to the runner's `EventOutbox`. Batches are coalesced: each batch's loss and accuracy is
kept, and one `batch_progress` carrying all batches since the last one leaves at most every
`flush_seconds` (and at each epoch's last batch). Cancellation is checked on every call.

Percentage: phases before training share a 0-5 % band, training maps global batches done onto
5-95 %, evaluation and saving take the rest (100 % comes with completion).
"""

from __future__ import annotations

import time
from typing import Any

from trainjet.core.cancellation import CancellationError, CancellationToken
from trainjet.core.events import BatchProgress, BatchRecord, EpochCompleted, PhaseChanged
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
        self._pending: list[BatchRecord] = []
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
        if self.token.is_cancelled:
            raise CancellationError(
                self.token.reason or "Training operation cancelled", self.ctx.operation_id
            )

    def on_phase(self, phase: str, message: str = "", **context: Any) -> None:
        self.check_cancelled()
        self.flush()
        percent = PHASE_PERCENT.get(phase)
        if percent is not None:
            self.percentage = max(self.percentage, percent)
        self.ctx.emit(
            PhaseChanged,
            phase=phase,
            message=message or phase.replace("_", " ").title(),
            percentage=self.percentage,
            context=context,
        )

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
        self.items_processed = (epoch - 1) * batches_per_epoch + batch
        self._pending.append(BatchRecord(epoch, batch, loss, accuracy))
        if self.token.is_cancelled:
            # this batch ran (its step is in the weights): log it, then stop the loop
            self.flush()
            self.check_cancelled()
        if batch == batches_per_epoch or now - self._last_flush >= self.flush_seconds:
            self._flush_batches(now, total_epochs, batches_per_epoch)

    def on_epoch(self, epoch: int, total_epochs: int, metrics: dict[str, Any]) -> None:
        self.flush()
        self.ctx.emit(
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
        self.check_cancelled()

    # -- internals -------------------------------------------------------------------------

    def flush(self) -> None:
        """Send the batches not yet sent (before a phase, epoch or terminal event)."""
        if self._pending:
            last = self._pending[-1]
            self._flush_batches(
                time.monotonic(), self._total_epochs_hint, self._per_epoch_hint or last.batch
            )

    def _flush_batches(self, now: float, total_epochs: int, per_epoch: int) -> None:
        self._total_epochs_hint, self._per_epoch_hint = total_epochs, per_epoch
        batches, self._pending = self._pending, []
        self._last_flush = now
        if self.items_total:
            self.percentage = (
                PREP_BAND + (TRAIN_END - PREP_BAND) * self.items_processed / self.items_total
            )
        context: dict[str, Any] = {}
        gpu = self._gpu_figures(now)
        if gpu:
            context["resource_usage"] = gpu
        self.ctx.emit(
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
