"""Every field validated at the edge: each hostile request found by hand is its own test.
Each answer is a 4xx whose body is strict JSON (no NaN/Infinity) with a message to act on."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.hostile.conftest import ClientFactory

DUMMY = "/api/v1/dummy/start"
TRAIN = "/api/v1/trainings/start"


def strict_json(response: httpx.Response) -> Any:
    """The body parsed as strict JSON: NaN and Infinity are not JSON and fail here."""

    def no_constants(name: str) -> None:
        raise AssertionError(f"{name} in a response body: {response.text[:200]}")

    return json.loads(response.text, parse_constant=no_constants)


def assert_client_error(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text[:500]
    body = strict_json(response)
    assert body["success"] is False and body["error"]["code"]
    for word in words:
        assert word in body["detail"], body["detail"]


async def post_raw(http: httpx.AsyncClient, path: str, text: str) -> httpx.Response:
    return await http.post(path, content=text, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
async def test_non_finite_numbers_are_a_422_with_an_encodable_body(
    api: ClientFactory, number: str
) -> None:
    async with api() as http:
        r = await post_raw(http, DUMMY, f'{{"iterations": 1, "interval_seconds": {number}}}')
        assert_client_error(r, 422, "interval_seconds", "finite")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("iterations", True),  # was accepted as 1
        ("iterations", "5"),
        ("iterations", 2.5),
        ("iterations", 0),
        ("iterations", 10**7),
        ("iterations", 10**400),  # a 401-digit integer
        ("interval_seconds", "1"),
        ("interval_seconds", False),
        ("task_id", "x" * 129),
        ("task_id", 7),
    ],
)
async def test_dummy_fields_are_strict_and_bounded(
    api: ClientFactory, field: str, value: object
) -> None:
    async with api() as http:
        r = await http.post(DUMMY, json={"iterations": 1, field: value})
        assert_client_error(r, 422, field)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("epochs", True),
        ("epochs", 0),
        ("epochs", 10**6),
        ("seed", -1),
        ("detailed_analytics", "yes"),
        ("symbols", ["EURUSD"] * 101),
        ("symbols", ["X" * 33]),
        ("symbols", [""]),
        ("symbols", "EURUSD"),
        ("timeframes", ["1h"] * 21),
        ("strategy_name", "s" * 201),
        ("start_date", "2024-01-01" * 10),
        ("training_mode", "m" * 17),
        ("unknown_field", 1),
    ],
)
async def test_training_fields_are_strict_and_bounded(
    api: ClientFactory, field: str, value: object
) -> None:
    async with api() as http:
        body = {"strategy_name": "example", field: value}
        r = await http.post(TRAIN, json=body)
        assert_client_error(r, 422, field)


async def test_cancel_reason_and_force_are_checked(api: ClientFactory) -> None:
    async with api() as http:
        for body in ({"reason": "r" * 1001}, {"force": "true"}, {"force": 1}):
            r = await http.post("/api/v1/operations/op_x/cancel", json=body)
            assert_client_error(r, 422)


@pytest.mark.parametrize(
    "query",
    [
        {"limit": 0},
        {"limit": 1001},
        {"offset": -1},
        {"offset": 10**12},
        {"offset": "9" * 5000},  # past Python's int-parsing limit
        {"status": "nonsense"},
    ],
)
async def test_page_parameters_are_bounded(api: ClientFactory, query: dict[str, Any]) -> None:
    async with api() as http:
        assert_client_error(await http.get("/api/v1/operations", params=query), 422)


async def test_a_large_body_is_refused_by_its_declared_length(api: ClientFactory) -> None:
    async with api() as http:
        r = await post_raw(http, DUMMY, '{"task_id": "' + "x" * 10_000_000 + '"}')
        assert_client_error(r, 413, "too large")


async def test_a_large_streamed_body_is_refused_by_its_bytes(api: ClientFactory) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked transfer
        nonlocal sent
        for _ in range(200):
            sent += 65_536
            yield b" " * 65_536

    async with api(api_max_body_bytes=100_000) as http:
        r = await http.post(DUMMY, content=chunks(), headers={"Content-Type": "application/json"})
        assert_client_error(r, 413)
    assert sent < 200 * 65_536  # stopped reading early, not after the whole body


async def test_a_body_under_the_limit_still_works(api: ClientFactory) -> None:
    async with api(api_max_body_bytes=2048) as http:
        r = await http.post(DUMMY, json={"iterations": 1, "interval_seconds": 0})
        assert r.status_code == 200


async def test_a_lying_or_malformed_content_length_is_refused(api: ClientFactory) -> None:
    async with api(api_max_body_bytes=1024) as http:
        app = http._transport.app  # type: ignore[attr-defined]
        for declared, body, status in ((b"10", b" " * 5000, 413), (b"abc", b"{}", 400)):
            messages: list[dict[str, Any]] = []

            async def receive(body: bytes = body) -> dict[str, Any]:
                return {"type": "http.request", "body": body, "more_body": False}

            async def send(message: dict[str, Any], into: list[Any] = messages) -> None:
                into.append(message)

            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": DUMMY,
                "raw_path": DUMMY.encode(),
                "query_string": b"",
                "root_path": "",
                "headers": [
                    (b"host", b"127.0.0.1:8000"),
                    (b"content-length", declared),
                    (b"content-type", b"application/json"),
                ],
                "client": ("127.0.0.1", 1),
                "server": ("127.0.0.1", 8000),
            }
            await app(scope, receive, send)
            assert messages[0]["status"] == status, declared
            assert json.loads(messages[1]["body"])["success"] is False


async def start_and_end(http: httpx.AsyncClient) -> str:
    r = await http.post(DUMMY, json={"iterations": 1, "interval_seconds": 0})
    op_id: str = r.json()["data"]["operation_id"]
    cancel = await http.post(f"/api/v1/operations/{op_id}/cancel", json={"force": True})
    assert cancel.status_code in (200, 202), cancel.text
    return op_id


@pytest.mark.parametrize(
    "last_id", ["9" * 5000, "9" * 20, "18446744073709551616", "abc", "-1", "1.5", "١٢"]
)
async def test_a_bad_last_event_id_is_a_400_before_the_stream_starts(
    api: ClientFactory, last_id: str
) -> None:
    async with api() as http:
        op_id = await start_and_end(http)
        r = await http.get(
            f"/api/v1/operations/{op_id}/stream", headers={"Last-Event-ID": last_id.encode()}
        )
        assert r.headers["content-type"].startswith("application/json")
        assert_client_error(r, 400, "Last-Event-ID")


async def test_a_good_last_event_id_resumes_after_it(api: ClientFactory) -> None:
    async with api() as http:
        op_id = await start_and_end(http)
        full = await http.get(f"/api/v1/operations/{op_id}/stream")
        ids = [int(line[4:]) for line in full.text.splitlines() if line.startswith("id: ")]
        assert len(ids) >= 2
        resumed = await http.get(
            f"/api/v1/operations/{op_id}/stream", headers={"Last-Event-ID": str(ids[0])}
        )
        again = [int(line[4:]) for line in resumed.text.splitlines() if line.startswith("id: ")]
        assert again == ids[1:]


async def test_a_read_with_a_large_body_is_refused_too(api: ClientFactory) -> None:
    async with api(api_max_body_bytes=1024) as http:
        r = await http.request("GET", "/api/v1/operations", content=b"x" * 5000)
        assert_client_error(r, 413)
        assert (await http.get("/api/v1/operations")).status_code == 200
