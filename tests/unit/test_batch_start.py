"""`POST /dummy/start/batch` on the in-memory backend: N operations, each with exactly one
`operation_created` and one start command; a bad item refuses the whole batch with a 4xx and
leaves nothing behind; a repeated task_id is a replay."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from trainjet.core.events import DummyInputs, OperationCreated
from trainjet.core.store import StoredEvent
from trainjet.system import ApiSystem

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def api_base_url() -> str:
    return "http://batch.test/api/v1"


async def created_events(backend: ApiSystem) -> list[OperationCreated]:
    return [
        r.event
        async for r in backend.store.read_all()
        if isinstance(r, StoredEvent) and isinstance(r.event, OperationCreated)
    ]


async def test_a_batch_creates_each_operation_once_and_queues_it(
    backend: ApiSystem, http: httpx.AsyncClient
) -> None:
    items: list[dict[str, Any]] = [{"iterations": 3, "interval_seconds": 0.1}] * 40
    items.append({"iterations": 2, "task_id": "chosen-1"})
    response = await http.post("/dummy/start/batch", json={"operations": items})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    ids = [op["operation_id"] for op in data["operations"]]
    assert data["created"] == 41 and len(set(ids)) == 41 and ids[-1] == "chosen-1"
    created = await created_events(backend)
    assert sorted(e.operation_id for e in created) == sorted(ids)  # exactly one each
    assert created[-1].inputs == DummyInputs(iterations=2, interval_seconds=2.0)
    assert await backend.commands.pending("local") == 41
    for op_id in ids:
        assert backend.orchestrator.get(op_id).status.value == "pending"

    # the same task_id again: answered, not created again
    again = await http.post("/dummy/start/batch", json={"operations": [{"task_id": "chosen-1"}]})
    assert again.status_code == 200
    assert again.json()["data"]["created"] == 0
    assert len(await created_events(backend)) == 41


@pytest.mark.parametrize(
    ("items", "status", "says"),
    [
        ([{"iterations": 3}, {"iterations": 0}], 422, "iterations"),
        ([{"task_id": "twice"}, {"task_id": "twice"}], 400, "appears twice"),
        ([{}, {"task_id": "not valid!"}], 400, "not a valid operation id"),
        ([{"iterations": 1, "colour": "red"}], 422, "colour"),
        ([{}] * 1001, 422, "1000"),
        ([], 422, "operations"),
    ],
)
async def test_a_bad_item_refuses_the_whole_batch(
    backend: ApiSystem, http: httpx.AsyncClient, items: list[dict[str, Any]], status: int, says: str
) -> None:
    response = await http.post("/dummy/start/batch", json={"operations": items})
    assert response.status_code == status, response.text
    assert says in response.text
    assert await created_events(backend) == []
    assert await backend.commands.pending("local") == 0


async def test_a_task_id_of_another_type_refuses_the_batch(
    backend: ApiSystem, http: httpx.AsyncClient
) -> None:
    from trainjet.core.events import OperationType

    await backend.orchestrator.start_managed_operation(OperationType.TRAINING, operation_id="taken")
    response = await http.post(
        "/dummy/start/batch", json={"operations": [{}, {"task_id": "taken"}]}
    )
    assert response.status_code == 409, response.text
    assert "operations[1]" in response.text
    assert len(await created_events(backend)) == 1  # the training only
