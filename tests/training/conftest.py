"""Fixtures for the training-input tests: repository paths and a recording reporter.

The recorder implements `trainjet.training.protocol.TrainingReporter` in memory. With
`cancel_after=N` its `check_cancelled` raises `CancellationError` from the N-th check on (and
`on_phase` checks too, as the protocol says), which is how a cancel arrives in the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trainjet.core.cancellation import CancellationError

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_STRATEGIES = (
    "eurusd_rsi_mlp",
    "eurusd_multi_timeframe",
    "multi_symbol_daily",
    "eurusd_early_stopping",
)


class Recorder:
    def __init__(self, cancel_after: int | None = None) -> None:
        self.cancel_after = cancel_after
        self.checks = 0
        self.phases: list[tuple[str, str, dict[str, Any]]] = []
        self.batches: list[tuple[Any, ...]] = []
        self.epochs: list[tuple[int, int, dict[str, Any]]] = []

    def on_phase(self, phase: str, message: str = "", **context: Any) -> None:
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

    def on_epoch(self, epoch: int, total_epochs: int, metrics: dict[str, Any]) -> None:
        self.epochs.append((epoch, total_epochs, metrics))

    def check_cancelled(self) -> None:
        self.checks += 1
        if self.cancelled:
            raise CancellationError("Operation cancelled by test")

    @property
    def cancelled(self) -> bool:
        return self.cancel_after is not None and self.checks >= self.cancel_after


@pytest.fixture
def data_dir() -> Path:
    return REPO / "data"


@pytest.fixture
def strategies_dir() -> Path:
    return REPO / "strategies"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_recorder() -> Callable[..., Recorder]:
    return Recorder


@pytest.fixture
def write_strategy(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write YAML text as `<tmp>/strategies/<name>.yaml`; returns the directory."""
    root = tmp_path / "strategies"
    root.mkdir(exist_ok=True)

    def write(name: str, text: str) -> Path:
        (root / f"{name}.yaml").write_text(text, encoding="utf-8")
        return root

    return write
