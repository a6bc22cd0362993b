"""The optimiser and learning-rate scheduler a `TrainingConfig` names, built for one model."""

from __future__ import annotations

from typing import Any

import torch

from trainjet.training.model.config import (
    ExponentialScheduler,
    PlateauScheduler,
    StepScheduler,
    TrainingConfig,
)


def build_optimizer(model: torch.nn.Module, s: TrainingConfig) -> torch.optim.Optimizer:
    params, lr, wd = model.parameters(), s.learning_rate, s.weight_decay
    if s.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if s.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=s.momentum, weight_decay=wd)
    return torch.optim.RMSprop(params, lr=lr, weight_decay=wd)


def build_scheduler(opt: torch.optim.Optimizer, s: TrainingConfig) -> Any:
    """The scheduler, or None when the config asks for a constant rate."""
    match s.scheduler:
        case StepScheduler(step_size=step_size, gamma=gamma):
            return torch.optim.lr_scheduler.StepLR(opt, step_size=step_size, gamma=gamma)
        case ExponentialScheduler(gamma=gamma):
            return torch.optim.lr_scheduler.ExponentialLR(opt, gamma=gamma)
        case PlateauScheduler(factor=factor, patience=patience):
            # stepped on a loss by the loop, so always "min"
            return torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt, mode="min", factor=factor, patience=patience
            )
    return None
