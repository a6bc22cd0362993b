"""The heartbeat thread beats at most every MIN_GAP however often it is asked: each beat lists
every operation of the runner, and a burst of starts asks once per operation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from trainjet.core.store import MemoryRunnerRegistry, RunnerInfo
from trainjet.runners.heartbeat import MIN_GAP, Closer, HeartbeatThread

pytestmark = pytest.mark.timeout(30)


class Counting(MemoryRunnerRegistry):
    def __init__(self) -> None:
        super().__init__()
        self.beats = 0

    async def heartbeat(self, info: RunnerInfo) -> None:
        self.beats += 1
        await super().heartbeat(info)


def opener(registry: Counting) -> Callable[[], Awaitable[tuple[Counting, Closer]]]:
    async def open_registry() -> tuple[Counting, Closer]:
        async def close() -> None:
            return None

        return registry, close

    return open_registry


async def test_a_burst_of_asks_is_a_few_beats() -> None:
    registry = Counting()

    info = RunnerInfo(runner_id="r", pool="local", host="h", pid=1)
    thread = HeartbeatThread(opener(registry), lambda: info, interval=60.0)
    await asyncio.to_thread(thread.start)
    try:
        started = time.monotonic()
        while time.monotonic() - started < 4 * MIN_GAP:
            thread.beat_now()
            await asyncio.sleep(0.002)
        elapsed = time.monotonic() - started
    finally:
        await asyncio.to_thread(thread.stop)
    # the first beat, then one per gap at most (plus the one under way when the burst ended)
    assert 2 <= registry.beats <= elapsed / MIN_GAP + 2


async def test_the_first_beat_lands_when_the_registry_opens_not_an_interval_later() -> None:
    """Until the first beat the runner is listed nowhere and takes no work: a runner must
    appear as soon as it can reach the registry (it once waited one interval first)."""
    registry = Counting()

    info = RunnerInfo(runner_id="r", pool="local", host="h", pid=1)
    thread = HeartbeatThread(opener(registry), lambda: info, interval=600.0)
    await asyncio.to_thread(thread.start)
    try:
        deadline = time.monotonic() + 20  # a hang bound; the beat is due at once
        while registry.beats == 0 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    finally:
        await asyncio.to_thread(thread.stop)
    assert registry.beats >= 1
    assert [r.runner_id for r in await registry.list()] == ["r"]
