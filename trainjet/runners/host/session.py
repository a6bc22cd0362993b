"""`HostSessionManager`: one training attempt on a host (GPU) runner.

ktrdr's host service kept sessions behind HTTP and the backend polled them;
here the session is the runner's attempt itself and everything travels as events:

* a session id per attempt (`operation_started.session_id`, then `metadata.parameters`);
* the device (CUDA, then MPS, then CPU) and its figures (name, memory used/total, NVML
  utilisation where available) in the progress context at most every `gpu_every_seconds`,
  and in the result's `resource_usage`;
* stop on cancel within one batch (the same bridge and token as the local pool);
* result hand-back: the trained model is published to the models bucket before the
  completion event, so an API on another machine serves it (`runners/artifacts.py`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Any

from trainjet.config import Settings
from trainjet.core.errors import StoreError
from trainjet.core.events import TrainingInputs
from trainjet.core.store.blobs import BlobStore
from trainjet.runners.artifacts import publish_model
from trainjet.runners.context import OperationContext
from trainjet.runners.host.device import gpu_probe, host_device
from trainjet.runners.local.training import LocalTrainingRunner

log = logging.getLogger(__name__)

PUBLISH_DEADLINE = 30.0


class HostSessionManager:
    def __init__(
        self,
        ctx: OperationContext,
        settings: Settings,
        *,
        device: str | None = None,
        models: BlobStore | None = None,
        gpu_every_seconds: float = 2.0,
    ) -> None:
        self.ctx = ctx
        self.settings = settings
        self.device = device or host_device()
        self.models = models
        self.probe = gpu_probe(self.device)
        self.training = LocalTrainingRunner(ctx, settings, gpu_probe=self.probe)
        self.training.bridge.gpu_every_seconds = gpu_every_seconds

    @property
    def session_id(self) -> str:
        return self.ctx.session_id or self.ctx.operation_id

    async def run(self) -> dict[str, Any]:
        inputs = self.ctx.inputs
        strategy = inputs.strategy_name if isinstance(inputs, TrainingInputs) else "?"
        self.training.bridge.on_phase(
            "host_start",
            f"Host session {self.session_id} started for {strategy}",
            session_id=self.session_id,
            device=self.device,
            host=socket.gethostname(),
            gpu=self.probe(),
        )
        result = await self.training.run()
        usage = result.setdefault("resource_usage", {})
        usage.update(
            training_mode="host",
            session_id=self.session_id,
            host=socket.gethostname(),
            runner_id=self.ctx.runner_id,
            gpu=self.probe(),
        )
        if self.models is not None:
            result["artifacts"] = await self._publish(result)
        return result

    async def _publish(self, result: dict[str, Any]) -> dict[str, Any]:
        """The model's files into the models bucket; retried through a NATS outage."""
        deadline = time.monotonic() + PUBLISH_DEADLINE
        assert self.models is not None
        while True:
            try:
                return await publish_model(self.models, self.ctx.operation_id, result)
            except StoreError as exc:
                if not exc.retryable or time.monotonic() > deadline:
                    raise
                log.warning(
                    "publishing the model of %s failed (%s); retrying", self.ctx.operation_id, exc
                )
                await asyncio.sleep(0.5)


async def run_host_training(ctx: OperationContext) -> dict[str, Any]:
    settings: Settings = ctx.resources.get("settings") or Settings.from_env()
    return await HostSessionManager(
        ctx, settings, device=ctx.resources.get("device"), models=ctx.resources.get("models")
    ).run()
