"""A runner claims as many commands as it has free slots in one round trip, and never runs
more than its concurrency."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest

from trainjet.core.events import DummyInputs, EventFactory, OperationCreated, OperationType
from trainjet.core.store import (
    MemoryCommandQueue,
    MemoryEventStore,
    MemoryRunnerRegistry,
    StartCommand,
)
from trainjet.core.store.memory import MemoryClaim
from trainjet.runners.dummy import run_dummy
from trainjet.runners.worker import Runner

pytestmark = pytest.mark.timeout(60)


class CountingQueue(MemoryCommandQueue):
    """Counts claim round trips (each `next_claims` call is one fetch)."""

    def __init__(self) -> None:
        super().__init__(lease_seconds=60)
        self.fetches: list[int] = []  # max_count asked, per round trip

    async def next_claims(self, pool: str, max_count: int, timeout: float) -> Sequence[MemoryClaim]:
        claims = await super().next_claims(pool, max_count, timeout)
        if claims:
            self.fetches.append(max_count)
        return claims


async def run_workload(concurrency: int, operations: int) -> tuple[CountingQueue, int, Runner]:
    store, commands = MemoryEventStore(), CountingQueue()
    runner = Runner(
        store=store,
        commands=commands,
        registry=MemoryRunnerRegistry(),
        executors={"dummy": run_dummy},
        concurrency=concurrency,
    )
    inputs = DummyInputs(iterations=2, interval_seconds=0.3)
    for i in range(operations):
        op = f"op_claims_{i}"
        await store.append(
            EventFactory(op).make(
                OperationCreated, operation_type=OperationType.DUMMY, inputs=inputs
            )
        )
        await commands.submit(StartCommand(operation_id=op, operation_type="dummy"))
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    deadline, peak = time.monotonic() + 40, 0
    while runner.completed < operations:
        assert time.monotonic() < deadline, f"{runner.completed}/{operations} completed"
        peak = max(peak, len(runner.active))
        await asyncio.sleep(0.005)
    stop.set()
    await asyncio.wait_for(task, 30)
    return commands, peak, runner


async def test_a_runner_claims_its_free_slots_in_one_round_trip() -> None:
    commands, peak, _ = await run_workload(concurrency=20, operations=20)
    assert commands.fetches[0] == 20  # all its slots were free: one fetch for all
    assert len(commands.fetches) == 1
    assert peak == 20


async def test_batched_claims_never_exceed_the_concurrency() -> None:
    commands, peak, runner = await run_workload(concurrency=5, operations=23)
    assert peak <= 5
    assert runner.completed == 23
    assert commands.fetches[0] == 5
    assert all(asked <= 5 for asked in commands.fetches)
    assert len(commands.fetches) < 23
