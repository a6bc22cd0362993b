"""Training curves sized for a screen: every batch's loss and accuracy, downsampled with LTTB.

A 100,000-batch run has 100,000 points per series; a chart a thousand pixels wide shows at
most a few thousand. Largest-Triangle-Three-Buckets (Sveinn Steinarsson, 2013) keeps the
points that shape the line (spikes and turns) instead of averaging them away, so a loss spike
that a user must see survives the cut. Pure functions: the API and notebooks share them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from trainjet.core.events import AnyEvent
from trainjet.core.projections.metrics import batch_curve


def lttb(xs: Sequence[float], ys: Sequence[float], threshold: int) -> list[int]:
    """Indices of the points LTTB keeps: at most `threshold`, always the first and last.

    Below the threshold every index is kept. `threshold` under 3 cannot hold both ends and a
    middle, so it is refused rather than silently raised.
    """
    if threshold < 3:
        raise ValueError("lttb needs a threshold of at least 3 points")
    if len(xs) != len(ys):
        raise ValueError("lttb needs as many x values as y values")
    n = len(xs)
    if n <= threshold:
        return list(range(n))
    kept = [0]
    every = (n - 2) / (threshold - 2)  # the middle points, split into threshold-2 buckets
    a = 0
    for i in range(threshold - 2):
        # the next bucket's average is the third corner of the triangle
        nxt_start = int((i + 1) * every) + 1
        nxt_end = min(int((i + 2) * every) + 1, n)
        span = max(nxt_end - nxt_start, 1)
        avg_x = sum(xs[nxt_start:nxt_end]) / span if nxt_end > nxt_start else xs[n - 1]
        avg_y = sum(ys[nxt_start:nxt_end]) / span if nxt_end > nxt_start else ys[n - 1]
        start = int(i * every) + 1
        end = int((i + 1) * every) + 1
        ax, ay = xs[a], ys[a]
        best, best_area = start, -1.0
        for j in range(start, end):
            area = abs((ax - avg_x) * (ys[j] - ay) - (ax - xs[j]) * (avg_y - ay))
            if area > best_area:
                best, best_area = j, area
        kept.append(best)
        a = best
    kept.append(n - 1)
    return kept


def downsample(xs: Sequence[float], ys: Sequence[float], max_points: int) -> dict[str, list[Any]]:
    keep = lttb(xs, ys, max_points)
    return {"x": [xs[i] for i in keep], "y": [ys[i] for i in keep]}


def batch_series(events: Iterable[AnyEvent], max_points: int) -> dict[str, Any]:
    """Per-batch loss and accuracy against the global batch number (1-based), each series
    downsampled on its own so each keeps its own spikes."""
    curve = batch_curve(events)
    xs = list(range(1, len(curve) + 1))
    loss = [b.loss for b in curve]
    accuracy = [b.accuracy for b in curve]
    return {
        "count": len(curve),
        "max_points": max_points,
        "loss": downsample(xs, loss, max_points),
        "accuracy": downsample(xs, accuracy, max_points),
        "last_epoch": curve[-1].epoch if curve else 0,
    }
