"""The lease monitor survives anything in the log: an operation it cannot check is logged and
skipped, and every other operation whose runner is gone still ends within the pass.

Before, one `operation_started` with a naive `occurred_at` (any NATS client can publish one)
made every pass raise a TypeError, so a SIGKILLed runner's operation stayed `running` for ever.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from trainjet.config import Settings
from trainjet.core.events import (
    CODEC,
    EventFactory,
    OperationCreated,
    OperationFailed,
    OperationStarted,
    OperationStatus,
    OperationType,
    subjects,
)
from trainjet.core.store import MemoryEventStore, Record, StoredEvent
from trainjet.system import ApiSystem, memory_api

pytestmark = pytest.mark.timeout(30)


async def ghost(backend: ApiSystem, op_id: str, *, naive: bool = False) -> None:
    """An operation started by runner `ghost` (never heartbeaten) a minute ago."""
    factory = EventFactory(op_id)
    await backend.store.append(factory.make(OperationCreated, operation_type=OperationType.DUMMY))
    payload = json.loads(CODEC.encode(factory.make(OperationStarted, runner_id="ghost")))
    when = datetime.now(UTC) - timedelta(minutes=1)
    payload["occurred_at"] = when.replace(tzinfo=None).isoformat() if naive else when.isoformat()
    assert isinstance(backend.store, MemoryEventStore)
    await backend.store.inject_raw(
        subjects.operation_event_subject(op_id, "operation_started"),
        json.dumps(payload).encode(),
    )


async def test_a_naive_timestamp_and_a_bad_id_do_not_stop_the_pass() -> None:
    backend = memory_api(Settings(runner_ttl_seconds=0.5))
    await ghost(backend, "op_naive", naive=True)
    await ghost(backend, "op_good")
    await backend.start(lease_monitor=False)
    try:
        view = backend.projector.view.operations
        # The fold refuses the naive start (recorded with its reason), so op_naive stays
        # pending and never reaches the monitor; a view holding it running must not stop it.
        naive_running = view["op_naive"].status is OperationStatus.RUNNING
        if not naive_running:
            assert backend.projector.view.rejected.counts["naive_timestamp"] == 1
        # An id no store accepts, as a projection holding a foreign writer's event would.
        view["bad id!"] = msgspec.structs.replace(view["op_good"], operation_id="bad id!")
        failed = await backend.leases.check_once()
        assert failed == ["op_good"]
        assert backend.leases.skipped_total == (2 if naive_running else 1)
        await backend.projector.wait_until(await backend.store.last_sequence())
        assert view["op_good"].status is OperationStatus.FAILED
        records = await backend.store.read_operation("op_good")
        ends = [r.event for r in records if isinstance(r, StoredEvent)]
        assert isinstance(ends[-1], OperationFailed) and ends[-1].error_code == "runner_lost"
    finally:
        await backend.close()


async def test_a_pass_reads_no_history_of_an_operation_started_within_a_ttl() -> None:
    # Its runner may not have heartbeaten since it took it: the decision would be "nothing",
    # and reading thousands of histories to find that out loaded the server at every start.
    backend = memory_api(Settings(runner_ttl_seconds=30.0))
    assert isinstance(backend.store, MemoryEventStore)
    factory = EventFactory("op_new")
    await backend.store.append(factory.make(OperationCreated, operation_type=OperationType.DUMMY))
    await backend.store.append(factory.make(OperationStarted, runner_id="ghost"))
    reads: list[str] = []
    inner_full, inner_latest = backend.store.read_operation, backend.store.read_latest

    async def full(op: str) -> list[Record]:
        reads.append(f"full {op}")
        return await inner_full(op)

    async def latest(op: str) -> list[Record]:
        reads.append(f"latest {op}")
        return await inner_latest(op)

    await backend.start(lease_monitor=False)
    try:
        await backend.projector.wait_until(await backend.store.last_sequence())
        backend.store.read_operation = full  # type: ignore[method-assign]
        backend.store.read_latest = latest  # type: ignore[method-assign]
        assert await backend.leases.check_once() == []
        assert reads == []
        await ghost(backend, "op_old")  # started a minute ago: checked, on its latest events
        await backend.projector.wait_until(await backend.store.last_sequence())
        assert await backend.leases.check_once() == ["op_old"]
        assert reads == ["latest op_old"]
    finally:
        await backend.close()
