"""The `CommandQueue` contract (leases, redelivery, dedup), run against every adapter."""

from __future__ import annotations

import asyncio
import time

import pytest

from trainjet.core.store import Claim, CommandQueue, InvalidName, StartCommand

LEASE_SECONDS = 1.0  # tests/contract/conftest.py gives both adapters this lease

pytestmark = pytest.mark.timeout(30)


def start(op: str, pool: str = "local") -> StartCommand:
    return StartCommand(operation_id=op, operation_type="dummy", pool=pool)


async def claim(queue: CommandQueue, pool: str = "local", timeout: float = 3.0) -> Claim:
    got = await queue.next_claim(pool, timeout)
    assert got is not None, "expected a command"
    return got


async def test_adapter_satisfies_the_port(any_command_queue: CommandQueue) -> None:
    assert isinstance(any_command_queue, CommandQueue)


async def test_submit_claim_complete(any_command_queue: CommandQueue) -> None:
    assert any_command_queue.lease_seconds == LEASE_SECONDS
    await any_command_queue.submit(start("op1"))
    assert await any_command_queue.pending("local") == 1
    got = await claim(any_command_queue)
    assert isinstance(got, Claim)
    assert got.command == start("op1")
    assert got.delivery_count == 1
    assert await any_command_queue.pending("local") == 0
    await got.complete()
    await got.complete()  # a second call changes nothing
    # Completed means gone for good: not even after the lease would have run out.
    assert await any_command_queue.next_claim("local", LEASE_SECONDS + 0.2) is None


async def test_commands_come_out_in_submission_order(any_command_queue: CommandQueue) -> None:
    for op in ("op1", "op2", "op3"):
        await any_command_queue.submit(start(op))
    assert await any_command_queue.pending("local") == 3
    claims = [await claim(any_command_queue) for _ in range(3)]
    assert [c.command.operation_id for c in claims] == ["op1", "op2", "op3"]
    for c in claims:
        await c.complete()


async def test_next_claim_times_out_with_none(any_command_queue: CommandQueue) -> None:
    started = time.monotonic()
    assert await any_command_queue.next_claim("local", 0.3) is None
    assert 0.2 <= time.monotonic() - started < 2.0


async def test_unacked_command_is_redelivered_after_the_lease(
    any_command_queue: CommandQueue,
) -> None:
    await any_command_queue.submit(start("op1"))
    first = await claim(any_command_queue)
    taken = time.monotonic()
    # Leased: nobody else gets it meanwhile.
    assert await any_command_queue.next_claim("local", LEASE_SECONDS * 0.4) is None
    again = await claim(any_command_queue, timeout=LEASE_SECONDS + 3)
    assert time.monotonic() - taken >= LEASE_SECONDS * 0.8
    assert again.command == first.command
    assert again.delivery_count == 2
    await again.complete()
    assert await any_command_queue.next_claim("local", 0.3) is None


async def test_extend_keeps_the_lease(any_command_queue: CommandQueue) -> None:
    await any_command_queue.submit(start("op1"))
    held = await claim(any_command_queue)
    until = time.monotonic() + LEASE_SECONDS * 1.8
    while time.monotonic() < until:
        await held.extend()
        assert await any_command_queue.next_claim("local", LEASE_SECONDS * 0.3) is None
    await held.complete()


async def test_release_makes_the_command_claimable_at_once(
    any_command_queue: CommandQueue,
) -> None:
    await any_command_queue.submit(start("op1"))
    first = await claim(any_command_queue)
    await first.release()
    started = time.monotonic()
    again = await claim(any_command_queue, timeout=LEASE_SECONDS * 0.8)
    assert time.monotonic() - started < LEASE_SECONDS * 0.8
    assert again.command == first.command
    assert again.delivery_count == 2
    await again.complete()


async def test_double_submit_is_deduplicated(any_command_queue: CommandQueue) -> None:
    await any_command_queue.submit(start("op1"))
    await any_command_queue.submit(start("op1"))
    assert await any_command_queue.pending("local") == 1
    got = await claim(any_command_queue)
    await got.complete()
    # Even after completion, a late retry of the same submit is still a duplicate.
    await any_command_queue.submit(start("op1"))
    assert await any_command_queue.next_claim("local", 0.3) is None


async def test_pools_are_separate(any_command_queue: CommandQueue) -> None:
    await any_command_queue.submit(start("op_host", pool="host"))
    assert await any_command_queue.next_claim("local", 0.3) is None
    assert await any_command_queue.pending("local") == 0
    assert await any_command_queue.pending("host") == 1
    got = await claim(any_command_queue, pool="host")
    assert got.command.pool == "host"
    await got.complete()


async def test_concurrent_claimers_each_get_a_different_command(
    any_command_queue: CommandQueue,
) -> None:
    for op in ("op1", "op2", "op3"):
        await any_command_queue.submit(start(op))
    claims = await asyncio.gather(*(claim(any_command_queue) for _ in range(3)))
    assert sorted(c.command.operation_id for c in claims) == ["op1", "op2", "op3"]
    for c in claims:
        await c.complete()


async def test_invalid_pool_is_refused(any_command_queue: CommandQueue) -> None:
    with pytest.raises(InvalidName):
        await any_command_queue.submit(start("op1", pool="no.dots"))
    with pytest.raises(InvalidName):
        await any_command_queue.next_claim("a*", 0.1)


async def test_next_claims_takes_the_waiting_commands_together(
    any_command_queue: CommandQueue,
) -> None:
    for op in ("op1", "op2", "op3", "op4", "op5"):
        await any_command_queue.submit(start(op))
    first = await any_command_queue.next_claims("local", 3, 3.0)
    assert [c.command.operation_id for c in first] == ["op1", "op2", "op3"]
    rest = await any_command_queue.next_claims("local", 10, 3.0)
    assert [c.command.operation_id for c in rest] == ["op4", "op5"]
    assert await any_command_queue.next_claims("local", 10, 0.3) == []
    for c in [*first, *rest]:
        assert c.delivery_count == 1
        await c.complete()


async def test_next_claims_returns_the_first_command_without_waiting_for_more(
    any_command_queue: CommandQueue,
) -> None:
    async def submit_later() -> None:
        await asyncio.sleep(0.2)
        await any_command_queue.submit(start("op1"))

    later = asyncio.create_task(submit_later())
    started = time.monotonic()
    got = await any_command_queue.next_claims("local", 50, 10.0)
    await later
    assert [c.command.operation_id for c in got] == ["op1"]
    assert time.monotonic() - started < 5.0  # not the whole timeout for the other 49
    await got[0].complete()
