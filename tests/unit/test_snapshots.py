"""Projection snapshots: a snapshot plus its tail folds to exactly the full fold; a stale,
foreign-version or corrupt snapshot is ignored with a log line; a crash between two snapshots
loses nothing."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from trainjet.core.events import (
    BatchProgress,
    BatchRecord,
    CancelRequested,
    EpochCompleted,
    Event,
    ModelPromoted,
    OperationCancelled,
    OperationCompleted,
    OperationCreated,
    OperationFailed,
    OperationStarted,
    OperationType,
    PhaseChanged,
)
from trainjet.core.projections.projector import Projector
from trainjet.core.projections.snapshot import (
    SnapshotEnvelope,
    SnapshotRejected,
    SnapshotStore,
    decode_snapshot,
    encode_snapshot,
)
from trainjet.core.projections.view import OperationsView, ViewState
from trainjet.core.store.blobs import MemoryBlobStore
from trainjet.core.store.memory import MemoryEventStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def history(first: int, count: int) -> list[Event]:
    """`count` operations of every ending (completed, cancelled, failed, still running)."""
    events: list[Event] = []
    n = 0

    def ev(event_type: type[Event], op: str, **fields: Any) -> None:
        nonlocal n
        n += 1
        at = T0 + timedelta(seconds=first * 100 + n)
        events.append(event_type(event_id=f"{op}-{n}", operation_id=op, occurred_at=at, **fields))

    for i in range(first, first + count):
        op = f"op_training_20260101_000000_{i:08x}"
        ev(OperationCreated, op, operation_type=OperationType.TRAINING, total_steps=4)
        ev(OperationStarted, op, runner_id="r1")
        ev(PhaseChanged, op, phase="training")
        for epoch in (1, 2):
            ev(
                BatchProgress,
                op,
                batches=[BatchRecord(epoch, b, 1.0 / b, 0.5) for b in (1, 2)],
                total_epochs=2,
                batches_per_epoch=2,
                items_processed=2 * epoch,
                items_total=4,
                percentage=50.0 * epoch,
            )
            ev(EpochCompleted, op, epoch=epoch, total_epochs=2, train_loss=0.5, train_accuracy=0.6)
        match i % 4:
            case 0:
                ev(OperationCompleted, op, result_summary={"i": i})
                ev(ModelPromoted, op, model_name=f"strategy_{i % 3}", version=f"v{i}")
            case 1:
                ev(CancelRequested, op)
                ev(OperationCancelled, op, reason="by user")
            case 2:
                ev(OperationFailed, op, error="boom")
            case _:
                pass  # still running
    return events


async def store_with(count: int) -> MemoryEventStore:
    store = MemoryEventStore()
    await store.append_many(history(0, count))
    await store.inject_raw("trainjet.ops.op_x.operation_started", b"not json")  # rejected
    return store


def same_view(a: OperationsView, b: OperationsView) -> None:
    """Every attribute of the view, not only the ones the snapshot knows about: state added
    to the view later without its snapshot counterpart fails here."""
    assert vars(a).keys() == vars(b).keys()
    for name in vars(a):
        assert getattr(a, name) == getattr(b, name), name


async def full_fold(store: MemoryEventStore) -> OperationsView:
    projector = Projector(store)
    await projector.start()
    await projector.stop()
    return projector.view


async def test_a_snapshot_plus_its_tail_folds_to_the_full_fold() -> None:
    store, blobs = await store_with(12), MemoryBlobStore("snapshots")
    first = Projector(store, snapshots=SnapshotStore(blobs))
    await first.start()
    await first.stop()  # a clean stop saves the snapshot
    covered = first.snapshot_seq
    assert covered == await store.last_sequence()
    await store.append_many(history(100, 5))  # the tail

    second = Projector(store, snapshots=SnapshotStore(blobs))
    await second.start()
    await second.stop()
    assert second.tail_folded == await store.last_sequence() - covered
    same_view(second.view, await full_fold(store))


async def test_a_crash_between_two_snapshots_loses_nothing() -> None:
    store, blobs = await store_with(8), MemoryBlobStore("snapshots")
    first = Projector(store, snapshots=SnapshotStore(blobs), snapshot_seconds=0)
    await first.start()
    assert await first.save_snapshot() == await store.last_sequence()
    await store.append_many(history(50, 6))
    # the process dies here: no stop, so no snapshot of what it folded since
    restarted = Projector(store, snapshots=SnapshotStore(blobs))
    await restarted.start()
    await restarted.stop()
    await first.stop()
    same_view(restarted.view, await full_fold(store))


async def test_the_periodic_snapshot_follows_the_live_view() -> None:
    store, blobs = await store_with(3), MemoryBlobStore("snapshots")
    projector = Projector(
        store, snapshots=SnapshotStore(blobs), snapshot_seconds=0.01, snapshot_min_events=1
    )
    await projector.start()
    seqs = await store.append_many(history(20, 2))
    await projector.wait_until(seqs[-1])
    for _ in range(500):  # generous: a hang, not a timing, fails this
        if projector.snapshot_seq == seqs[-1]:
            break
        await _tick()
    assert projector.snapshot_seq == seqs[-1]
    await projector.stop()


async def _tick() -> None:
    import asyncio

    await asyncio.sleep(0.01)


@pytest.mark.parametrize("damage", ["stale", "foreign", "corrupt", "garbage"])
async def test_an_untrustworthy_snapshot_is_ignored_with_a_log_line(
    damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    store, blobs = await store_with(6), MemoryBlobStore("snapshots")
    snapshots = SnapshotStore(blobs)
    view = await full_fold(store)
    last = await store.last_sequence()
    match damage:
        case "stale":  # covers sequences the stream never had (recreated stream)
            data = encode_snapshot(view.state(), last + 1000)
        case "foreign":  # another code version's read models
            data = encode_snapshot(_Other(operations={}), last)
        case "corrupt":
            good = bytearray(encode_snapshot(view.state(), last))
            good[-5] ^= 0xFF  # inside the body: the checksum no longer matches
            data = bytes(good)
        case _:
            data = b"\x00garbage"
    await blobs.put(snapshots.key, data)
    projector = Projector(store, snapshots=snapshots)
    with caplog.at_level(logging.INFO, logger="trainjet.core.projections.snapshot"):
        await projector.start()
    assert any("ignoring snapshot" in r.getMessage() for r in caplog.records)
    assert projector.tail_folded == last  # the full fold ran
    await projector.stop()
    same_view(projector.view, await full_fold(store))


class _Other(msgspec.Struct, kw_only=True):
    operations: dict[str, Any]


def test_decode_names_the_reason() -> None:
    view = OperationsView()
    data = encode_snapshot(view.state(), 0)
    envelope, state = decode_snapshot(data, ViewState)
    assert envelope.last_seq == 0 and state.operations == {}
    with pytest.raises(SnapshotRejected, match="another version"):
        decode_snapshot(data, _Other)


class _Probe(msgspec.Struct):
    """Records whether the cycle collector could run while it was decoded."""

    n: int

    def __post_init__(self) -> None:
        import gc

        _GC_DURING_DECODE.append(gc.isenabled())


_GC_DURING_DECODE: list[bool] = []


def test_the_body_decodes_with_the_cycle_collector_paused_and_restored() -> None:
    """A big view's decode is a burst of allocations the collector would scan again and again."""
    import gc

    data = encode_snapshot(_Probe(1), 1)
    _GC_DURING_DECODE.clear()
    assert gc.isenabled()
    decode_snapshot(data, _Probe)
    assert _GC_DURING_DECODE == [False]
    assert gc.isenabled()
    bad = msgspec.msgpack.encode({"n": "not a number"})
    envelope = msgspec.msgpack.decode(data, type=SnapshotEnvelope)
    forged = msgspec.structs.replace(envelope, body=bad, sha256=hashlib.sha256(bad).hexdigest())
    with pytest.raises(SnapshotRejected, match="undecodable body"):  # restored after a failure
        decode_snapshot(msgspec.msgpack.encode(forged), _Probe)
    assert gc.isenabled()


class _GcProbeStore(MemoryEventStore):
    """Records whether the cycle collector could run while each batch was folded."""

    def __init__(self) -> None:
        super().__init__()
        self.gc_during_fold: list[bool] = []

    async def read_all_batches(self, from_seq: int = 1) -> Any:
        import gc

        async for batch in super().read_all_batches(from_seq):
            self.gc_during_fold.append(gc.isenabled())
            yield batch


async def test_the_start_up_fold_runs_with_the_cycle_collector_paused_and_restored() -> None:
    """A fold of a long log keeps everything it builds: the collector would only rescan it."""
    import gc

    store = _GcProbeStore()
    await store.append_many(history(10, 5))
    projector = Projector(store)
    assert gc.isenabled()
    await projector.start()
    await projector.stop()
    assert store.gc_during_fold and not any(store.gc_during_fold)
    assert gc.isenabled()
    assert len(projector.view.operations) == 5
