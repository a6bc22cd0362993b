"""`EventOutbox.flush` waits for what was emitted before it, not for a moment when nothing
at all is pending: with thousands of operations on a runner that moment never comes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from trainjet.core.events import Event, EventFactory, PhaseChanged
from trainjet.core.store import MemoryEventStore
from trainjet.runners.outbox import EventOutbox

pytestmark = pytest.mark.timeout(30)


class SlowStore(MemoryEventStore):
    """Each append_many takes a while, as a publish does on a loaded server."""

    async def append_many(
        self, events: Sequence[Event], *, encoded: Sequence[bytes] | None = None
    ) -> list[int]:
        await asyncio.sleep(0.01)
        return await super().append_many(events, encoded=encoded)


def phase(op: str, n: int) -> PhaseChanged:
    return EventFactory(op).make(PhaseChanged, phase=f"p{n}")


async def test_flush_returns_while_other_operations_keep_emitting() -> None:
    store = SlowStore()
    outbox = EventOutbox(store, linger_seconds=0.005)
    outbox.start()
    stop = asyncio.Event()

    async def busy() -> None:  # another operation, never quiet for a whole publish
        n = 0
        while not stop.is_set():
            n += 1
            outbox.emit(phase("op_busy", n))
            await asyncio.sleep(0.001)

    emitter = asyncio.create_task(busy())
    await asyncio.sleep(0.05)
    mine = phase("op_mine", 1)
    outbox.emit(mine)
    await asyncio.wait_for(outbox.flush(), 2.0)
    assert [r.event for r in await store.read_operation("op_mine")] == [mine]
    stop.set()
    await emitter
    await outbox.close()
    assert outbox.depth == 0


async def test_flush_waits_for_older_events_when_newer_ones_are_discarded() -> None:
    store = SlowStore()
    outbox = EventOutbox(store, linger_seconds=0.05)
    outbox.start()
    kept = [phase("op_kept", n) for n in range(3)]
    outbox.emit_many(kept)
    flushing = asyncio.create_task(outbox.flush())
    outbox.emit(phase("op_lost", 1))
    assert outbox.discard("op_lost") == 1
    await asyncio.sleep(0)
    assert not flushing.done()  # the kept events are still queued
    await asyncio.wait_for(flushing, 2.0)
    assert [r.event for r in await store.read_operation("op_kept")] == kept
    await outbox.close()


async def test_flush_with_nothing_emitted_returns_at_once() -> None:
    outbox = EventOutbox(MemoryEventStore())
    outbox.start()
    await asyncio.wait_for(outbox.flush(), 0.5)
    await outbox.close()
