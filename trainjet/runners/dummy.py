"""The reference operation: N iterations of waiting, for checking the orchestration alone.

A resumed attempt (its first runner was lost) continues after the last iteration the log
records: the log is the dummy's checkpoint, so it needs no blob store.
"""

from __future__ import annotations

import time
from typing import Any

from trainjet.core.cancellation import CancellationError
from trainjet.core.events import DummyInputs, ProgressUpdated
from trainjet.runners.context import OperationContext


async def run_dummy(ctx: OperationContext) -> dict[str, Any]:
    inputs = ctx.inputs if isinstance(ctx.inputs, DummyInputs) else DummyInputs()
    iterations, interval = inputs.iterations, inputs.interval_seconds
    started = time.monotonic()
    first = _iterations_done(ctx) if ctx.attempt > 1 else 0
    for i in range(first, iterations):
        if await ctx.sleep_or_cancel(interval):
            ctx.partial_result = {
                "status": "cancelled",
                "iterations_completed": i,
                "iterations_total": iterations,
                "message": f"Stopped after {i} iterations",
            }
            raise CancellationError(ctx.token.reason or "Operation cancelled", ctx.operation_id)
        done = i + 1
        ctx.emit(
            ProgressUpdated,
            percentage=done / iterations * 100.0,
            message=f"Working hard on iteration {done}!",
            steps_completed=done,
            steps_total=iterations,
            items_processed=done,
            items_total=iterations,
            current_item=f"Processing step {done}",
            context={"current_step": f"Iteration {done}/{iterations}"},
        )
    elapsed = time.monotonic() - started
    return {
        "status": "success",
        "iterations_completed": iterations,
        "total_duration_seconds": round(elapsed, 3),
        "message": f"Completed all {iterations} iterations!",
    }


def _iterations_done(ctx: OperationContext) -> int:
    done = [e.steps_completed for e in ctx.history if isinstance(e, ProgressUpdated)]
    return max(done, default=0)
