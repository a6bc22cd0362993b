"""The figures every training epoch reports, named once for the loop, events, files and tables.

They are the fields of `EpochCompleted` and `EpochRecord` (a test holds them equal), the
columns analytics and replay export first, and what early stopping may monitor.
"""

from __future__ import annotations

TRAIN_LOSS = "train_loss"
TRAIN_ACCURACY = "train_accuracy"
VAL_LOSS = "val_loss"
VAL_ACCURACY = "val_accuracy"
LEARNING_RATE = "learning_rate"
DURATION_SECONDS = "duration_seconds"

EPOCH_METRICS = (
    TRAIN_LOSS,
    TRAIN_ACCURACY,
    VAL_LOSS,
    VAL_ACCURACY,
    LEARNING_RATE,
    DURATION_SECONDS,
)
MONITORS = (VAL_LOSS, VAL_ACCURACY)  # what `early_stopping.monitor` may name
