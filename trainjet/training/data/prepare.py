"""From a strategy and CSV files to train/val/test arrays (ktrdr's pipeline, minus its bugs).

Phases run in ktrdr S2's order, each over every symbol: `loading`, `indicators`, `fuzzy`,
`features`, `labels`, `splitting`. Every step announces itself through `reporter.on_phase`
(which also checks cancellation) and loops call `reporter.check_cancelled()` per item, so a
cancel is honoured within one indicator's computation (milliseconds), not one phase.

The split is chronological *per symbol* and nothing is shuffled before it (ktrdr shuffled
first, leaking the future into training). Symbols are concatenated split by split, with
`symbol_idx`, and never down-sampled to the smallest one. Shuffling for SGD is the trainer's
business and only ever within the training split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainjet.training.data.ohlcv import DateLike, data_path, load_ohlcv, sha256_of
from trainjet.training.errors import DataError
from trainjet.training.features.alignment import order_timeframes
from trainjet.training.features.build import FeatureRecipe, build_features
from trainjet.training.features.labels import label_distribution, zigzag_labels
from trainjet.training.protocol import DatasetSplit, PreparedDataset, TrainingReporter
from trainjet.training.strategy.loader import StrategyConfig

SPLITS = ("train", "val", "test")


@dataclass
class _Symbol:
    name: str
    prices: dict[str, pd.DataFrame] = field(default_factory=dict)  # tf -> OHLCV
    features: pd.DataFrame | None = None
    labels: np.ndarray | None = None


class _Progress:
    """Formats "Processing EURUSD (1/2) [1h] - Computing RSI (2/5)" and its context."""

    def __init__(self, reporter: TrainingReporter, n_symbols: int) -> None:
        self.reporter, self.n_symbols = reporter, n_symbols

    def step(
        self,
        phase: str,
        sym_index: int,
        symbol: str,
        tf: str | None,
        action: str,
        k: int = 1,
        total: int = 1,
    ) -> None:
        self.reporter.check_cancelled()
        where = f"Processing {symbol} ({sym_index + 1}/{self.n_symbols})"
        where += f" [{tf}]" if tf else ""
        counter = f" ({k}/{total})" if total > 1 else ""
        self.reporter.on_phase(
            phase,
            f"{where} - {action}{counter}",
            symbol=symbol,
            symbol_index=sym_index + 1,
            total_symbols=self.n_symbols,
            timeframe=tf,
            step=action,
            step_index=k,
            total_steps=total,
        )


def prepare_dataset(
    strategy: StrategyConfig,
    *,
    data_dir: str | Path,
    symbols: Sequence[str] | None = None,
    timeframes: Sequence[str] | None = None,
    start_date: DateLike | None = None,
    end_date: DateLike | None = None,
    reporter: TrainingReporter,
) -> PreparedDataset:
    """Load, compute features and labels, and split; see the module docstring.

    `symbols`/`timeframes` override the strategy's (a training request may narrow them).
    Raises DataError for data problems and CancellationError (from the reporter) on cancel.
    """
    syms = list(dict.fromkeys(symbols or strategy.symbols))  # de-duplicated, order kept
    tfs = order_timeframes(list(dict.fromkeys(timeframes or strategy.timeframes)))
    if not syms or not tfs:
        raise DataError(
            "Nothing to train on: give symbols and timeframes (the strategy "
            f"lists symbols={strategy.symbols}, timeframes={strategy.timeframes})"
        )
    for s in syms:
        for tf in tfs:
            data_path(s, tf, data_dir)  # name checks before any work
    progress = _Progress(reporter, len(syms))
    state = [_Symbol(s) for s in syms]
    hashes: dict[str, str] = {}
    for i, sd in enumerate(state):
        for k, tf in enumerate(tfs, 1):
            progress.step("loading", i, sd.name, tf, "Loading data", k, len(tfs))
            sd.prices[tf] = load_ohlcv(
                sd.name, tf, data_dir, start_date, end_date, min_bars=strategy.history_required
            )
            hashes[f"{sd.name}_{tf}"] = sha256_of(sd.prices[tf])
    recipe = FeatureRecipe(
        strategy.indicators,
        strategy.fuzzy_sets,
        strategy.fuzzy_transforms,
        lookback=int(strategy.model["features"]["lookback_periods"]),
        timeframes=tfs,
    )
    rows = build_features(recipe, {sd.name: sd.prices for sd in state}, progress.step)
    for sd in state:
        sd.features = rows[sd.name]
    threshold = float(strategy.labels["zigzag_threshold"])
    for i, sd in enumerate(state):
        progress.step("labels", i, sd.name, tfs[0], f"ZigZag labels ({threshold:.2%})")
        sd.labels = zigzag_labels(sd.prices[tfs[0]]["close"].to_numpy(), threshold)
    return _split(state, strategy, tfs, hashes, progress)


def _split(
    state: list[_Symbol],
    strategy: StrategyConfig,
    tfs: list[str],
    hashes: dict[str, str],
    progress: _Progress,
) -> PreparedDataset:
    fractions = strategy.data_split
    parts: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {s: [] for s in SPLITS}
    names: list[str] | None = None
    per_symbol: dict[str, Any] = {}
    for i, sd in enumerate(state):
        assert sd.features is not None
        assert sd.labels is not None
        progress.step("splitting", i, sd.name, tfs[0], "Chronological split")
        if names is not None and list(sd.features.columns) != names:
            raise DataError(
                f"Feature mismatch across symbols: {sd.name} has "
                f"{sd.features.shape[1]} features, expected {len(names)}"
            )
        names = list(sd.features.columns)
        usable = sd.features.notna().all(axis=1).to_numpy()
        X = sd.features.to_numpy(dtype=np.float32)[usable]
        y, stamps = sd.labels[usable], sd.features.index[usable]
        if not np.isfinite(X).all():
            raise DataError(f"Features for {sd.name} contain non-finite values")
        n = len(X)
        b1 = round(n * fractions["train"])
        b2 = round(n * (fractions["train"] + fractions["validation"]))
        bounds = {"train": (0, b1), "val": (b1, b2), "test": (b2, n)}
        wanted = {
            "train": fractions["train"],
            "val": fractions["validation"],
            "test": fractions["test"],
        }
        if any(wanted[s] > 0 and hi <= lo for s, (lo, hi) in bounds.items()):
            raise DataError(
                f"Not enough samples for {sd.name}: {n} usable bars after warm-up give "
                f"train {b1} / validation {b2 - b1} / test {n - b2}; widen the date range"
            )
        ranges = {}
        for s, (lo, hi) in bounds.items():
            idx = np.full(hi - lo, i, dtype=np.int64)
            parts[s].append((X[lo:hi], y[lo:hi].astype(np.int64), idx))
            ranges[s] = [stamps[lo].isoformat(), stamps[hi - 1].isoformat()] if hi > lo else None
        base = sd.prices[tfs[0]]
        per_symbol[sd.name] = {
            "bars": len(base),
            "warmup_dropped": int((~usable).sum()),
            "start": base.index[0].isoformat(),
            "end": base.index[-1].isoformat(),
            "samples": {s: hi - lo for s, (lo, hi) in bounds.items()},
            "split_ranges": ranges,
        }
    assert names is not None
    splits = {s: _concat(parts[s], len(names)) for s in SPLITS}
    return PreparedDataset(
        train=splits["train"],
        val=splits["val"],
        test=splits["test"],
        feature_names=names,
        symbols=[sd.name for sd in state],
        timeframes=tfs,
        data_hashes=hashes,
        data_summary=_summary(state, tfs, names, splits, per_symbol, fractions),
    )


def _concat(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], width: int) -> DatasetSplit:
    if not parts:
        return DatasetSplit(
            np.empty((0, width), np.float32), np.empty(0, np.int64), np.empty(0, np.int64)
        )
    return DatasetSplit(
        X=np.ascontiguousarray(np.concatenate([p[0] for p in parts])),
        y=np.concatenate([p[1] for p in parts]),
        symbol_idx=np.concatenate([p[2] for p in parts]),
    )


def _summary(
    state: list[_Symbol],
    tfs: list[str],
    names: list[str],
    splits: dict[str, DatasetSplit],
    per_symbol: dict[str, Any],
    fractions: dict[str, float],
) -> dict[str, Any]:
    all_y = np.concatenate([splits[s].y for s in SPLITS])
    return {
        "symbols": [sd.name for sd in state],
        "timeframes": tfs,
        "base_timeframe": tfs[0],
        "start_date": min(v["start"] for v in per_symbol.values()),
        "end_date": max(v["end"] for v in per_symbol.values()),
        "bars": {f"{sd.name}_{tf}": len(sd.prices[tf]) for sd in state for tf in tfs},
        "bars_per_symbol": {k: v["bars"] for k, v in per_symbol.items()},
        "per_symbol": per_symbol,
        "samples": {s: len(splits[s].y) for s in SPLITS},
        "total_samples": len(all_y),
        "symbol_distribution": {k: sum(v["samples"].values()) for k, v in per_symbol.items()},
        "feature_count": len(names),
        "label_distribution": label_distribution(all_y),
        "label_distribution_by_split": {s: label_distribution(splits[s].y) for s in SPLITS},
        "split_fractions": dict(fractions),
    }
