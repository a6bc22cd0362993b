"""trainjet against an external NATS server (not the embedded one): the machine's own
nats-server at 127.0.0.1:4222 when it runs (Debian's 2.9 here). Everything lives in a
namespace of its own, removed afterwards, so the shared server keeps nothing of ours.
Skips, saying why, where no such server answers or it lacks what trainjet needs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator

import nats
import pytest

from trainjet.config import Settings
from trainjet.core.events import DummyInputs, OperationStatus, OperationType
from trainjet.core.store import (
    JetStreamCommandQueue,
    JetStreamEventStore,
    JetStreamRunnerRegistry,
    StoreSettings,
    ensure_streams,
)
from trainjet.core.store.connection import StoreConnection
from trainjet.runners.executors import executors_for
from trainjet.runners.worker import Runner
from trainjet.system import ApiSystem

URL = os.environ.get("TRAINJET_EXTERNAL_NATS_URL", "nats://127.0.0.1:4222")
MIN_VERSION = (2, 9)  # JetStream KV with TTL, ordered consumers, work-queue retention


@pytest.fixture
async def external() -> AsyncIterator[nats.aio.client.Client]:
    try:
        nc = await nats.connect(
            URL, connect_timeout=1, max_reconnect_attempts=0, allow_reconnect=False
        )
    except Exception as exc:
        pytest.skip(
            f"no external NATS server at {URL} ({type(exc).__name__}); set TRAINJET_EXTERNAL_NATS_URL"
        )
    server = nc.connected_server_version
    try:
        await nc.jetstream().account_info()
    except Exception:
        await nc.close()
        pytest.skip(f"the NATS server at {URL} runs without JetStream (start it with -js)")
    if (server.major, server.minor) < MIN_VERSION:
        await nc.close()
        pytest.skip(f"the NATS server at {URL} is {server!r}; trainjet needs >= 2.9")
    yield nc
    await nc.close()


async def test_dummy_run_and_cancel_on_an_external_server(external: nats.aio.client.Client) -> None:
    layout = StoreSettings(
        namespace=f"ext{uuid.uuid4().hex[:10]}", lease_seconds=5, runner_ttl_seconds=3
    )
    js = external.jetstream()
    await ensure_streams(js, layout)
    backend = ApiSystem(
        Settings(cancel_wait_seconds=10),
        StoreConnection(
            store=JetStreamEventStore(external, layout),
            commands=JetStreamCommandQueue(external, layout),
            registry=JetStreamRunnerRegistry(external, layout),
        ),
    )
    stop = asyncio.Event()
    runner = Runner(
        store=backend.store,
        commands=backend.commands,
        registry=backend.registry,
        executors=executors_for("local"),
    )
    task = asyncio.create_task(runner.run(stop))
    try:
        await backend.start()
        done, _ = await backend.orchestrator.start_managed_operation(
            OperationType.DUMMY,
            inputs=DummyInputs(iterations=3, interval_seconds=0.01),
            total_steps=3,
        )
        long, _ = await backend.orchestrator.start_managed_operation(
            OperationType.DUMMY, inputs=DummyInputs(iterations=1000, interval_seconds=0.05)
        )

        async def status(op_id: str) -> OperationStatus:
            return backend.projector.view.operations[op_id].status

        for _ in range(500):
            if (
                await status(done.operation_id) is OperationStatus.COMPLETED
                and await status(long.operation_id) is OperationStatus.RUNNING
            ):
                break
            await asyncio.sleep(0.02)
        assert await status(done.operation_id) is OperationStatus.COMPLETED
        outcome = await backend.orchestrator.cancel_operation(long.operation_id, "external test")
        assert outcome.confirmed and outcome.operation.status is OperationStatus.CANCELLED
    finally:
        stop.set()
        await task
        await backend.close()
        for name in (
            layout.events_stream_name,
            layout.commands_stream_name,
            f"KV_{layout.bucket_name}",
        ):
            with contextlib.suppress(Exception):
                await js.delete_stream(name)
