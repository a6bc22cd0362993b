"""A runner holds no JetStream consumer per running operation: with 40 dummy operations
running at once, the events stream has as many consumers as with none (the runner's one
control watcher), once the history reads of their starts have lapsed."""

from __future__ import annotations

import asyncio
import time

import pytest
from nats.aio.client import Client

from trainjet.core.events import (
    DummyInputs,
    EventFactory,
    OperationCreated,
    OperationStarted,
    OperationType,
)
from trainjet.core.store import (
    JetStreamCommandQueue,
    JetStreamEventStore,
    JetStreamRunnerRegistry,
    StartCommand,
    StoredEvent,
    StoreSettings,
)
from trainjet.runners.dummy import run_dummy
from trainjet.runners.worker import Runner

pytestmark = pytest.mark.timeout(120)

RUNNING = 40
READ_LAPSE_S = 6.5  # an ephemeral reader consumer outlives its reader by 5 s


async def started(store: JetStreamEventStore) -> int:
    records = [r async for r in store.read_all()]
    return sum(
        isinstance(r, StoredEvent) and isinstance(r.event, OperationStarted) for r in records
    )


async def test_consumers_do_not_grow_with_running_operations(
    nc: Client,
    js_layout: StoreSettings,
    js_store: JetStreamEventStore,
    command_queue: JetStreamCommandQueue,
    registry: JetStreamRunnerRegistry,
) -> None:
    js = nc.jetstream()

    async def consumers() -> int:
        return int((await js.stream_info(js_layout.events_stream_name)).state.consumer_count)

    runner = Runner(
        store=js_store,
        commands=command_queue,
        registry=registry,
        executors={"dummy": run_dummy},
        concurrency=RUNNING,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        while runner.control._task is None:  # noqa: ASYNC110 - the watcher's tail is open
            await asyncio.sleep(0.05)
        await asyncio.sleep(READ_LAPSE_S)
        idle = await consumers()
        ids = [f"op_consumers_{i}" for i in range(RUNNING)]
        await js_store.append_many(
            [
                EventFactory(op).make(
                    OperationCreated,
                    operation_type=OperationType.DUMMY,
                    inputs=DummyInputs(iterations=60, interval_seconds=0.5),
                )
                for op in ids
            ]
        )
        for op in ids:
            await command_queue.submit(
                StartCommand(operation_id=op, operation_type="dummy", pool="local")
            )
        deadline = time.monotonic() + 60
        while await started(js_store) < RUNNING:
            assert time.monotonic() < deadline, "the operations did not all start"
            await asyncio.sleep(0.2)
        await asyncio.sleep(READ_LAPSE_S)
        assert len(runner.active) == RUNNING
        assert await consumers() == idle
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
