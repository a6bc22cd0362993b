"""The log scan the chaos scenarios end with finds an operation with two terminal events."""

from __future__ import annotations

import asyncio
import json
import uuid

import nats
import pytest

from tests.chaos.report import record
from tests.chaos.terminal_scan import assert_one_terminal_each, operations_with_several_terminals
from tests.stack import Stack

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(120)]


async def _publish_copy(urls: str, subject: str, event: dict[str, object]) -> None:
    nc = await nats.connect(urls)
    try:
        copy = {**event, "event_id": uuid.uuid4().hex}
        await nc.jetstream().publish(subject, json.dumps(copy).encode())
    finally:
        await nc.close()


def test_the_scan_finds_a_second_terminal_event(stack: Stack) -> None:
    stack.start_api()
    stack.start_runner()
    stack.wait_runners(1)
    ops = [stack.start_dummy(iterations=2, interval=0.01) for _ in range(3)]
    for op in ops:
        stack.wait_status(op, {"completed"})
    assert assert_one_terminal_each(stack.nats_url) == 3
    events = stack.http.get(f"/operations/{ops[0]}/events").json()["data"]["events"]
    completed = next(e for e in events if e["type"] == "operation_completed")
    subject = f"trainjet.ops.{ops[0]}.operation_completed"
    asyncio.run(_publish_copy(stack.nats_url, subject, completed))
    several = operations_with_several_terminals(stack.nats_url)
    record(
        "log scan: a duplicated terminal event is found",
        "operations flagged",
        len(several),
        several == {ops[0]: 2},
    )
    assert several == {ops[0]: 2}
    with pytest.raises(
        AssertionError, match=f"{ops[0]}.: \\[.operation_completed., .operation_completed.\\]"
    ):
        assert_one_terminal_each(stack.nats_url)
