"""Poison on the log: anyone who can publish on `trainjet.ops.>` puts anything there. The API
(a real process on a real nats-server) must keep answering 2xx/4xx on every endpoint, record
each bad message with its reason in /health, apply none of them, and rebuild after a restart.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import nats

from tests.stack import Stack

NOW = "2026-01-01T00:00:00+00:00"


def event(kind: str, op_id: str, event_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": event_id, "operation_id": op_id, "occurred_at": NOW, **fields}


def poison(victim: str, other: str) -> list[tuple[str, bytes]]:
    """(subject, payload) of each kind of bad message, aimed at real operations."""

    def on(op: str, kind: str) -> str:
        return f"trainjet.ops.{op}.{kind}"

    warning = json.dumps(event("warning_raised", victim, "dup-1", message="once")).encode()
    return [
        (on("garbage", "operation_started"), b"{not json"),
        (on("garbage", "mystery"), json.dumps(event("mystery", "garbage", "m1")).encode()),
        (
            on(victim, "operation_started"),
            json.dumps(
                event("operation_started", victim, "future-1", runner_id="r", schema_version=99)
            ).encode(),
        ),
        (
            on(victim, "operation_started"),  # naive: no time zone
            json.dumps(
                {
                    **event("operation_started", victim, "naive-1", runner_id="r"),
                    "occurred_at": "2026-01-01T00:00:00",
                }
            ).encode(),
        ),
        (
            on("bad", "operation_created"),
            json.dumps(
                event("operation_created", "bad id!", "bad-1", operation_type="dummy")
            ).encode(),
        ),
        (
            on(victim, "operation_completed"),  # the subject says victim, the body says other
            json.dumps(event("operation_completed", other, "forged-1")).encode(),
        ),
        (
            on("op_never_created", "operation_started"),
            json.dumps(
                event("operation_started", "op_never_created", "orphan-1", runner_id="r")
            ).encode(),
        ),
        (on(victim, "warning_raised"), warning),
        (on(victim, "warning_raised"), warning),  # the same event again, no Nats-Msg-Id
        (
            on("big", "operation_created"),  # 900 KB: an id far past the grammar
            json.dumps(
                event("operation_created", "b" * 900_000, "big-1", operation_type="dummy")
            ).encode(),
        ),
    ]


EXPECTED = {
    "malformed": 3,  # garbage, unknown type, future schema version
    "naive_timestamp": 1,
    "invalid_operation_id": 2,  # "bad id!" and the 900 KB id
    "subject_mismatch": 1,
    "orphan": 1,
    "duplicate_event_id": 1,
}


def publish(url: str, messages: list[tuple[str, bytes]]) -> None:
    async def run() -> None:
        nc = await nats.connect(url)
        js = nc.jetstream()
        for subject, payload in messages:
            await js.publish(subject, payload)  # no Nats-Msg-Id: no de-duplication
        await nc.close()

    asyncio.run(run())


def every_read(stack: Stack, op_ids: list[str]) -> None:
    paths = [
        "/operations",
        "/operations?active_only=true",
        "/health",
        "/runners",
        "/models",
        "/strategies",
        "/operations/op_never_created",
        "/operations/garbage/events",
    ]
    for op_id in op_ids:
        paths += [
            f"/operations/{op_id}",
            f"/operations/{op_id}/events",
            f"/operations/{op_id}/metrics",
            f"/operations/{op_id}/results",
            f"/trainings/{op_id}/performance",
        ]
    for path in paths:
        r = stack.http.get(path)
        assert r.status_code < 500, (path, r.status_code, r.text[:300])
        if r.status_code >= 400:
            assert r.json()["success"] is False, path


def test_poison_messages_are_recorded_skipped_and_survive_a_restart(stack: Stack) -> None:
    stack.start_api()
    victim = stack.start_dummy(iterations=5)  # no runner: both stay pending
    other = stack.start_dummy(iterations=5)
    publish(stack.nats_url, poison(victim, other))
    follow_up = stack.start_dummy(iterations=1)  # written after the poison: read-your-writes
    assert stack.operation(follow_up)["status"] == "pending"

    def check() -> None:
        health = stack.http.get("/health").json()["projector"]
        assert health["rejected_by_reason"] == EXPECTED
        assert health["rejected_messages"] == sum(EXPECTED.values())
        examples = health["last_rejected"]
        assert {e["reason"] for e in examples} == set(EXPECTED)
        assert all(len(json.dumps(e)) < 2000 for e in examples)  # the 900 KB id is clipped
        forged = next(e for e in examples if e["reason"] == "subject_mismatch")
        assert forged["operation_id"] == other and victim in forged["subject"]
        # nothing was applied: the forged completion, the naive start and the duplicate
        assert stack.operation(other)["status"] == "pending"
        shown = stack.operation(victim)
        assert shown["status"] == "pending" and shown["warnings"] == ["once"]
        listing = stack.http.get("/operations").json()
        assert listing["total_count"] == 3
        every_read(stack, [victim, other, follow_up])

    check()
    stack.stop_api()
    stack.start_api()  # the rebuild replays the same log and refuses the same messages
    check()
