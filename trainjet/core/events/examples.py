"""One example of every event type, with fixed ids and times.

Used for `docs/events.md`, and frozen into `tests/golden/events_v1.jsonl`, which the test
suite decodes on every run: a change that breaks reading stored events fails there. The file
only grows at its end; `golden()` is what its lines decode to, in order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from trainjet.core.events.enums import OperationType
from trainjet.core.events.inputs import DummyInputs, ResolvedStrategy, TrainingInputs
from trainjet.core.events.model import (
    BatchProgress,
    BatchRecord,
    CancelRequested,
    EpochCompleted,
    Event,
    ModelPromoted,
    NoteAdded,
    OperationCancelled,
    OperationCompleted,
    OperationCreated,
    OperationFailed,
    OperationStarted,
    OperationTagged,
    PhaseChanged,
    ProgressUpdated,
    RunnerLost,
    WarningRaised,
)

OP = "op_training_20260101_120000_1a2b3c4d"
AT = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def examples() -> list[Event]:
    common: dict[str, Any] = {"operation_id": OP, "occurred_at": AT}
    return [
        OperationCreated(
            event_id="created-" + OP,
            operation_type=OperationType.TRAINING,
            pool="local",
            metadata={
                "symbol": "EURUSD",
                "timeframe": "1h",
                "mode": "training",
                "parameters": {"strategy_name": "eurusd_rsi_mlp", "epochs": 10},
            },
            total_steps=10,
            inputs=TrainingInputs(
                strategy_name="eurusd_rsi_mlp", symbols=["EURUSD"], timeframes=["1h"]
            ),
            **common,
        ),
        OperationStarted(
            event_id="9f1c0e7a5b8d4c2e8a6f3b1d0c9e8f7a",
            runner_id="local-box-4242-a1b2c3",
            pool="local",
            host="box",
            attempt=1,
            device="cpu",
            **common,
        ),
        PhaseChanged(
            event_id="0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            phase="indicators",
            message="Processing EURUSD (1/1) [1h] - Computing RSI (1/3)",
            percentage=1.5,
            context={"symbol": "EURUSD", "timeframe": "1h", "step": 1, "steps": 3},
            **common,
        ),
        ProgressUpdated(
            event_id="1b2c3d4e5f60718293a4b5c6d7e8f90a",
            percentage=25.0,
            message="Working hard on iteration 25!",
            steps_completed=25,
            steps_total=100,
            items_processed=25,
            items_total=100,
            current_item="Processing step 25",
            **common,
        ),
        BatchProgress(
            event_id="2c3d4e5f60718293a4b5c6d7e8f90a1b",
            batches=[BatchRecord(3, 119, 0.8734, 0.5312), BatchRecord(3, 120, 0.8611, 0.5625)],
            total_epochs=10,
            batches_per_epoch=110,
            items_processed=340,
            items_total=1100,
            percentage=32.8,
            eta_seconds=41.5,
            **common,
        ),
        EpochCompleted(
            event_id="3d4e5f60718293a4b5c6d7e8f90a1b2c",
            epoch=3,
            total_epochs=10,
            train_loss=0.8502,
            train_accuracy=0.571,
            val_loss=0.9013,
            val_accuracy=0.532,
            learning_rate=0.001,
            duration_seconds=1.84,
            items_processed=330,
            items_total=1100,
            percentage=32.0,
            eta_seconds=42.1,
            **common,
        ),
        WarningRaised(
            event_id="4e5f60718293a4b5c6d7e8f90a1b2c3d",
            message="No live host runner: running on the local pool instead",
            **common,
        ),
        CancelRequested(
            event_id="5f60718293a4b5c6d7e8f90a1b2c3d4e",
            reason="Operation cancelled by user",
            requested_by="api",
            **common,
        ),
        OperationCancelled(
            event_id="60718293a4b5c6d7e8f90a1b2c3d4e5f",
            reason="Operation cancelled by user",
            partial_result={"training_metrics": {"epochs_completed": 3}},
            runner_id="local-box-4242-a1b2c3",
            **common,
        ),
        OperationCompleted(
            event_id="718293a4b5c6d7e8f90a1b2c3d4e5f60",
            result_summary={"training_metrics": {"epochs_completed": 10}},
            runner_id="local-box-4242-a1b2c3",
            **common,
        ),
        OperationFailed(
            event_id="8293a4b5c6d7e8f90a1b2c3d4e5f6071",
            error="Runner local-box-4242-a1b2c3 lost: no heartbeat for 10s while running this operation (attempt 1)",
            error_code="runner_lost",
            runner_id="local-box-4242-a1b2c3",
            **common,
        ),
        # Added after v1's first ten; kept last so the golden file only ever grows at the end.
        RunnerLost(
            event_id="runner-lost-" + OP + "-1",
            runner_id="host-gpu1-4242-a1b2c3",
            attempt=1,
            reason="no heartbeat for 10s and its lease expired while running this operation",
            detected_by="lease-monitor",
            **common,
        ),
        OperationTagged(
            event_id="93a4b5c6d7e8f90a1b2c3d4e5f607182",
            add=["baseline", "rsi"],
            remove=["draft"],
            by="cli:alice",
            **common,
        ),
        NoteAdded(
            event_id="a4b5c6d7e8f90a1b2c3d4e5f60718293",
            text="Best run so far; validation loss still falling at the last epoch.",
            by="cli:alice",
            **common,
        ),
        ModelPromoted(
            event_id="b5c6d7e8f90a1b2c3d4e5f60718293a4",
            model_name="eurusd_rsi_mlp",
            version="EURUSD_1h_v2",
            previous_version="EURUSD_1h_v1",
            model_id="eurusd_rsi_mlp/EURUSD_1h_v2",
            by="cli:alice",
            **common,
        ),
    ]


def inputs_examples() -> list[Event]:
    """`operation_created` (v2) with every training input filled in, and a dummy's."""
    common: dict[str, Any] = {"occurred_at": AT}
    retry = OP.replace("1a2b3c4d", "5e6f7a8b")
    dummy = "op_dummy_20260101_120000_9c0d1e2f"
    return [
        OperationCreated(
            event_id="created-" + retry,
            operation_id=retry,
            operation_type=OperationType.TRAINING,
            metadata={"symbol": "EURUSD", "timeframe": "1h", "mode": "training"},
            total_steps=10,
            inputs=TrainingInputs(
                strategy_name="eurusd_rsi_mlp",
                strategy_yaml="name: eurusd_rsi_mlp\n...",
                symbols=["EURUSD"],
                timeframes=["1h"],
                start_date="2017-01-02",
                end_date="2017-06-30",
                epochs=10,
                seed=42,
                detailed_analytics=False,
                training_mode="local",
                data_hashes={"EURUSD_1h": "9b1f" + "0" * 60},
                data_bars={"EURUSD_1h": 3120},
                resolved=ResolvedStrategy(
                    model={"type": "mlp", "training": {"epochs": 10, "batch_size": 32}},
                    labels={"source": "zigzag", "zigzag_threshold": 0.03, "label_lookahead": 20},
                    data_split={"train": 0.7, "validation": 0.15, "test": 0.15},
                ),
                versions={"trainjet": "0.1.0", "torch": "2.5.1", "python": "3.12.3"},
                warnings=[],
                resume_from=OP,
            ),
            retry_of=OP,
            **common,
        ),
        OperationCreated(
            event_id="created-" + dummy,
            operation_id=dummy,
            operation_type=OperationType.DUMMY,
            metadata={"mode": "dummy"},
            total_steps=5,
            inputs=DummyInputs(iterations=5, interval_seconds=0.5),
            idempotency_key=dummy,
            **common,
        ),
    ]


def golden() -> list[Event]:
    """What each line of the golden file decodes to: one of every type as first frozen (the
    `operation_created` line is v1, upcast), then the v2 `operation_created` lines."""
    return [*examples(), *inputs_examples()]
