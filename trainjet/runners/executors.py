"""Which work each pool can run. Training is imported lazily so torch loads only in runners.

Torch and the pipeline take about 5 s of CPU to import. A runner process imports them before
it registers (`service.py`), since the import holds the GIL for seconds and would starve the
heartbeat of a runner already holding work; a runner built some other way (tests, tools) still
imports them on a worker thread at its first training, never on the event loop, where it would
stall the lease renewals, the outbox and the control watcher of every operation it runs.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

from trainjet.runners.context import OperationContext
from trainjet.runners.deps import Executor
from trainjet.runners.dummy import run_dummy

# What a training imports before it starts; loaded off the loop (see the module docstring).
_TRAINING_MODULES = (
    "torch",
    "trainjet.training.pipeline",
    "trainjet.training.artifacts.results",
    "trainjet.runners.local.training",
)


def _import_training() -> None:
    for name in _TRAINING_MODULES:
        importlib.import_module(name)


async def preload_training() -> None:
    """Import the training stack on a worker thread (a no-op once imported)."""
    await asyncio.to_thread(_import_training)


async def _training(ctx: OperationContext) -> dict[str, Any]:
    await preload_training()
    from trainjet.runners.local.training import run_training_operation

    return await run_training_operation(ctx)


async def _host_training(ctx: OperationContext) -> dict[str, Any]:
    await preload_training()
    from trainjet.runners.host.session import run_host_training

    return await run_host_training(ctx)


def executors_for(pool: str) -> dict[str, Executor]:
    training = _host_training if pool == "host" else _training
    return {"dummy": run_dummy, "training": training}
