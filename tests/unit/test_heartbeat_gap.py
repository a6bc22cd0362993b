"""The heartbeat thread beats at most every MIN_GAP however often it is asked: each beat lists
every operation of the runner, and a burst of starts asks once per operation."""

from __future__ import annotations

import asyncio
import time

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


async def test_a_burst_of_asks_is_a_few_beats() -> None:
    registry = Counting()

    async def open_registry() -> tuple[Counting, Closer]:
        async def close() -> None:
            return None

        return registry, close

    info = RunnerInfo(runner_id="r", pool="local", host="h", pid=1)
    thread = HeartbeatThread(open_registry, lambda: info, interval=60.0)
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
