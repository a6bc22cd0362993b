"""`GET /operations` rows: the struct path writes byte for byte what the dict path wrote, and a
kept row is never served after its operation changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from trainjet.api.list_rows import PageCache, RowCache, operation_summary
from trainjet.core.events import OperationStatus, OperationType
from trainjet.core.projections import (
    EpochRecord,
    OperationInfo,
    OperationMetadata,
    OperationMetrics,
    OperationProgress,
)
from trainjet.core.projections.compare import best_val_accuracy

pytestmark = pytest.mark.unit
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=30)


def dict_row(info: OperationInfo, now: datetime, metrics: OperationMetrics | None) -> Any:
    """The row as the route built it before (a dict, encoded by msgspec): the reference."""
    params = info.metadata.parameters
    return {
        "operation_id": info.operation_id,
        "operation_type": info.operation_type,
        "status": info.status,
        "created_at": info.created_at,
        "progress_percentage": info.progress.percentage,
        "current_step": info.progress.current_step,
        "symbol": info.metadata.symbol,
        "duration_seconds": info.duration_seconds(now),
        "strategy": params.get("strategy_name"),
        "symbols": params.get("symbols")
        or ([info.metadata.symbol] if info.metadata.symbol else []),
        "timeframes": params.get("timeframes")
        or ([info.metadata.timeframe] if info.metadata.timeframe else []),
        "best_val_accuracy": best_val_accuracy(metrics.epochs) if metrics else None,
        "epochs_completed": len(metrics.epochs) if metrics else 0,
        "epochs_total": params.get("epochs"),
        "runner_id": info.runner_id,
        "pool": info.pool,
        "started_at": info.started_at,
        "completed_at": info.completed_at,
        "tags": info.tags,
    }


def epoch(n: int, val_accuracy: float | None) -> EpochRecord:
    return EpochRecord(epoch=n, train_loss=0.5, train_accuracy=0.6, val_accuracy=val_accuracy)


def varied() -> list[tuple[OperationInfo, OperationMetrics | None]]:
    pending = OperationInfo(
        operation_id="op-pending",
        operation_type=OperationType.DUMMY,
        status=OperationStatus.PENDING,
        created_at=T0,
    )
    running = OperationInfo(
        operation_id="op-running",
        operation_type=OperationType.TRAINING,
        status=OperationStatus.RUNNING,
        created_at=T0,
        started_at=T0 + timedelta(seconds=2),
        progress=OperationProgress(percentage=42.5, current_step="Epoch 2/5 · Batch 3/9"),
        metadata=OperationMetadata(
            symbol="EURUSD",
            timeframe="1h",
            parameters={"strategy_name": "rsi", "symbols": ["EURUSD", "GBPUSD"], "epochs": 5},
        ),
        runner_id="runner-1",
        pool="gpu",
        tags=["baseline", 'ünïcode "quoted"'],
    )
    done = OperationInfo(
        operation_id="op-done",
        operation_type=OperationType.TRAINING,
        status=OperationStatus.COMPLETED,
        created_at=T0,
        started_at=T0 + timedelta(microseconds=1),
        completed_at=T0 + timedelta(seconds=61, microseconds=250_000),
        progress=OperationProgress(percentage=100.0),
        metadata=OperationMetadata(
            timeframe="5m", parameters={"timeframes": ["5m", "1h"], "strategy_name": None}
        ),
        runner_id="runner-2",
    )
    failed = OperationInfo(
        operation_id="op-failed",
        operation_type=OperationType.BACKTESTING,
        status=OperationStatus.FAILED,
        created_at=T0,
        completed_at=T0 + timedelta(seconds=1),
        error_message="boom",
        metadata=OperationMetadata(symbol="AAPL", parameters={"symbols": []}),
    )
    history = OperationMetrics(
        operation_id="op-running", epochs=(epoch(1, 0.51), epoch(2, None), epoch(3, 0.74))
    )
    no_val = OperationMetrics(operation_id="op-done", epochs=(epoch(1, None),))
    empty = OperationMetrics(operation_id="op-failed")
    return [(pending, None), (running, history), (done, no_val), (failed, empty)]


def test_rows_are_byte_for_byte_what_the_dict_path_wrote() -> None:
    rows = varied()
    for info, metrics in rows:
        expected = msgspec.json.encode(dict_row(info, NOW, metrics))
        assert msgspec.json.encode(operation_summary(info, NOW, metrics)) == expected
        assert RowCache().row(info, NOW, metrics) == expected
    envelope = {
        "success": True,
        "data": [dict_row(info, NOW, metrics) for info, metrics in rows],
        "total_count": 12,
        "active_count": 3,
    }
    cache = RowCache()
    for _ in range(2):  # built, then served from the kept rows
        body = cache.page(rows, NOW, total_count=12, active_count=3)
        assert body == msgspec.json.encode(envelope)
    assert cache.array([], NOW) == b"[]"


def test_a_changed_operation_gets_a_new_row() -> None:
    cache = RowCache()
    (_, _), (_, _), (done, metrics), _ = varied()
    first = cache.row(done, NOW, metrics)
    tagged = msgspec.structs.replace(done, tags=["late-tag"])
    assert b"late-tag" in cache.row(tagged, NOW, metrics)
    more = msgspec.structs.replace(metrics, epochs=(*metrics.epochs, epoch(2, 0.9)))
    assert b'"best_val_accuracy":0.9' in cache.row(tagged, NOW, more)
    assert cache.row(done, NOW, metrics) == first


def test_a_running_operations_duration_follows_now() -> None:
    cache = RowCache()
    _, (running, metrics), _, _ = varied()
    later = NOW + timedelta(seconds=10)
    assert cache.row(running, NOW, metrics) != cache.row(running, later, metrics)
    assert cache.row(running, later, metrics) == msgspec.json.encode(
        dict_row(running, later, metrics)
    )
    assert len(cache) == 0  # nothing kept that `now` changes


def test_the_cache_holds_at_most_its_bound() -> None:
    cache = RowCache(max_rows=3)
    _, _, (done, metrics), _ = varied()
    for i in range(10):
        cache.row(msgspec.structs.replace(done, operation_id=f"op-{i}"), NOW, metrics)
    assert len(cache) == 3


class View:
    """Stands for a projector's view: pages are kept per view and sequence."""


