"""`LocalTrainingRunner`: runs the PyTorch pipeline for one training operation.

The pipeline runs in a worker thread behind `TrainingProgressBridge`; this coroutine only
waits for it. Cancellation reaches the thread through the token (checked every batch), never
by killing it.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from trainjet.config import Settings
from trainjet.core.cancellation import CancellationError
from trainjet.runners.bridge import TrainingProgressBridge
from trainjet.runners.context import OperationContext


def spec_from_inputs(ctx: OperationContext, settings: Settings) -> Any:
    from trainjet.training.pipeline import TrainingRequestSpec

    return TrainingRequestSpec.from_mapping(
        {
            **ctx.inputs,
            "strategies_dir": str(settings.strategies_dir),
            "operation_id": ctx.operation_id,
            "training_mode": ctx.pool,
            "session_id": ctx.session_id,
        }
    )


class LocalTrainingRunner:
    def __init__(self, ctx: OperationContext, settings: Settings) -> None:
        self.ctx = ctx
        self.settings = settings
        self.bridge = TrainingProgressBridge(ctx, flush_seconds=settings.event_flush_seconds)

    async def run(self) -> dict[str, Any]:
        from trainjet.training.pipeline import run_training
        from trainjet.training.results import partial_result

        _limit_threads()
        spec = spec_from_inputs(self.ctx, self.settings)
        self.bridge.on_phase("initializing", "Preparing training environment")
        try:
            result: dict[str, Any] = await asyncio.to_thread(
                run_training,
                spec,
                self.bridge,
                models_dir=Path(self.settings.models_dir),
                data_dir=Path(self.settings.market_data_dir),
            )
        except CancellationError as exc:
            self.ctx.partial_result = partial_result(exc)
            raise
        finally:
            self.bridge.flush()
        return result


def _limit_threads() -> None:
    """Small MLPs train faster on one thread than on two contending ones (measured: up to
    50x slower with a busy second core); TRAINJET_TORCH_THREADS overrides."""
    import torch

    threads = int(os.environ.get("TRAINJET_TORCH_THREADS", "1") or 1)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


async def run_training_operation(ctx: OperationContext) -> dict[str, Any]:
    settings: Settings = ctx.resources.get("settings") or Settings.from_env()
    return await LocalTrainingRunner(ctx, settings).run()
