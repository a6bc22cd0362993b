"""TrainingProgressBridge + EventOutbox on the memory store: every batch recorded, batches
coalesced into few events, cancellation honoured at the next batch, nothing blocks."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from trainjet.core.cancellation import CancellationError, CancellationToken
from trainjet.core.events import (
    BatchProgress,
    EpochCompleted,
    Event,
    EventFactory,
    OperationCreated,
    OperationType,
    PhaseChanged,
    codec,
)
from trainjet.core.projections import batch_curve, fold
from trainjet.core.store import MemoryEventStore, StoredEvent
from trainjet.runners.bridge import TrainingProgressBridge
from trainjet.runners.context import OperationContext
from trainjet.runners.outbox import EventOutbox


async def make_ctx(store: MemoryEventStore) -> OperationContext:
    created = EventFactory("op1").make(OperationCreated, operation_type=OperationType.TRAINING)
    await store.append(created)
    outbox = EventOutbox(store)
    outbox.start()
    info = fold([created])
    assert info is not None
    return OperationContext(
        operation=info,
        inputs=None,
        history=[created],
        outbox=outbox,
        token=CancellationToken("op1"),
        runner_id="r1",
        pool="local",
        attempt=1,
    )


def run_loop(
    bridge: TrainingProgressBridge, epochs: int, per_epoch: int, cancel_at: int | None
) -> int:
    done = 0
    for epoch in range(1, epochs + 1):
        for batch in range(1, per_epoch + 1):
            done += 1
            bridge.on_batch(epoch, batch, per_epoch, epochs, 1.0 / done, done / 1000)
            if cancel_at is not None and done == cancel_at:
                # arrives from the event loop while the next batch is computing
                threading.Thread(target=bridge.token.cancel, args=("stop",)).start()
                threading.Event().wait(0.01)
        bridge.on_epoch(epoch, epochs, {"train_loss": 0.5, "train_accuracy": 0.5, "val_loss": 0.6})
    return done


async def test_every_batch_is_in_the_log_in_few_events() -> None:
    store = MemoryEventStore()
    ctx = await make_ctx(store)
    bridge = TrainingProgressBridge(ctx, flush_seconds=0.05)
    await asyncio.to_thread(run_loop, bridge, 3, 400, None)
    bridge.flush()  # what the executor does when the training returns
    await ctx.outbox.flush()
    events = [r.event for r in await store.read_operation("op1") if isinstance(r, StoredEvent)]
    batch_events = [e for e in events if isinstance(e, BatchProgress)]
    curve = batch_curve(events)
    assert len(curve) == 1200
    assert [(r.epoch, r.batch) for r in curve][:2] == [(1, 1), (1, 2)]
    assert curve[-1].loss == pytest.approx(1 / 1200)
    assert len(batch_events) < 1200 / 10  # coalesced
    assert sum(isinstance(e, EpochCompleted) for e in events) == 3
    last = batch_events[-1]
    assert last.items_processed == last.items_total == 1200
    assert last.percentage == pytest.approx(95.0)
    info = fold(events)
    assert info is not None and info.progress.steps_completed == 3
    await ctx.outbox.close()


async def test_cancel_is_honoured_at_the_next_batch() -> None:
    store = MemoryEventStore()
    ctx = await make_ctx(store)
    bridge = TrainingProgressBridge(ctx)
    with pytest.raises(CancellationError, match="stop"):
        await asyncio.to_thread(run_loop, bridge, 2, 100, 37)
    await ctx.outbox.flush()
    curve = batch_curve(
        r.event for r in await store.read_operation("op1") if isinstance(r, StoredEvent)
    )
    # batch 37 finished before the cancel; batch 38 was in flight: it is logged (its step
    # happened) and the loop stops there
    assert len(curve) == 38
    await ctx.outbox.close()


async def test_emit_refuses_unencodable_values_at_the_caller() -> None:
    store = MemoryEventStore()
    ctx = await make_ctx(store)
    with pytest.raises(TypeError, match="cannot be encoded"):
        ctx.emit(
            EpochCompleted,
            epoch=1,
            total_epochs=1,
            train_loss=1.0,
            train_accuracy=0.5,
            extra={"bad": object()},
        )
    await ctx.outbox.close()


class CountingOutbox(EventOutbox):
    """Counts the hand-overs (each may wake the runner's loop once)."""

    def __init__(self, store: MemoryEventStore) -> None:
        super().__init__(store)
        self.handovers = 0

    def emit_many(self, events: Sequence[Event]) -> None:
        self.handovers += 1
        super().emit_many(events)


async def test_short_epochs_add_no_sends_and_keep_their_order() -> None:
    store = MemoryEventStore()
    ctx = await make_ctx(store)
    outbox = CountingOutbox(store)
    outbox.start()
    ctx.outbox = outbox
    # 40 epochs of 5 batches in far less than one flush interval: one send at the end,
    # not one (or two) per epoch
    bridge = TrainingProgressBridge(ctx, flush_seconds=3600)
    await asyncio.to_thread(run_loop, bridge, 40, 5, None)
    assert outbox.handovers == 0
    bridge.flush()
    await outbox.flush()
    assert outbox.handovers == 1
    events = [r.event for r in await store.read_operation("op1") if isinstance(r, StoredEvent)]
    assert [e.epoch for e in events if isinstance(e, EpochCompleted)] == list(range(1, 41))
    assert len(batch_curve(events)) == 200
    # every epoch's batches are logged before its epoch_completed
    seen = 0
    for event in events:
        if isinstance(event, BatchProgress):
            seen = max(seen, *(r.epoch for r in event.batches))
        if isinstance(event, EpochCompleted):
            assert seen == event.epoch
    await outbox.close()
    await ctx.outbox.close()


async def test_a_due_epoch_is_sent_at_once() -> None:
    store = MemoryEventStore()
    ctx = await make_ctx(store)
    bridge = TrainingProgressBridge(ctx, flush_seconds=0.0)
    await asyncio.to_thread(run_loop, bridge, 2, 3, None)
    await ctx.outbox.flush()
    events = [r.event for r in await store.read_operation("op1") if isinstance(r, StoredEvent)]
    assert [e.epoch for e in events if isinstance(e, EpochCompleted)] == [1, 2]
    await ctx.outbox.close()


async def test_the_outbox_encodes_each_event_once(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryEventStore()
    ctx = await make_ctx(store)
    calls: list[str] = []
    real = codec.EventCodec.encode

    def counting(event: Event) -> bytes:
        calls.append(event.event_id)
        return real(event)

    monkeypatch.setattr(codec.EventCodec, "encode", staticmethod(counting))
    events = [ctx.make(PhaseChanged, phase=f"p{i}", message="m") for i in range(5)]
    ctx.outbox.emit(events[0])
    ctx.outbox.emit_many(events[1:])
    await ctx.outbox.flush()
    assert sorted(calls) == sorted(e.event_id for e in events)  # once each, not twice
    stored = [r for r in await store.read_operation("op1") if isinstance(r, StoredEvent)]
    assert [r.event for r in stored[1:]] == events
    await ctx.outbox.close()


async def test_a_phase_leaves_with_the_batches_held_before_it() -> None:
    store = MemoryEventStore()
    ctx = await make_ctx(store)
    outbox = CountingOutbox(store)
    outbox.start()
    ctx.outbox = outbox
    bridge = TrainingProgressBridge(ctx, flush_seconds=3600)
    await asyncio.to_thread(run_loop, bridge, 2, 5, None)
    bridge.on_phase("evaluating")
    await outbox.flush()
    assert outbox.handovers == 1  # one wake of the loop, not one for the batches, one for it
    events = [r.event for r in await store.read_operation("op1") if isinstance(r, StoredEvent)]
    assert isinstance(events[-1], PhaseChanged) and events[-1].phase == "evaluating"
    assert len(batch_curve(events)) == 10
    assert [e.items_processed for e in events if isinstance(e, EpochCompleted)] == [5, 10]
    await outbox.close()
    await ctx.outbox.close()
