"""`OperationsView.apply_all`, the replay's batched fold, leaves the view exactly as `apply`
one record at a time does, however the records are cut into batches; and it writes a run of
batch-progress events to the read models once, not once per event."""

from __future__ import annotations

import random
from datetime import datetime

import msgspec
import pytest

from tests.unit.test_projection_fold import Clock, at, created
from trainjet.core.events import (
    AnyEvent,
    BatchProgress,
    BatchRecord,
    EpochCompleted,
    ModelPromoted,
    OperationCompleted,
    OperationStarted,
    PhaseChanged,
)
from trainjet.core.projections import view as view_module
from trainjet.core.projections.view import OperationsView
from trainjet.core.store.port import Record, RejectedMessage, StoredEvent


def batches(make: Clock, op: str, first: int, count: int, **kw: object) -> BatchProgress:
    records = [
        BatchRecord((b - 1) // 4 + 1, (b - 1) % 4 + 1, 1.0 / b, 0.5)
        for b in range(first, first + count)
    ]
    fields: dict[str, object] = {
        "total_epochs": 3,
        "batches_per_epoch": 4,
        "items_processed": first + count - 1,
        "items_total": 12,
        "percentage": 10.0 * first,
        "eta_seconds": None if first % 2 else 3.0,
        "context": {"lr": first},
    }
    fields.update(kw)
    return make(BatchProgress, operation_id=op, batches=records, **fields)


def history(seed: int) -> list[Record]:
    """Several operations interleaved, with what a real log holds besides batch progress:
    empty batch lists, a resume that re-reports batches, duplicates, redeliveries, forged
    subjects, naive timestamps, events after the end, undecodable messages, promotions."""
    rng = random.Random(seed)
    make = Clock()
    ops = [f"op{i}" for i in range(4)]
    records: list[Record] = []
    next_batch = dict.fromkeys(ops, 1)

    def put(event: AnyEvent, subject: str | None = None) -> None:
        record = at(len(records) + 1, event)
        if subject is not None:
            record = StoredEvent(record.seq, subject, event)
        records.append(record)

    for op in ops:
        put(created(make, operation_id=op))
        put(make(OperationStarted, operation_id=op, runner_id="r"))
    for step in range(300):
        op = rng.choice(ops)
        roll = rng.random()
        if roll < 0.6:
            count = rng.choice([1, 2, 3])
            put(batches(make, op, next_batch[op], count))
            next_batch[op] += count
        elif roll < 0.65:
            put(batches(make, op, next_batch[op], 0))  # no batches: keeps the step
        elif roll < 0.68:
            next_batch[op] = max(1, next_batch[op] - 3)  # resumed from a checkpoint
            put(batches(make, op, next_batch[op], 2))
            next_batch[op] += 2
        elif roll < 0.72 and records:
            records.append(StoredEvent(len(records) + 1, records[-1].subject, records[-1].event)
                           if isinstance(records[-1], StoredEvent) else records[-1])  # fmt: skip
        elif roll < 0.74:
            records.append(records[rng.randrange(len(records))])  # redelivered: seq too low
        elif roll < 0.77:
            other = rng.choice(ops)
            put(batches(make, op, next_batch[op], 1), f"trainjet.ops.{other}x.batch_progress")
        elif roll < 0.79:
            naive = batches(make, op, next_batch[op], 1)
            put(msgspec.structs.replace(naive, occurred_at=datetime(2026, 1, 1)))
        elif roll < 0.84:
            epoch = (next_batch[op] - 1) // 4 + 1
            put(make(EpochCompleted, operation_id=op, epoch=epoch, total_epochs=3,
                     train_loss=0.5, train_accuracy=0.6, percentage=50.0))  # fmt: skip
        elif roll < 0.86:
            put(make(PhaseChanged, operation_id=op, phase="evaluating"))
        elif roll < 0.88:
            put(make(ModelPromoted, operation_id=op, model_name="m", version=op))
        elif roll < 0.90:
            records.append(
                RejectedMessage(len(records) + 1, f"trainjet.ops.{op}.x", b"{", "not JSON")
            )
        elif roll < 0.95 and step > 200:
            put(make(OperationCompleted, operation_id=op))  # later events change nothing
    return records


def one_by_one(records: list[Record]) -> OperationsView:
    view = OperationsView()
    for record in records:
        view.apply(record)
    return view


def cut(records: list[Record], rng: random.Random) -> list[list[Record]]:
    out: list[list[Record]] = []
    i = 0
    while i < len(records):
        size = rng.choice([1, 2, 5, 17, 60, 1000])
        out.append(records[i : i + size])
        i += size
    return out


@pytest.mark.parametrize("seed", range(12))
def test_batched_fold_equals_the_fold_one_record_at_a_time(seed: int) -> None:
    records = history(seed)
    expected = one_by_one(records)
    view = OperationsView()
    seen = sum(view.apply_all(iter(batch)) for batch in cut(records, random.Random(seed)))
    assert seen == len(records)
    assert msgspec.to_builtins(view.state()) == msgspec.to_builtins(expected.state())
    assert view.counts == expected.counts
    assert view.rejected.counts == expected.rejected.counts


def test_batched_fold_continues_a_restored_snapshot_exactly() -> None:
    records = history(99)
    expected = one_by_one(records)
    half = one_by_one(records[: len(records) // 2])
    view = OperationsView.from_state(half.state())
    view.apply_all(records[len(records) // 2 :])
    assert msgspec.to_builtins(view.state()) == msgspec.to_builtins(expected.state())


def test_a_run_of_batch_events_is_written_once(monkeypatch: pytest.MonkeyPatch) -> None:
    make = Clock()
    events: list[AnyEvent] = [created(make), make(OperationStarted, runner_id="r")]
    events += [batches(make, "op1", 1 + 2 * i, 2) for i in range(50)]
    records = [at(seq, event) for seq, event in enumerate(events, 1)]
    expected = one_by_one(records)
    calls = 0
    real = view_module.changes_of

    def counting(state: object, event: AnyEvent) -> object:
        nonlocal calls
        calls += 1
        return real(state, event)  # type: ignore[arg-type]

    monkeypatch.setattr(view_module, "changes_of", counting)
    view = OperationsView()
    view.apply_all(records)
    assert calls == 2  # operation_started, then the 50 batch events at once
    info = view.operations["op1"]
    assert info == expected.operations["op1"]
    assert info.last_sequence == 52 and info.event_count == 52
    assert view.metrics["op1"] == expected.metrics["op1"]
    assert view.metrics["op1"].batches_recorded == 100
