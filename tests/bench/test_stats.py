"""The benchmarks' statistics, on inputs whose answers are known."""

from __future__ import annotations

import math

import pytest

from bench import stats


def test_percentile_interpolates_like_numpy() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert stats.percentile(values, 0) == 1.0
    assert stats.percentile(values, 100) == 4.0
    assert stats.percentile(values, 50) == 2.5
    assert stats.percentile(values, 25) == pytest.approx(1.75)
    assert stats.percentile(list(range(1, 101)), 99) == pytest.approx(99.01)
    assert stats.median([5.0, 1.0, 3.0]) == 3.0


def test_percentile_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="empty"):
        stats.percentile([], 50)
    with pytest.raises(ValueError, match=r"0\.\.100"):
        stats.percentile([1.0], 101)


def test_geomean_treats_ratios_symmetrically() -> None:
    assert stats.geomean([2.0, 0.5]) == pytest.approx(1.0)
    assert stats.geomean([1.1] * 5) == pytest.approx(1.1)
    with pytest.raises(ValueError, match="positive"):
        stats.geomean([1.0, 0.0])


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate() -> None:
    values = [1.0, 1.02, 0.99, 1.05, 1.01, 0.98, 1.03, 1.0]
    lo, hi = stats.bootstrap_ci(values, stats.mean, seed=3)
    assert (lo, hi) == stats.bootstrap_ci(values, stats.mean, seed=3)
    assert lo <= stats.mean(values) <= hi
    assert min(values) <= lo and hi <= max(values)
    assert stats.bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)


def test_ratio_summary_of_identical_runs_is_zero_overhead() -> None:
    s = stats.ratio_summary([1.0] * 20)
    assert s["pairs"] == 20
    assert s["overhead_pct"] == pytest.approx(0.0)
    assert s["overhead_pct_ci95"] == [pytest.approx(0.0), pytest.approx(0.0)]
    slower = stats.ratio_summary([1.1, 1.1, 1.1])
    assert slower["overhead_pct"] == pytest.approx(10.0)


def test_latency_summary() -> None:
    s = stats.latency_summary([float(i) for i in range(1, 101)])
    assert s["n"] == 100
    assert s["p50_ms"] == pytest.approx(50.5)
    assert s["p99_ms"] == pytest.approx(99.01)
    assert s["max_ms"] == 100.0
    assert math.isclose(s["mean_ms"], 50.5)


def test_interleave_runs_every_arm_once_per_round_in_varying_order() -> None:
    schedule = stats.interleave(["a", "b", "c"], 40, seed=1)
    assert len(schedule) == 120
    for r in range(40):
        assert sorted(arm for rr, arm in schedule if rr == r) == ["a", "b", "c"]
    firsts = {schedule[3 * r][1] for r in range(40)}
    assert firsts == {"a", "b", "c"}  # no arm always goes first
    assert schedule == stats.interleave(["a", "b", "c"], 40, seed=1)
    with pytest.raises(ValueError, match="distinct"):
        stats.interleave(["a", "a"], 1)
