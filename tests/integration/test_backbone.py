"""The backbone end to end: real nats-server, `trainjet api` and `trainjet runner` processes,
real HTTP. Each test has its own server."""

from __future__ import annotations

import asyncio
import json
import signal
import time

import msgspec
import nats
import pytest

from tests.stack import TERMINAL, TERMINAL_EVENTS, Stack
from trainjet.core.events import decode
from trainjet.core.projections import fold


async def _plain_subscriber_history(url: str, op_id: str) -> list[dict]:
    """What any NATS client sees: the operation's subjects, read with plain nats-py."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        sub = await js.subscribe(f"trainjet.ops.{op_id}.>", ordered_consumer=True)
        items = []
        while True:
            try:
                msg = await sub.next_msg(timeout=1.0)
            except nats.errors.TimeoutError:
                break
            payload = json.loads(msg.data)
            assert msg.subject == f"trainjet.ops.{op_id}.{payload['type']}"
            assert msg.headers and msg.headers.get("Nats-Msg-Id") == payload["event_id"]
            items.append(payload)
        await sub.unsubscribe()
        return items
    finally:
        await nc.close()


def test_dummy_events_on_subjects_and_projection_equals_fold(stack: Stack) -> None:
    stack.start_api()
    stack.start_runner()
    op_id = stack.start_dummy(iterations=5, interval=0.02)
    served = stack.wait_status(op_id, TERMINAL)
    assert served["status"] == "completed"

    history = asyncio.run(_plain_subscriber_history(stack.nats_url, op_id))
    types = [h["type"] for h in history]
    assert types[:2] == ["operation_created", "operation_started"]
    assert types.count("progress_updated") == 5
    assert types[-1] == "operation_completed"
    for payload in history:
        for key in ("type", "schema_version", "event_id", "operation_id", "occurred_at"):
            assert key in payload

    folded = fold([decode(json.dumps(h).encode()) for h in history])
    assert folded is not None
    expected = msgspec.to_builtins(folded)
    served.pop("duration_seconds")
    # the view adds its stream position; the pure fold has none
    for key in ("last_sequence", "event_count"):
        served.pop(key)
        expected.pop(key)
    assert served == expected

    events = stack.http.get(f"/operations/{op_id}/events").json()["data"]
    assert [e["type"] for e in events["events"]] == types
    results = stack.http.get(f"/operations/{op_id}/results").json()
    assert results["results"]["iterations_completed"] == 5


def test_cancel_mid_run_ends_cancelled_with_one_terminal_event(stack: Stack) -> None:
    stack.start_api()
    stack.start_runner()
    op_id = stack.start_dummy(iterations=1000, interval=0.05)
    stack.wait_status(op_id, {"running"})
    time.sleep(0.2)
    response = stack.http.request("DELETE", f"/operations/{op_id}", json={"reason": "test cancel"})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["status"] == "cancelled" and data["confirmed"] is True
    assert data["cancel_latency_ms"] > 0
    op = stack.operation(op_id)
    assert op["status"] == "cancelled"
    assert op["error_message"] == "test cancel"
    assert op["result_summary"]["iterations_completed"] >= 1
    # a second cancel is refused, saying why
    again = stack.http.post(f"/operations/{op_id}/cancel")
    assert again.status_code == 400
    assert "cannot be cancelled (status: cancelled)" in again.json()["detail"]
    time.sleep(0.3)  # anything the runner might still send would be in the log by now
    events = stack.http.get(f"/operations/{op_id}/events").json()["data"]["events"]
    assert sum(e["type"] in TERMINAL_EVENTS for e in events) == 1


def test_200_concurrent_dummy_operations_all_accounted_for(stack: Stack) -> None:
    stack.start_api()
    for _ in range(2):
        stack.start_runner("--concurrency", "100")
    stack.wait_runners(2)
    ids = [stack.start_dummy(iterations=3, interval=0.01) for _ in range(200)]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = stack.http.get("/operations", params={"limit": 1000}).json()
        if body["active_count"] == 0:
            break
        time.sleep(0.2)
    body = stack.http.get("/operations", params={"limit": 1000, "status": "completed"}).json()
    assert body["total_count"] == 200
    assert {row["operation_id"] for row in body["data"]} == set(ids)

    async def count_stream() -> tuple[int, dict[str, list[str]]]:
        nc = await nats.connect(stack.nats_url)
        try:
            js = nc.jetstream()
            info = await js.stream_info("TRAINJET_OPS")
            sub = await js.subscribe("trainjet.ops.>", ordered_consumer=True)
            per_op: dict[str, list[str]] = {}
            for _ in range(info.state.messages):
                msg = await sub.next_msg(timeout=5)
                event = decode(msg.data)
                per_op.setdefault(event.operation_id, []).append(event.event_id)
            return info.state.messages, per_op
        finally:
            await nc.close()

    stored, per_op = asyncio.run(count_stream())
    # created + started + 3 progress + completed, each exactly once
    assert stored == 200 * 6
    assert all(len(v) == 6 and len(set(v)) == 6 for v in per_op.values())
    health = stack.http.get("/health").json()
    assert health["projector"]["events_applied"] == stored
    assert health["projector"]["lag"] == 0


def test_api_restart_serves_identical_operations(stack: Stack) -> None:
    stack.start_api()
    stack.start_runner()
    done = [stack.start_dummy(iterations=2, interval=0.01) for _ in range(3)]
    for op_id in done:
        stack.wait_status(op_id, TERMINAL)
    cancelled = stack.start_dummy(iterations=1000, interval=0.05)
    stack.wait_status(cancelled, {"running"})
    stack.http.delete(f"/operations/{cancelled}")
    pending = stack.start_dummy(iterations=1, interval=0.01, task_id="queued-behind")
    stack.wait_status(pending, TERMINAL)

    def snapshot() -> dict[str, dict]:
        rows = stack.http.get("/operations", params={"limit": 1000}).json()["data"]
        ops = {r["operation_id"]: stack.operation(r["operation_id"]) for r in rows}
        for op in ops.values():
            op.pop("duration_seconds")
        return ops

    before = snapshot()
    stack.stop_api()
    stack.start_api()
    assert snapshot() == before


def test_sigkill_runner_fails_operation_naming_it(stack: Stack) -> None:
    stack.start_api()
    proc = stack.start_runner()
    (runner,) = stack.wait_runners(1)
    op_id = stack.start_dummy(iterations=1000, interval=0.05)
    stack.wait_status(op_id, {"running"})
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = time.monotonic()
    op = stack.wait_status(op_id, TERMINAL, timeout=30)
    # TTL 2 s + monitor interval: well within the lease bound
    assert time.monotonic() - killed_at < 15
    assert op["status"] == "failed"
    assert runner["runner_id"] in op["error_message"]
    assert "lost" in op["error_message"]
    # a new runner gets the redelivered command, sees the operation ended, and acks it
    stack.start_runner()
    stack.wait_runners(1)
    follow_up = stack.start_dummy(iterations=1, interval=0.01)
    assert stack.wait_status(follow_up, TERMINAL)["status"] == "completed"
    assert stack.operation(op_id)["status"] == "failed"


def test_malformed_and_unknown_events_are_recorded_and_skipped(stack: Stack) -> None:
    stack.start_api()
    stack.start_runner()

    async def publish_garbage() -> None:
        nc = await nats.connect(stack.nats_url)
        js = nc.jetstream()
        await js.publish("trainjet.ops.garbage.operation_started", b"{not json")
        await js.publish(
            "trainjet.ops.garbage.mystery",
            json.dumps({"type": "mystery", "event_id": "x", "operation_id": "garbage"}).encode(),
        )
        await nc.close()

    asyncio.run(publish_garbage())
    op_id = stack.start_dummy(iterations=2, interval=0.01)
    assert stack.wait_status(op_id, TERMINAL)["status"] == "completed"
    health = stack.http.get("/health").json()
    assert health["projector"]["rejected_messages"] == 2
    assert health["projector"]["running"] is True
    # a restarted API records them again and still serves everything
    stack.stop_api()
    stack.start_api()
    assert stack.operation(op_id)["status"] == "completed"
    assert stack.http.get("/health").json()["projector"]["rejected_messages"] == 2


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "needle"),
    [
        ("get", "/operations/nope", {}, 404, "Operation not found: nope"),
        ("delete", "/operations/nope", {}, 404, "Operation not found: nope"),
        ("get", "/operations", {"params": {"status": "weird"}}, 422, "status"),
        ("get", "/operations", {"params": {"limit": 0}}, 422, "limit"),
        ("post", "/dummy/start", {"json": {"iterations": -1}}, 422, "iterations"),
        ("post", "/dummy/start", {"json": {"iterationz": 3}}, 422, "iterationz"),
        (
            "post",
            "/dummy/start",
            {"content": b"{", "headers": {"content-type": "application/json"}},
            422,
            "JSON",
        ),
        ("post", "/dummy/start", {"json": {"task_id": "a.b"}}, 400, "not a valid operation id"),
        ("get", "/operations/nope/results", {}, 404, "Operation not found"),
    ],
)
def test_bad_input_gets_clear_4xx_and_leaves_no_event(
    stack: Stack, method: str, path: str, kwargs: dict, status: int, needle: str
) -> None:
    stack.start_api()
    response = getattr(stack.http, method)(path, **kwargs)
    assert response.status_code == status, response.text
    assert needle in response.json()["detail"]
    health = stack.http.get("/health").json()
    assert health["streams"]["events"]["messages"] == 0
    assert health["streams"]["commands"]["messages"] == 0
