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
here, and append under the precondition that this history has not moved (`core.fate`), so
several monitors (several API replicas) and the runners themselves can all detect a loss and
still the log holds one `runner_lost` per attempt and one terminal event per operation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from trainjet.core.errors import StoreUnavailable
from trainjet.core.events import (
    AnyEvent,
    Event,
    EventFactory,
    OperationFailed,
    OperationStarted,
    OperationStatus,
    RunnerLost,
    utcnow,
)
from trainjet.core.fate import History, decide
from trainjet.core.projections.projector import Projector
from trainjet.core.store.port import EventStore, RunnerInfo, RunnerRegistry

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


def _after(when: datetime | None, moment: datetime) -> bool:
    """`when` is later than `moment`; False for a time that cannot be compared (a naive one
    from a foreign writer: `_check` then decides, and logs what it cannot)."""
    try:
        return when is not None and when > moment
    except TypeError:
        return False


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
        self.skipped_total = 0  # operations a pass could not check (logged)
        self._task: asyncio.Task[None] | None = None

    async def check_once(self) -> list[str]:
        """Hand over or fail every running operation whose runner is gone; return the ids
        of those failed (ended here). An operation that cannot be checked (a history that
        does not fold, an id the store refuses, anything raising) is logged and skipped: one
        bad operation must never keep the monitor from ending the others."""
        running = [
            op
            for op in self.projector.query.operations()
            if op.status is OperationStatus.RUNNING and op.runner_id is not None
        ]
        if not running:
            return []
        live = {info.runner_id: info for info in await self.registry.list()}
        # A set per runner: a runner lists thousands of operations, and a pass asks about
        # each of them.
        listed = {rid: set(info.current_operations) for rid, info in live.items()}
        recent = utcnow() - timedelta(seconds=self.registry.ttl_seconds)
        failed: list[str] = []
        for op in running:
            if op.operation_id in listed.get(op.runner_id or "", ()):
                continue
            if _after(op.started_at, recent):
                # Started (its first attempt, so any later one too) less than a TTL ago: its
                # runner may not have heartbeaten since, and `_check` would decide nothing.
                # Reading the history to find that out cost the server a read per operation
                # started, thousands at once.
                continue
            try:
                if await self._check(op.operation_id, live):
                    failed.append(op.operation_id)
            except asyncio.CancelledError:
                raise
            except StoreUnavailable:
                raise  # the whole pass is moot; the next one retries
            except Exception:
                self.skipped_total += 1
                log.exception("lease check of operation %r failed; skipping it", op.operation_id)
        self.failed_total += len(failed)
        return failed

    async def _check(self, operation_id: str, live: dict[str, RunnerInfo]) -> bool:
        """Decide on the operation's own latest history, never on the projection (which may
        be stale: an API paused for a while still lists as running what completed since),
        and append under the precondition that the history has not moved."""
        ttl = self.registry.ttl_seconds
        now = utcnow()

        def decision(history: History) -> Event | None:
            op = history.info
            if op is None or op.status is not OperationStatus.RUNNING or op.runner_id is None:
                return None  # ended (or handed over and not resumed yet) since the view said
            runner = live.get(op.runner_id)
            if runner is not None and operation_id in runner.current_operations:
                return None
            started = attempt_started_at(history.events, op.attempt) or op.started_at
            if started is None or now - started < timedelta(seconds=ttl):
                return None  # the runner may not have heartbeaten since it took the operation
            gone = (
                "no heartbeat" if op.runner_id not in live else "its heartbeat no longer lists it"
            )
            pool_alive = any(
                info.pool == op.pool and info.state != "stopping" for info in live.values()
            )
            if pool_alive:
                if loss_recorded(history.events, op.attempt) is not None:
                    return None  # handed over: the command comes back to a live runner
                return runner_lost_event(
                    operation_id,
                    op.runner_id,
                    op.attempt,
                    f"{gone} for {ttl:g}s while running this operation",
                    MONITOR,
                )
            return EventFactory(operation_id).make(
                OperationFailed,
                error=(
                    f"Runner {op.runner_id} lost: {gone} for {ttl:g}s while running this "
                    f"operation (attempt {op.attempt}); no live runner of pool '{op.pool}' "
                    "to resume it"
                ),
                error_code=RUNNER_LOST,
                runner_id=op.runner_id,
            )

        # The newest start, hand-over and terminal event decide: the latest of each type.
        outcome = await decide(self.store, operation_id, decision, latest=True)
        if isinstance(outcome.event, RunnerLost):
            self.handed_over_total += 1
            log.warning(
                "runner %s lost; %s goes to another runner of its pool",
                outcome.event.runner_id,
                operation_id,
            )
        return isinstance(outcome.event, OperationFailed)

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
