"""One typed training config owns every default: the strategy normaliser, the service and
the loop all read them from `TrainingConfig`."""

from __future__ import annotations

import math
from pathlib import Path

import msgspec
import numpy as np
import pytest

from tests.fakes import FakeReporter
from trainjet.services.training import TrainingService
from trainjet.training.model.config import (
    EarlyStopping,
    PlateauScheduler,
    TrainingConfig,
)
from trainjet.training.model.network import build_model
from trainjet.training.model.trainer import train_model
from trainjet.training.protocol import DatasetSplit, PreparedDataset
from trainjet.training.strategy.loader import parse_strategy

ROOT = Path(__file__).resolve().parents[2] / "trainjet"


def test_defaults_are_ktrdrs() -> None:
    """The loader-injected values of ktrdr (learning rate 0.001, batch 32, 100 epochs, Adam
    with weight decay 1e-4, momentum 0.9) and trainjet's early stopping and scheduler ones."""
    config = TrainingConfig()
    assert (config.epochs, config.batch_size, config.learning_rate) == (100, 32, 0.001)
    assert (config.optimizer, config.weight_decay, config.momentum) == ("adam", 1e-4, 0.9)
    assert config.gradient_clip == 0.0 and config.scheduler is None and config.restore_best
    assert config.early_stopping == EarlyStopping(
        enabled=False, patience=10, monitor="val_loss", min_delta=1e-4
    )
    assert config.estimated_duration_minutes == 30.0


def test_a_strategy_without_training_settings_resolves_to_the_defaults() -> None:
    strategy = parse_strategy(
        "name: bare\nindicators: [{name: rsi, feature_id: rsi_14, period: 14}]\n"
        "fuzzy_sets: {rsi_14: {low: [0, 30, 50], high: [50, 70, 100]}}\n"
        "data: {symbols: [EURUSD], timeframes: [1h]}\n",
        name="bare",
    )
    section = strategy.model["training"]
    assert TrainingConfig.resolve(section) == TrainingConfig()
    assert (
        TrainingService.estimated_minutes(strategy) == TrainingConfig().estimated_duration_minutes
    )
    # the normalised section's values are the struct's, not a copy of them
    for key, value in section.items():
        if key not in ("early_stopping", "scheduler"):
            assert msgspec.to_builtins(getattr(TrainingConfig(), key)) == value, key


def test_request_epochs_override_the_strategy() -> None:
    assert TrainingConfig.resolve({"epochs": 7}, epochs=3).epochs == 3
    assert TrainingConfig.resolve({"epochs": 7}).epochs == 7
    legacy = TrainingConfig.resolve({"lr_scheduler": {"type": "plateau", "factor": 0.2}})
    assert legacy.scheduler == PlateauScheduler(factor=0.2)


def _dataset(n: int = 200) -> PreparedDataset:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=n).astype(np.int64)
    split = DatasetSplit(X, y, np.zeros(n, dtype=np.int64))
    empty = DatasetSplit(X[:0], y[:0], np.zeros(0, dtype=np.int64))
    return PreparedDataset(split, empty, empty, ["a", "b", "c", "d"], ["S"], ["1h"])


@pytest.mark.parametrize("batch_size", [TrainingConfig().batch_size, 50])
def test_the_loop_reads_its_settings_from_the_config_only(batch_size: int) -> None:
    """Changing the struct's value is what changes the loop: batches per epoch follow
    `batch_size`, the logged learning rate follows `learning_rate`."""
    config = msgspec.structs.replace(
        TrainingConfig.resolve({}, epochs=1), batch_size=batch_size, learning_rate=0.005
    )
    model = build_model({"type": "mlp", "architecture": {"hidden_layers": [8]}}, 4, 1)
    outcome = train_model(model, _dataset(), config, FakeReporter(), seed=1)
    assert outcome.batches_per_epoch == math.ceil(200 / batch_size)
    assert outcome.history[0]["learning_rate"] == 0.005


def test_no_other_module_carries_a_training_default() -> None:
    """The literals that used to be repeated in the loop and the service are gone."""
    for path in ("training/model/trainer.py", "training/pipeline.py", "services/training.py"):
        text = (ROOT / path).read_text()
        for needle in ('get("epochs"', 'get("batch_size"', 'get("learning_rate"',
                       '"estimated_duration_minutes", 30', "LoopSettings"):  # fmt: skip
            assert needle not in text, (path, needle)
