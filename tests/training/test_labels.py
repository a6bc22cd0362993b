"""ZigZag segment labels on synthetic swings."""

from __future__ import annotations

import numpy as np
import pytest

from trainjet.training.features.labels import (
    BUY,
    HOLD,
    SELL,
    label_distribution,
    zigzag_labels,
    zigzag_pivots,
)


def test_synthetic_zigzag() -> None:
    prices = np.array([10, 11, 12, 13, 12, 11, 10, 11, 12], dtype=float)
    assert zigzag_pivots(prices, 0.05).tolist() == [0, 3, 6, 8]
    assert zigzag_labels(prices, 0.05).tolist() == [
        HOLD,
        BUY,
        BUY,
        HOLD,
        SELL,
        SELL,
        HOLD,
        BUY,
        HOLD,
    ]


def test_moves_below_threshold_are_hold() -> None:
    prices = 100 + np.sin(np.linspace(0, 20, 200))  # +-1 % wiggles
    assert (zigzag_labels(prices, 0.05) == HOLD).all()


def test_first_leg_can_start_with_a_high_and_small_noise_is_ignored() -> None:
    prices = np.array([20, 19.9, 20.1, 18, 16, 16.2, 15, 17, 19, 18.9, 21], dtype=float)
    pivots = zigzag_pivots(prices, 0.1)
    assert pivots.tolist() == [2, 6, 10]  # 20.1 high -> 15 low -> 21 (running extreme)
    labels = zigzag_labels(prices, 0.1)
    assert labels[:3].tolist() == [HOLD, HOLD, HOLD]
    assert (labels[3:6] == SELL).all()
    assert labels[6] == HOLD
    assert (labels[7:10] == BUY).all()
    assert labels[10] == HOLD


def test_long_random_walk_alternates_and_is_fast() -> None:
    rng = np.random.default_rng(0)
    prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, 50_000)))
    pivots = zigzag_pivots(prices, 0.01)
    moves = np.diff(prices[pivots])
    assert (np.sign(moves[1:]) != np.sign(moves[:-1])).all()  # legs alternate
    assert (np.abs(moves) / prices[pivots[:-1]] >= 0.01 - 1e-12).all()
    labels = zigzag_labels(prices, 0.01)
    assert set(np.unique(labels)) == {BUY, HOLD, SELL}
    assert labels.dtype == np.int64


def test_invalid_threshold_and_empty() -> None:
    with pytest.raises(ValueError, match="threshold must be > 0"):
        zigzag_pivots(np.array([1.0, 2.0]), 0)
    assert zigzag_labels(np.array([]), 0.1).tolist() == []


def test_distribution() -> None:
    dist = label_distribution(np.array([0, 0, 1, 2]))
    assert dist == {
        "total": 4,
        "buy_count": 2,
        "buy_pct": 50.0,
        "hold_count": 1,
        "hold_pct": 25.0,
        "sell_count": 1,
        "sell_pct": 25.0,
    }
    assert isinstance(dist["buy_pct"], float)
