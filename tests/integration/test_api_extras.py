"""Access control, the live SSE stream, health and retry against the real stack."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.stack import TERMINAL, Stack, running_stack


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Stack]:
    with running_stack(tmp_path, TRAINJET_API_TOKEN="s3cret-token") as s:
        yield s


def test_token_guards_mutations_but_not_reads(secured: Stack) -> None:
    secured.start_api()
    refused = secured.http.post("/dummy/start", json={"iterations": 1})
    assert refused.status_code == 401
    assert "Authorization: Bearer" in refused.json()["detail"]
    wrong = secured.http.post(
        "/dummy/start", json={"iterations": 1}, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401
    assert secured.http.get("/operations").status_code == 200
    health = secured.http.get("/health").json()
    assert health["streams"]["events"]["messages"] == 0
    assert health["orchestrator"]["auth_required_for_writes"] is True
    ok = secured.http.post(
        "/dummy/start",
        json={"iterations": 1, "interval_seconds": 0},
        headers={"Authorization": "Bearer s3cret-token"},
    )
    assert ok.status_code == 200


def test_sse_stream_replays_history_and_ends_at_terminal(stack: Stack) -> None:
    stack.start_api()
    stack.start_runner()
    op_id = stack.start_dummy(iterations=3, interval=0.05)
    events = []
    with httpx.stream("GET", f"{stack.base}/operations/{op_id}/stream", timeout=30) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        current: dict[str, str] = {}
        for line in response.iter_lines():
            if not line:
                if current:
                    events.append(current)
                current = {}
                continue
            if line.startswith(":"):
                continue  # a keep-alive comment (a runner slow to start on a loaded machine)
            key, _, value = line.partition(": ")
            current[key] = value
    types = [e["event"] for e in events]
    assert types[0] == "operation_created"
    assert types[-1] == "operation_completed"
    assert types.count("progress_updated") == 3
    seqs = [int(e["id"]) for e in events]
    assert seqs == sorted(seqs)
    assert json.loads(events[-1]["data"])["operation_id"] == op_id
    # Last-Event-ID resumes after the given sequence
    with httpx.stream(
        "GET",
        f"{stack.base}/operations/{op_id}/stream",
        headers={"Last-Event-ID": str(seqs[-2])},
        timeout=30,
    ) as response:
        rest = [line for line in response.iter_lines() if line.startswith("event: ")]
    assert rest == ["event: operation_completed"]


def test_health_reports_nats_streams_projector_runners(stack: Stack) -> None:
    stack.start_api()
    stack.start_runner()
    stack.wait_runners(1)
    health = stack.http.get("/health").json()
    assert health["status"] == "ok"
    assert health["nats"]["url"].startswith("nats://127.0.0.1:")
    assert health["nats"]["jetstream"] is True
    assert health["streams"]["commands"]["retention"] == "workqueue"
    assert health["runners"]["by_pool"] == {"local": 1}
    assert health["projector"]["lag"] == 0
    assert health["orchestrator"]["lease_seconds"] == 3.0
    runners = stack.http.get("/runners").json()["data"]
    assert runners[0]["pool"] == "local" and runners[0]["pid"] > 0


def test_retry_runs_a_new_operation_with_the_same_inputs(stack: Stack) -> None:
    stack.start_api()
    proc = stack.start_runner()
    op_id = stack.start_dummy(iterations=1000, interval=0.05)
    stack.wait_status(op_id, {"running"})
    refused = stack.http.post(f"/operations/{op_id}/retry")
    assert refused.status_code == 400 and "still running" in refused.json()["detail"]
    proc.send_signal(signal.SIGKILL)  # only a failed operation can be retried
    proc.wait()
    assert stack.wait_status(op_id, TERMINAL, timeout=30)["status"] == "failed"
    stack.start_runner()
    body = stack.http.post(f"/operations/{op_id}/retry").json()
    retried = body["data"]
    assert retried["operation_id"] != op_id
    assert retried["retry_of"] == body["retry_of"] == op_id
    assert body["resume_from"] is None  # a dummy has no checkpoint
    assert retried["metadata"]["parameters"]["iterations"] == 1000
    stack.wait_status(retried["operation_id"], {"running"})
    stack.http.post(f"/operations/{retried['operation_id']}/cancel")
    assert stack.wait_status(retried["operation_id"], TERMINAL)["status"] == "cancelled"


def test_idempotent_task_id_returns_the_same_operation(stack: Stack) -> None:
    stack.start_api()
    first = stack.start_dummy(iterations=1, interval=0, task_id="client-key-1")
    again = stack.start_dummy(iterations=1, interval=0, task_id="client-key-1")
    assert first == again == "client-key-1"
    listed = stack.http.get("/operations").json()
    assert listed["total_count"] == 1


def test_list_filters_and_paging(stack: Stack) -> None:
    stack.start_api()
    ids = [stack.start_dummy(iterations=1, interval=0) for _ in range(5)]
    page = stack.http.get("/operations", params={"limit": 2, "offset": 1}).json()
    assert page["total_count"] == 5 and page["active_count"] == 5
    assert [r["operation_id"] for r in page["data"]] == list(reversed(ids))[1:3]
    assert (
        stack.http.get("/operations", params={"operation_type": "training"}).json()["total_count"]
        == 0
    )
    assert stack.http.get("/operations", params={"active_only": True}).json()["total_count"] == 5
