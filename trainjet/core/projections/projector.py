"""The projector: folds the event stream into the read models, positioned and awaitable.

- Positioned: it keeps the last stream sequence applied and skips anything at or below it,
  so re-delivery never double-counts.
- Awaitable: `wait_until(seq)` gives read-your-writes to the API (append, then wait for the
  projector to catch up before answering).
- Honest: a malformed message is recorded in `rejected` and skipped; a failure of the
  background task is kept in `error` and surfaced by /health instead of being swallowed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

import msgspec

from trainjet.core.events import ALL_EVENTS_FILTER, AnyEvent, OperationStatus, OperationType
from trainjet.core.projections.metrics import evolve_metrics
from trainjet.core.projections.models import OperationInfo, OperationMetrics
from trainjet.core.projections.operations import evolve
from trainjet.core.projections.promotions import Promotion, evolve_promotions
from trainjet.core.store.port import EventStore, Record, RejectedMessage

log = logging.getLogger(__name__)

Listener = Callable[[OperationInfo, AnyEvent], None]


class RejectedRecord(msgspec.Struct, frozen=True):
    seq: int
    subject: str
    error: str


class OperationsView:
    """The in-memory read models: pure state plus the position they reflect."""

    def __init__(self) -> None:
        self.operations: dict[str, OperationInfo] = {}
        self.metrics: dict[str, OperationMetrics] = {}
        self.last_seq = 0
        self.applied = 0
        self.rejected: list[RejectedRecord] = []
        self.orphans = 0  # events of operations never created (recorded, skipped)
        # operations per (status, type), kept as events apply, so a list request counts its
        # matches without scanning every operation
        self.counts: Counter[tuple[OperationStatus, OperationType]] = Counter()
        # model name -> the version `predict` serves (model_promoted events)
        self.promotions: Mapping[str, Promotion] = {}

    def apply(self, record: Record) -> tuple[OperationInfo, AnyEvent] | None:
        if record.seq <= self.last_seq:
            return None
        self.last_seq = record.seq
        if isinstance(record, RejectedMessage):
            self.rejected.append(RejectedRecord(record.seq, record.subject, record.error))
            log.warning(
                "skipped malformed message seq=%s on %s: %s",
                record.seq,
                record.subject,
                record.error,
            )
            return None
        event = record.event
        promotions = evolve_promotions(self.promotions, event)
        if promotions is not None:
            # before the orphan check: a model may outlive the log of the run that made it
            self.promotions = promotions
        op_id = event.operation_id
        current = self.operations.get(op_id)
        new = evolve(current, event)
        if new is None:
            self.orphans += 1
            return None
        if new is not current:
            new = msgspec.structs.replace(
                new, last_sequence=record.seq, event_count=new.event_count + 1
            )
            if current is None or current.status is not new.status:
                if current is not None:
                    self.counts[(current.status, current.operation_type)] -= 1
                self.counts[(new.status, new.operation_type)] += 1
        self.operations[op_id] = new
        metrics = evolve_metrics(self.metrics.get(op_id), event)
        if metrics is not None:
            self.metrics[op_id] = metrics
        self.applied += 1
        return new, event

    def apply_all(self, records: Iterable[Record]) -> None:
        for record in records:
            self.apply(record)


class Projector:
    """Runs an `OperationsView` against a store: catch up, then follow live."""

    def __init__(self, store: EventStore, view: OperationsView | None = None) -> None:
        self.store = store
        self.view = view or OperationsView()
        self.error: BaseException | None = None
        self.caught_up = asyncio.Event()
        self.started_at: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._progress = asyncio.Condition()
        self._listeners: list[Listener] = []

    def add_listener(self, listener: Listener) -> None:
        """Called after each applied event (used by SSE streams and cancel waiters)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    async def start(self) -> None:
        """Rebuild from the whole stream, then follow it live in the background."""
        target = await self.store.last_sequence()
        async for record in self.store.read_all(from_seq=self.view.last_seq + 1):
            self.view.apply(record)
        self.view.last_seq = max(self.view.last_seq, 0)
        log.info(
            "projector rebuilt %s operations up to seq %s (target %s)",
            len(self.view.operations),
            self.view.last_seq,
            target,
        )
        self.caught_up.set()
        self._task = asyncio.create_task(self._follow(), name="trainjet-projector")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _follow(self) -> None:
        try:
            async for record in self.store.subscribe(
                ALL_EVENTS_FILTER, from_seq=self.view.last_seq + 1
            ):
                applied = self.view.apply(record)
                if applied is not None:
                    for listener in list(self._listeners):
                        try:
                            listener(*applied)
                        except Exception:  # a listener must never stop the projection
                            log.exception("projection listener failed")
                async with self._progress:
                    self._progress.notify_all()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self.error = exc
            log.exception("projector stopped")
            async with self._progress:
                self._progress.notify_all()
            raise

    async def wait_until(self, seq: int, timeout: float = 10.0) -> None:
        """Return once the view reflects stream sequence `seq` (read-your-writes)."""

        async def _wait() -> None:
            async with self._progress:
                while self.view.last_seq < seq:
                    if self.error is not None:
                        raise RuntimeError(f"projector failed: {self.error!r}") from self.error
                    await self._progress.wait()

        if self.view.last_seq >= seq:
            return
        await asyncio.wait_for(_wait(), timeout)

    async def lag(self) -> int:
        """Events stored but not yet applied."""
        return max(0, await self.store.last_sequence() - self.view.last_seq)
