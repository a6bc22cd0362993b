"""Races on an operation's fate, on a real nats-server with in-process runners.

Each scenario counts terminal events per operation in the log: the projections already make
the first terminal win, so only the log shows a second writer that should not have written.
Without the precondition on fate-deciding appends (`core.fate`) these fail: cancel right after
start left two terminal events on 3-15 of every 100 operations, and a lease monitor acting on a
stale view appended `operation_failed` after `operation_completed` every time.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.chaos.report import count, record
from trainjet.config import Settings
from trainjet.core.events import (
    TERMINAL_TYPES,
    DummyInputs,
    OperationStatus,
    OperationType,
    RunnerLost,
)
from trainjet.core.leases import LeaseMonitor
from trainjet.core.projections.projector import Projector
from trainjet.core.store import StoredEvent, provision
from trainjet.core.store.jetstream_events import INACTIVE_SECONDS
from trainjet.core.store.nats_factory import connect_nats, open_store
from trainjet.runners.dummy import run_dummy
from trainjet.runners.worker import Runner
from trainjet.system import API_PARTS, ApiSystem, nats_access, store_settings

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(600)]

TTL, LEASE = 1.0, 1.5


@pytest.fixture
async def backend(nats_server: str) -> AsyncIterator[ApiSystem]:
    settings = Settings(nats_url=nats_server, runner_ttl_seconds=TTL, lease_seconds=LEASE)
    layout = store_settings(settings, namespace=f"chaos{uuid.uuid4().hex[:10]}")
    admin = await connect_nats(nats_access(settings), name="trainjet-chaos-setup")
    try:  # as `trainjet setup` does: the API and runners only check for the layout
        await provision(admin.jetstream(), layout)
    finally:
        await admin.close()
    connection = await open_store(
        nats_access(settings), layout, name="trainjet-chaos", parts=API_PARTS
    )
    b = ApiSystem(settings, connection)
    await b.start()
    b.leases.interval = 0.2
    try:
        yield b
    finally:
        await b.close()


class Runners:
    """In-process runners of the `local` pool on the backend, stopped on exit."""

    def __init__(self, backend: ApiSystem) -> None:
        self.backend = backend
        self.running: list[tuple[Runner, asyncio.Event, asyncio.Task[None]]] = []

    def start(self, concurrency: int = 8) -> Runner:
        runner = Runner(
            store=self.backend.store,
            commands=self.backend.commands,
            registry=self.backend.registry,
            executors={"dummy": run_dummy},
            concurrency=concurrency,
        )
        stop = asyncio.Event()
        self.running.append((runner, stop, asyncio.create_task(runner.run(stop))))
        return runner

    async def stop_all(self) -> None:
        for _, stop, _ in self.running:
            stop.set()
        await asyncio.gather(*(task for _, _, task in self.running), return_exceptions=True)


@pytest.fixture
async def runners(backend: ApiSystem) -> AsyncIterator[Runners]:
    r = Runners(backend)
    try:
        yield r
    finally:
        await r.stop_all()


async def start_dummy(backend: ApiSystem, iterations: int, interval: float) -> str:
    info, _ = await backend.orchestrator.start_managed_operation(
        OperationType.DUMMY, inputs=DummyInputs(iterations=iterations, interval_seconds=interval)
    )
    return info.operation_id


async def wait_terminal(backend: ApiSystem, op_ids: list[str], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ops = backend.projector.view.operations
        if all(ops[op].status.is_terminal for op in op_ids):
            return
        await asyncio.sleep(0.05)
    stuck = [op for op in op_ids if not backend.projector.view.operations[op].status.is_terminal]
    pytest.fail(f"{len(stuck)} operation(s) not terminal after {timeout:g}s: {stuck[:5]}")


async def terminal_events(backend: ApiSystem, op_id: str) -> list[Any]:
    records = await backend.store.read_operation(op_id)
    return [
        r.event
        for r in records
        if isinstance(r, StoredEvent) and isinstance(r.event, TERMINAL_TYPES)
    ]


async def doubled(backend: ApiSystem, op_ids: list[str]) -> list[str]:
    """Operations whose log holds more (or fewer) than one terminal event."""
    return [op for op in op_ids if len(await terminal_events(backend, op)) != 1]


async def test_cancel_right_after_start(backend: ApiSystem, runners: Runners) -> None:
    runners.start(concurrency=8)
    n = count(20, 100)

    async def start_then_cancel() -> str:
        op_id = await start_dummy(backend, iterations=3, interval=0.05)
        await backend.orchestrator.cancel_operation(op_id)
        return op_id

    op_ids: list[str] = []
    for _ in range(0, n, 10):
        op_ids += await asyncio.gather(*(start_then_cancel() for _ in range(10)))
    await wait_terminal(backend, op_ids)
    bad = await doubled(backend, op_ids)
    record(
        "cancel right after start",
        f"operations of {len(op_ids)} without exactly one terminal event",
        len(bad),
        not bad,
    )
    assert bad == []


async def test_cancel_racing_completion(backend: ApiSystem, runners: Runners) -> None:
    runners.start(concurrency=8)
    n = count(20, 100)
    rng = random.Random(7)

    async def race() -> str:
        op_id = await start_dummy(backend, iterations=2, interval=0.05)
        await asyncio.sleep(rng.uniform(0.0, 0.4))  # around the completion
        if not backend.orchestrator.get(op_id).status.is_terminal:
            try:
                await backend.orchestrator.cancel_operation(op_id)
            except Exception:  # finished between the check and the cancel: a 400
                assert backend.orchestrator.get(op_id).status.is_terminal
        return op_id

    op_ids: list[str] = []
    for _ in range(0, n, 10):
        op_ids += await asyncio.gather(*(race() for _ in range(10)))
    await wait_terminal(backend, op_ids)
    bad = await doubled(backend, op_ids)
    statuses = {backend.orchestrator.get(op).status for op in op_ids}
    record(
        "cancel racing completion",
        f"operations of {len(op_ids)} without exactly one terminal event",
        len(bad),
        not bad,
    )
    assert bad == []
    assert statuses <= {OperationStatus.COMPLETED, OperationStatus.CANCELLED}


async def test_lease_monitor_acting_on_a_stale_view(backend: ApiSystem, runners: Runners) -> None:
    """An API paused while its operations ran wakes with a view that still says `running`,
    and the runner's heartbeat no longer lists them: it must re-read before it writes."""
    runners.start(concurrency=4)
    rounds = count(2, 5)
    doubles = 0
    for _ in range(rounds):
        op_id = await start_dummy(backend, iterations=4, interval=0.1)
        stale = Projector(backend.store)
        await stale.start()
        deadline = time.monotonic() + 30
        while stale.view.operations.get(op_id) is None or (
            stale.view.operations[op_id].status is not OperationStatus.RUNNING
        ):
            assert time.monotonic() < deadline, "never saw the operation running"
            await asyncio.sleep(0.01)
        await stale.stop()  # paused: the view stays `running`
        await wait_terminal(backend, [op_id])
        await asyncio.sleep(TTL * 1.5)  # the attempt is now older than a TTL
        monitor = LeaseMonitor(backend.store, backend.registry, stale)
        await monitor.check_once()
        ends = await terminal_events(backend, op_id)
        losses = [
            r
            for r in await backend.store.read_operation(op_id)
            if isinstance(r, StoredEvent) and isinstance(r.event, RunnerLost)
        ]
        doubles += len(ends) != 1 or bool(losses)
    record(
        "lease monitor after an API pause",
        f"runs of {rounds} with a second terminal event or a hand-over",
        doubles,
        doubles == 0,
    )
    assert doubles == 0


