"""The `EventStore` contract, run against every adapter (see conftest)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from trainjet.core.events import (
    DummyInputs,
    EventFactory,
    OperationCompleted,
    OperationCreated,
    OperationType,
    PhaseChanged,
    subjects,
)
from trainjet.core.store import EventStore, InvalidName, Record, RejectedMessage, StoredEvent

pytestmark = pytest.mark.timeout(30)


def created(op: str) -> OperationCreated:
    return EventFactory(op).make(
        OperationCreated, operation_type=OperationType.DUMMY, inputs=DummyInputs(iterations=3)
    )


def phase(op: str, name: str) -> PhaseChanged:
    return EventFactory(op).make(PhaseChanged, phase=name, message=f"{name}…")


async def take(records: AsyncIterator[Record], n: int, timeout: float = 5.0) -> list[Record]:
    out: list[Record] = []
    async with asyncio.timeout(timeout):
        async for record in records:
            out.append(record)
            if len(out) == n:
                break
    return out


async def collect(records: AsyncIterator[Record], timeout: float = 5.0) -> list[Record]:
    async with asyncio.timeout(timeout):
        return [r async for r in records]


def events_of(records: list[Record]) -> list[Any]:
    return [r.event for r in records if isinstance(r, StoredEvent)]


# -- append ---------------------------------------------------------------------------------


async def test_sequences_start_at_one_and_increase(any_event_store: Any) -> None:
    assert await any_event_store.last_sequence() == 0
    seqs = [await any_event_store.append(phase("op1", f"p{i}")) for i in range(3)]
    assert seqs == [1, 2, 3]
    assert await any_event_store.last_sequence() == 3


async def test_reappending_an_event_id_stores_nothing_and_returns_the_first_seq(
    any_event_store: Any,
) -> None:
    event = created("op1")
    first = await any_event_store.append(event)
    await any_event_store.append(phase("op1", "loading"))
    assert await any_event_store.append(event) == first
    assert await any_event_store.last_sequence() == 2
    assert len(await any_event_store.read_operation("op1")) == 2


async def test_append_many_keeps_order_and_dedups(any_event_store: Any) -> None:
    events = [phase("op1", f"p{i}") for i in range(50)]
    seqs = await any_event_store.append_many([*events, events[3]])
    assert seqs[:50] == list(range(1, 51))
    assert seqs[50] == seqs[3]  # the duplicate inside the batch
    assert await any_event_store.append_many(events[:5]) == [1, 2, 3, 4, 5]
    assert await any_event_store.append_many([]) == []
    assert await any_event_store.last_sequence() == 50


async def test_append_many_publishes_the_bytes_it_is_given(any_event_store: Any) -> None:
    events = [phase("op1", f"p{i}") for i in range(3)]
    # the bytes, not a new encoding of the events, are what is stored
    sent = [msgspec.structs.replace(e, message="as encoded") for e in events]
    encoded = [msgspec.json.encode(e) for e in sent]
    assert await any_event_store.append_many(events, encoded=encoded) == [1, 2, 3]
    assert events_of(await any_event_store.read_operation("op1")) == sent
    with pytest.raises(ValueError, match="2 encoded payloads for 3 events"):
        await any_event_store.append_many(
            [phase("op2", f"p{i}") for i in range(3)], encoded=encoded[:2]
        )
    assert await any_event_store.last_sequence() == 3  # nothing of the refused batch


# -- read_operation -------------------------------------------------------------------------


async def test_read_operation_returns_only_that_operation_in_order(any_event_store: Any) -> None:
    mine = [created("op_a"), phase("op_a", "one"), phase("op_a", "two")]
    other = [created("op_b"), phase("op_b", "one")]
    await any_event_store.append_many([mine[0], other[0], mine[1], other[1], mine[2]])
    records = await any_event_store.read_operation("op_a")
    assert events_of(records) == mine
    assert [r.seq for r in records] == [1, 3, 5]
    assert records[0].subject == "trainjet.ops.op_a.operation_created"
    assert records[1].subject == subjects.event_subject(mine[1])
    assert await any_event_store.read_operation("op_missing") == []


async def test_read_operation_does_not_match_a_longer_id_with_the_same_prefix(
    any_event_store: Any,
) -> None:
    await any_event_store.append(created("op_a"))
    await any_event_store.append(created("op_ab"))
    assert events_of(await any_event_store.read_operation("op_a"))[0].operation_id == "op_a"
    assert len(await any_event_store.read_operation("op_a")) == 1


# -- read_latest -----------------------------------------------------------------------------


async def test_read_latest_returns_the_last_record_of_each_subject_in_stream_order(
    any_event_store: Any,
) -> None:
    done = EventFactory("op_a").make(OperationCompleted, result_summary={})
    mine = [created("op_a"), phase("op_a", "one"), done, phase("op_a", "two")]
    other = [created("op_b"), phase("op_b", "one")]
    await any_event_store.append_many([mine[0], other[0], mine[1], mine[2], other[1], mine[3]])
    records = await any_event_store.read_latest("op_a")
    # the older phase is left out; the completion (seq 4) comes before the newer phase
    assert events_of(records) == [mine[0], done, mine[3]]
    assert [r.seq for r in records] == [1, 4, 6]
    assert records[-1].seq == (await any_event_store.read_operation("op_a"))[-1].seq
    assert await any_event_store.read_latest("op_ab") == []
    assert await any_event_store.read_latest("op_missing") == []


async def test_read_latest_keeps_a_message_that_does_not_decode(any_event_store: Any) -> None:
    await any_event_store.append(created("op_a"))
    seq = await any_event_store.inject_raw("trainjet.ops.op_a.phase_changed", b"not json")
    records = await any_event_store.read_latest("op_a")
    assert [type(r) for r in records] == [StoredEvent, RejectedMessage]
    assert records[-1].seq == seq


# -- read_all -------------------------------------------------------------------------------


async def test_read_all_on_an_empty_store_ends_at_once(any_event_store: Any) -> None:
    assert await collect(any_event_store.read_all()) == []


async def test_read_all_replays_everything_then_stops(any_event_store: Any) -> None:
    events = [phase(f"op{i % 3}", f"p{i}") for i in range(30)]
    await any_event_store.append_many(events)
    records = await collect(any_event_store.read_all())
    assert events_of(records) == events
    assert [r.seq for r in records] == list(range(1, 31))


async def test_read_all_from_a_sequence(any_event_store: Any) -> None:
    events = [phase("op1", f"p{i}") for i in range(10)]
    await any_event_store.append_many(events)
    assert events_of(await collect(any_event_store.read_all(from_seq=7))) == events[6:]
    assert await collect(any_event_store.read_all(from_seq=11)) == []


async def test_read_all_stops_at_the_end_as_of_the_call(any_event_store: Any) -> None:
    await any_event_store.append_many([phase("op1", f"p{i}") for i in range(5)])
    seen: list[Record] = []
    async with asyncio.timeout(5):
        async for record in any_event_store.read_all():
            seen.append(record)
            if len(seen) == 1:
                # Appended after the call: a replay must not chase the live end.
                await any_event_store.append(phase("op1", "late"))
    assert [r.seq for r in seen] == [1, 2, 3, 4, 5]


async def batched(store: Any, from_seq: int = 1) -> list[list[Record]]:
    async with asyncio.timeout(5):
        return [list(batch) async for batch in store.read_all_batches(from_seq=from_seq)]


async def test_read_all_batches_are_read_all_cut_into_non_empty_lists(
    any_event_store: Any,
) -> None:
    assert await batched(any_event_store) == []
    events = [phase(f"op{i % 3}", f"p{i}") for i in range(30)]
    await any_event_store.append_many(events)
    await any_event_store.inject_raw(subjects.event_subject(events[0]), b"not json")
    parts = await batched(any_event_store)
    assert parts and all(parts)
    flat = [record for part in parts for record in part]
    assert flat == await collect(any_event_store.read_all())
    assert [r.seq for r in flat] == list(range(1, 32)) and isinstance(flat[-1], RejectedMessage)
    tail = [r for part in await batched(any_event_store, 7) for r in part]
    assert events_of(tail) == events[6:]
    assert await batched(any_event_store, 32) == []


async def test_read_all_batches_stop_at_the_end_as_of_the_call(any_event_store: Any) -> None:
    await any_event_store.append_many([phase("op1", f"p{i}") for i in range(5)])
    seen: list[Record] = []
    async with asyncio.timeout(5):
        async for batch in any_event_store.read_all_batches():
            if not seen:
                await any_event_store.append(phase("op1", "late"))
            seen.extend(batch)
    assert [r.seq for r in seen] == [1, 2, 3, 4, 5]


# -- subscribe ------------------------------------------------------------------------------


async def test_subscribe_sees_past_then_live_events(any_event_store: Any) -> None:
    past = [created("op1"), phase("op1", "loading")]
    await any_event_store.append_many(past)
    await any_event_store.append(created("op2"))
    tail = any_event_store.subscribe(subjects.operation_filter("op1"))
    try:
        got = await take(tail, 2)
        assert events_of(got) == past
        live = phase("op1", "training")
        await any_event_store.append(phase("op2", "ignored"))
        await any_event_store.append(live)
        (record,) = await take(tail, 1)
        assert isinstance(record, StoredEvent)
        assert record.event == live
        assert record.seq == 5
        assert record.subject == subjects.event_subject(live)
    finally:
        await tail.aclose()


async def test_subscribe_from_a_sequence_with_a_type_filter(any_event_store: Any) -> None:
    await any_event_store.append_many([phase("op1", f"p{i}") for i in range(4)])
    done = EventFactory("op1").make(OperationCompleted)
    await any_event_store.append(done)
    tail = any_event_store.subscribe("trainjet.ops.*.operation_completed", from_seq=2)
    try:
        (record,) = await take(tail, 1)
        assert isinstance(record, StoredEvent)
        assert (record.seq, record.event) == (5, done)
    finally:
        await tail.aclose()


async def test_subscribe_waits_for_the_first_event(any_event_store: Any) -> None:
    tail = any_event_store.subscribe("trainjet.ops.>")
    try:
        pending = asyncio.ensure_future(take(tail, 1))
        await asyncio.sleep(0.2)
        assert not pending.done()
        event = created("op9")
        await any_event_store.append(event)
        assert events_of(await pending) == [event]
    finally:
        await tail.aclose()


# -- malformed payloads ---------------------------------------------------------------------

UNKNOWN_TYPE = msgspec.json.encode(
    {
        "type": "operation_teleported",
        "schema_version": 1,
        "event_id": "e-unknown",
        "operation_id": "op1",
        "occurred_at": "2025-01-01T00:00:00Z",
    }
)


async def test_malformed_payloads_become_rejected_messages_and_reading_goes_on(
    any_event_store: Any,
) -> None:
    first, last = created("op1"), phase("op1", "after")
    await any_event_store.append(first)
    assert await any_event_store.inject_raw("trainjet.ops.op1.phase_changed", b"not json") == 2
    await any_event_store.inject_raw("trainjet.ops.op1.operation_teleported", UNKNOWN_TYPE)
    await any_event_store.append(last)

    for records in (
        await any_event_store.read_operation("op1"),
        await collect(any_event_store.read_all()),
    ):
        assert [type(r) for r in records] == [
            StoredEvent,
            RejectedMessage,
            RejectedMessage,
            StoredEvent,
        ]
        bad_json, unknown = records[1], records[2]
        assert isinstance(bad_json, RejectedMessage)
        assert isinstance(unknown, RejectedMessage)
        assert (bad_json.seq, bad_json.data) == (2, b"not json")
        assert bad_json.subject == "trainjet.ops.op1.phase_changed"
        assert unknown.data == UNKNOWN_TYPE
        assert "operation_teleported" in unknown.error
        assert events_of(records) == [first, last]

    tail = any_event_store.subscribe(subjects.operation_filter("op1"))
    try:
        assert [type(r) for r in await take(tail, 4)][1:3] == [RejectedMessage, RejectedMessage]
    finally:
        await tail.aclose()


# -- conformance and input checks -----------------------------------------------------------


async def test_adapter_satisfies_the_port(any_event_store: Any) -> None:
    assert isinstance(any_event_store, EventStore)


@pytest.mark.parametrize("bad_id", ["op.1", "op*", "op >", ""])
async def test_operation_ids_that_are_not_one_subject_token_are_refused(
    any_event_store: Any, bad_id: str
) -> None:
    event = EventFactory(bad_id).make(PhaseChanged, phase="x")
    with pytest.raises(InvalidName):
        await any_event_store.append(event)
    with pytest.raises(InvalidName):
        await any_event_store.append_many([phase("op1", "ok"), event])
    with pytest.raises(InvalidName):
        await any_event_store.read_operation(bad_id)
    assert await any_event_store.last_sequence() == 0  # a refused batch stores nothing
