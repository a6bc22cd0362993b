"""The scale benchmark's figures from its samples: the consumer count on the plateau (every
operation running, start-time reads lapsed) and memory at N/10, N/2 and N started."""

from __future__ import annotations

from typing import Any

from bench.fig_scale import READ_LAPSE_S, consumer_figures, memory_figures, rss_mb


def point(t: float, operations: int, active: int, consumers: int, api: float) -> dict[str, Any]:
    return {
        "t": t,
        "operations": operations,
        "active": active,
        "consumers": consumers,
        "rss_mb": {"api": api, "runner1": api * 2, "runner2": api * 3},
    }


def test_consumers_are_read_on_the_settled_plateau_only() -> None:
    samples = [
        point(0.0, 10, 10, 40, 100),  # starting: history reads hold consumers
        point(1.0, 100, 100, 90, 110),  # plateau begins; reads still alive
        point(1.0 + READ_LAPSE_S, 100, 100, 5, 120),  # settled
        point(2.0 + READ_LAPSE_S, 100, 100, 6, 120),
        point(20.0, 100, 0, 5, 120),  # ended
    ]
    figures = consumer_figures(samples, 100, idle=5)
    assert figures == {"idle": 5, "max": 90, "plateau": 6, "plateau_active": 100}


def test_no_plateau_when_operations_end_before_all_run() -> None:
    samples = [point(0.0, 50, 50, 9, 100), point(1.0, 100, 60, 9, 100)]
    assert consumer_figures(samples, 100, idle=3)["plateau"] is None


def test_memory_at_a_tenth_half_and_all_started() -> None:
    samples = [point(i, ops, ops, 3, 100 + ops) for i, ops in enumerate((5, 10, 49, 50, 100))]
    assert memory_figures(samples, 100) == {
        "10": {"api": 110, "runner_max": 330},
        "50": {"api": 150, "runner_max": 450},
        "100": {"api": 200, "runner_max": 600},
    }


def test_rss_of_this_process_and_of_none() -> None:
    import os

    mine = rss_mb(os.getpid())
    assert mine is not None and mine > 1
    assert rss_mb(2**22 + 12345) is None  # beyond pid_max: no such process
