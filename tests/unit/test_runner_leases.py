"""One lease renewal task per runner renews every held command each period; a fenced attempt
is no longer renewed; one that ended is acked and no longer held."""

from __future__ import annotations

import asyncio
import time
from typing import Any

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
from trainjet.runners.leases import LeaseKeeper
from trainjet.runners.worker import Runner

pytestmark = pytest.mark.timeout(60)

LEASE_SECONDS = 0.9  # renewed every 0.3 s
OPERATIONS = 40


class CountingClaim:
    """A claim that counts its renewals."""

    def __init__(self, inner: MemoryClaim) -> None:
        self.inner = inner
        self.command = inner.command
        self.delivery_count = inner.delivery_count
        self.extends = 0
        self.completed = False

    async def extend(self) -> None:
        self.extends += 1
        await self.inner.extend()

    async def complete(self) -> None:
        self.completed = True
        await self.inner.complete()

    async def release(self) -> None:
        await self.inner.release()


class CountingQueue(MemoryCommandQueue):
    def __init__(self) -> None:
        super().__init__(lease_seconds=LEASE_SECONDS)
        self.claims: list[CountingClaim] = []

    async def next_claims(self, pool: str, max_count: int, timeout: float) -> list[Any]:
        got = [CountingClaim(c) for c in await super().next_claims(pool, max_count, timeout)]
        self.claims += got
        return got


async def created(store: MemoryEventStore, op: str, seconds: float) -> None:
    inputs = DummyInputs(iterations=1, interval_seconds=seconds)
    await store.append(
        EventFactory(op).make(OperationCreated, operation_type=OperationType.DUMMY, inputs=inputs)
    )


async def test_one_task_renews_every_running_operation_each_period() -> None:
    store, commands = MemoryEventStore(), CountingQueue()
    runner = Runner(
        store=store,
        commands=commands,
        registry=MemoryRunnerRegistry(),
        executors={"dummy": run_dummy},
        concurrency=OPERATIONS,
    )
    for i in range(OPERATIONS):
        await created(store, f"op_lease_{i}", 6.0)
        await commands.submit(StartCommand(operation_id=f"op_lease_{i}", operation_type="dummy"))
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    deadline = time.monotonic() + 30
    while len(runner.active) < OPERATIONS:
        assert time.monotonic() < deadline, f"{len(runner.active)}/{OPERATIONS} running"
        await asyncio.sleep(0.02)

    keeper = runner.deps.leases
    passes = keeper.passes
    before = {id(c): c.extends for c in commands.claims}
    while keeper.passes - passes < 3:
        assert time.monotonic() < deadline, "the leases were not renewed"
        await asyncio.sleep(keeper.interval)
    names = [t.get_name() for t in asyncio.all_tasks()]
    assert names.count("runner-leases") == 1
    assert not [n for n in names if n.startswith("lease-")]  # no task per operation
    assert len(keeper) == OPERATIONS
    # Every held command was renewed in each of those passes.
    assert min(c.extends - before[id(c)] for c in commands.claims) >= keeper.passes - passes - 1

    while runner.completed < OPERATIONS:
        assert time.monotonic() < deadline + 30, f"{runner.completed}/{OPERATIONS} completed"
        await asyncio.sleep(0.05)
    assert len(keeper) == 0  # ended: acked and no longer held
    assert all(c.completed for c in commands.claims)
    stop.set()
    await asyncio.wait_for(task, 30)
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "runner-leases"]


class Holder:
    def __init__(self, claim: CountingClaim) -> None:
        self.claim = claim
        self.fenced = False


async def test_fenced_and_dropped_commands_are_not_renewed() -> None:
    queue = MemoryCommandQueue(lease_seconds=60)
    for op in ("op_a", "op_b", "op_c"):
        await queue.submit(StartCommand(operation_id=op, operation_type="dummy"))
    a, b, c = (Holder(CountingClaim(x)) for x in await queue.next_claims("local", 3, 1.0))
    keeper = LeaseKeeper(lease_seconds=60)
    for holder in (a, b, c):
        keeper.hold(holder)
    assert await keeper.renew_all() == 3
    b.fenced = True  # another runner owns it: its lease here must lapse
    keeper.drop(c)  # acked
    assert await keeper.renew_all() == 1
    assert (a.claim.extends, b.claim.extends, c.claim.extends) == (2, 1, 1)
    # The command came back while it ran: the new delivery is the one renewed.
    await queue.submit(StartCommand(operation_id="op_d", operation_type="dummy"))
    again = CountingClaim((await queue.next_claims("local", 1, 1.0))[0])
    a.claim = again
    await keeper.renew_all()
    assert again.extends == 1
    await keeper.close()
