"""prepare_dataset on the example strategies: shapes, split order, progress, cancellation."""

from __future__ import annotations

import dataclasses
import itertools
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from trainjet.core.cancellation import CancellationError
from trainjet.training.data.prepare import prepare_dataset
from trainjet.training.errors import DataError
from trainjet.training.protocol import PreparedDataset
from trainjet.training.strategy.loader import StrategyConfig, load_strategy

EXAMPLES = (
    "eurusd_rsi_mlp",
    "eurusd_multi_timeframe",
    "multi_symbol_daily",
    "eurusd_early_stopping",
)
PHASES = ["loading", "indicators", "fuzzy", "features", "labels", "splitting"]


def prepare(strategy: StrategyConfig, data_dir: Path, reporter: Any, **kw: Any) -> PreparedDataset:
    return prepare_dataset(strategy, data_dir=data_dir, reporter=reporter, **kw)


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_prepare(name: str, strategies_dir: Path, data_dir: Path, recorder: Any) -> None:
    strategy = load_strategy(name, strategies_dir)
    started = time.perf_counter()
    ds = prepare(strategy, data_dir, recorder)
    assert time.perf_counter() - started < 5
    n_features = len(ds.feature_names)
    assert n_features == len(set(ds.feature_names)) > 0
    for split in (ds.train, ds.val, ds.test):
        assert split.X.dtype == np.float32
        assert split.X.flags.c_contiguous
        assert split.X.shape == (len(split.y), n_features) == (len(split.symbol_idx), n_features)
        assert np.isfinite(split.X).all()
        assert ((split.X >= 0) & (split.X <= 1)).all()  # fuzzy memberships
        assert split.y.dtype == np.int64
        assert set(np.unique(split.y)) <= {0, 1, 2}
        assert split.symbol_idx.dtype == np.int64
        assert len(split.y) > 0
    assert ds.symbols == strategy.symbols
    assert ds.timeframes == strategy.timeframes
    assert set(ds.data_hashes) == {f"{s}_{tf}" for s in ds.symbols for tf in ds.timeframes}
    summary = ds.data_summary
    assert summary["feature_count"] == n_features
    json.dumps(summary)  # JSON-safe: it travels in events and result summaries
    assert summary["samples"] == {
        "train": len(ds.train.y),
        "val": len(ds.val.y),
        "test": len(ds.test.y),
    }
    assert summary["label_distribution"]["total"] == summary["total_samples"]
    assert [p for p, _, _ in recorder.phases if p not in PHASES] == []
    order = list(dict.fromkeys(p for p, _, _ in recorder.phases))
    assert order == PHASES


def test_feature_names(strategies_dir: Path, data_dir: Path, recorder: Any) -> None:
    ds = prepare(load_strategy("eurusd_multi_timeframe", strategies_dir), data_dir, recorder)
    # 3 timeframes x (3 rsi + 2 stochastic + 3 sma sets) x (1 + 1 lag)
    assert len(ds.feature_names) == 3 * 8 * 2
    assert ds.feature_names[:3] == ["1h_rsi_oversold", "1h_rsi_neutral", "1h_rsi_overbought"]
    assert "4h_sma_20_near_lag_1" in ds.feature_names
    assert ds.feature_names[-1] == "1d_sma_20_above_lag_1"


def test_split_is_chronological_per_symbol(
    strategies_dir: Path, data_dir: Path, recorder: Any
) -> None:
    ds = prepare(load_strategy("multi_symbol_daily", strategies_dir), data_dir, recorder)
    per_symbol = ds.data_summary["per_symbol"]
    for info in per_symbol.values():
        r = {k: [pd.Timestamp(t) for t in v] for k, v in info["split_ranges"].items()}
        assert r["train"][1] < r["val"][0] <= r["val"][1] < r["test"][0] <= r["test"][1]
        n = sum(info["samples"].values())
        assert info["samples"]["train"] == round(0.7 * n)
    # every symbol keeps all its samples: no down-sampling to the smallest
    assert per_symbol["GOOG"]["samples"]["train"] > 5 * per_symbol["EURUSD"]["samples"]["train"]
    for split in (ds.train, ds.val, ds.test):
        # symbols are concatenated in order, each block contiguous (nothing shuffled)
        assert (np.diff(split.symbol_idx) >= 0).all()
        assert set(split.symbol_idx.tolist()) == {0, 1}
    assert ds.data_summary["symbol_distribution"]["GOOG"] == sum(
        per_symbol["GOOG"]["samples"].values()
    )


def test_no_look_ahead_end_to_end(
    strategies_dir: Path, data_dir: Path, tmp_path: Path, make_recorder: Callable[..., Any]
) -> None:
    """Rewriting every 4h and 1d bar from the validation period on changes no training row."""
    strategy = load_strategy("eurusd_multi_timeframe", strategies_dir)
    base = prepare(strategy, data_dir, make_recorder())
    val_start = pd.Timestamp(base.data_summary["per_symbol"]["EURUSD"]["split_ranges"]["val"][0])
    for name in ("EURUSD_1h", "EURUSD_4h", "EURUSD_1d"):
        shutil.copy(data_dir / f"{name}.csv", tmp_path / f"{name}.csv")
    for tf, floor in (("4h", "4h"), ("1d", "D")):
        path = tmp_path / f"EURUSD_{tf}.csv"
        df = pd.read_csv(path)
        opened = pd.to_datetime(df["timestamp"], utc=True)
        later = opened >= val_start.floor(floor)
        df.loc[later, ["Open", "High", "Low", "Close"]] *= 1.5
        df.to_csv(path, index=False)
    moved = prepare(strategy, tmp_path, make_recorder())
    assert np.array_equal(base.train.X, moved.train.X)
    assert not np.array_equal(base.val.X, moved.val.X)  # the change is visible later on


