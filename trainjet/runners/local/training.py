"""`LocalTrainingRunner`: runs the PyTorch pipeline for one training operation.

The pipeline runs in a worker thread behind `TrainingProgressBridge`; this coroutine only
waits for it. Cancellation reaches the thread through the token (checked every batch), never
by killing it. Each epoch's checkpoint goes to the operation's blob store through a
`CheckpointSink` (the thread hands it over and moves on); a resumed attempt starts from the
checkpoint the runner fetched for it. The host pool runs the same class with a GPU probe.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainjet.config import Settings
from trainjet.core.cancellation import CancellationError
from trainjet.core.errors import InvalidRequest
from trainjet.core.events import TrainingInputs
from trainjet.runners.bridge import TrainingProgressBridge
from trainjet.runners.checkpoints import CheckpointSink
from trainjet.runners.context import OperationContext


def training_inputs(ctx: OperationContext) -> TrainingInputs:
    """The operation's recorded inputs; a training created without them cannot run."""
    if not isinstance(ctx.inputs, TrainingInputs):
        raise InvalidRequest(
            f"Operation {ctx.operation_id} has no training inputs in its operation_created "
            "event: start it again with POST /trainings/start"
        )
    return ctx.inputs


class LocalTrainingRunner:
    def __init__(
        self,
        ctx: OperationContext,
        settings: Settings,
        *,
        gpu_probe: Callable[[], dict[str, Any] | None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.settings = settings
        self.bridge = TrainingProgressBridge(
            ctx, flush_seconds=settings.event_flush_seconds, gpu_probe=gpu_probe
        )
        if ctx.attempt > 1:
            # A resumed attempt redoes the preparation phases: keep the bar where it was.
            self.bridge.percentage = ctx.operation.progress.percentage
        self.checkpoints: CheckpointSink | None = None

    async def run(self) -> dict[str, Any]:
        from trainjet.training.artifacts.results import partial_result
        from trainjet.training.pipeline import TrainingRun, run_training

        _limit_threads()
        inputs = training_inputs(self.ctx)
        run = TrainingRun(
            operation_id=self.ctx.operation_id,
            session_id=self.ctx.session_id,
            training_mode=self.ctx.pool,
            resume_checkpoint=self.ctx.resume.data if self.ctx.resume is not None else None,
        )
        if self.ctx.checkpoints is not None:
            self.checkpoints = CheckpointSink(self.ctx, self.ctx.checkpoints)
        epoch = self.ctx.resumed_from_epoch
        source = inputs.resume_from  # set by a retry of a failed training
        if epoch is not None and self.ctx.attempt == 1 and source:
            message = f"Resuming from the checkpoint of epoch {epoch} of failed operation {source}"
        elif epoch is not None:
            message = f"Resuming from the checkpoint of epoch {epoch} (attempt {self.ctx.attempt})"
        elif source and self.ctx.attempt == 1:
            message = f"No checkpoint of {source} is stored: training from the first epoch"
        elif self.ctx.attempt > 1:
            message = f"Restarting from the first epoch (attempt {self.ctx.attempt}, no checkpoint)"
        else:
            message = "Preparing training environment"
        self.bridge.on_phase("initializing", message, attempt=self.ctx.attempt)
        try:
            result: dict[str, Any] = await asyncio.to_thread(
                run_training,
                inputs,
                self.bridge,
                models_dir=Path(self.settings.models_dir),
                data_dir=Path(self.settings.market_data_dir),
                strategies_dir=Path(self.settings.strategies_dir),
                run=run,
                checkpoint_fn=self._checkpoint if self.checkpoints is not None else None,
            )
        except CancellationError as exc:
            self.ctx.partial_result = partial_result(exc)
            raise
        finally:
            if not self.ctx.fenced:
                self.bridge.flush()
            if self.checkpoints is not None:
                await self.checkpoints.close()
        info = result.setdefault("session_info", {})
        info.update(attempt=self.ctx.attempt, resumed_from_epoch=epoch)
        return result

    def _checkpoint(self, epoch: int, data: bytes) -> None:
        """The trainer's checkpoint_fn (training thread). The bridge holds an epoch's events
        until its next send; a resume starts after the checkpoint's epoch, so that epoch's
        events must reach the outbox before the checkpoint does."""
        self.bridge.flush()
        assert self.checkpoints is not None
        self.checkpoints(epoch, data)


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
