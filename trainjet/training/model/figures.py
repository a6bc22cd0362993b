"""Per-batch loss and hit counts, kept on the device and read off it in batches.

Reading one batch's figures forces a host-device sync, so a GPU would stall once per batch;
instead the loop queues each batch's [loss, hits] here and reads them all at once every
`READ_SECONDS` and at each epoch's end. Each batch still gets its own `on_batch`, in order.
"""

from __future__ import annotations

import math

import torch

from trainjet.training.artifacts.results import TrainOutcome
from trainjet.training.errors import TrainingDivergedError
from trainjet.training.protocol import TrainingReporter

READ_SECONDS = 0.1
"""How often the loop reads the per-batch figures off the device (the bridge sends events at
the same cadence, so reading more often would only make the GPU wait)."""


def read_device_figures(pending: list[torch.Tensor]) -> list[list[float]]:
    """The one host-device sync of a read: every pending batch's [loss, hits] at once."""
    values: list[list[float]] = torch.stack(pending).tolist()
    return values


class EpochFigures:
    """Per-batch [loss, hits] pairs kept on the device until the next read, and the epoch's
    sums built from what was read."""

    def __init__(
        self,
        epoch: int,
        bpe: int,
        epochs: int,
        batch_size: int,
        n: int,
        reporter: TrainingReporter,
    ) -> None:
        self.epoch, self.bpe, self.epochs = epoch, bpe, epochs
        self.batch_size, self.n, self.reporter = batch_size, n, reporter
        self.pending: list[torch.Tensor] = []
        self.reported = 0
        self.loss_sum, self.correct, self.seen = 0.0, 0.0, 0

    def read(self, outcome: TrainOutcome) -> None:
        """Read the pending batches; a non-finite loss is caught here, at most one read late."""
        if not self.pending:
            return
        values, self.pending = read_device_figures(self.pending), []
        for loss_v, hits_v in values:
            b = self.reported
            if not math.isfinite(loss_v):
                raise TrainingDivergedError(
                    f"Loss became {loss_v} at epoch {self.epoch}, batch {b + 1}: "
                    "lower the learning rate or check the features"
                )
            k = min((b + 1) * self.batch_size, self.n) - b * self.batch_size
            self.loss_sum += loss_v * k
            self.correct += hits_v
            self.seen += k
            self.reported = outcome.batches_done_in_epoch = b + 1
            # this batch's own figures: the log keeps every batch, folds derive any average
            self.reporter.on_batch(self.epoch, b + 1, self.bpe, self.epochs, loss_v, hits_v / k)
