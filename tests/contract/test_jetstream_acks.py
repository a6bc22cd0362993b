"""`append_many` on JetStream: every event's acknowledgement lands in its own burst, and a
burst the server refuses or nobody answers fails at once instead of waiting out its deadline."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from nats.aio.client import Client

from tests.contract.test_event_store_contract import created, phase
from trainjet.core.errors import StoreError, StoreUnavailable
from trainjet.core.store import JetStreamEventStore, StoreSettings

pytestmark = pytest.mark.timeout(60)


async def test_concurrent_bursts_get_their_own_sequences(js_store: JetStreamEventStore) -> None:
    await js_store.append(created("op_a"))
    await js_store.append(created("op_b"))
    a = [phase("op_a", f"a{i}") for i in range(30)]
    b = [phase("op_b", f"b{i}") for i in range(30)]
    seqs_a, seqs_b = await asyncio.gather(js_store.append_many(a), js_store.append_many(b))
    assert sorted(seqs_a + seqs_b) == list(range(3, 63))
    assert seqs_a == sorted(seqs_a) and seqs_b == sorted(seqs_b)
    records = {r.event.event_id: r.seq for r in await js_store.read_operation("op_a")}  # type: ignore[union-attr]
    assert [records[e.event_id] for e in a] == seqs_a
    # a retried burst is acknowledged with the first sequences (Nats-Msg-Id dedup)
    assert await js_store.append_many(a) == seqs_a
    assert not js_store._acks._bursts  # finished bursts are forgotten


async def test_a_burst_no_stream_listens_to_fails_at_once(nc: Client) -> None:
    store = JetStreamEventStore(
        nc, StoreSettings(namespace=f"none{uuid.uuid4().hex[:8]}", request_timeout=20)
    )
    t0 = time.monotonic()
    with pytest.raises(StoreUnavailable):
        await store.append_many([created("op_a"), phase("op_a", "x")])
    assert time.monotonic() - t0 < 10  # the no-responders status ends it, not the deadline


async def test_a_refused_burst_raises(nc: Client, js_store: JetStreamEventStore) -> None:
    # same subjects, another expected stream name: the server refuses every message
    wrong = JetStreamEventStore(
        nc,
        StoreSettings(
            namespace=js_store.settings.namespace, events_stream="ELSEWHERE", request_timeout=20
        ),
    )
    t0 = time.monotonic()
    with pytest.raises(StoreError):
        await wrong.append_many([created("op_a"), phase("op_a", "x")])
    assert time.monotonic() - t0 < 10
    assert await js_store.read_operation("op_a") == []