def test_a_page_is_kept_while_the_version_holds() -> None:
    pages, view = PageCache(), View()
    pending, _, done, failed = varied()
    rows = [pending, done, failed]
    pages.put(b"limit=3", (view, 7), b"page", rows, sorted_by_clock=False)
    assert pages.get(b"limit=3", (view, 7)) == b"page"
    assert pages.get(b"limit=4", (view, 7)) is None
    assert pages.get(b"limit=3", (view, 8)) is None  # the fold applied a record since
    assert pages.get(b"limit=3", (View(), 7)) is None  # another projector, or a snapshot
    pages.put(b"limit=2", (view, 8), b"newer", rows, sorted_by_clock=False)
    assert pages.get(b"limit=3", (view, 7)) is None  # only the latest version is kept
    assert pages.get(b"limit=2", (view, 8)) == b"newer"


def test_a_page_that_moves_with_the_clock_is_not_kept() -> None:
    pages, view = PageCache(), View()
    rows = varied()  # holds a running operation: its duration grows
    pages.put(b"", (view, 1), b"page", rows, sorted_by_clock=False)
    assert pages.get(b"", (view, 1)) is None
    settled = [row for row in rows if row[0].completed_at or not row[0].started_at]
    pages.put(b"sort=duration", (view, 1), b"page", settled, sorted_by_clock=True)
    assert pages.get(b"sort=duration", (view, 1)) is None
    pages.put(b"x" * 2000, (view, 1), b"page", settled, sorted_by_clock=False)
    assert pages.get(b"x" * 2000, (view, 1)) is None  # a one-off query string


def test_the_pages_hold_at_most_their_bound_in_bytes() -> None:
    pages, view = PageCache(max_bytes=10), View()
    for n in range(5):
        pages.put(b"%d" % n, (view, 1), b"1234", [], sorted_by_clock=False)
    assert [pages.get(b"%d" % n, (view, 1)) for n in range(5)] == [None, None, None] + [b"1234"] * 2
    pages.put(b"big", (view, 1), b"x" * 11, [], sorted_by_clock=False)
    assert pages.get(b"big", (view, 1)) is None
