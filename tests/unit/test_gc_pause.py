"""What a runner builds at start-up is frozen out of the cycle collector's scans, after one
collection (garbage is collected, not kept for ever), and before it takes any work."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

import trainjet.system
from trainjet.config import Settings
from trainjet.core.gc_pause import freeze_survivors
from trainjet.runners import service


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def unfreeze() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_survivors_leave_the_scans_and_garbage_is_collected(unfreeze: None) -> None:
    kept = Node()
    cycle_a, cycle_b = Node(), Node()
    cycle_a.other, cycle_b.other = cycle_b, cycle_a
    gone = weakref.ref(cycle_a)
    del cycle_a, cycle_b
    gc.disable()  # only freeze_survivors' own collection may collect the cycle
    try:
        freeze_survivors()
    finally:
        gc.enable()
    assert gone() is None  # collected before the freeze, not frozen
    assert gc.get_freeze_count() > 0
    assert not any(o is kept for o in gc.get_objects())  # out of every generation's scan


async def test_runner_freezes_after_its_start_up_and_before_it_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    steps: list[str] = []

    async def preload() -> None:
        steps.append("preload")

    async def connect(settings: Settings, pool: str) -> Any:
        steps.append("connect")

        async def close() -> None:
            pass

        return SimpleNamespace(
            store=None, commands=None, registry=None, checkpoints=None, models=None, close=close
        )

    class FakeRunner:
        runner_id = "r1"

        def __init__(self, **kwargs: Any) -> None:
            steps.append("runner")

        async def run(self, stop: Any) -> None:
            steps.append("run")

    monkeypatch.setattr(service, "preload_training", preload)
    monkeypatch.setattr(trainjet.system, "connect_runner", connect)
    monkeypatch.setattr(service, "freeze_survivors", lambda: steps.append("freeze"))
    monkeypatch.setattr(service, "Runner", FakeRunner)
    await service.runner_main(Settings(), "local", 1, stop=asyncio.Event())
    assert steps == ["preload", "connect", "freeze", "runner", "run"]
