"""The composition root builds each process with exactly the parts it uses."""

from __future__ import annotations

import pytest

from trainjet.config import Settings
from trainjet.core.leases import LeaseMonitor
from trainjet.core.orchestrator import ServiceOrchestrator
from trainjet.core.projections.projector import Projector
from trainjet.core.store.connection import memory_connection
from trainjet.system import ApiSystem, RunnerSystem, memory_api


def test_a_runner_builds_no_read_side(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    for cls in (Projector, ServiceOrchestrator, LeaseMonitor):
        original = cls.__init__

        def spy(self: object, *a: object, _o: object = original, **kw: object) -> None:
            built.append(type(self).__name__)
            _o(self, *a, **kw)  # type: ignore[operator]

        monkeypatch.setattr(cls, "__init__", spy)
    connection = memory_connection(lease_seconds=5, runner_ttl_seconds=3)
    runner = RunnerSystem(Settings(), connection)
    assert built == []
    assert runner.store is connection.store and runner.checkpoints is None
    api = ApiSystem(Settings(), memory_connection(lease_seconds=5, runner_ttl_seconds=3))
    assert built == ["Projector", "ServiceOrchestrator", "LeaseMonitor"]
    assert api.orchestrator.projector is api.projector


async def test_the_memory_api_starts_and_closes() -> None:
    system = memory_api(Settings())
    await system.start(lease_monitor=False)
    assert system.connected is None and system.nats_url is None
    await system.close()
