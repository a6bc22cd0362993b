"""Lease monitor: no operation stays `running` after its runner is gone.

Runners heartbeat into the `RunnerRegistry`, whose entries expire after `ttl_seconds`, listing
the operations they run. Every `interval` the monitor looks at running operations. One whose
runner has no live entry, or whose runner's entry no longer lists it (the runner fenced itself
after losing contact), and whose current attempt started more than a TTL ago (so a fresh
runner's first heartbeat is not raced) has lost its runner:

* if a live runner of the operation's pool exists, the monitor appends `runner_lost` (not
  terminal): the start command, no longer renewed, is redelivered when its lease runs out and
  the runner that takes it resumes the operation from its latest checkpoint;
* otherwise, or if every runner of the pool is gone by a later check while the operation waits
  to be resumed, it appends `operation_failed` (code `runner_lost`) naming the lost runner.

Decisions read the operation's own history (only for the few candidates), never state kept
here, so several monitors (several API replicas) and the runners themselves can all detect a
loss: `runner_lost` has a deterministic event id per attempt, which JetStream deduplicates, and
the first terminal event wins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from trainjet.core.events import (
    AnyEvent,
    EventFactory,
    OperationFailed,
    OperationStarted,
    OperationStatus,
    RunnerLost,
    utcnow,
)
from trainjet.core.projections import OperationInfo
from trainjet.core.projections.projector import Projector
from trainjet.core.store.port import EventStore, RunnerInfo, RunnerRegistry, StoredEvent

log = logging.getLogger(__name__)

RUNNER_LOST = "runner_lost"
MONITOR = "lease-monitor"


def runner_lost_event(
    operation_id: str, runner_id: str, attempt: int, reason: str, detected_by: str
) -> RunnerLost:
    """The hand-over event of one attempt. Its id depends only on the operation and attempt,
    so every detector (monitors, the runner taking the redelivered command) writes one event."""
    return RunnerLost(
        event_id=f"runner-lost-{operation_id}-{attempt}",
        operation_id=operation_id,
        occurred_at=utcnow(),
        runner_id=runner_id,
        attempt=attempt,
        reason=reason,
        detected_by=detected_by,
    )


def loss_recorded(history: Sequence[AnyEvent], attempt: int) -> RunnerLost | None:
    """The `runner_lost` of `attempt` in an operation's history, if one was written."""
    for event in reversed(history):
        if isinstance(event, RunnerLost) and event.attempt == attempt:
            return event
    return None


def attempt_started_at(history: Sequence[AnyEvent], attempt: int) -> datetime | None:
    for event in reversed(history):
        if isinstance(event, OperationStarted) and event.attempt == attempt:
            return event.occurred_at
    return None


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
        self.handed_over_total = 0
        self._task: asyncio.Task[None] | None = None

    async def check_once(self) -> list[str]:
        """Hand over or fail every running operation whose runner is gone; return the ids
        of those failed (ended here)."""
        running = [
            op
            for op in self.projector.view.operations.values()
            if op.status is OperationStatus.RUNNING and op.runner_id is not None
        ]
        if not running:
            return []
        live = {info.runner_id: info for info in await self.registry.list()}
        failed: list[str] = []
        for op in running:
            runner = live.get(op.runner_id or "")
            if runner is not None and op.operation_id in runner.current_operations:
                continue
            if await self._check(op, live):
                failed.append(op.operation_id)
        self.failed_total += len(failed)
        return failed

    async def _check(self, op: OperationInfo, live: dict[str, RunnerInfo]) -> bool:
        records = await self.store.read_operation(op.operation_id)
        history = [r.event for r in records if isinstance(r, StoredEvent)]
        ttl = self.registry.ttl_seconds
        started = attempt_started_at(history, op.attempt) or op.started_at
        if started is None or utcnow() - started < timedelta(seconds=ttl):
            return False  # the runner may not have heartbeaten since it took the operation
        gone = "no heartbeat" if op.runner_id not in live else "its heartbeat no longer lists it"
        pool_alive = any(info.pool == op.pool for info in live.values())
        lost = loss_recorded(history, op.attempt)
        if lost is None and pool_alive:
            await self.store.append(
                runner_lost_event(
                    op.operation_id,
                    op.runner_id or "",
                    op.attempt,
                    f"{gone} for {ttl:g}s while running this operation",
                    MONITOR,
                )
            )
            self.handed_over_total += 1
            log.warning(
                "runner %s lost; %s goes to another runner of pool %s",
                op.runner_id,
                op.operation_id,
                op.pool,
            )
            return False
        if pool_alive:
            return False  # handed over: the command comes back to a live runner of the pool
        await self.store.append(
            EventFactory(op.operation_id).make(
                OperationFailed,
                error=(
                    f"Runner {op.runner_id} lost: {gone} for {ttl:g}s while running this "
                    f"operation (attempt {op.attempt}); no live runner of pool '{op.pool}' "
                    "to resume it"
                ),
                error_code=RUNNER_LOST,
                runner_id=op.runner_id,
            )
        )
        return True

    async def run(self) -> None:
        while True:
            try:
                failed = await self.check_once()
                if failed:
                    log.warning(
                        "failed %d operation(s) whose runner was lost: %s", len(failed), failed
                    )
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