async def test_one_runner_holds_as_many_consumers_with_30_operations_as_with_one(
    backend: ApiSystem, runners: Runners, nc: Any
) -> None:
    runners.start(concurrency=30)
    js = nc.jetstream()
    stream = backend.store.settings.events_stream_name  # type: ignore[attr-defined]

    async def consumers_once_running(op_ids: list[str]) -> int:
        deadline = time.monotonic() + 60
        while any(
            backend.orchestrator.get(op).status is not OperationStatus.RUNNING for op in op_ids
        ):
            assert time.monotonic() < deadline, "operations never all ran"
            await asyncio.sleep(0.05)
        # transient readers (each start reads its operation's history) are gone once their
        # ephemeral consumers pass the inactivity threshold; the watchers stay
        await asyncio.sleep(INACTIVE_SECONDS + 2)
        info = await js.stream_info(stream)
        return int(info.state.consumer_count)

    first = [await start_dummy(backend, iterations=400, interval=0.1)]
    with_one = await consumers_once_running(first)
    rest = [await start_dummy(backend, iterations=400, interval=0.1) for _ in range(29)]
    with_30 = await consumers_once_running(first + rest)
    for op in first + rest:
        await backend.orchestrator.cancel_operation(op)
    record(
        "consumers on the events stream",
        f"with 30 running operations on one runner (with one: {with_one})",
        with_30,
        with_30 <= with_one,
    )
    assert with_30 <= with_one
