"""LTTB downsampling of training curves: which points survive, and the bounds it refuses."""

from __future__ import annotations

import math

import pytest

from trainjet.core.events import BatchProgress, BatchRecord, EventFactory
from trainjet.replay.curves import batch_series, downsample, lttb


def test_short_series_are_kept_whole() -> None:
    assert lttb([1, 2, 3], [5, 6, 7], 10) == [0, 1, 2]
    assert lttb([], [], 3) == []


def test_keeps_the_ends_and_exactly_threshold_points_in_order() -> None:
    xs = list(range(10_000))
    ys = [math.sin(x / 50) for x in xs]
    kept = lttb(xs, ys, 500)
    assert len(kept) == 500
    assert kept[0] == 0 and kept[-1] == 9_999
    assert kept == sorted(set(kept))


def test_a_single_spike_survives_where_averaging_would_flatten_it() -> None:
    xs = list(range(100_000))
    ys = [1.0] * 100_000
    ys[61_234] = 50.0  # one exploding batch in a long run
    out = downsample(xs, ys, 200)
    assert 50.0 in out["y"]
    assert out["x"][out["y"].index(50.0)] == 61_234


def test_picks_the_largest_triangle_in_each_bucket() -> None:
    # three middle buckets of one point each would keep everything; with one bucket of
    # three, the point farthest from the line between its neighbours wins
    xs = [0, 1, 2, 3, 4]
    ys = [0.0, 0.1, 3.0, 0.2, 0.0]
    assert lttb(xs, ys, 3) == [0, 2, 4]


def test_refuses_thresholds_that_cannot_hold_both_ends_and_a_middle() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        lttb([1, 2, 3, 4], [1, 2, 3, 4], 2)
    with pytest.raises(ValueError, match="as many x values as y values"):
        lttb([1, 2, 3], [1, 2], 3)


def test_batch_series_downsamples_each_metric_on_its_own() -> None:
    factory = EventFactory("op")
    events = [
        factory.make(
            BatchProgress,
            batches=[
                BatchRecord(epoch, batch, loss=1.0 / (epoch * 100 + batch), accuracy=0.5)
                for batch in range(1, 101)
            ],
            total_epochs=1000,
            batches_per_epoch=100,
            items_processed=epoch * 100,
            items_total=100_000,
            percentage=epoch / 10,
        )
        for epoch in range(1, 1001)
    ]
    series = batch_series(events, 1000)
    assert series["count"] == 100_000
    assert len(series["loss"]["x"]) == 1000
    assert series["loss"]["x"][0] == 1 and series["loss"]["x"][-1] == 100_000
    assert series["last_epoch"] == 1000
