"""Reading an operation's history by batched direct gets: the same records as a consumer
read, across batch boundaries, and no consumer left on the server per read."""

from __future__ import annotations

from typing import Any

import pytest
from nats.aio.client import Client

from tests.contract.test_event_store_contract import created, phase
from trainjet.core.events import subjects
from trainjet.core.store import JetStreamEventStore, RejectedMessage, StoredEvent
from trainjet.core.store.jetstream import events_stream_config
from trainjet.core.store.jetstream_direct import read_direct

pytestmark = pytest.mark.timeout(60)


async def seed(store: JetStreamEventStore) -> None:
    """op_a's history interleaved with op_b's, and one undecodable message of op_a."""
    await store.append_many([created("op_a"), created("op_b")])
    for i in range(11):
        await store.append_many([phase("op_a", f"a{i}"), phase("op_b", f"b{i}")])
    await store.inject_raw("trainjet.ops.op_a.phase_changed", b"not json")
    await store.append(phase("op_a", "last"))


async def consumer_read(store: JetStreamEventStore, operation_id: str) -> list[Any]:
    wire = store.settings.wire(subjects.operation_filter(operation_id))
    return [record async for record in store._records(wire, 1, stop_at_end=True)]


async def test_direct_read_gives_the_consumer_reads_records_in_order(
    js_store: JetStreamEventStore,
) -> None:
    await seed(js_store)
    expected = await consumer_read(js_store, "op_a")
    assert len(expected) == 14 and isinstance(expected[12], RejectedMessage)
    assert await js_store.read_operation("op_a") == expected
    assert js_store._direct_reads

    wire = js_store.settings.wire(subjects.operation_filter("op_a"))
    end = await js_store.last_sequence()
    for batch in (1, 3, 13, 14, 1000):  # boundaries inside, at and past the history
        found = await read_direct(js_store._nc, js_store.stream, wire, end, timeout=10, batch=batch)
        assert [js_store._decode(*item) for item in found] == expected, batch


async def test_direct_read_stops_at_the_last_sequence_it_was_given(
    js_store: JetStreamEventStore,
) -> None:
    await seed(js_store)
    records = await js_store.read_operation("op_a")
    wire = js_store.settings.wire(subjects.operation_filter("op_a"))
    cut = records[5].seq
    found = await read_direct(js_store._nc, js_store.stream, wire, cut, timeout=10, batch=2)
    assert [seq for seq, _, _ in found] == [r.seq for r in records[:6]]
    assert await js_store.read_operation("op_missing") == []


async def test_many_reads_leave_no_consumer_behind(
    nc: Client, js_store: JetStreamEventStore
) -> None:
    """A consumer per read lingers for its inactivity threshold: a burst of reads would pile
    them up towards the stream's limit. Direct gets create none."""
    await seed(js_store)
    js = nc.jetstream()
    before = (await js.stream_info(js_store.stream)).state.consumer_count
    for _ in range(40):
        records = await js_store.read_operation("op_a")
        assert isinstance(records[0], StoredEvent) and len(records) == 14
    assert (await js.stream_info(js_store.stream)).state.consumer_count == before


async def test_a_stream_without_direct_gets_is_read_with_a_consumer(
    nc: Client, js_store: JetStreamEventStore
) -> None:
    await seed(js_store)
    config = events_stream_config(js_store.settings)
    config.allow_direct = False
    await nc.jetstream().update_stream(config)
    records = await js_store.read_operation("op_a")
    assert [r.seq for r in records] == [r.seq for r in await consumer_read(js_store, "op_a")]
    assert len(records) == 14 and not js_store._direct_reads
