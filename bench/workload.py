"""Synthetic but realistic operation histories for the store and projection benchmarks.

Each operation looks like a short training: created, started, a few phases, then batch
progress (ten batches per event, as the bridge coalesces them) with an epoch summary every
ten events, and a completion. Ids and times are fixed per index, so runs are comparable.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from trainjet.core.events import (
    BatchProgress,
    BatchRecord,
    EpochCompleted,
    Event,
    OperationCompleted,
    OperationCreated,
    OperationStarted,
    OperationType,
    PhaseChanged,
    TrainingInputs,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BATCHES_PER_EVENT = 10
PER_EPOCH = 100


def operation_id(prefix: str, index: int) -> str:
    return f"op_training_bench_{prefix}_{index:07d}"


def operation_events(op_id: str, count: int, *, complete: bool = True) -> list[Event]:
    """`count` (>= 3) events of one operation, in the order a runner writes them."""
    if count < 3:
        raise ValueError("an operation history needs at least 3 events")
    at = T0
    events: list[Event] = [
        OperationCreated(
            event_id=f"created-{op_id}",
            operation_id=op_id,
            occurred_at=at,
            operation_type=OperationType.TRAINING,
            pool="local",
            metadata={"symbol": "EURUSD", "timeframe": "1h"},
            inputs=TrainingInputs(strategy_name="eurusd_rsi_mlp"),
        ),
        OperationStarted(
            event_id=f"{op_id}-1",
            operation_id=op_id,
            occurred_at=at,
            runner_id="bench-runner",
            pool="local",
            host="bench",
        ),
    ]
    middle = count - 2 - (1 if complete else 0)
    epochs = max(1, middle // 11 + 1)
    batch = 0
    for i in range(middle):
        at = T0 + timedelta(milliseconds=100 * (i + 1))
        event_id = f"{op_id}-{i + 2}"
        if i < 2:
            events.append(
                PhaseChanged(
                    event_id=event_id,
                    operation_id=op_id,
                    occurred_at=at,
                    phase=("loading", "training")[i],
                    percentage=5.0 * i,
                )
            )
        elif (i - 1) % 11 == 0:
            epoch = batch // PER_EPOCH + 1
            events.append(
                EpochCompleted(
                    event_id=event_id,
                    operation_id=op_id,
                    occurred_at=at,
                    epoch=epoch,
                    total_epochs=epochs,
                    train_loss=0.9,
                    train_accuracy=0.55,
                    val_loss=0.95,
                    val_accuracy=0.52,
                    learning_rate=0.001,
                    duration_seconds=1.0,
                    items_processed=batch,
                    items_total=epochs * PER_EPOCH,
                    percentage=50.0,
                )
            )
        else:
            records = []
            for _ in range(BATCHES_PER_EVENT):
                batch += 1
                records.append(
                    BatchRecord(
                        (batch - 1) // PER_EPOCH + 1,
                        (batch - 1) % PER_EPOCH + 1,
                        0.9 - batch * 1e-5,
                        0.5,
                    )
                )
            events.append(
                BatchProgress(
                    event_id=event_id,
                    operation_id=op_id,
                    occurred_at=at,
                    batches=records,
                    total_epochs=epochs,
                    batches_per_epoch=PER_EPOCH,
                    items_processed=batch,
                    items_total=epochs * PER_EPOCH,
                    percentage=50.0,
                    eta_seconds=12.5,
                )
            )
    if complete:
        events.append(
            OperationCompleted(
                event_id=f"{op_id}-done",
                operation_id=op_id,
                occurred_at=at,
                result_summary={"status": "success"},
                runner_id="bench-runner",
            )
        )
    return events


def histories(prefix: str, total: int, per_operation: int) -> Iterator[list[Event]]:
    """Operation histories adding up to exactly `total` events (>= 3); the last one takes the
    remainder, so it may be longer than `per_operation`."""
    if total < 3 or per_operation < 3:
        raise ValueError("need at least 3 events in all and per operation")
    count = max(1, total // per_operation)
    for index in range(count):
        n = per_operation if index < count - 1 else total - per_operation * (count - 1)
        yield operation_events(operation_id(prefix, index), n)
