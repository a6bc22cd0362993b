"""While NATS is down: the API answers at once and says what is down, and the API and
runner processes wait for a server that is not there yet instead of dying with a traceback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.stack import Stack, free_port
from trainjet.natsd import EmbeddedNats

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    nats = EmbeddedNats(tmp_path / "nats-data", port=free_port())
    nats.start()
    try:
        yield nats
    finally:
        nats.stop()


def test_api_answers_503_json_with_retry_after_and_health_fast(
    server: EmbeddedNats, tmp_path: Path
) -> None:
    stack = Stack(server.url, tmp_path)
    try:
        stack.start_api()
        op_id = stack.start_dummy(iterations=1)
        server.stop()
        deadline = time.monotonic() + 30  # the client notices the closed socket
        while stack.http.get("/health").json()["down"] == [] and time.monotonic() < deadline:
            time.sleep(0.1)

        started = time.monotonic()
        health = stack.http.get("/health")
        assert time.monotonic() - started < 1.5  # a probe's budget (1 s) plus slack for HTTP
        assert health.status_code == 503
        assert "NATS" in health.json()["down"]
        assert any("unreachable" in p or "no answer" in p for p in health.json()["problems"])

        for method, path, body in [
            ("POST", "/dummy/start", {"iterations": 1}),
            ("GET", f"/operations/{op_id}/events", None),
            ("POST", f"/operations/{op_id}/cancel", None),
        ]:
            started = time.monotonic()
            response = stack.http.request(method, path, json=body)
            took = time.monotonic() - started
            assert response.status_code == 503, (path, response.text)
            assert took < 2.0, (path, took)
            assert response.headers["retry-after"].isdigit()
            assert response.headers["content-type"].startswith("application/json")
            assert "NATS unreachable at nats://127.0.0.1:" in response.json()["detail"]

        # what the projection already knows is still served
        assert stack.http.get(f"/operations/{op_id}").status_code == 200

        server.start()  # same port, same store: the API reconnects by itself
        deadline = time.monotonic() + 60
        while stack.http.get("/health").status_code != 200:
            assert time.monotonic() < deadline, stack.http.get("/health").json()
            time.sleep(0.2)
        assert stack.http.post("/dummy/start", json={"iterations": 1}).status_code == 200
    finally:
        stack.close()


def test_runner_and_api_wait_for_a_late_server(tmp_path: Path) -> None:
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    stack = Stack(url, tmp_path)
    # the layout exists (set up earlier, as in a deployment); then the server goes away
    with EmbeddedNats(tmp_path / "nats-data", port=port):
        stack.setup()
    nats = EmbeddedNats(tmp_path / "nats-data", port=port)
    try:
        stack.start_runner()
        api = stack._spawn("api", "--port", str(stack.port), log="api.log")
        stack.api_proc = api
        deadline = time.monotonic() + 60
        while "retrying" not in stack.log("runner0.log") or "retrying" not in stack.log("api.log"):
            assert time.monotonic() < deadline, (stack.log("runner0.log"), stack.log("api.log"))
            time.sleep(0.2)
        nats.start()
        deadline = time.monotonic() + 90
        while True:  # the API listens once its NATS probe succeeded
            try:
                if stack.http.get("/runners").json()["count"] >= 1:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (stack.log("runner0.log"), stack.log("api.log"))
            time.sleep(0.2)
        for name in ("runner0.log", "api.log"):
            text = stack.log(name)
            assert f"NATS unreachable at {url}, retrying" in text
            assert "Traceback" not in text
    finally:
        stack.close()
        nats.stop()


def test_runner_gives_up_after_the_bound_with_one_line(tmp_path: Path) -> None:
    stack = Stack(f"nats://127.0.0.1:{free_port()}", tmp_path, TRAINJET_CONNECT_RETRY_SECONDS="1")
    stack.provisioned = True  # there is no server to set up: the runner must give up alone
    try:
        proc = stack.start_runner()
        assert proc.wait(timeout=60) == 1
        text = stack.log("runner0.log")
        assert "gave up after 1s" in text
        assert "Traceback" not in text
    finally:
        stack.close()
