"""Exports people can use: the tidy metrics table beside the events, `read_events` on a
`str`, and a plot that marks the best epoch, draws each batch's own loss and has one legend."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.cli.test_replay_units import OP, T0, run, stored
from trainjet.core.events import (
    BatchProgress,
    BatchRecord,
    EpochCompleted,
    OperationCompleted,
    OperationStarted,
)
from trainjet.replay import metric_rows, read_events, write_events, write_metrics
from trainjet.replay.analytics import curves, moving_mean
from trainjet.replay.metrics_table import metrics_path


def two_epochs() -> list:
    """Epoch 1 (4 batches), a resume that re-does batch 4, epoch 2 better on validation
    loss than epoch 1 and then a late batch after the terminal event, which must not count."""
    events = run()
    at = iter(T0 + timedelta(seconds=50 + i) for i in range(20))
    env = {"operation_id": OP}

    def batches(ep: int, records: list[tuple[int, float]], eid: str) -> BatchProgress:
        return BatchProgress(event_id=eid, occurred_at=next(at), total_epochs=2,
                             batches=[BatchRecord(ep, b, loss, 0.6) for b, loss in records],
                             batches_per_epoch=4, items_processed=0, items_total=8,
                             percentage=0.0, **env)  # fmt: skip

    return [
        *events,
        OperationStarted(event_id="s2", occurred_at=next(at), runner_id="r2", attempt=2, **env),
        batches(2, [(1, 0.5), (2, 0.4)], "b2"),
        batches(2, [(2, 0.45), (3, 0.35), (4, 0.3)], "b3"),  # batch 2 re-done after a resume
        EpochCompleted(
            event_id="e2",
            occurred_at=next(at),
            epoch=2,
            total_epochs=2,
            train_loss=0.4,
            train_accuracy=0.6,
            val_loss=0.5,
            val_accuracy=0.55,
            learning_rate=0.001,
            duration_seconds=2.5,
            **env,
        ),
        OperationCompleted(event_id="done", occurred_at=next(at), **env),
        batches(3, [(1, 9.9)], "late"),
    ]


def test_metric_rows_are_one_per_batch_and_per_epoch_in_training_order() -> None:
    rows = metric_rows(stored(two_epochs()))
    assert [(r["level"], r["epoch"], r["batch"]) for r in rows] == [
        ("batch", 1, 1), ("batch", 1, 2), ("batch", 1, 3), ("batch", 1, 4), ("epoch", 1, None),
        ("batch", 2, 1), ("batch", 2, 2), ("batch", 2, 3), ("batch", 2, 4), ("epoch", 2, None),
    ]  # fmt: skip
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 4, 5, 6, 7, 8, 8]
    redone = rows[6]
    assert redone["train_loss"] == 0.45  # the resumed attempt's report replaces the first
    assert all(isinstance(r["occurred_at"], datetime) for r in rows)
    epoch2 = rows[-1]
    assert (epoch2["val_loss"], epoch2["val_accuracy"], epoch2["duration_seconds"]) == (
        0.5, 0.55, 2.5)  # fmt: skip
    assert rows[0]["val_loss"] is None  # batch rows have no validation figures


def test_export_writes_the_metrics_table_beside_the_events(tmp_path: Path) -> None:
    records = stored(two_epochs())
    events_file = tmp_path / "run.jsonl"
    write_events(str(events_file), records)  # a str is as good as a Path
    assert [r.seq for r in read_events(str(events_file))] == [r.seq for r in records]
    table = metrics_path(events_file)
    assert table == tmp_path / "run.metrics.jsonl"
    assert write_metrics(table, records) == 10
    lines = [json.loads(line) for line in table.read_text().splitlines()]
    assert lines[0]["occurred_at"] == "2026-01-01T12:00:02Z"
    assert set(lines[0]) == set(lines[-1])  # every row has every column


def test_parquet_metrics_have_typed_columns(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is optional (trainjet[parquet])")
    import pyarrow as pa

    path = metrics_path(tmp_path / "run.parquet")
    assert path.name == "run.metrics.parquet"
    write_metrics(path, stored(two_epochs()))
    table = pq.read_table(path)
    assert table.num_rows == 10
    assert table.schema.field("occurred_at").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("epoch").type == pa.int32()
    assert table.schema.field("val_loss").type == pa.float64()
    assert table.column("level").to_pylist()[4] == "epoch"


def test_moving_mean_runs_across_epochs() -> None:
    assert moving_mean([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    series = curves(stored(two_epochs()))
    assert series.best_epoch == 2  # lowest validation loss
    assert series.batch_loss == [1.0, 0.8, 0.7, 0.6, 0.5, 0.45, 0.35, 0.3]
    # window 1 (4 batches an epoch): the line is each batch's own loss, not a mean that
    # restarts at every epoch
    assert series.smooth_window == 1
    assert series.batch_smooth_loss == pytest.approx(series.batch_loss)


def test_plot_marks_the_best_epoch_and_has_one_legend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from trainjet.cli.replay_plot import plot_curves

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)  # keep the figure to look at it
    path = tmp_path / "curves.png"
    plot_curves(curves(stored(two_epochs())), path, "test run")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    [fig] = figures
    assert all(ax.get_legend() is None for ax in fig.axes)
    [legend] = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert len(labels) == len(set(labels))
    assert "best epoch 2 (val loss 0.5000)" in labels
    assert {"batch loss", "train", "validation", "attempt 2"} <= set(labels)
    assert not any("running mean" in label for label in labels)


def test_a_result_table_folds_long_values_instead_of_cutting_them() -> None:
    import io

    from rich.console import Console

    from trainjet.cli.run_tables import result_table

    result = {
        "artifacts": {"feature_importance": {"macd_histogram_positive_lag_2": 0.0123}},
        "note": "a long sentence " * 6,
        "empty": {},
    }
    out = io.StringIO()
    Console(file=out, width=60).print(result_table(result))
    text = out.getvalue()
    assert "…" not in text
    # folded onto the next lines, never cut: its end is there too
    assert "feature_importance.m" in text and "ve_lag_2" in text
    assert "empty" not in text  # nothing to show, no row
