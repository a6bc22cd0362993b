"""`read_whole_history` reads a new operation's history in one cheap get, and anything more
in full: it must return what `read_history` returns either way."""

from __future__ import annotations

from trainjet.core.events import (
    CancelRequested,
    DummyInputs,
    EventFactory,
    OperationCreated,
    OperationStarted,
    OperationType,
    ProgressUpdated,
)
from trainjet.core.fate import read_history, read_whole_history
from trainjet.core.store import MemoryEventStore, Record


class Counted(MemoryEventStore):
    def __init__(self) -> None:
        super().__init__()
        self.full = 0

    async def read_operation(self, operation_id: str) -> list[Record]:
        self.full += 1
        return await super().read_operation(operation_id)


def created(op: str) -> OperationCreated:
    return EventFactory(op).make(
        OperationCreated, operation_type=OperationType.DUMMY, inputs=DummyInputs(iterations=2)
    )


async def test_a_new_operation_is_read_without_a_whole_history_read() -> None:
    store = Counted()
    await store.append(created("op_other"))
    await store.append(created("op_new"))
    history = await read_whole_history(store, "op_new")
    assert store.full == 0
    assert history == await read_history(store, "op_new")
    assert history.last_seq == 2


async def test_an_operation_with_more_than_its_creation_is_read_in_full() -> None:
    factory = EventFactory("op_run")
    store = Counted()
    await store.append(created("op_run"))
    await store.append(factory.make(OperationStarted, runner_id="r", attempt=1))
    for step in (1, 2):
        await store.append(factory.make(ProgressUpdated, percentage=50.0 * step))
    store.full = 0
    history = await read_whole_history(store, "op_run")
    assert store.full == 1
    assert len(history.events) == 4  # both progress events, not only the newest
    assert history == await read_history(store, "op_run")


async def test_a_cancel_request_or_a_foreign_message_means_a_full_read() -> None:
    store = Counted()
    await store.append(created("op_c"))
    await store.append(EventFactory("op_c").make(CancelRequested, reason="stop"))
    await store.append(created("op_r"))
    await store.inject_raw("trainjet.ops.op_r.phase_changed", b"not json")
    for op in ("op_c", "op_r"):
        store.full = 0
        history = await read_whole_history(store, op)
        assert store.full == 1
        assert history == await read_history(store, op)
