"""The best epoch and early stopping, both judged on the monitored metric."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from trainjet.training.model.config import TrainingConfig


class BestEpochTracker:
    """Best-weights snapshot and early-stopping counter, both on the monitored metric.

    The snapshot follows the best value itself; the patience counter resets only on a gain
    larger than `min_delta` over the value that last reset it (Keras' rule), so a slow drift
    of tiny gains still stops training while the best of those epochs is what gets restored.
    """

    def __init__(self, s: TrainingConfig) -> None:
        self.es = s.early_stopping
        self.sign = 1.0 if self.es.monitor == "val_loss" else -1.0  # compare as "lower is better"
        self.best_epoch: int | None = None
        self.best_value: float | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stop_ref: float | None = None
        self.wait = 0

    def update(self, epoch: int, value: float, model: torch.nn.Module) -> bool:
        """Record an epoch's monitored value; True when early stopping says stop."""
        score = self.sign * value
        if self.best_value is None or score < self.sign * self.best_value:
            self.best_epoch, self.best_value = epoch, value
            # clone(): state_dict() tensors alias the live weights (ktrdr's best copy kept moving)
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if self.stop_ref is None or score < self.sign * self.stop_ref - self.es.min_delta:
            self.stop_ref, self.wait = value, 0
        else:
            self.wait += 1
        return self.es.enabled and self.wait >= self.es.patience

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps, so a resumed run judges epochs as an uninterrupted one."""
        return {
            k: getattr(self, k)
            for k in ("best_epoch", "best_value", "best_state", "stop_ref", "wait")
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)
