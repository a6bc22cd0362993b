"""The fold checks what it folds: an event that cannot be trusted to mean what it says is
recorded with its reason and skipped, never applied (issue 14, the fold half of issue 9)."""

from __future__ import annotations

from datetime import datetime

from tests.unit.test_projection_fold import Clock, at, created
from trainjet.core.events import OperationCompleted, OperationStarted, OperationStatus
from trainjet.core.projections.rejections import Rejections
from trainjet.core.projections.view import OperationsView
from trainjet.core.store.port import RejectedMessage, StoredEvent


def started_view() -> tuple[OperationsView, Clock]:
    make = Clock()
    view = OperationsView()
    view.apply(at(1, created(make)))
    view.apply(at(2, created(make, operation_id="op2")))
    return view, make


def test_an_event_whose_subject_names_another_operation_changes_nothing() -> None:
    view, make = started_view()
    forged = make(OperationCompleted, operation_id="op2")
    before = view.operations["op2"]
    assert view.apply(StoredEvent(3, "trainjet.ops.op1.operation_completed", forged)) is None
    assert view.operations["op2"] is before and before.status is OperationStatus.PENDING
    assert view.operations["op1"].status is OperationStatus.PENDING
    assert view.rejected.counts == {"subject_mismatch": 1}
    example = view.rejected[-1]
    assert example.operation_id == "op2" and "'op1'" in example.error and example.seq == 3
    assert view.last_seq == 3  # the position still moves on


def test_invalid_operation_ids_are_refused_before_anything_else() -> None:
    make = Clock()
    view = OperationsView()
    bad = created(make, operation_id="bad id!")
    assert view.apply(StoredEvent(1, "trainjet.ops.bad.operation_created", bad)) is None
    long_id = "x" * 129  # one over the grammar's 128
    assert view.apply(at(2, created(make, operation_id=long_id))) is None
    assert view.operations == {}
    assert view.rejected.counts == {"invalid_operation_id": 2}
    assert len(view.rejected[-1].operation_id or "") < 250  # clipped, never the whole id


def test_naive_timestamps_are_refused() -> None:
    view, make = started_view()
    event = make(OperationStarted, runner_id="r1")
    naive = OperationStarted(
        event_id=event.event_id,
        operation_id="op1",
        occurred_at=datetime(2026, 1, 1, 12, 0),  # no tzinfo
        runner_id="r1",
    )
    assert view.apply(at(3, naive)) is None
    assert view.operations["op1"].status is OperationStatus.PENDING
    assert view.rejected.counts == {"naive_timestamp": 1}


def test_a_duplicate_event_id_is_applied_once() -> None:
    view, make = started_view()
    start = make(OperationStarted, runner_id="r1", attempt=1)
    assert view.apply(at(3, start)) is not None
    count = view.operations["op1"].event_count
    assert view.apply(at(4, start)) is None  # published again without a Nats-Msg-Id
    assert view.operations["op1"].event_count == count
    assert view.applied == 3
    assert view.rejected.counts == {"duplicate_event_id": 1}


def test_orphans_are_listed_like_the_other_refusals() -> None:
    make = Clock()
    view = OperationsView()
    view.apply(at(1, make(OperationStarted, runner_id="r", operation_id="ghost")))
    assert view.orphans == 1 and view.operations == {}
    assert view.rejected.counts == {"orphan": 1}
    assert view.rejected[-1].operation_id == "ghost"


def test_memory_of_applied_ids_is_dropped_when_an_operation_ends() -> None:
    view, make = started_view()
    view.apply(at(3, make(OperationCompleted)))
    assert "op1" not in view._live and "op2" in view._live


def test_rejections_keep_every_count_but_only_the_latest_examples() -> None:
    rejections = Rejections(keep=3)
    for seq in range(10):
        rejections.add(seq, "trainjet.ops.x.y", "malformed", "e" * 10_000)
    assert len(rejections) == 10 and len(list(rejections)) == 3
    assert [r.seq for r in rejections[-2:]] == [8, 9]
    assert len(rejections[0].error) < 600


def test_malformed_messages_keep_their_reason() -> None:
    view = OperationsView()
    view.apply(RejectedMessage(1, "trainjet.ops.x.bad", b"nope", "not JSON"))
    assert view.rejected.counts == {"malformed": 1}
