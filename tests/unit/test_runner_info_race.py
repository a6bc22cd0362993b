"""The heartbeat thread builds the runner's registry entry while the event loop adds and
removes attempts: the copy of the running attempts must never see the dict change size."""

from __future__ import annotations

import gc
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from trainjet.core.store import MemoryCommandQueue, MemoryEventStore, MemoryRunnerRegistry
from trainjet.runners.worker import Runner

pytestmark = pytest.mark.timeout(120)

ATTEMPTS = 2_500  # what one runner held in the 10,000-operation run
ROUNDS = 200


def test_info_is_safe_while_the_loop_changes_the_attempts() -> None:
    runner = Runner(
        store=MemoryEventStore(),
        commands=MemoryCommandQueue(),
        registry=MemoryRunnerRegistry(),
        executors={},
    )
    stub: Any = SimpleNamespace(fenced=False)
    for i in range(ATTEMPTS):
        runner._set_active(f"op_{i}", stub)

    # A copy of a large dict allocates; a collection may run Python code in the middle of
    # it, and another thread gets the interpreter there. Make that happen often: collect
    # at almost every allocation and hand the interpreter over in the collector's callback.
    def yield_interpreter(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            time.sleep(0)

    stop = threading.Event()
    errors: list[BaseException] = []

    def loop_side() -> None:
        i = 0
        while not stop.is_set():
            runner._set_active(f"extra_{i % 50}", stub)
            runner._set_active(f"extra_{(i + 25) % 50}", None)
            i += 1

    threshold = gc.get_threshold()
    gc.set_threshold(20)
    gc.callbacks.append(yield_interpreter)
    mutator = threading.Thread(target=loop_side, daemon=True)
    mutator.start()
    try:
        for _ in range(ROUNDS):
            try:
                info = runner.info()
            except RuntimeError as exc:  # "dictionary changed size during iteration"
                errors.append(exc)
                continue
            assert len(info.current_operations) >= ATTEMPTS
    finally:
        stop.set()
        mutator.join(10)
        gc.callbacks.remove(yield_interpreter)
        gc.set_threshold(*threshold)
    assert errors == []
