"""Hand-over on the in-memory adapters: a lost runner's operation is resumed by another runner
of its pool from the latest checkpoint, or failed naming it when nobody is left; a runner
that lost an operation writes nothing more for it. The real processes (SIGKILL, two host
runners, a NATS cluster) are in tests/integration."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

from trainjet.config import Settings
from trainjet.core.cancellation import CancellationError, CancellationToken
from trainjet.core.events import (
    TERMINAL_TYPES,
    AnyEvent,
    DummyInputs,
    EpochCompleted,
    EventFactory,
    OperationCreated,
    OperationStarted,
    OperationStatus,
    OperationType,
    ProgressUpdated,
    RunnerLost,
    TrainingInputs,
)
from trainjet.core.leases import runner_lost_event
from trainjet.core.projections import fold
from trainjet.core.store import MemoryBlobStore, RunnerInfo, StoredEvent, StoreUnavailable
from trainjet.runners.checkpoints import CheckpointSink
from trainjet.runners.context import OperationContext
from trainjet.runners.dummy import run_dummy
from trainjet.runners.worker import Executor, Runner
from trainjet.system import ApiSystem, memory_api

pytestmark = pytest.mark.timeout(30)

TTL, LEASE = 0.4, 0.6


async def fake_training(ctx: OperationContext) -> dict[str, Any]:
    """Epochs of 30 ms on a thread, checkpointing through the real sink, resuming from the
    checkpoint the runner fetched: the protocol of the real training without torch."""
    inputs = ctx.inputs
    epochs = (inputs.epochs or 20) if isinstance(inputs, TrainingInputs) else 20
    first = (ctx.resumed_from_epoch or 0) + 1
    sink = CheckpointSink(ctx, ctx.checkpoints) if ctx.checkpoints is not None else None

    def loop() -> None:
        for epoch in range(first, epochs + 1):
            if ctx.token.wait(0.03):
                raise CancellationError(ctx.token.reason or "cancelled", ctx.operation_id)
            ctx.emit(EpochCompleted, epoch=epoch, total_epochs=epochs, train_loss=1.0 / epoch,
                     train_accuracy=0.5)  # fmt: skip
            if sink is not None:
                sink(epoch, f"state after epoch {epoch}".encode())

    try:
        await asyncio.to_thread(loop)
    finally:
        if sink is not None:
            await sink.close()
    return {"first_epoch": first, "attempt": ctx.attempt}


EXECUTORS: dict[str, Executor] = {"dummy": run_dummy, "training": fake_training}


def make_runner(backend: ApiSystem, blobs: MemoryBlobStore, runner_id: str) -> Runner:
    return Runner(store=backend.store, commands=backend.commands, registry=backend.registry,
                  executors=EXECUTORS, runner_id=runner_id, checkpoints=blobs)  # fmt: skip


@contextlib.asynccontextmanager
async def started(backend: ApiSystem, runners: list[Runner]) -> AsyncIterator[list[asyncio.Event]]:
    """Run the runners (and the read side, unless a test started it already)."""
    if not backend.projector.caught_up.is_set():
        await backend.start()
    backend.leases.interval = 0.05
    stops = [asyncio.Event() for _ in runners]
    tasks = [asyncio.create_task(r.run(s)) for r, s in zip(runners, stops, strict=True)]
    try:
        yield stops
    finally:
        for stop in stops:
            stop.set()
        await asyncio.gather(*tasks)
        await backend.close()


def new_backend() -> ApiSystem:
    return memory_api(Settings(runner_ttl_seconds=TTL, lease_seconds=LEASE))


async def history(backend: ApiSystem, op_id: str) -> list[AnyEvent]:
    return [
        r.event for r in await backend.store.read_operation(op_id) if isinstance(r, StoredEvent)
    ]


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    async def poll() -> None:
        while True:
            if await predicate():
                return
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


async def ghost_start(backend: ApiSystem, kind: OperationType, **fields: Any) -> str:
    """An operation taken by a runner that then vanished: claimed, started, never renewed."""
    inputs = (
        TrainingInputs(strategy_name="fake", **fields)
        if kind is OperationType.TRAINING
        else DummyInputs(**fields)
    )
    info, _ = await backend.orchestrator.start_managed_operation(kind, inputs=inputs)
    claim = await backend.commands.next_claim("local", timeout=1)
    assert claim is not None
    factory = EventFactory(info.operation_id)
    await backend.store.append(factory.make(OperationStarted, runner_id="ghost-runner"))
    return info.operation_id


async def test_lost_dummy_is_resumed_after_its_last_iteration() -> None:
    backend = new_backend()
    blobs = MemoryBlobStore()
    await backend.start()
    op_id = await ghost_start(backend, OperationType.DUMMY, iterations=6, interval_seconds=0.01)
    for step in (1, 2, 3):  # what the ghost reported before it died
        await backend.store.append(EventFactory(op_id).make(
            ProgressUpdated, percentage=step * 100 / 6, steps_completed=step, steps_total=6))  # fmt: skip
    async with started(backend, [make_runner(backend, blobs, "survivor")]):
        await wait_for(lambda: _status(backend, op_id, OperationStatus.COMPLETED))
    events = await history(backend, op_id)
    (lost,) = [e for e in events if isinstance(e, RunnerLost)]
    assert (lost.runner_id, lost.attempt, lost.detected_by) in {
        ("ghost-runner", 1, "lease-monitor"), ("ghost-runner", 1, "survivor")}  # fmt: skip
    started_events = [e for e in events if isinstance(e, OperationStarted)]
    assert [(e.runner_id, e.attempt) for e in started_events] == [
        ("ghost-runner", 1),
        ("survivor", 2),
    ]
    assert events.index(lost) < events.index(started_events[1])
    steps = [e.steps_completed for e in events if isinstance(e, ProgressUpdated)]
    assert steps == [1, 2, 3, 4, 5, 6]  # nothing done twice
    assert sum(isinstance(e, TERMINAL_TYPES) for e in events) == 1


async def test_lost_training_resumes_from_the_latest_checkpoint() -> None:
    backend = new_backend()
    blobs = MemoryBlobStore()
    await backend.start()
    op_id = await ghost_start(backend, OperationType.TRAINING, epochs=8)
    factory = EventFactory(op_id)
    for epoch in (1, 2, 3):  # the ghost reported 3 epochs but stored only checkpoint 2
        await backend.store.append(factory.make(
            EpochCompleted, epoch=epoch, total_epochs=8, train_loss=9.0, train_accuracy=0.1))  # fmt: skip
    await blobs.put(op_id, b"state after epoch 2", {"epoch": "2", "attempt": "1"})
    async with started(backend, [make_runner(backend, blobs, "survivor")]):
        await wait_for(lambda: _status(backend, op_id, OperationStatus.COMPLETED))
    events = await history(backend, op_id)
    resumed = [e for e in events if isinstance(e, OperationStarted)][-1]
    assert (resumed.attempt, resumed.resumed_from_epoch) == (2, 2)
    info = backend.projector.view.operations[op_id]
    assert info.result_summary == {"first_epoch": 3, "attempt": 2}
    metrics = backend.projector.view.metrics[op_id]
    assert [e.epoch for e in metrics.epochs] == list(range(1, 9))  # epoch 3 once: the new one
    assert metrics.epochs[2].train_loss == pytest.approx(1 / 3)
    assert await blobs.keys() == []  # the checkpoint goes with the operation


async def test_no_runner_left_fails_naming_the_lost_one() -> None:
    backend = new_backend()
    await backend.start()
    backend.leases.interval = 0.05
    try:
        op_id = await ghost_start(backend, OperationType.DUMMY, iterations=5)
        await wait_for(lambda: _status(backend, op_id, OperationStatus.FAILED))
        info = backend.projector.view.operations[op_id]
        assert info.error_message is not None
        assert "Runner ghost-runner lost" in info.error_message
        assert "no live runner of pool 'local'" in info.error_message
        assert not any(isinstance(e, RunnerLost) for e in await history(backend, op_id))
    finally:
        await backend.close()


async def test_handed_over_but_pool_emptied_then_fails() -> None:
    backend = new_backend()
    await backend.start()
    backend.leases.interval = 0.05
    try:
        op_id = await ghost_start(backend, OperationType.DUMMY, iterations=5)
        # a runner of the pool is alive (but never takes the command), so it is handed over
        idle = RunnerInfo(runner_id="idle", pool="local", host="h", pid=1)

        async def beat() -> None:
            while True:
                await backend.registry.heartbeat(idle)
                await asyncio.sleep(0.05)

        beating = asyncio.create_task(beat())
        await wait_for(lambda: _has(backend, op_id, RunnerLost))
        assert backend.projector.view.operations[op_id].status is OperationStatus.RUNNING
        # ... then that runner's heartbeat expires too: nobody is left to resume it
        beating.cancel()
        await wait_for(lambda: _status(backend, op_id, OperationStatus.FAILED))
        assert "ghost-runner" in (backend.projector.view.operations[op_id].error_message or "")
    finally:
        await backend.close()


async def test_a_runner_that_lost_its_operation_writes_nothing_more() -> None:
    backend = new_backend()
    blobs = MemoryBlobStore()
    first = make_runner(backend, blobs, "first")
    async with started(backend, [first]) as (stop_first,):
        info, _ = await backend.orchestrator.start_managed_operation(
            OperationType.TRAINING, inputs=TrainingInputs(strategy_name="fake", epochs=60)
        )
        op_id = info.operation_id
        await wait_for(lambda: _epochs_at_least(backend, op_id, 3))
        # Someone decided `first` was lost (a monitor on a partitioned API, say).
        await backend.store.append(runner_lost_event(op_id, "first", 1, "test", "test"))
        await wait_for(lambda: _fenced(first, op_id))
        assert op_id not in first.info().current_operations
        # The command was neither acked nor renewed: its lease runs out and it comes back;
        # `first` itself (healthy again) resumes the operation as attempt 2.
        await wait_for(lambda: _status(backend, op_id, OperationStatus.COMPLETED))
        stop_first.set()
    events = await history(backend, op_id)
    starts = [e for e in events if isinstance(e, OperationStarted)]
    assert [e.attempt for e in starts] == [1, 2]
    # nothing of attempt 1 after its hand-over: the next event is attempt 2's start
    lost_at = next(i for i, e in enumerate(events) if isinstance(e, RunnerLost))
    assert events[lost_at + 1] == starts[1]
    assert starts[1].resumed_from_epoch is not None and starts[1].resumed_from_epoch >= 3
    assert sum(isinstance(e, TERMINAL_TYPES) for e in events) == 1
    epochs = [e.epoch for e in backend.projector.view.metrics[op_id].epochs]
    assert epochs == list(range(1, 61))


async def test_checkpoint_sink_never_blocks_and_keeps_the_latest() -> None:
    backend = new_backend()
    gate = asyncio.Event()

    class SlowBlobs(MemoryBlobStore):
        async def put(self, key: str, data: bytes, meta: Any = None) -> None:
            await gate.wait()
            await super().put(key, data, meta)

    blobs = SlowBlobs()
    info = fold([EventFactory("op1").make(OperationCreated, operation_type=OperationType.TRAINING)])
    assert info is not None
    runner = make_runner(backend, blobs, "r")
    ctx = OperationContext(operation=info, inputs=None, history=[], outbox=runner.outbox,
                           token=CancellationToken(info.operation_id),
                           runner_id="r", pool="local", attempt=1)  # fmt: skip
    sink = CheckpointSink(ctx, blobs)
    done = threading.Event()

    def training_thread() -> None:
        for epoch in range(1, 201):
            sink(epoch, b"x" * 1000 + str(epoch).encode())
        done.set()

    await asyncio.to_thread(training_thread)
    assert done.is_set()  # 200 checkpoints handed over while the store accepted none
    gate.set()
    await asyncio.sleep(0.05)
    await sink.close()
    blob = await blobs.get(info.operation_id)
    assert blob is not None and blob.meta["epoch"] == "200"
    assert sink.uploads <= 2 and sink.skipped >= 197


async def _status(backend: ApiSystem, op_id: str, status: OperationStatus) -> bool:
    return backend.projector.view.operations[op_id].status is status


async def _has(backend: ApiSystem, op_id: str, kind: type) -> bool:
    return any(isinstance(e, kind) for e in await history(backend, op_id))


async def _epochs_at_least(backend: ApiSystem, op_id: str, n: int) -> bool:
    metrics = backend.projector.view.metrics.get(op_id)
    return metrics is not None and len(metrics.epochs) >= n


async def _fenced(runner: Runner, op_id: str) -> bool:
    return op_id not in runner.active


async def test_a_runner_cut_off_from_nats_stops_and_resumes_when_back() -> None:
    backend = new_backend()
    blobs = MemoryBlobStore()

    class CutOff:
        """The runner's view of the registry, with a switch that makes heartbeats fail."""

        ttl_seconds = TTL
        broken = False

        async def heartbeat(self, info: RunnerInfo) -> None:
            if self.broken:
                raise StoreUnavailable("cut off (test)")
            await backend.registry.heartbeat(info)

        async def remove(self, runner_id: str) -> None:
            await backend.registry.remove(runner_id)

        async def list(self) -> list[RunnerInfo]:
            return await backend.registry.list()

    link = CutOff()
    runner = Runner(store=backend.store, commands=backend.commands, registry=link,
                    executors=EXECUTORS, runner_id="cut", checkpoints=blobs)  # fmt: skip
    other = RunnerInfo(runner_id="other", pool="local", host="h", pid=2)

    async def other_beats() -> None:  # another runner of the pool stays alive meanwhile
        while True:
            await backend.registry.heartbeat(other)
            await asyncio.sleep(0.05)

    beating = asyncio.create_task(other_beats())
    try:
        async with started(backend, [runner]):
            info, _ = await backend.orchestrator.start_managed_operation(
                OperationType.TRAINING, inputs=TrainingInputs(strategy_name="fake", epochs=60)
            )
            op_id = info.operation_id
            await wait_for(lambda: _epochs_at_least(backend, op_id, 3))
            link.broken = True
            await wait_for(lambda: _fenced(runner, op_id))  # after a TTL without heartbeat
            await wait_for(lambda: _has(backend, op_id, RunnerLost))  # the monitor's hand-over
            link.broken = False
            beating.cancel()
            await wait_for(lambda: _status(backend, op_id, OperationStatus.COMPLETED))
    finally:
        beating.cancel()
    events = await history(backend, op_id)
    assert [e.attempt for e in events if isinstance(e, OperationStarted)] == [1, 2]
    lost_at = next(i for i, e in enumerate(events) if isinstance(e, RunnerLost))
    assert isinstance(events[lost_at + 1], OperationStarted)
    assert [e.epoch for e in backend.projector.view.metrics[op_id].epochs] == list(range(1, 61))
    assert runner.fenced == 1
