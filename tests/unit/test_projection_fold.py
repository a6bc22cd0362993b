"""The pure fold: statuses, progress, first terminal wins, idempotency by sequence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from trainjet.core.events import (
    BatchProgress,
    BatchRecord,
    CancelRequested,
    EpochCompleted,
    OperationCancelled,
    OperationCompleted,
    OperationCreated,
    OperationFailed,
    OperationStarted,
    OperationStatus,
    OperationType,
    PhaseChanged,
    ProgressUpdated,
    WarningRaised,
)
from trainjet.core.events.subjects import event_subject
from trainjet.core.projections import batch_curve, evolve_metrics, fold
from trainjet.core.projections.view import OperationsView
from trainjet.core.store.port import RejectedMessage, StoredEvent

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self, event_type, **fields):
        self.n += 1
        return event_type(
            event_id=f"e{self.n}",
            operation_id=fields.pop("operation_id", "op1"),
            occurred_at=T0 + timedelta(seconds=self.n),
            **fields,
        )


def created(make, **kw):
    return make(
        OperationCreated,
        operation_type=OperationType.TRAINING,
        metadata={"symbol": "EURUSD", "timeframe": "1h", "parameters": {"epochs": 2}},
        total_steps=2,
        **kw,
    )


def at(seq: int, event) -> StoredEvent:
    """The record the store gives back for `event` stored at `seq`, on its own subject."""
    return StoredEvent(seq, event_subject(event), event)


def test_lifecycle_to_completed() -> None:
    make = Clock()
    events = [
        created(make),
        make(OperationStarted, runner_id="r1"),
        make(PhaseChanged, phase="loading", message="Loading market data", percentage=1.0),
        make(
            BatchProgress,
            batches=[BatchRecord(1, 1, 1.0, 0.3), BatchRecord(1, 2, 0.9, 0.4)],
            total_epochs=2,
            batches_per_epoch=2,
            items_processed=2,
            items_total=4,
            percentage=50.0,
            eta_seconds=3.0,
        ),
        make(
            EpochCompleted,
            epoch=1,
            total_epochs=2,
            train_loss=0.95,
            train_accuracy=0.35,
            val_loss=1.0,
            val_accuracy=0.3,
            percentage=50.0,
            items_processed=2,
            items_total=4,
        ),
        make(WarningRaised, message="careful"),
        make(OperationCompleted, result_summary={"ok": True}),
    ]
    info = fold(events[:4])
    assert info is not None
    assert info.status is OperationStatus.RUNNING
    assert info.progress.current_step == "Epoch 1/2 · Batch 2/2"
    assert info.progress.items_processed == 2 and info.progress.items_total == 4
    assert info.progress.context["eta_seconds"] == 3.0
    info = fold(events)
    assert info is not None
    assert info.status is OperationStatus.COMPLETED
    assert info.progress.percentage == 100.0
    assert info.result_summary == {"ok": True}
    assert info.warnings == ["careful"]
    assert info.metadata.symbol == "EURUSD"
    assert info.metadata.parameters == {"epochs": 2}
    assert info.started_at == T0 + timedelta(seconds=2)


def test_context_is_replaced_not_merged() -> None:
    """ktrdr merged context dicts so batch keys lingered on epoch updates."""
    make = Clock()
    info = fold(
        [
            created(make),
            make(OperationStarted, runner_id="r1"),
            make(
                BatchProgress,
                batches=[BatchRecord(1, 1, 1.0, 0.5)],
                total_epochs=1,
                batches_per_epoch=1,
                items_processed=1,
                items_total=1,
                percentage=90.0,
            ),
            make(EpochCompleted, epoch=1, total_epochs=1, train_loss=1.0, train_accuracy=0.5),
        ]
    )
    assert info is not None
    assert "batch_number" not in info.progress.context
    assert info.progress.context["epoch_index"] == 1


def test_first_terminal_event_wins() -> None:
    make = Clock()
    base = [created(make), make(OperationStarted, runner_id="r1"), make(CancelRequested)]
    cancelled = make(OperationCancelled, reason="user")
    failed = make(OperationFailed, error="boom")
    completed = make(OperationCompleted)
    info = fold([*base, cancelled, failed, completed])
    assert info is not None
    assert info.status is OperationStatus.CANCELLED
    assert info.errors == []
    info = fold([*base, completed, cancelled])
    assert info is not None
    assert info.status is OperationStatus.COMPLETED


def test_events_before_create_are_orphans() -> None:
    make = Clock()
    view = OperationsView()
    view.apply(
        StoredEvent(1, "trainjet.ops.op1.operation_started", make(OperationStarted, runner_id="r"))
    )
    assert view.operations == {} and view.orphans == 1


def test_view_skips_already_applied_sequences_and_records_rejects() -> None:
    make = Clock()
    view = OperationsView()
    c = created(make)
    p = make(ProgressUpdated, percentage=10.0, message="step")
    view.apply(at(1, c))
    view.apply(at(2, p))
    snapshot = view.operations["op1"]
    view.apply(at(2, p))  # redelivered
    view.apply(at(1, c))
    assert view.operations["op1"] is snapshot
    assert snapshot.event_count == 2 and snapshot.last_sequence == 2
    view.apply(RejectedMessage(3, "trainjet.ops.x.bad", b"nope", "not JSON"))
    assert view.last_seq == 3 and len(view.rejected) == 1


def test_metrics_replace_a_repeated_epoch_and_curve_keeps_every_batch() -> None:
    make = Clock()
    events = [
        created(make),
        make(EpochCompleted, epoch=1, total_epochs=3, train_loss=1.0, train_accuracy=0.1),
        make(EpochCompleted, epoch=2, total_epochs=3, train_loss=0.9, train_accuracy=0.2),
        # a resumed attempt re-runs epoch 2 from the epoch-1 checkpoint
        make(EpochCompleted, epoch=2, total_epochs=3, train_loss=0.8, train_accuracy=0.3),
    ]
    metrics = None
    for event in events:
        metrics = evolve_metrics(metrics, event)
    assert metrics is not None
    assert [e.epoch for e in metrics.epochs] == [1, 2]
    assert metrics.epochs[1].train_loss == 0.8

    batches = [
        make(
            BatchProgress,
            batches=[BatchRecord(1, b, 1.0 / b, 0.5) for b in (1, 2)],
            total_epochs=1,
            batches_per_epoch=3,
            items_processed=2,
            items_total=3,
            percentage=1.0,
        ),
        make(
            BatchProgress,
            batches=[BatchRecord(1, 3, 0.1, 0.5)],
            total_epochs=1,
            batches_per_epoch=3,
            items_processed=3,
            items_total=3,
            percentage=1.0,
        ),
    ]
    curve = batch_curve(batches)
    assert [(r.epoch, r.batch) for r in curve] == [(1, 1), (1, 2), (1, 3)]


def test_runner_lost_is_shown_while_the_operation_waits_for_a_resume() -> None:
    from trainjet.core.events import RunnerLost

    make = Clock()
    base = [created(make), make(OperationStarted, runner_id="r1", attempt=1)]
    lost = make(RunnerLost, runner_id="r1", attempt=1, reason="no heartbeat for 10s")
    info = fold([*base, lost])
    assert info is not None
    assert info.status is OperationStatus.RUNNING
    assert "Runner r1 lost (attempt 1)" in info.warnings[-1]
    assert info.progress.current_step == info.warnings[-1]
    resumed = fold([*base, lost, make(OperationStarted, runner_id="r2", attempt=2), lost])
    assert resumed is not None
    assert resumed.runner_id == "r2" and len(resumed.warnings) == 1  # the late duplicate is ignored


def test_view_counts_follow_every_status_change() -> None:
    from collections import Counter

    make = Clock()
    view = OperationsView()
    seq = 0

    def put(event) -> None:
        nonlocal seq
        seq += 1
        view.apply(at(seq, event))

    for op in ("a", "b", "c"):
        put(created(make, operation_id=op))
    put(make(OperationStarted, runner_id="r", operation_id="a"))
    put(make(OperationStarted, runner_id="r", operation_id="b"))
    put(make(OperationCompleted, operation_id="a"))
    put(make(OperationFailed, error="x", operation_id="a"))  # after terminal: no change
    put(make(OperationCancelled, reason="y", operation_id="b"))
    recount = Counter((op.status, op.operation_type) for op in view.operations.values())
    assert +view.counts == recount
    assert recount[(OperationStatus.PENDING, OperationType.TRAINING)] == 1


def test_view_equals_the_pure_fold_plus_its_position() -> None:
    """The view builds each new state in one step (the fold's changes and the position
    together); it must equal `fold` of the same history with the position of the last event
    that changed something, and count only those events."""
    from msgspec.structs import replace

    from trainjet.core.events import NoteAdded, OperationTagged, RunnerLost

    make = Clock()
    history = [
        created(make),
        make(OperationStarted, runner_id="r1", attempt=1, session_id="s1"),
        make(PhaseChanged, phase="loading_data", context={"rows": 3}),
        make(
            BatchProgress,
            percentage=20.0,
            total_epochs=2,
            batches_per_epoch=2,
            items_processed=1,
            items_total=4,
            batches=[BatchRecord(1, 1, 0.9, 0.5)],
            eta_seconds=4.0,
            context={"epoch_index": 0, "lr": 0.1},
        ),
        make(RunnerLost, runner_id="r0", attempt=0, reason="stale"),  # superseded: no change
        make(CancelRequested, reason="stop"),
        make(CancelRequested, reason="again"),  # a second request: no change
        make(WarningRaised, message="slow"),
        make(OperationCancelled, reason="stop"),
        make(ProgressUpdated, percentage=99.0),  # after the terminal event: no change
        make(OperationTagged, add=["keep"]),
        make(NoteAdded, text="looked at it"),
    ]
    view = OperationsView()
    changed: list[int] = []
    for seq, event in enumerate(history, 1):
        before = view.operations.get("op1")
        view.apply(at(seq, event))
        if view.operations["op1"] is not before:
            changed.append(seq)
    expected = fold(history)
    assert expected is not None
    assert changed == [1, 2, 3, 4, 6, 8, 9, 11, 12]
    assert view.operations["op1"] == replace(
        expected, last_sequence=changed[-1], event_count=len(changed)
    )
