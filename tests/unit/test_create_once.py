"""A client-chosen task_id is created once, also when requests carrying it arrive together.

The orchestrator checks the projection for the id before it appends, and the projection may
not yet show a create appended a moment earlier; the create's event id is derived from the
operation id, so the store's duplicate window keeps one. A runner relies on it: it reads a
new operation's history as the last event of each type (`fate.read_whole_history`), which is
the whole history only while there is a single `operation_created`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from trainjet.config import Settings
from trainjet.core.events import DummyInputs, OperationCreated, OperationType
from trainjet.core.operation_spec import OperationSpec
from trainjet.core.store import StoredEvent
from trainjet.system import ApiSystem, memory_api

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]


@pytest.fixture
async def backend() -> AsyncIterator[ApiSystem]:
    system = memory_api(Settings())
    await system.start()
    yield system
    await system.close()


async def creates(backend: ApiSystem, op_id: str) -> list[OperationCreated]:
    return [
        r.event
        for r in await backend.store.read_operation(op_id)
        if isinstance(r, StoredEvent) and isinstance(r.event, OperationCreated)
    ]


def dummy(iterations: int, op_id: str | None = "same-task") -> OperationSpec:
    return OperationSpec(
        inputs=DummyInputs(iterations=iterations, interval_seconds=0.01),
        total_steps=iterations,
        operation_id=op_id,
    )


async def test_two_starts_at_once_create_one_operation(backend: ApiSystem) -> None:
    async def start(iterations: int) -> tuple[str, bool]:
        info, created = await backend.orchestrator.start_managed_operation(
            OperationType.DUMMY,
            inputs=DummyInputs(iterations=iterations, interval_seconds=0.01),
            total_steps=iterations,
            operation_id="same-task",
        )
        return info.operation_id, created

    answers = await asyncio.gather(*(start(n) for n in (2, 3, 4, 5)))
    assert {op_id for op_id, _ in answers} == {"same-task"}
    (created,) = await creates(backend, "same-task")
    assert backend.orchestrator.get("same-task").progress.steps_total == created.total_steps


async def test_a_batch_and_a_start_at_once_create_the_id_once(backend: ApiSystem) -> None:
    await asyncio.gather(
        backend.orchestrator.start_operations(OperationType.DUMMY, [dummy(2), dummy(3, None)]),
        backend.orchestrator.start_operations(OperationType.DUMMY, [dummy(4)]),
        backend.orchestrator.start_managed_operation(
            OperationType.DUMMY, inputs=DummyInputs(iterations=6), operation_id="same-task"
        ),
    )
    (created,) = await creates(backend, "same-task")
    assert backend.orchestrator.get("same-task").progress.steps_total == created.total_steps
