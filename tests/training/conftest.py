"""Fixtures for the training-input tests: repository paths and a recording reporter
(`tests.fakes.FakeReporter`; `make_recorder(cancel_after_checks=N)` cancels from the N-th
check on, which is how a cancel arrives in the pipeline)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fakes import FakeReporter

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_STRATEGIES = (
    "eurusd_rsi_mlp",
    "eurusd_multi_timeframe",
    "multi_symbol_daily",
    "eurusd_early_stopping",
)


@pytest.fixture
def data_dir() -> Path:
    return REPO / "data"


@pytest.fixture
def strategies_dir() -> Path:
    return REPO / "strategies"


@pytest.fixture
def recorder() -> FakeReporter:
    return FakeReporter()


@pytest.fixture
def make_recorder() -> Callable[..., FakeReporter]:
    return FakeReporter


@pytest.fixture
def write_strategy(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write YAML text as `<tmp>/strategies/<name>.yaml`; returns the directory."""
    root = tmp_path / "strategies"
    root.mkdir(exist_ok=True)

    def write(name: str, text: str) -> Path:
        (root / f"{name}.yaml").write_text(text, encoding="utf-8")
        return root

    return write
