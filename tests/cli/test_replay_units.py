"""The pure pieces behind `trainjet replay` and the live display, on events built in memory."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace
from rich.console import Console

from trainjet.cli.live import TrainingView
from trainjet.core.events import (
    BatchProgress,
    BatchRecord,
    EpochCompleted,
    Event,
    OperationCreated,
    OperationStarted,
    OperationType,
    to_builtins,
)
from trainjet.core.events.examples import examples
from trainjet.core.store.port import StoredEvent
from trainjet.replay import cut, diff, info_json, parse_at, read_events, rebuild, write_events
from trainjet.replay.analytics import batch_losses, epoch_rows, markers

OP = "op_training_20260101_120000_00000000"
T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


def stored(events: list[Event]) -> list[StoredEvent]:
    return [StoredEvent(i, f"trainjet.ops.{e.operation_id}.x", e) for i, e in enumerate(events, 1)]


def run(batches_per_epoch: int = 4, losses: tuple[float, ...] = (1.0, 0.8, 0.7, 0.6)) -> list[Any]:
    at = iter(T0 + timedelta(seconds=i) for i in range(100))
    env: dict[str, Any] = {"operation_id": OP}
    return [
        OperationCreated(
            event_id="c", occurred_at=next(at), operation_type=OperationType.TRAINING, **env
        ),
        OperationStarted(event_id="s", occurred_at=next(at), runner_id="r1", **env),
        BatchProgress(
            event_id="b1",
            occurred_at=next(at),
            total_epochs=2,
            batches=[BatchRecord(1, b + 1, m, 0.5) for b, m in enumerate(losses)],
            batches_per_epoch=batches_per_epoch,
            items_processed=4,
            items_total=8,
            percentage=40.0,
            eta_seconds=65.0,
            **env,
        ),
        EpochCompleted(
            event_id="e1",
            occurred_at=next(at),
            epoch=1,
            total_epochs=2,
            train_loss=0.65,
            train_accuracy=0.5,
            val_loss=0.7,
            val_accuracy=0.4,
            learning_rate=0.001,
            percentage=50.0,
            **env,
        ),
    ]


def test_diff_reports_paths_and_ignores_the_clock() -> None:
    rebuilt = {"a": 1, "b": {"c": [1, 2]}, "duration_seconds": 1.0, "gone": None}
    served = {"a": 1.0, "b": {"c": [1, 3, 4]}, "duration_seconds": 9.0, "new": True}
    found = {d.path: (d.rebuilt, d.served) for d in diff(rebuilt, served)}
    assert set(found) == {"b.c[1]", "b.c[2]", "gone", "new"}
    assert found["b.c[1]"] == (2, 3)
    assert repr(found["new"][0]) == "<missing>"
    assert diff({"x": True}, {"x": 1}) != []  # a bool is not a number on the wire


def test_parse_at_takes_a_sequence_or_a_utc_time() -> None:
    assert parse_at("42") == 42
    assert parse_at("2026-01-01T12:00:05Z") == T0 + timedelta(seconds=5)
    assert parse_at("2026-01-01T12:00:05") == T0 + timedelta(seconds=5)
    with pytest.raises(ValueError, match="stream sequence"):
        parse_at("yesterday")


def test_cut_by_time_stops_at_the_first_later_event() -> None:
    records = stored(run())
    assert [r.seq for r in cut(records, T0 + timedelta(seconds=2))] == [1, 2, 3]
    assert [r.seq for r in cut(records, 2)] == [1, 2]
    state = rebuild(records, OP, 3).info
    assert state is not None and state.progress.percentage == 40.0


def test_batch_losses_come_as_logged_with_the_epoch_running_mean() -> None:
    pairs = batch_losses(stored(run()))
    assert [b.loss for b, _ in pairs] == pytest.approx([1.0, 0.8, 0.7, 0.6])
    assert [mean for _, mean in pairs] == pytest.approx([1.0, 0.9, 0.8333333, 0.775])
    [row] = epoch_rows(stored(run()))
    assert row["batches"] == 4
    assert (row["batch_loss_min"], row["batch_loss_max"]) == pytest.approx((0.6, 1.0))
    assert row["gap"] == pytest.approx(0.05)
    assert row["best"] is True


def test_markers_sit_where_the_training_was() -> None:
    from trainjet.core.events import CancelRequested

    events = [*run(), CancelRequested(event_id="x", operation_id=OP, occurred_at=T0)]
    [marker] = markers(stored(events))
    assert (marker.kind, marker.x) == ("cancel_requested", 1.0)


def test_export_round_trips_every_event_type(tmp_path: Path) -> None:
    records = stored(examples())
    for name in ("events.jsonl", "events.parquet"):
        if name.endswith(".parquet"):
            pytest.importorskip("pyarrow", reason="pyarrow is optional (trainjet[parquet])")
        path = tmp_path / name
        assert write_events(path, records) == len(records)
        back = read_events(path)
        assert [to_builtins(r.event) for r in back] == [to_builtins(r.event) for r in records]
        op = records[0].event.operation_id
        original, again = rebuild(records, op).info, rebuild(back, op).info
        assert original is not None and again is not None
        assert info_json(original) == info_json(again)


def render(view: TrainingView) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(view)
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue()


def test_the_live_view_shows_progress_eta_epoch_batch_and_gpu() -> None:
    view = TrainingView(OP)
    for event in run():
        view.apply(event)
    screen = render(view)
    assert "50.0%" in screen
    assert "ETA 01:0" in screen  # 65 s, minus the moment it took to get here
    assert "Epoch 1/2" in screen
    assert "val_loss 0.7000" in screen
    assert "GPU" not in screen
    gpu = {
        "name": "NVIDIA H200",
        "gpu_used": True,
        "utilization_percent": 87.0,
        "memory_used_mb": 1024.0,
        "memory_total_mb": 143000.0,
    }
    view.apply(replace(run()[2], context={"resource_usage": gpu}))
    screen = render(view)
    assert "Epoch 1/2 · Batch 4/4" in screen
    assert "GPU NVIDIA H200  util 87%  mem 1024/143000 MB" in screen
    view.cancelling = True
    assert "cancelling…" in render(view)


def test_the_replay_package_surface_is_pinned() -> None:
    import trainjet.replay

    assert sorted(trainjet.replay.__all__) == [
        "At", "CLOCK_FIELDS", "Difference", "Replay", "cut", "diff", "info_json",
        "metric_rows", "metrics_json", "parse_at", "read_events", "rebuild", "rebuild_all",
        "write_events", "write_metrics",
    ]  # fmt: skip
    assert frozenset({"duration_seconds"}) == trainjet.replay.CLOCK_FIELDS
