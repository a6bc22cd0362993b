"""Orchestrator + runner + projector on the in-memory adapters (fast logic checks; the same
flows run against a real nats-server in tests/integration)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from trainjet.config import Settings
from trainjet.core.errors import Conflict, InvalidRequest, NotFound
from trainjet.core.events import (
    DummyInputs,
    EventFactory,
    OperationFailed,
    OperationStarted,
    OperationStatus,
    OperationType,
)
from trainjet.core.projections import OperationInfo
from trainjet.runners.executors import executors_for
from trainjet.runners.worker import Runner
from trainjet.system import ApiSystem, memory_api


@contextlib.asynccontextmanager
async def running(
    backend: ApiSystem, runners: int = 1, concurrency: int = 1
) -> AsyncIterator[list[Runner]]:
    await backend.start()
    stop = asyncio.Event()
    pool = [
        Runner(
            store=backend.store,
            commands=backend.commands,
            registry=backend.registry,
            executors=executors_for("local"),
            concurrency=concurrency,
        )
        for _ in range(runners)
    ]
    tasks = [asyncio.create_task(r.run(stop)) for r in pool]
    try:
        yield pool
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await backend.close()


async def wait_status(
    backend: ApiSystem, op_id: str, *statuses: OperationStatus, timeout: float = 10
) -> None:
    reached = asyncio.Event()

    def listener(info: OperationInfo, _event: object) -> None:
        if info.operation_id == op_id and info.status in statuses:
            reached.set()

    backend.projector.add_listener(listener)
    try:
        if backend.projector.view.operations[op_id].status not in statuses:
            await asyncio.wait_for(reached.wait(), timeout)
    finally:
        backend.projector.remove_listener(listener)


async def start_dummy(backend: ApiSystem, iterations: int = 3, interval: float = 0.01, **kw):
    info, _ = await backend.orchestrator.start_managed_operation(
        OperationType.DUMMY,
        inputs=DummyInputs(iterations=iterations, interval_seconds=interval),
        total_steps=iterations,
        **kw,
    )
    return info


async def test_dummy_runs_to_completion() -> None:
    backend = memory_api(Settings())
    async with running(backend):
        info = await start_dummy(backend)
        assert info.status in (OperationStatus.PENDING, OperationStatus.RUNNING)
        await wait_status(backend, info.operation_id, OperationStatus.COMPLETED)
        done = backend.projector.view.operations[info.operation_id]
        assert done.result_summary is not None
        assert done.result_summary["iterations_completed"] == 3
        assert done.progress.percentage == 100.0
        assert done.progress.steps_completed == 3


async def test_cancel_running_operation_is_confirmed_once() -> None:
    backend = memory_api(Settings())
    async with running(backend):
        info = await start_dummy(backend, iterations=1000, interval=0.05)
        await wait_status(backend, info.operation_id, OperationStatus.RUNNING)
        outcome = await backend.orchestrator.cancel_operation(info.operation_id, "enough")
        assert outcome.confirmed
        assert outcome.operation.status is OperationStatus.CANCELLED
        assert outcome.operation.cancellation_reason == "enough"
        assert outcome.operation.result_summary["status"] == "cancelled"
        with pytest.raises(InvalidRequest, match="cannot be cancelled"):
            await backend.orchestrator.cancel_operation(info.operation_id)
    records = await backend.store.read_operation(info.operation_id)
    types = [type(r.event).__name__ for r in records]
    assert (
        sum(t in ("OperationCancelled", "OperationCompleted", "OperationFailed") for t in types)
        == 1
    )


async def test_cancel_pending_operation_without_runner() -> None:
    backend = memory_api(Settings())
    await backend.start()
    try:
        info = await start_dummy(backend)
        outcome = await backend.orchestrator.cancel_operation(info.operation_id)
        assert outcome.confirmed and outcome.operation.status is OperationStatus.CANCELLED
    finally:
        await backend.close()


async def test_unknown_ids_and_idempotent_task_id() -> None:
    backend = memory_api(Settings())
    await backend.start()
    try:
        with pytest.raises(NotFound, match="Operation not found: nope"):
            await backend.orchestrator.cancel_operation("nope")
        first = await start_dummy(backend, operation_id="my-task-1")
        again, created = await backend.orchestrator.start_managed_operation(
            OperationType.DUMMY, operation_id="my-task-1"
        )
        assert not created and again.operation_id == first.operation_id
        with pytest.raises(Conflict):
            await backend.orchestrator.start_managed_operation(
                OperationType.TRAINING, operation_id="my-task-1"
            )
        with pytest.raises(InvalidRequest, match="not a valid operation id"):
            await start_dummy(backend, operation_id="bad.id")
        assert await backend.store.last_sequence() == 1  # rejected requests left no event
    finally:
        await backend.close()


async def test_lost_runner_fails_operation_with_its_name() -> None:
    """A runner that started an operation and then vanished (no heartbeat, no terminal
    event): the lease monitor ends the operation failed, naming the runner. The real
    SIGKILL of a runner process is in tests/integration."""
    settings = Settings(runner_ttl_seconds=0.3, lease_seconds=0.5)
    backend = memory_api(settings)
    backend.leases.interval = 0.05
    await backend.start()
    try:
        info = await start_dummy(backend)
        claim = await backend.commands.next_claim("local", timeout=1)
        assert claim is not None
        await backend.store.append(
            EventFactory(info.operation_id).make(OperationStarted, runner_id="ghost-runner")
        )
        await wait_status(backend, info.operation_id, OperationStatus.FAILED, timeout=5)
        failed = backend.projector.view.operations[info.operation_id]
        assert failed.error_message is not None
        assert "Runner ghost-runner lost" in failed.error_message
        assert failed.status is OperationStatus.FAILED
    finally:
        await backend.close()


async def test_runner_shutdown_ends_its_operation_failed_with_reason() -> None:
    backend = memory_api(Settings())
    async with running(backend) as (runner,):
        info = await start_dummy(backend, iterations=1000, interval=0.05)
        await wait_status(backend, info.operation_id, OperationStatus.RUNNING)
    # `running` stopped the runner gracefully while the operation was in flight
    ops = await backend.store.read_operation(info.operation_id)
    last = ops[-1].event
    assert isinstance(last, OperationFailed)
    assert last.error_code == "runner_shutdown" and runner.runner_id in last.error
