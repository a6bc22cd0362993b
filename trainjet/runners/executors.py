"""Which work each pool can run. Training is imported lazily so torch loads only in runners."""

from __future__ import annotations

from typing import Any

from trainjet.runners.context import OperationContext
from trainjet.runners.dummy import run_dummy
from trainjet.runners.worker import Executor


async def _training(ctx: OperationContext) -> dict[str, Any]:
    from trainjet.runners.local.training import run_training_operation

    return await run_training_operation(ctx)


def executors_for(pool: str) -> dict[str, Executor]:
    return {"dummy": run_dummy, "training": _training}
