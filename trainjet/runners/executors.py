"""Which work each pool can run. Training is imported lazily so torch loads only in runners."""

from __future__ import annotations

from typing import Any

from trainjet.runners.attempt import Executor
from trainjet.runners.context import OperationContext
from trainjet.runners.dummy import run_dummy


async def _training(ctx: OperationContext) -> dict[str, Any]:
    from trainjet.runners.local.training import run_training_operation

    return await run_training_operation(ctx)


async def _host_training(ctx: OperationContext) -> dict[str, Any]:
    from trainjet.runners.host.session import run_host_training

    return await run_host_training(ctx)


def executors_for(pool: str) -> dict[str, Executor]:
    training = _host_training if pool == "host" else _training
    return {"dummy": run_dummy, "training": training}
