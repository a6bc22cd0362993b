"""ZigZag segment labels (ktrdr `get_zigzag_segment_labels`): 0 BUY, 1 HOLD, 2 SELL.

A pivot is confirmed once price has moved `threshold` (a fraction: 0.03 = 3 %) against the
running extreme. Every bar strictly inside an up-leg is BUY, inside a down-leg SELL; pivot bars
and bars before the first pivot are HOLD. The last, still-running extreme closes the final leg,
since it already lies at least `threshold` away from the previous pivot.

These are *targets*: they use hindsight on purpose and must never become features. Finding
pivots is an inherently sequential scan (O(n), a few ms for 5 000 bars); filling the legs is
vectorised. ktrdr's `label_lookahead` is accepted by the strategy but, as in ktrdr's segment
mode, not used.
"""

from __future__ import annotations

import numpy as np

BUY, HOLD, SELL = 0, 1, 2
LABEL_NAMES = {BUY: "BUY", HOLD: "HOLD", SELL: "SELL"}


def zigzag_pivots(prices: np.ndarray, threshold: float) -> np.ndarray:
    """Indices of alternating swing lows/highs (the last one may still be unconfirmed)."""
    p = np.asarray(prices, dtype=np.float64)
    if threshold <= 0:
        raise ValueError(f"zigzag threshold must be > 0, got {threshold}")
    n = len(p)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    pivots: list[int] = []
    trend = 0  # 0 until the first move of `threshold`, then +1 up-leg / -1 down-leg
    hi = lo = ext = 0
    up, down = 1.0 + threshold, 1.0 - threshold
    for i in range(1, n):
        x = p[i]
        if trend == 0:
            hi = i if x > p[hi] else hi
            lo = i if x < p[lo] else lo
            if p[hi] >= p[lo] * up:  # the first leg: from whichever extreme came first
                first, ext = (lo, hi) if lo < hi else (hi, lo)
                pivots.append(first)
                trend = 1 if lo < hi else -1
        elif trend == 1:
            if x > p[ext]:
                ext = i
            elif x <= p[ext] * down:
                pivots.append(ext)
                trend, ext = -1, i
        else:
            if x < p[ext]:
                ext = i
            elif x >= p[ext] * up:
                pivots.append(ext)
                trend, ext = 1, i
    if trend != 0:
        pivots.append(ext)
    return np.asarray(pivots, dtype=np.int64)


def zigzag_labels(prices: np.ndarray, threshold: float) -> np.ndarray:
    """One int64 label per bar (see module docstring)."""
    p = np.asarray(prices, dtype=np.float64)
    labels = np.full(len(p), HOLD, dtype=np.int64)
    pivots = zigzag_pivots(p, threshold)
    if len(pivots) < 2:
        return labels
    starts, ends = pivots[:-1], pivots[1:]
    leg_label = np.where(p[ends] > p[starts], BUY, SELL)
    # Mark each leg's interior: +label at start+1, -label at end, cumulative sum fills it.
    marks = np.zeros(len(p) + 1, dtype=np.int64)
    np.add.at(marks, starts + 1, leg_label - HOLD)
    np.add.at(marks, ends, -(leg_label - HOLD))
    return labels + np.cumsum(marks)[: len(p)]


def label_distribution(labels: np.ndarray) -> dict[str, float | int]:
    """ktrdr's distribution dict: counts, percentages and total."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=3)
    total = int(counts.sum())
    out: dict[str, float | int] = {"total": total}
    for code, name in LABEL_NAMES.items():
        out[f"{name.lower()}_count"] = int(counts[code])
        out[f"{name.lower()}_pct"] = round(100.0 * float(counts[code]) / total, 2) if total else 0.0
    return out
