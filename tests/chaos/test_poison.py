"""Poison on the events stream: whatever any NATS client publishes there, every endpoint keeps
answering 2xx/4xx, the lease monitor keeps ending lost operations, the bad messages are
recorded and shown in /health, and a restarted API still rebuilds its view from the log.

This holds only with the fold's checks (naive timestamps and invalid ids rejected, not
stored) and a lease monitor that skips a bad operation instead of aborting its pass.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from typing import Any

import httpx
import nats
import pytest

from tests.chaos.report import record
from tests.chaos.terminal_scan import assert_one_terminal_each
from tests.stack import TERMINAL, TERMINAL_EVENTS, Stack

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(300)]
GHOST = "op_dummy_20260101_000000_0badf00d"  # created by the poison, run by nobody
NEVER = "op_dummy_20260101_000000_00000000"  # never created at all


def _event(kind: str, op_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "event_id": uuid.uuid4().hex,
        "operation_id": op_id,
        "occurred_at": "2026-01-01T12:00:00Z",
        "schema_version": 1,
        **fields,
    }


def poison(known: str, known_events: list[dict[str, Any]]) -> list[tuple[str, str, bytes]]:
    """(name, subject, payload) of every kind of bad message."""
    subject = f"trainjet.ops.{known}"
    phase = next(e for e in known_events if e["type"] not in ("operation_created",) and
                 e["type"] not in TERMINAL_EVENTS)  # fmt: skip
    created = _event("operation_created", GHOST, operation_type="dummy", pool="local",
                     inputs={"iterations": 5, "interval_seconds": 0.01})  # fmt: skip
    naive = _event("operation_started", GHOST, runner_id="runner-ghost", attempt=1)
    naive["occurred_at"] = "2026-01-01T12:00:05"  # no time zone
    return [
        ("garbage", f"{subject}.phase_changed", b"\x00\xffthis is not json"),
        ("unknown type", f"{subject}.mystery", json.dumps(_event("mystery", known)).encode()),
        ("future schema version", f"{subject}.phase_changed",
         json.dumps(_event("phase_changed", known, phase="x", schema_version=99)).encode()),
        ("created, for the naive start below", f"trainjet.ops.{GHOST}.operation_created",
         json.dumps(created).encode()),
        ("naive timestamp", f"trainjet.ops.{GHOST}.operation_started", json.dumps(naive).encode()),
        ("invalid operation id", "trainjet.ops.bad.phase_changed",
         json.dumps(_event("phase_changed", "bad id!", phase="x")).encode()),
        ("mismatched operation id", f"{subject}.phase_changed",
         json.dumps(_event("phase_changed", NEVER.replace("0000", "1111"), phase="x")).encode()),
        ("unknown operation", f"trainjet.ops.{NEVER}.phase_changed",
         json.dumps(_event("phase_changed", NEVER, phase="x")).encode()),
        ("duplicate event id", f"{subject}.{phase['type']}", json.dumps(phase).encode()),
        ("900 KB payload", f"{subject}.phase_changed",
         json.dumps(_event("phase_changed", known, phase="big", message="x" * 900_000)).encode()),
    ]  # fmt: skip


async def publish(urls: str, messages: list[tuple[str, str, bytes]]) -> None:
    nc = await nats.connect(urls, max_reconnect_attempts=1)
    try:
        js = nc.jetstream(timeout=10)
        for _, subject, payload in messages:  # no Nats-Msg-Id: nothing dedups them
            await js.publish(subject, payload)
    finally:
        await nc.close()


def every_endpoint_answers(stack: Stack, ops: list[str]) -> list[str]:
    """The requests that answered 5xx (none expected)."""
    paths = ["/operations", "/operations?active_only=true", "/health", "/runners"]
    for op in ops:
        paths += [f"/operations/{op}", f"/operations/{op}/events", f"/operations/{op}/metrics",
                  f"/operations/{op}/results"]  # fmt: skip
    bad = []
    for path in paths:
        try:
            response = stack.http.get(path)
        except httpx.HTTPError as exc:  # the server dropped the connection: worse than a 500
            bad.append(f"{path} -> {exc!r}")
            continue
        if response.status_code >= 500 and not (path == "/health" and response.status_code == 503):
            bad.append(f"{path} -> {response.status_code} {response.text[:200]}")
    try:
        status = stack.http.get(f"http://127.0.0.1:{stack.port}/metrics").status_code
    except httpx.HTTPError as exc:
        status = repr(exc)  # type: ignore[assignment]
    if status != 200:
        bad.append(f"/metrics -> {status}")
    return bad


def _status(stack: Stack, path: str) -> int:
    try:
        return stack.http.get(path).status_code
    except httpx.HTTPError:
        return -1


def test_poison_messages_break_nothing(stack: Stack) -> None:
    stack.start_api()
    runner = stack.start_runner()
    stack.wait_runners(1)
    known = stack.start_dummy(iterations=3, interval=0.01)
    stack.wait_status(known, {"completed"})
    events = stack.http.get(f"/operations/{known}/events").json()["data"]["events"]
    messages = poison(known, events)
    asyncio.run(publish(stack.nats_url, messages))
    time.sleep(1.0)  # let the projector fold them (there is nothing to wait on: they are bad)

    ops = [known, GHOST, NEVER, "bad"]
    bad = every_endpoint_answers(stack, ops)
    try:
        health = stack.http.get("/health").json()
    except httpx.HTTPError as exc:
        health = {"projector": {"rejected_messages": -1, "last_rejected": [], "error": repr(exc)}}
    rejected = health["projector"]["rejected_messages"]

    # the lease monitor still ends an operation whose runner dies
    lost = stack.start_dummy(iterations=10_000, interval=0.05)
    stack.wait_status(lost, {"running"})
    os.kill(runner.pid, signal.SIGKILL)
    started = time.monotonic()
    try:
        ended = stack.wait_status(lost, TERMINAL, timeout=60)
        took: float | None = round(time.monotonic() - started, 2)
    except TimeoutError:
        ended, took = stack.operation(lost), None

    # a restarted API rebuilds from the same log, poison included
    stack.stop_api()
    stack.start_api()
    rebuilt = every_endpoint_answers(stack, [*ops, lost])
    after = {op: _status(stack, f"/operations/{op}") for op in (known, lost)}
    ok = (
        not bad and not rebuilt and rejected >= 3 and took is not None
        and ended["status"] == "failed" and after == {known: 200, lost: 200}
    )  # fmt: skip
    record(
        f"poison messages on the stream ({len(messages)} kinds)",
        "seconds until a lost runner's operation ended afterwards",
        took,
        ok,
    )
    assert not bad, bad
    assert rejected >= 3, health["projector"]  # garbage, unknown type, future version at least
    assert health["projector"]["last_rejected"], health["projector"]
    assert took is not None and ended["status"] == "failed", ("lease monitor stuck", ended)
    assert took < 30
    assert not rebuilt, rebuilt
    assert after == {known: 200, lost: 200}
    assert stack.operation(known)["status"] == "completed"
    assert stack.operation(lost)["status"] == "failed"
    assert_one_terminal_each(stack.nats_url)
