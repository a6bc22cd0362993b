"""The `RunnerRegistry` contract (heartbeat, TTL, remove), run against every adapter."""

from __future__ import annotations

import asyncio
import time

import msgspec
import pytest

from trainjet.core.store import InvalidName, RunnerInfo, RunnerRegistry

TTL_SECONDS = 1.0  # tests/contract/conftest.py gives both adapters this TTL

pytestmark = pytest.mark.timeout(30)


def runner(runner_id: str = "host-1-abc", **changes: object) -> RunnerInfo:
    info = RunnerInfo(runner_id=runner_id, pool="local", host="host-1", pid=1234)
    return msgspec.structs.replace(info, **changes)


async def wait_gone(registry: RunnerRegistry, runner_id: str, limit: float) -> float:
    started = time.monotonic()
    while any(r.runner_id == runner_id for r in await registry.list()):
        assert time.monotonic() - started < limit, f"{runner_id} still listed after {limit}s"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def test_adapter_satisfies_the_port(any_registry: RunnerRegistry) -> None:
    assert isinstance(any_registry, RunnerRegistry)


async def test_empty_registry_lists_nobody(any_registry: RunnerRegistry) -> None:
    assert any_registry.ttl_seconds == TTL_SECONDS
    assert await any_registry.list() == []


async def test_heartbeat_is_visible_and_dated(any_registry: RunnerRegistry) -> None:
    info = runner(current_operations=["op1"], gpu={"name": "H200"}, device="cuda")
    await any_registry.heartbeat(info)
    (listed,) = await any_registry.list()
    assert msgspec.structs.replace(listed, last_seen="") == info
    assert listed.last_seen  # stamped by the registry


async def test_a_new_heartbeat_replaces_the_entry(any_registry: RunnerRegistry) -> None:
    await any_registry.heartbeat(runner())
    await any_registry.heartbeat(runner("other-1"))
    await any_registry.heartbeat(runner(current_operations=["op2"]))
    listed = await any_registry.list()
    assert [r.runner_id for r in listed] == ["host-1-abc", "other-1"]
    assert listed[0].current_operations == ["op2"]


async def test_entry_expires_after_the_ttl(any_registry: RunnerRegistry) -> None:
    await any_registry.heartbeat(runner())
    assert len(await any_registry.list()) == 1
    took = await wait_gone(any_registry, "host-1-abc", TTL_SECONDS + 3)
    assert took >= TTL_SECONDS * 0.5


async def test_heartbeats_keep_the_entry_alive(any_registry: RunnerRegistry) -> None:
    until = time.monotonic() + TTL_SECONDS * 1.6
    while time.monotonic() < until:
        await any_registry.heartbeat(runner())
        assert [r.runner_id for r in await any_registry.list()] == ["host-1-abc"]
        await asyncio.sleep(TTL_SECONDS / 4)


async def test_remove(any_registry: RunnerRegistry) -> None:
    await any_registry.heartbeat(runner())
    await any_registry.heartbeat(runner("other-1"))
    await any_registry.remove("host-1-abc")
    assert [r.runner_id for r in await any_registry.list()] == ["other-1"]
    await any_registry.remove("host-1-abc")  # twice, or unknown: no error
    await any_registry.remove("never-seen")
    await any_registry.heartbeat(runner())  # a removed runner can come back
    assert len(await any_registry.list()) == 2


async def test_invalid_runner_id_is_refused(any_registry: RunnerRegistry) -> None:
    with pytest.raises(InvalidName):
        await any_registry.heartbeat(runner("has space"))
