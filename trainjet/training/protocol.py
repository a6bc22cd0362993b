"""The narrow interface between the training pipeline and whoever runs it.

The pipeline runs in a worker thread. It reports through a `TrainingReporter` (implemented by
`TrainingProgressBridge` in the runners, or by a recorder in tests) and checks cancellation
through it. It never touches NATS, asyncio or HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


class TrainingReporter(Protocol):
    def on_phase(self, phase: str, message: str = "", **context: Any) -> None:
        """A preprocessing/evaluation step starts. Also checks cancellation (may raise)."""
        ...

    def on_batch(
        self,
        epoch: int,
        batch: int,
        batches_per_epoch: int,
        total_epochs: int,
        loss: float,
        accuracy: float,
    ) -> None:
        """One training batch done (`epoch`, `batch` 1-based). Must cost microseconds."""
        ...

    def on_epoch(self, epoch: int, total_epochs: int, metrics: dict[str, Any]) -> None:
        """One epoch done, with train/val loss and accuracy, learning rate, duration."""
        ...

    def check_cancelled(self) -> None:
        """Raise `trainjet.core.cancellation.CancellationError` if the operation was cancelled."""
        ...

    @property
    def cancelled(self) -> bool: ...


@dataclass
class DatasetSplit:
    X: np.ndarray  # float32, (n, n_features)
    y: np.ndarray  # int64 labels: 0 BUY, 1 HOLD, 2 SELL
    symbol_idx: np.ndarray  # int64, (n,), index into PreparedDataset.symbols


@dataclass
class PreparedDataset:
    train: DatasetSplit
    val: DatasetSplit
    test: DatasetSplit
    feature_names: list[str]
    symbols: list[str]
    timeframes: list[str]
    # "SYMBOL_TF" -> sha256 of the exact OHLCV slice used (reproducibility record)
    data_hashes: dict[str, str] = field(default_factory=dict)
    data_summary: dict[str, Any] = field(default_factory=dict)
