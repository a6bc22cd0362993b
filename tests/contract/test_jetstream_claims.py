"""JetStream batch claims: a failure taking the waiting commands keeps the one in hand."""

from __future__ import annotations

from typing import Any

import pytest

from trainjet.core.store import StartCommand
from trainjet.core.store.jetstream_commands import JetStreamCommandQueue

pytestmark = pytest.mark.timeout(30)


async def test_a_failed_top_up_returns_the_command_already_claimed(
    command_queue: JetStreamCommandQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    await command_queue.submit(StartCommand(operation_id="op0", operation_type="dummy"))
    first = await command_queue.next_claim("local", 3.0)  # binds the pool's consumer
    assert first is not None
    await first.complete()
    for op in ("op1", "op2", "op3"):
        await command_queue.submit(StartCommand(operation_id=op, operation_type="dummy"))

    async def refuse(*args: Any, **kwargs: Any) -> Any:
        raise TimeoutError("the server is slow")

    monkeypatch.setattr(command_queue._nc, "subscribe", refuse)
    got = await command_queue.next_claims("local", 3, 3.0)
    assert [c.command.operation_id for c in got] == ["op1"]
    monkeypatch.undo()
    rest = await command_queue.next_claims("local", 3, 3.0)
    assert [c.command.operation_id for c in rest] == ["op2", "op3"]
    for claim in [*got, *rest]:
        await claim.complete()