def test_progress_messages_and_context(strategies_dir: Path, data_dir: Path, recorder: Any) -> None:
    prepare(load_strategy("multi_symbol_daily", strategies_dir), data_dir, recorder)
    messages = [m for _, m, _ in recorder.phases]
    assert "Processing EURUSD (1/2) [1d] - Computing RSI (1/3)" in messages
    assert "Processing GOOG (2/2) [1d] - Computing BollingerBands (3/3)" in messages
    assert "Processing GOOG (2/2) [1d] - Loading data" in messages
    # each phase runs over every symbol before the next one starts (ktrdr S2's order)
    runs = [phase for phase, _ in itertools.groupby(p for p, _, _ in recorder.phases)]
    assert runs == PHASES
    _, _, ctx = next(p for p in recorder.phases if p[1].endswith("Computing WilliamsR (2/3)"))
    assert ctx == {
        "symbol": "EURUSD",
        "symbol_index": 1,
        "total_symbols": 2,
        "timeframe": "1d",
        "step": "Computing WilliamsR",
        "step_index": 2,
        "total_steps": 3,
    }
    assert recorder.checks >= 2 * len(recorder.phases)  # every step checks, on_phase too


@pytest.mark.parametrize("after", [1, 2, 5, 9, 14])
def test_cancellation_propagates(
    after: int, strategies_dir: Path, data_dir: Path, make_recorder: Callable[..., Any]
) -> None:
    reporter = make_recorder(cancel_after_checks=after)
    with pytest.raises(CancellationError):
        prepare(load_strategy("eurusd_multi_timeframe", strategies_dir), data_dir, reporter)
    assert reporter.checks == after  # stopped at the first check that saw the cancel


def test_cancel_inside_indicator_loop(
    strategies_dir: Path, data_dir: Path, make_recorder: Callable[..., Any]
) -> None:
    probe = make_recorder()
    strategy = load_strategy("eurusd_multi_timeframe", strategies_dir)
    prepare(strategy, data_dir, probe)
    index = next(
        i for i, (p, m, _) in enumerate(probe.phases) if p == "indicators" and m.endswith("(2/3)")
    )
    reporter = make_recorder(cancel_after_checks=2 * index + 1)  # one check + one on_phase per step
    with pytest.raises(CancellationError):
        prepare(strategy, data_dir, reporter)
    assert reporter.phases[-1][0] == "indicators"
    assert reporter.phases[-1][1].endswith("(1/3)")


def test_overrides_and_date_range(strategies_dir: Path, data_dir: Path, recorder: Any) -> None:
    strategy = load_strategy("multi_symbol_daily", strategies_dir)
    ds = prepare(
        strategy,
        data_dir,
        recorder,
        symbols=["GOOG"],
        start_date="2005-01-01",
        end_date="2010-12-31",
    )
    assert ds.symbols == ["GOOG"]
    assert ds.data_summary["start_date"].startswith("2005-01-03")
    assert ds.data_summary["end_date"].startswith("2010-12-31")
    full = prepare(strategy, data_dir, recorder, symbols=["GOOG"])
    assert full.data_hashes["GOOG_1d"] != ds.data_hashes["GOOG_1d"]
    again = prepare(strategy, data_dir, recorder, symbols=["GOOG"])
    assert again.data_hashes == full.data_hashes
    assert np.array_equal(again.train.X, full.train.X)


def test_data_errors_surface(strategies_dir: Path, data_dir: Path, recorder: Any) -> None:
    strategy = load_strategy("eurusd_rsi_mlp", strategies_dir)
    with pytest.raises(DataError, match=r"Too few bars in BTCUSD_1M\.csv"):
        prepare(strategy, data_dir, recorder, symbols=["BTCUSD"], timeframes=["1M"])
    with pytest.raises(DataError, match="Data file not found"):
        prepare(strategy, data_dir, recorder, timeframes=["15m"])
    with pytest.raises(DataError, match="Invalid symbol"):
        prepare(strategy, data_dir, recorder, symbols=["../../etc/passwd"])
    assert recorder.phases[-1][0] == "loading"


def test_too_few_samples_for_the_split(strategies_dir: Path, data_dir: Path, recorder: Any) -> None:
    strategy = load_strategy("multi_symbol_daily", strategies_dir)
    tiny = dataclasses.replace(
        strategy, history_required=50, data_split={"train": 0.98, "validation": 0.01, "test": 0.01}
    )
    with pytest.raises(DataError, match=r"Not enough samples for EURUSD: \d+ usable bars"):
        prepare(tiny, data_dir, recorder, symbols=["EURUSD"], end_date="2017-06-30")
