"""The hot reads (`GET /operations`, `GET /operations/{id}`) answered ahead of FastAPI's
routing: the same answers as the routes they stand in for, the literal paths registered
before them still reach their own routes, and every guard still applies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.routing import iter_route_contexts
from starlette.routing import Match

from trainjet.api.app import API_PREFIX, create_app
from trainjet.api.hot_reads import HotReads, hot_reads
from trainjet.api.routes import operations
from trainjet.config import Settings
from trainjet.core.events import OperationCreated, OperationStarted, OperationType, utcnow
from trainjet.system import ApiSystem, memory_api

pytestmark = pytest.mark.unit
TOKEN = "hot-token"
OPS = f"{API_PREFIX}/operations"


def hot_route(app: FastAPI) -> HotReads:
    first = app.router.routes[0]
    assert isinstance(first, HotReads)
    return first


def without_hot_reads(app: FastAPI) -> FastAPI:
    """The same app answering every request the ordinary FastAPI way (the reference)."""
    app.router.routes.remove(hot_route(app))
    return app


@pytest.fixture
async def backend() -> AsyncIterator[ApiSystem]:
    system = memory_api(Settings())
    for n in range(3):
        await system.store.append(
            OperationCreated(
                event_id=f"created-{n}",
                operation_id=f"op_dummy_hot_{n}",
                occurred_at=utcnow(),
                operation_type=OperationType.DUMMY,
            )
        )
    await system.start(lease_monitor=False)
    try:
        yield system
    finally:
        await system.close()


def client(app: FastAPI, backend: ApiSystem) -> httpx.AsyncClient:
    app.state.backend = backend
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


SAME_ANSWERS = [
    OPS,
    f"{OPS}?limit=2",
    f"{OPS}?limit=2&offset=1&sort=created_at&order=asc",
    f"{OPS}?status=completed",
    f"{OPS}?limit=0",  # 422: the list's query is validated the same way
    f"{OPS}?sort=nonsense",
    f"{OPS}/op_dummy_hot_1",
    f"{OPS}/op_dummy_hot_404",  # 404, the error body of the error tree
    f"{OPS}/compare?ids=op_dummy_hot_0&ids=op_dummy_hot_1",  # a literal path, not an id
    f"{OPS}/op_dummy_hot_1/results",
    f"{OPS}/",
]


@pytest.mark.parametrize("path", SAME_ANSWERS)
async def test_the_hot_reads_answer_as_the_routes_they_stand_in_for(
    backend: ApiSystem, path: str
) -> None:
    async with client(create_app(Settings(), lease_monitor=False), backend) as fast:
        got = await fast.get(path)
    async with client(
        without_hot_reads(create_app(Settings(), lease_monitor=False)), backend
    ) as ref:
        want = await ref.get(path)
    assert (got.status_code, got.headers.raw) == (want.status_code, want.headers.raw)
    if "duration_seconds" not in got.text:
        assert got.content == want.content
    else:  # the durations of operations not yet ended grow between the two requests
        assert _without_durations(got.json()) == _without_durations(want.json())


async def test_a_polled_page_follows_every_change(backend: ApiSystem) -> None:
    """Pages are kept while nothing changes: a new operation, and a started one (whose
    duration then grows with the clock), show up on the next poll."""
    async with client(create_app(Settings(), lease_monitor=False), backend) as http:
        first = await http.get(OPS, params={"limit": 10})
        assert (await http.get(OPS, params={"limit": 10})).content == first.content
        seq = await backend.store.append(
            OperationCreated(
                event_id="created-new",
                operation_id="op_dummy_hot_new",
                occurred_at=utcnow(),
                operation_type=OperationType.DUMMY,
            )
        )
        await backend.projector.wait_until(seq)
        body = (await http.get(OPS, params={"limit": 10})).json()
        assert body["total_count"] == 4 and body["data"][0]["operation_id"] == "op_dummy_hot_new"
        seq = await backend.store.append(
            OperationStarted(
                event_id="started-new",
                operation_id="op_dummy_hot_new",
                occurred_at=utcnow(),
                runner_id="runner-1",
            )
        )
        await backend.projector.wait_until(seq)
        durations = set()
        for _ in range(3):
            row = (await http.get(OPS, params={"limit": 10})).json()["data"][0]
            assert row["status"] == "running"
            durations.add(row["duration_seconds"])
            await asyncio.sleep(0.002)
        assert len(durations) == 3


def _without_durations(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: _without_durations(v) for k, v in body.items() if k != "duration_seconds"}
    if isinstance(body, list):
        return [_without_durations(v) for v in body]
    return body


def _scope(path: str, method: str = "GET", **extra: Any) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": "", **extra}


def test_the_hot_reads_take_only_their_own_gets() -> None:
    app = create_app(Settings(), lease_monitor=False)
    hot = hot_route(app)
    match, child = hot.matches(_scope(f"{OPS}/op_x"))
    assert match is Match.FULL and child["path_params"] == {"operation_id": "op_x"}
    assert child["route"].endpoint is operations.get_operation
    assert hot.matches(_scope(OPS))[0] is Match.FULL
    assert hot.matches(_scope(OPS))[1]["route"].endpoint is operations.list_operations
    passed_on = [
        _scope(f"{OPS}/op_x", method="DELETE"),
        _scope(f"{OPS}/op_x", method="HEAD"),
        _scope(f"{OPS}/op_x/results"),
        _scope(f"{OPS}/"),
        _scope(f"{OPS}/op_x", root_path="/behind-a-proxy"),
        _scope(f"{OPS}/op_x", **{"fastapi.telemetry": object()}),
        {"type": "websocket", "path": f"{OPS}/op_x"},
    ]
    for scope in passed_on:
        assert hot.matches(scope)[0] is Match.NONE, scope


def test_every_literal_get_before_the_hot_reads_keeps_its_path() -> None:
    """`/operations/compare` and `/operations/events-stream` are registered first so that
    `/{operation_id}` does not take them; the hot read must not take them either."""
    app = create_app(Settings(), lease_monitor=False)
    hot = hot_route(app)
    literal_gets = [
        c.path
        for c in iter_route_contexts(app.routes)
        if c.path
        and c.path.startswith(f"{OPS}/")
        and "{" not in c.path
        and "GET" in (c.methods or ())
    ]
    assert {f"{OPS}/compare", f"{OPS}/events-stream"} <= set(literal_gets)
    for path in literal_gets:
        assert hot.matches(_scope(path))[0] is Match.NONE, path
        assert hot.matches(_scope(path + "\n"))[0] is Match.NONE, path


async def test_protected_reads_still_need_the_token(backend: ApiSystem) -> None:
    settings = Settings(api_token=TOKEN, api_protect_reads=True)
    async with client(create_app(settings, lease_monitor=False), backend) as http:
        for path in (OPS, f"{OPS}/op_dummy_hot_1"):
            refused = await http.get(path)
            assert refused.status_code == 401, path
            assert refused.json()["error"]["code"] == "TRAINJET-Unauthorized"
            ok = await http.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert ok.status_code == 200, path


async def test_a_starting_api_answers_503_on_the_hot_reads_too() -> None:
    app = create_app(Settings(), lease_monitor=False)  # no backend yet: still starting
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        for path in (OPS, f"{OPS}/op_x"):
            response = await http.get(path)
            assert response.status_code == 503, path
            assert response.headers["retry-after"]


async def _handler(request: Request) -> Response:
    return Response(b"hot")


def _app_with(*routes: tuple[str, str]) -> tuple[FastAPI, Any]:
    """An app whose router registers `routes` (method, path) before a hot `GET /ops/{id}`."""
    router = APIRouter(prefix="/ops")
    for method, path in routes:
        router.add_api_route(path, _handler, methods=[method])

    @router.get("/{op_id}")
    async def read(op_id: str) -> dict[str, str]:
        return {"id": op_id}

    app = FastAPI()
    app.include_router(router)
    return app, read


def test_a_literal_get_registered_before_is_passed_on_a_post_is_not() -> None:
    app, read = _app_with(("GET", "/latest"), ("POST", "/start"))
    hot = hot_reads(app.router.routes, {read: _handler})
    assert hot.passed_on == frozenset({"/ops/latest"})


def test_a_route_with_parameters_that_would_lose_paths_is_refused() -> None:
    app, read = _app_with(("GET", "/{name}"))
    with pytest.raises(ValueError, match="would take paths"):
        hot_reads(app.router.routes, {read: _handler})
    app, read = _app_with(("GET", "/{name}/versions"))  # no overlap: fine
    assert hot_reads(app.router.routes, {read: _handler}).passed_on == frozenset()


def test_a_handler_without_its_route_is_refused() -> None:
    app, _ = _app_with()
    with pytest.raises(ValueError, match="name no GET route"):
        hot_reads(app.router.routes, {_handler: _handler})
