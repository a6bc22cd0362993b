"""A training queued on a pool with no live runner says so, instead of waiting silently."""

from __future__ import annotations

from typing import Any, cast

from trainjet.config import Settings
from trainjet.core.store.memory import MemoryRunnerRegistry
from trainjet.core.store.port import RunnerInfo
from trainjet.services.training import TrainingService


def service(registry: MemoryRunnerRegistry) -> TrainingService:
    # resolve_mode only asks the registry; the orchestrator is not reached
    return TrainingService(cast(Any, None), registry, Settings())


async def test_local_with_no_live_runner_warns_and_still_queues() -> None:
    mode, warnings = await service(MemoryRunnerRegistry()).resolve_mode("local")
    assert mode == "local"
    assert len(warnings) == 1
    assert "No live local runner" in warnings[0]
    assert "trainjet runner" in warnings[0]


async def test_local_with_a_live_runner_says_nothing() -> None:
    registry = MemoryRunnerRegistry()
    await registry.heartbeat(RunnerInfo(runner_id="r1", pool="local", host="h", pid=1))
    assert await service(registry).resolve_mode("local") == ("local", [])


async def test_a_host_runner_does_not_count_for_the_local_pool() -> None:
    registry = MemoryRunnerRegistry()
    await registry.heartbeat(RunnerInfo(runner_id="r1", pool="host", host="h", pid=1))
    _, warnings = await service(registry).resolve_mode("local")
    assert warnings and "No live local runner" in warnings[0]
