"""The training read models across a hand-over: a resumed attempt re-reports from its
checkpoint, and neither epochs nor batches are counted twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from trainjet.core.events import (
    BatchProgress,
    BatchRecord,
    EpochCompleted,
    Event,
    OperationCreated,
    OperationStarted,
    OperationType,
    RunnerLost,
)
from trainjet.core.projections import batch_curve, evolve_metrics, fold

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PER_EPOCH = 4


def stream() -> list[Event]:
    """Attempt 1 does epochs 1-2 and half of epoch 3 (checkpoint 2 stored), is lost; attempt
    2 resumes from epoch 2's checkpoint and finishes epochs 3-4."""
    n = 0

    def make(kind: type[Event], **fields: Any) -> Event:
        nonlocal n
        n += 1
        return kind(event_id=f"e{n}", operation_id="op1", occurred_at=T0 + timedelta(seconds=n),
                    **fields)  # fmt: skip

    def batches(epoch: int, numbers: range) -> Event:
        records = [BatchRecord(epoch, b, 1.0 / (epoch * 10 + b), 0.5) for b in numbers]
        done = (epoch - 1) * PER_EPOCH + numbers[-1]
        return make(BatchProgress, batches=records, total_epochs=4, batches_per_epoch=PER_EPOCH,
                    items_processed=done, items_total=16, percentage=done / 16 * 100)  # fmt: skip

    def epoch(e: int, loss: float) -> Event:
        return make(EpochCompleted, epoch=e, total_epochs=4, train_loss=loss, train_accuracy=0.5)

    return [
        make(OperationCreated, operation_type=OperationType.TRAINING),
        make(OperationStarted, runner_id="a", attempt=1),
        batches(1, range(1, 5)), epoch(1, 0.9),
        batches(2, range(1, 5)), epoch(2, 0.8),
        batches(3, range(1, 3)),  # lost mid-epoch 3
        make(RunnerLost, runner_id="a", attempt=1, reason="lease expired"),
        make(OperationStarted, runner_id="b", attempt=2, resumed_from_epoch=2),
        batches(3, range(1, 5)), epoch(3, 0.7),
        batches(4, range(1, 5)), epoch(4, 0.6),
    ]  # fmt: skip


def test_resumed_run_counts_each_epoch_and_batch_once() -> None:
    metrics = None
    for event in stream():
        metrics = evolve_metrics(metrics, event)
    assert metrics is not None
    assert [e.epoch for e in metrics.epochs] == [1, 2, 3, 4]
    assert metrics.batches_recorded == 16
    curve = batch_curve(stream())
    assert [(r.epoch, r.batch) for r in curve] == [(e, b) for e in range(1, 5) for b in range(1, 5)]


def test_handover_keeps_the_operation_running_with_the_new_runner() -> None:
    events = stream()
    lost_at = next(i for i, e in enumerate(events) if isinstance(e, RunnerLost))
    during = fold(events[: lost_at + 1])
    assert during is not None and during.status.value == "running"
    after = fold(events)
    assert after is not None
    assert (after.runner_id, after.attempt, after.status.value) == ("b", 2, "running")
    assert after.progress.steps_completed == 4
