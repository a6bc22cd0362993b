"""The `EventStore` contract for conditional appends and multi-filter tails, on every adapter.

Appends that decide an operation's fate carry the sequence they were decided on; the store
refuses one whose operation's history has moved since (any event type, not only the one
being written), and ignores other operations' writes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.contract.test_event_store_contract import created, phase, take
from trainjet.core.events import (
    CancelRequested,
    EventFactory,
    OperationCancelled,
    OperationCompleted,
)
from trainjet.core.store import ConcurrencyConflict, StoredEvent

pytestmark = pytest.mark.timeout(30)


async def test_conditional_append_on_the_last_sequence_is_stored(any_event_store: Any) -> None:
    seq = await any_event_store.append(created("op1"))
    done = EventFactory("op1").make(OperationCompleted, result_summary={})
    assert await any_event_store.append(done, expected_last_seq=seq) == seq + 1


async def test_zero_means_the_operation_has_no_record_yet(any_event_store: Any) -> None:
    await any_event_store.append(created("other"))
    assert await any_event_store.append(created("op1"), expected_last_seq=0) == 2
    with pytest.raises(ConcurrencyConflict):
        await any_event_store.append(phase("op1", "late"), expected_last_seq=0)


async def test_a_moved_history_conflicts_and_stores_nothing(any_event_store: Any) -> None:
    seq = await any_event_store.append(created("op1"))
    # Another writer moves the history with a different event type (another subject).
    await any_event_store.append(EventFactory("op1").make(CancelRequested, reason="user"))
    done = EventFactory("op1").make(OperationCompleted, result_summary={})
    with pytest.raises(ConcurrencyConflict) as caught:
        await any_event_store.append(done, expected_last_seq=seq)
    assert caught.value.expected == seq
    assert not caught.value.retryable
    records = await any_event_store.read_operation("op1")
    assert [type(r.event).__name__ for r in records if isinstance(r, StoredEvent)] == [
        "OperationCreated",
        "CancelRequested",
    ]


async def test_other_operations_do_not_move_the_history(any_event_store: Any) -> None:
    seq = await any_event_store.append(created("op1"))
    await any_event_store.append(created("op2"))
    await any_event_store.append(phase("op2", "x"))
    done = EventFactory("op1").make(OperationCompleted, result_summary={})
    assert await any_event_store.append(done, expected_last_seq=seq) == 4


async def test_a_retried_conditional_append_returns_its_first_sequence(
    any_event_store: Any,
) -> None:
    seq = await any_event_store.append(created("op1"))
    done = EventFactory("op1").make(OperationCompleted, result_summary={})
    first = await any_event_store.append(done, expected_last_seq=seq)
    # Same event id, same precondition (a retry after a lost ack): deduplicated, no conflict.
    assert await any_event_store.append(done, expected_last_seq=seq) == first


async def test_of_two_writers_deciding_on_one_history_exactly_one_wins(
    any_event_store: Any,
) -> None:
    if not getattr(any_event_store, "atomic_preconditions", True):
        pytest.skip("this nats-server (before 2.11) cannot check the precondition atomically")
    seq = await any_event_store.append(created("op1"))
    factory = EventFactory("op1")
    writes = [
        any_event_store.append(
            factory.make(OperationCompleted, result_summary={}), expected_last_seq=seq
        ),
        any_event_store.append(
            factory.make(OperationCancelled, reason="user"), expected_last_seq=seq
        ),
    ]
    results = await asyncio.gather(*writes, return_exceptions=True)
    assert sum(isinstance(r, int) for r in results) == 1
    assert sum(isinstance(r, ConcurrencyConflict) for r in results) == 1
    assert len(await any_event_store.read_operation("op1")) == 2


async def test_subscribe_to_several_filters_on_one_tail(any_event_store: Any) -> None:
    filters = ["trainjet.ops.*.cancel_requested", "trainjet.ops.*.operation_completed"]
    tail = any_event_store.subscribe(filters)
    await any_event_store.append(created("op1"))
    await any_event_store.append(phase("op1", "a"))
    await any_event_store.append(EventFactory("op1").make(CancelRequested, reason="user"))
    await any_event_store.append(phase("op2", "b"))
    await any_event_store.append(EventFactory("op2").make(OperationCompleted, result_summary={}))
    records = await take(tail, 2)
    await tail.aclose()
    assert [r.subject.rsplit(".", 1)[-1] for r in records] == [
        "cancel_requested",
        "operation_completed",
    ]
    assert [r.seq for r in records] == [3, 5]
