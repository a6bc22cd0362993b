"""Runner protocol v2 on the in-memory adapters: a stopping runner hands its work over, the
cancel signal carries a typed cause on both sides, and a runner never starts an attempt of an
operation that has ended."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from tests.unit.test_handover_memory import (
    EXECUTORS,
    history,
    make_runner,
    new_backend,
    wait_for,
)
from trainjet.core.cancellation import CancelCause, CancellationToken
from trainjet.core.events import (
    TERMINAL_TYPES,
    DummyInputs,
    EventFactory,
    OperationFailed,
    OperationStarted,
    OperationStatus,
    OperationType,
    RunnerLost,
    TrainingInputs,
)
from trainjet.core.store import EventStore, MemoryBlobStore, MemoryCommandQueue, Record
from trainjet.runners.worker import Runner
from trainjet.system import ApiSystem

pytestmark = pytest.mark.timeout(30)


async def test_a_stopping_runner_hands_its_operation_to_another_of_the_pool() -> None:
    backend = new_backend()
    blobs = MemoryBlobStore()
    first, second = make_runner(backend, blobs, "first"), make_runner(backend, blobs, "second")
    await backend.start()
    backend.leases.interval = 0.05
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(first.run(stop_first))]
    try:
        info, _ = await backend.orchestrator.start_managed_operation(
            OperationType.TRAINING, inputs=TrainingInputs(strategy_name="fake", epochs=60)
        )
        op_id = info.operation_id
        await wait_for(lambda: _epochs(backend, op_id, 3))
        tasks.append(asyncio.create_task(second.run(stop_second)))
        await wait_for(lambda: _registered(backend, "second"))
        stop_first.set()  # SIGTERM
        await asyncio.wait_for(tasks[0], 10)  # exits within the grace period
        await wait_for(lambda: _status(backend, op_id, OperationStatus.COMPLETED), 20)
    finally:
        stop_first.set()
        stop_second.set()
        await asyncio.gather(*tasks)
        await backend.close()
    events = await history(backend, op_id)
    starts = [e for e in events if isinstance(e, OperationStarted)]
    (lost,) = [e for e in events if isinstance(e, RunnerLost)]
    assert [(s.attempt, s.runner_id) for s in starts] == [(1, "first"), (2, "second")]
    assert lost.detected_by == "first" and lost.attempt == 1
    assert starts[1].resumed_from_epoch is not None  # from the checkpoint, not from scratch
    assert sum(isinstance(e, TERMINAL_TYPES) for e in events) == 1
    assert [e.epoch for e in backend.projector.view.metrics[op_id].epochs] == list(range(1, 61))


async def test_no_attempt_starts_after_the_operation_ended() -> None:
    """The lease monitor ends an operation between the runner's read of its history (which
    says `running`, its runner lost) and the runner's start of attempt 2: the start, decided
    on the history it read, must be refused, and the runner must not run the operation."""
    backend = new_backend()
    await backend.start(lease_monitor=False)
    info, _ = await backend.orchestrator.start_managed_operation(
        OperationType.DUMMY, inputs=DummyInputs(iterations=3)
    )
    op_id = info.operation_id
    claim = await backend.commands.next_claim("local", timeout=1)
    assert claim is not None  # a ghost took it, started it and vanished
    factory = EventFactory(op_id)
    await backend.store.append(factory.make(OperationStarted, runner_id="ghost"))

    class MonitorInBetween:
        """The store as the runner sees it: the monitor writes right after the first read."""

        def __init__(self, store: EventStore) -> None:
            self.inner = store
            self.reads = 0

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        async def read_operation(self, operation_id: str) -> list[Record]:
            records = await self.inner.read_operation(operation_id)
            self.reads += 1
            if self.reads == 1:
                await self.inner.append(factory.make(
                    OperationFailed, error="lost", error_code="runner_lost", runner_id="ghost"))  # fmt: skip
            return records

    store = MonitorInBetween(backend.store)
    runner = Runner(store=store, commands=backend.commands, registry=backend.registry,  # type: ignore[arg-type]
                    executors=EXECUTORS, runner_id="late")  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        # the ghost's lease lapses; the command comes back to `late`, which acks it
        await wait_for(lambda: _queue_empty(backend), 10)
    finally:
        stop.set()
        await task
        await backend.close()
    assert store.reads >= 2  # it read again after the refusal
    events = await history(backend, op_id)
    assert [e.attempt for e in events if isinstance(e, OperationStarted)] == [1]
    assert sum(isinstance(e, TERMINAL_TYPES) for e in events) == 1
    assert not any(isinstance(e, RunnerLost) for e in events)


async def test_the_token_says_why_on_the_thread_and_on_the_loop() -> None:
    token = CancellationToken("op1")
    waiter = asyncio.create_task(token.wait_cancelled())
    await asyncio.sleep(0)
    thread = threading.Thread(target=token.cancel, args=("deploy", CancelCause.SHUTDOWN))
    thread.start()
    await asyncio.wait_for(waiter, 5)  # the loop side woke from another thread
    thread.join()
    assert token.is_cancelled and token.cause is CancelCause.SHUTDOWN
    assert not token.cancel("user", CancelCause.USER)  # the first cause wins
    assert token.cause is CancelCause.SHUTDOWN and token.reason == "deploy"
    assert await token.sleep_or_cancel(10)


async def _epochs(backend: ApiSystem, op_id: str, n: int) -> bool:
    metrics = backend.projector.view.metrics.get(op_id)
    return metrics is not None and len(metrics.epochs) >= n


async def _registered(backend: ApiSystem, runner_id: str) -> bool:
    runners = await backend.registry.list()
    return any(r.runner_id == runner_id for r in runners)


async def _status(backend: ApiSystem, op_id: str, status: OperationStatus) -> bool:
    return backend.projector.view.operations[op_id].status is status


async def _queue_empty(backend: ApiSystem) -> bool:
    """No command left in the pool, claimed or not (the memory queue's own list)."""
    commands = backend.commands
    assert isinstance(commands, MemoryCommandQueue)
    return not commands._pools.get("local")
