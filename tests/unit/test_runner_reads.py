"""A runner taking many commands at once reads whole histories at most MAX_READS at a time and
the latest events of each type at most MAX_LATEST_READS at a time (each read is a request to
the server), and still runs them all at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from trainjet.core.events import (
    DummyInputs,
    EventFactory,
    OperationCreated,
    OperationTagged,
    OperationType,
)
from trainjet.core.store import (
    MemoryCommandQueue,
    MemoryEventStore,
    MemoryRunnerRegistry,
    Record,
    StartCommand,
)
from trainjet.runners.deps import MAX_LATEST_READS, MAX_READS
from trainjet.runners.dummy import run_dummy
from trainjet.runners.worker import Runner

pytestmark = pytest.mark.timeout(60)

OPERATIONS = 2 * MAX_LATEST_READS


class SlowReads(MemoryEventStore):
    """Reads that take a while, counting how many are in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = {"full": 0, "latest": 0}
        self.most = {"full": 0, "latest": 0}

    async def _slowly(
        self, kind: str, read: Callable[[str], Awaitable[list[Record]]], op: str
    ) -> list[Record]:
        self.in_flight[kind] += 1
        self.most[kind] = max(self.most[kind], self.in_flight[kind])
        try:
            await asyncio.sleep(0.02)
            return await read(op)
        finally:
            self.in_flight[kind] -= 1

    async def read_operation(self, operation_id: str) -> list[Record]:
        return await self._slowly("full", super().read_operation, operation_id)

    async def read_latest(self, operation_id: str) -> list[Record]:
        return await self._slowly("latest", super().read_latest, operation_id)


async def test_reads_are_gated_and_operations_still_run_together() -> None:
    store = SlowReads()
    commands = MemoryCommandQueue(lease_seconds=60)
    runner = Runner(
        store=store,
        commands=commands,
        registry=MemoryRunnerRegistry(),
        executors={"dummy": run_dummy},
        concurrency=OPERATIONS,
    )
    for i in range(OPERATIONS):
        op = f"op_reads_{i}"
        await store.append(
            EventFactory(op).make(
                OperationCreated,
                operation_type=OperationType.DUMMY,
                inputs=DummyInputs(iterations=1, interval_seconds=3.0),
            )
        )
        if i % 4 == 0:  # more than its creation: its start reads the whole history
            await store.append(EventFactory(op).make(OperationTagged, add=["x"]))
        await commands.submit(StartCommand(operation_id=op, operation_type="dummy", pool="local"))
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    deadline = time.monotonic() + 30
    peak = 0
    while runner.completed < OPERATIONS:
        assert time.monotonic() < deadline, f"{runner.completed}/{OPERATIONS} completed"
        peak = max(peak, len(runner.active))
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 30)
    # reads overlapped, never more than their gates: the tagged operations' starts read their
    # whole history, every other read is of the latest events of each type
    assert store.most == {"full": MAX_READS, "latest": MAX_LATEST_READS}
    assert peak == OPERATIONS  # every operation ran at the same time


class CountedReads(MemoryEventStore):
    """Counts whole-history reads and latest-of-each-type reads."""

    def __init__(self) -> None:
        super().__init__()
        self.full = 0
        self.latest = 0

    async def read_operation(self, operation_id: str) -> list[Record]:
        self.full += 1
        return await super().read_operation(operation_id)

    async def read_latest(self, operation_id: str) -> list[Record]:
        self.latest += 1
        return await super().read_latest(operation_id)


async def test_a_new_operation_is_started_and_ended_without_reading_its_whole_history() -> None:
    # A whole-history read costs the server a scan of every message stored since the
    # operation's first: a new operation's start finds its creation alone in the latest
    # events of each type, and the end needs only those.
    store = CountedReads()
    commands = MemoryCommandQueue(lease_seconds=60)
    runner = Runner(
        store=store,
        commands=commands,
        registry=MemoryRunnerRegistry(),
        executors={"dummy": run_dummy},
        concurrency=4,
    )
    for i in range(4):
        op = f"op_latest_{i}"
        await store.append(
            EventFactory(op).make(
                OperationCreated,
                operation_type=OperationType.DUMMY,
                inputs=DummyInputs(iterations=3, interval_seconds=0.01),
            )
        )
        await commands.submit(StartCommand(operation_id=op, operation_type="dummy", pool="local"))
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    deadline = time.monotonic() + 30
    while runner.completed < 4:
        assert time.monotonic() < deadline, f"{runner.completed}/4 completed"
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 30)
    assert (store.full, store.latest) == (0, 8)
