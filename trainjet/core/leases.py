"""Lease monitor: no operation stays `running` after its runner is gone.

Runners heartbeat into the `RunnerRegistry`, whose entries expire after `ttl_seconds`. Every
`interval` the monitor looks at running operations; one whose runner has no live entry (and
that started more than a TTL ago, so a fresh runner's first heartbeat is not raced) is ended
`failed` with a reason naming the lost runner. First terminal event wins, so several monitors
(several API replicas) can run at once without harm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from trainjet.core.events import EventFactory, OperationFailed, OperationStatus, utcnow
from trainjet.core.projections.projector import Projector
from trainjet.core.store.port import EventStore, RunnerRegistry

log = logging.getLogger(__name__)

RUNNER_LOST = "runner_lost"


class LeaseMonitor:
    def __init__(
        self,
        store: EventStore,
        registry: RunnerRegistry,
        projector: Projector,
        *,
        interval: float | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.projector = projector
        self.interval = interval if interval is not None else max(0.5, registry.ttl_seconds / 4)
        self.failed_total = 0
        self._task: asyncio.Task[None] | None = None

    async def check_once(self) -> list[str]:
        """Fail every running operation whose runner is gone; return their ids."""
        running = [
            op
            for op in self.projector.view.operations.values()
            if op.status is OperationStatus.RUNNING and op.runner_id is not None
        ]
        if not running:
            return []
        live = {info.runner_id for info in await self.registry.list()}
        grace = timedelta(seconds=self.registry.ttl_seconds)
        now = utcnow()
        lost: list[str] = []
        for op in running:
            if op.runner_id in live or op.started_at is None or now - op.started_at < grace:
                continue
            ttl = self.registry.ttl_seconds
            await self.store.append(
                EventFactory(op.operation_id).make(
                    OperationFailed,
                    error=(
                        f"Runner {op.runner_id} lost: no heartbeat for {ttl:g}s while running "
                        f"this operation (attempt {op.attempt})"
                    ),
                    error_code=RUNNER_LOST,
                    runner_id=op.runner_id,
                )
            )
            lost.append(op.operation_id)
        self.failed_total += len(lost)
        return lost

    async def run(self) -> None:
        while True:
            try:
                lost = await self.check_once()
                if lost:
                    log.warning("failed %d operation(s) whose runner was lost: %s", len(lost), lost)
            except asyncio.CancelledError:
                raise
            except Exception:  # keep watching; a NATS hiccup must not end the monitor
                log.exception("lease check failed")
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="trainjet-lease-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
