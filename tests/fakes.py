"""Test doubles shared by the suites: one fake of each port, not a copy per test module."""

from __future__ import annotations

from typing import Any

from trainjet.core.cancellation import CancellationError


class FakeReporter:
    """A `trainjet.training.protocol.TrainingReporter` in memory: records every call, and is
    cancelled when told to, in one of the three ways a cancel reaches the training:

    - `cancel_after_checks=N`: from the N-th `check_cancelled` on, like the runner's token
      flipped from outside (`on_phase` checks too, as the protocol says);
    - `cancel_after_batches=N`: while reporting the N-th batch, as the bridge does (the batch
      is recorded, then the loop stops);
    - `cancel_at_phase=NAME`: when that phase starts.
    """

    REASON = "Operation cancelled by test"
    OPERATION_ID = "op_test"

    def __init__(
        self,
        *,
        cancel_after_checks: int | None = None,
        cancel_after_batches: int | None = None,
        cancel_at_phase: str | None = None,
    ) -> None:
        self.cancel_after_checks = cancel_after_checks
        self.cancel_after_batches = cancel_after_batches
        self.cancel_at_phase = cancel_at_phase
        self.checks = 0
        self.phases: list[tuple[str, str, dict[str, Any]]] = []  # (phase, message, context)
        # (epoch, batch, batches_per_epoch, total_epochs, loss, accuracy)
        self.batches: list[tuple[int, int, int, int, float, float]] = []
        self.epochs: list[tuple[int, int, dict[str, Any]]] = []  # (epoch, total, metrics)
        self._cancelled = False

    def on_phase(self, phase: str, message: str = "", **context: Any) -> None:
        if phase == self.cancel_at_phase:
            self._cancelled = True
        self.check_cancelled()
        self.phases.append((phase, message, context))

    def on_batch(
        self,
        epoch: int,
        batch: int,
        batches_per_epoch: int,
        total_epochs: int,
        loss: float,
        accuracy: float,
    ) -> None:
        self.batches.append((epoch, batch, batches_per_epoch, total_epochs, loss, accuracy))
        limit = self.cancel_after_batches
        if limit is not None and len(self.batches) >= limit:
            self._cancelled = True
            self.check_cancelled()

    def on_epoch(self, epoch: int, total_epochs: int, metrics: dict[str, Any]) -> None:
        self.epochs.append((epoch, total_epochs, metrics))

    def check_cancelled(self) -> None:
        self.checks += 1
        if self.cancelled:
            raise CancellationError(self.REASON, self.OPERATION_ID)

    @property
    def cancelled(self) -> bool:
        limit = self.cancel_after_checks
        return self._cancelled or (limit is not None and self.checks >= limit)

    @property
    def phase_names(self) -> list[str]:
        return [phase for phase, _, _ in self.phases]

    @property
    def epoch_metrics(self) -> list[dict[str, Any]]:
        return [metrics for _, _, metrics in self.epochs]
