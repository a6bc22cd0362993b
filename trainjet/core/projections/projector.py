"""The projector: folds the event stream into the read models, positioned and awaitable.

- Positioned: it keeps the last stream sequence applied and skips anything at or below it,
  so re-delivery never double-counts.
- Awaitable: `wait_until(seq)` gives read-your-writes to the API (append, then wait for the
  projector to catch up before answering).
- Honest: a malformed message is recorded in `rejected` and skipped; a failure of the
  background task is kept in `error` and surfaced by /health instead of being swallowed.
- Suspicious: an event is applied only if it can be trusted to mean what it says (see
  `OperationsView.apply`); anything else is recorded with its reason and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime

import msgspec

from trainjet.core.events import (
    ALL_EVENTS_FILTER,
    AnyEvent,
    OperationCreated,
    OperationStatus,
    OperationType,
    is_valid_operation_id,
)
from trainjet.core.events.subjects import EVENTS_PREFIX, operation_id_of
from trainjet.core.projections.metrics import evolve_metrics
from trainjet.core.projections.models import OperationInfo, OperationMetrics
from trainjet.core.projections.operations import evolve
from trainjet.core.projections.rejections import (
    DUPLICATE_EVENT_ID,
    INVALID_OPERATION_ID,
    MALFORMED,
    NAIVE_TIMESTAMP,
    ORPHAN,
    SUBJECT_MISMATCH,
    RejectedRecord,
    Rejections,
)
from trainjet.core.store.port import EventStore, Record, RejectedMessage, StoredEvent

log = logging.getLogger(__name__)

Listener = Callable[[OperationInfo, AnyEvent], None]


__all__ = ["OperationsView", "Projector", "RejectedRecord"]


class OperationsView:
    """The in-memory read models: pure state plus the position they reflect."""

    def __init__(self) -> None:
        self.operations: dict[str, OperationInfo] = {}
        self.metrics: dict[str, OperationMetrics] = {}
        self.last_seq = 0
        self.applied = 0
        self.rejected = Rejections()
        self.orphans = 0  # events of operations never created (recorded, skipped)
        # per operation still running: its subject prefix and the event ids applied, to
        # refuse a duplicate published without a Nats-Msg-Id (the store's de-duplication
        # never saw it). Dropped when the operation ends: after its terminal event nothing
        # changes it any more, so memory grows with live operations, not with the log.
        self._live: dict[str, tuple[str, set[str]]] = {}
        # operations per (status, type), kept as events apply, so a list request counts its
        # matches without scanning every operation
        self.counts: Counter[tuple[OperationStatus, OperationType]] = Counter()

    def apply(self, record: Record) -> tuple[OperationInfo, AnyEvent] | None:
        if record.seq <= self.last_seq:
            return None
        self.last_seq = record.seq
        if isinstance(record, RejectedMessage):
            self._refuse(record.seq, record.subject, MALFORMED, record.error)
            return None
        event = record.event
        op_id = event.operation_id
        current = self.operations.get(op_id)
        live = self._live.get(op_id)
        if live is not None:
            # The hot path (an operation still running): its id was checked when it was
            # created and its subject prefix is kept, so this costs a prefix compare, an
            # attribute test and one set lookup.
            prefix, seen = live
            if not record.subject.startswith(prefix):
                return self._mismatch(record)
            if event.occurred_at.tzinfo is None:
                return self._refuse_event(record, NAIVE_TIMESTAMP, "occurred_at has no time zone")
            if event.event_id in seen:
                return self._refuse_event(record, DUPLICATE_EVENT_ID, "event_id already applied")
            seen.add(event.event_id)
        else:
            if current is None and not is_valid_operation_id(op_id):
                return self._refuse_event(record, INVALID_OPERATION_ID, "not a valid operation id")
            prefix = f"{EVENTS_PREFIX}.{op_id}."
            if not record.subject.startswith(prefix):
                return self._mismatch(record)
            if event.occurred_at.tzinfo is None:
                return self._refuse_event(record, NAIVE_TIMESTAMP, "occurred_at has no time zone")
            if current is None:
                if not isinstance(event, OperationCreated):
                    self.orphans += 1
                    return self._refuse_event(record, ORPHAN, "no operation_created before it")
                self._live[op_id] = (prefix, {event.event_id})
        new = evolve(current, event)
        if new is None:  # unreachable after the checks above; kept so the fold stays total
            return None
        if new is not current:
            new = msgspec.structs.replace(
                new, last_sequence=record.seq, event_count=new.event_count + 1
            )
            if current is None or current.status is not new.status:
                if current is not None:
                    self.counts[(current.status, current.operation_type)] -= 1
                self.counts[(new.status, new.operation_type)] += 1
                if new.status.is_terminal:
                    self._live.pop(op_id, None)
        self.operations[op_id] = new
        metrics = evolve_metrics(self.metrics.get(op_id), event)
        if metrics is not None:
            self.metrics[op_id] = metrics
        self.applied += 1
        return new, event

    def _refuse(
        self,
        seq: int,
        subject: str,
        reason: str,
        error: str,
        event: AnyEvent | None = None,
    ) -> None:
        rejected = self.rejected.add(
            seq,
            subject,
            reason,
            error,
            operation_id=None if event is None else event.operation_id,
            event_id=None if event is None else event.event_id,
        )
        # orphans are expected where a stream's retention has cut old history: not a warning
        level = logging.INFO if reason == ORPHAN else logging.WARNING
        log.log(
            level,
            "skipped message seq=%s on %s (%s): %s",
            seq,
            rejected.subject,
            reason,
            rejected.error,
        )

    def _mismatch(self, record: StoredEvent) -> tuple[OperationInfo, AnyEvent] | None:
        subject_id = operation_id_of(record.subject)
        return self._refuse_event(
            record, SUBJECT_MISMATCH, f"the subject is of operation {subject_id!r}"
        )

    def _refuse_event(
        self, record: StoredEvent, reason: str, error: str
    ) -> tuple[OperationInfo, AnyEvent] | None:
        """Record why `record` is not applied; returns `apply`'s "nothing applied"."""
        self._refuse(record.seq, record.subject, reason, error, record.event)
        return None

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
