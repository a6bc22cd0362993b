"""Trend flags over an epoch history (best epoch, overfitting, plateau), as pure functions.

Shown by `/operations/{id}/metrics` and the CLI; ktrdr's S2 computed the same flags.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from trainjet.core.projections.models import EpochRecord, OperationInfo, OperationMetrics

WINDOW = 3  # epochs a trend must hold before it is flagged
PLATEAU_TOLERANCE = 1e-3


def epoch_trends(epochs: Sequence[EpochRecord]) -> dict[str, Any]:
    if not epochs:
        return {"best_epoch": None, "is_overfitting": False, "is_plateaued": False}
    scored = [e for e in epochs if e.val_loss is not None]
    best = (
        min(scored, key=lambda e: e.val_loss or 0.0)
        if scored
        else min(epochs, key=lambda e: e.train_loss)
    )
    return {
        "best_epoch": best.epoch,
        "best_val_loss": best.val_loss,
        "best_val_accuracy": best.val_accuracy,
        "is_overfitting": _overfitting(epochs),
        "is_plateaued": _plateaued(epochs),
    }


def _overfitting(epochs: Sequence[EpochRecord]) -> bool:
    """Validation loss rose while training loss fell, for WINDOW epochs in a row."""
    tail = [e for e in epochs if e.val_loss is not None][-(WINDOW + 1) :]
    if len(tail) <= WINDOW:
        return False
    pairs = list(itertools.pairwise(tail))
    return all(
        (b.val_loss or 0.0) > (a.val_loss or 0.0) and b.train_loss < a.train_loss for a, b in pairs
    )


def _plateaued(epochs: Sequence[EpochRecord]) -> bool:
    """The monitored loss moved less than PLATEAU_TOLERANCE (relative) over WINDOW epochs."""
    values = [e.val_loss if e.val_loss is not None else e.train_loss for e in epochs][
        -(WINDOW + 1) :
    ]
    if len(values) <= WINDOW:
        return False
    reference = max(abs(values[0]), 1e-12)
    return (max(values) - min(values)) / reference < PLATEAU_TOLERANCE


def metrics_view(info: OperationInfo, metrics: OperationMetrics | None) -> dict[str, Any]:
    """The `data` of `GET /operations/{id}/metrics`: per-epoch history, totals, trend flags.

    One function for the API and for replay audits, so both always compare the same shape.
    """
    epochs = metrics.epochs if metrics else ()
    return {
        "operation_id": info.operation_id,
        "operation_type": info.operation_type,
        "metrics": {
            "epochs": list(epochs),
            "total_epochs": metrics.total_epochs if metrics else 0,
            "batches_recorded": metrics.batches_recorded if metrics else 0,
            **epoch_trends(epochs),
        },
    }
