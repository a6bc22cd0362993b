"""Statistics the benchmarks share: medians, percentiles, bootstrap intervals, interleaving.

Plain Python on purpose (no numpy): the figures are small lists, the results must be
reproducible (seeded resampling), and these helpers are tested on known inputs.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

T = TypeVar("T", bound=Hashable)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50.0)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"q must be within 0..100, got {q}")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("mean of an empty sequence")
    return math.fsum(values) / len(values)


def geomean(values: Sequence[float]) -> float:
    """Geometric mean: the right average of ratios (x and 1/x cancel out)."""
    if not values or any(v <= 0 for v in values):
        raise ValueError("geomean needs positive values")
    return math.exp(mean([math.log(v) for v in values]))


def bootstrap_ci(
    values: Sequence[float],
    statistic: Callable[[Sequence[float]], float] = mean,
    *,
    confidence: float = 0.95,
    resamples: int = 5000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic`, seeded so a rerun gives the same bounds."""
    if not values:
        raise ValueError("bootstrap of an empty sequence")
    rng = random.Random(seed)
    n = len(values)
    stats = sorted(
        statistic([values[rng.randrange(n)] for _ in range(n)]) for _ in range(resamples)
    )
    alpha = (1.0 - confidence) / 2.0
    return percentile(stats, 100 * alpha), percentile(stats, 100 * (1 - alpha))


def ratio_summary(ratios: Sequence[float], *, seed: int = 0) -> dict[str, Any]:
    """A list of paired ratios (treatment / control) as a geometric mean with a 95 % CI,
    and the same as a percentage slower (+) or faster (-)."""
    gm = geomean(ratios)
    lo, hi = bootstrap_ci(ratios, geomean, seed=seed)
    return {
        "pairs": len(ratios),
        "ratio_geomean": gm,
        "ci95": [lo, hi],
        "overhead_pct": (gm - 1.0) * 100.0,
        "overhead_pct_ci95": [(lo - 1.0) * 100.0, (hi - 1.0) * 100.0],
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }


def latency_summary(samples_ms: Sequence[float]) -> dict[str, Any]:
    """p50/p90/p99/max of latencies in milliseconds, with the sample count."""
    return {
        "n": len(samples_ms),
        "p50_ms": percentile(samples_ms, 50),
        "p90_ms": percentile(samples_ms, 90),
        "p99_ms": percentile(samples_ms, 99),
        "max_ms": max(samples_ms),
        "mean_ms": mean(samples_ms),
    }


def interleave(arms: Sequence[T], rounds: int, *, seed: int = 0) -> list[tuple[int, T]]:
    """`rounds` rounds, each running every arm once in a freshly shuffled order.

    Interleaving spreads the machine's drift (other tenants, thermal, caches) evenly over the
    arms; shuffling within a round removes the bias of always going first.
    """
    if len(set(arms)) != len(arms):
        raise ValueError("arms must be distinct")
    rng = random.Random(seed)
    schedule: list[tuple[int, T]] = []
    for r in range(rounds):
        order = list(arms)
        rng.shuffle(order)
        schedule.extend((r, arm) for arm in order)
    return schedule
