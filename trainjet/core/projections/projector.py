# size: one fold with its positioning, waiting and snapshots, which share the applied sequence
"""The projector: folds the event stream into the read models, positioned and awaitable.

- Positioned: it keeps the last stream sequence applied and skips anything at or below it,
  so re-delivery never double-counts.
- Awaitable: `wait_until(seq)` gives read-your-writes to the API (append, then wait for the
  projector to catch up before answering).
- Honest: a malformed message is recorded in `rejected` and skipped; a failure of the
  background task is kept in `error` and surfaced by /health instead of being swallowed.
- Restartable in O(tail): with a `SnapshotStore`, start-up loads the newest valid snapshot of
  the view and folds only the events after it; the view is snapshotted again every
  `snapshot_seconds` (when at least `snapshot_min_events` were applied since) and at stop.
- Suspicious: an event is applied only if it can be trusted to mean what it says (see
  `OperationsView.apply`); anything else is recorded with its reason and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

import msgspec

from trainjet.core.events import (
    ALL_EVENTS_FILTER,
    AnyEvent,
    ModelPromoted,
    OperationCreated,
    OperationStatus,
    OperationType,
    is_valid_operation_id,
)
from trainjet.core.events.subjects import EVENTS_PREFIX, operation_id_of
from trainjet.core.projections.metrics import evolve_metrics
from trainjet.core.projections.models import OperationInfo, OperationMetrics
from trainjet.core.projections.operations import changes_of, create
from trainjet.core.projections.promotions import Promotion, evolve_promotions
from trainjet.core.projections.query import ReadModel
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
from trainjet.core.projections.snapshot import SnapshotStore
from trainjet.core.store.port import EventStore, Record, RejectedMessage, StoredEvent

log = logging.getLogger(__name__)

Listener = Callable[[OperationInfo, AnyEvent], None]


__all__ = ["OperationsView", "Projector", "RejectedRecord"]


class ViewState(msgspec.Struct, kw_only=True):
    """Everything an `OperationsView` holds, as one value (what a snapshot stores). Derived
    indexes (`counts`) are rebuilt on restore rather than stored."""

    operations: dict[str, OperationInfo]
    metrics: dict[str, OperationMetrics]
    last_seq: int
    applied: int
    rejected_counts: dict[str, int]
    rejected_latest: list[RejectedRecord]
    orphans: int
    promotions: dict[str, Promotion]
    # running operations: subject prefix and the event ids applied (duplicate refusal)
    live: dict[str, tuple[str, list[str]]]


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
        # model name -> the version `predict` serves (model_promoted events)
        self.promotions: Mapping[str, Promotion] = {}

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
                if isinstance(event, ModelPromoted):
                    # a model may outlive the log of the run that made it (retention): the
                    # promotion still decides what predict serves, though no run shows it
                    self.promotions = evolve_promotions(self.promotions, event) or {}
                    self.applied += 1
                    return None
                if not isinstance(event, OperationCreated):
                    self.orphans += 1
                    return self._refuse_event(record, ORPHAN, "no operation_created before it")
                self._live[op_id] = (prefix, {event.event_id})
        promotions = evolve_promotions(self.promotions, event)
        if promotions is not None:
            self.promotions = promotions
        if current is None:
            if not isinstance(event, OperationCreated):  # unreachable after the checks above
                return None
            new = msgspec.structs.replace(create(event), last_sequence=record.seq, event_count=1)
        else:
            changes = changes_of(current, event)
            if changes is None:
                new = current
            else:
                # one new OperationInfo per event: the fold's changes and the position at once
                new = msgspec.structs.replace(
                    current,
                    **changes,
                    last_sequence=record.seq,
                    event_count=current.event_count + 1,
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

    def state(self) -> ViewState:
        """The view as one value. Shallow copies: the read models are frozen, only the
        containers change, so the copy can be encoded on another thread."""
        return ViewState(
            operations=dict(self.operations),
            metrics=dict(self.metrics),
            last_seq=self.last_seq,
            applied=self.applied,
            rejected_counts=dict(self.rejected.counts),
            rejected_latest=list(self.rejected.latest),
            orphans=self.orphans,
            promotions=dict(self.promotions),
            live={op_id: (prefix, sorted(seen)) for op_id, (prefix, seen) in self._live.items()},
        )

    @classmethod
    def from_state(cls, state: ViewState) -> OperationsView:
        view = cls()
        view.operations, view.metrics = dict(state.operations), dict(state.metrics)
        view.last_seq, view.applied = state.last_seq, state.applied
        view.rejected = Rejections.restore(state.rejected_counts, state.rejected_latest)
        view.orphans = state.orphans
        view.promotions = dict(state.promotions)
        view._live = {op_id: (prefix, set(seen)) for op_id, (prefix, seen) in state.live.items()}
        view.counts = Counter((op.status, op.operation_type) for op in view.operations.values())
        return view


class Projector:
    """Runs an `OperationsView` against a store: catch up, then follow live."""

    def __init__(
        self,
        store: EventStore,
        view: OperationsView | None = None,
        *,
        snapshots: SnapshotStore | None = None,
        snapshot_seconds: float = 60.0,
        snapshot_min_events: int = 10_000,
    ) -> None:
        self.store = store
        self.view = view or OperationsView()
        # what readers use; the view itself is this projector's to replace (snapshots)
        self.query = ReadModel(lambda: self.view)
        self.error: BaseException | None = None
        self.caught_up = asyncio.Event()
        self.started_at: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._progress = asyncio.Condition()
        self._listeners: list[Listener] = []
        self.snapshots = snapshots
        self.snapshot_seconds = snapshot_seconds
        self.snapshot_min_events = snapshot_min_events
        self.snapshot_seq = 0  # the sequence the newest snapshot (loaded or saved) covers
        self.loaded_snapshot_seq = 0  # the snapshot start-up began from (0: none)
        self.tail_folded = 0  # records folded at start-up after the snapshot
        self._snapshot_task: asyncio.Task[None] | None = None

    def add_listener(self, listener: Listener) -> None:
        """Called after each applied event (used by SSE streams and cancel waiters)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    async def start(self) -> None:
        """Rebuild (from the newest valid snapshot and the tail after it, else from the whole
        stream), then follow the stream live in the background."""
        target = await self.store.last_sequence()
        if self.snapshots is not None and self.view.last_seq == 0:
            state = await self.snapshots.load(ViewState, stream_last_seq=target)
            if state is not None:
                self.view = OperationsView.from_state(state)
                self.snapshot_seq = self.loaded_snapshot_seq = state.last_seq
        folded = 0
        async for record in self.store.read_all(from_seq=self.view.last_seq + 1):
            self.view.apply(record)
            folded += 1
        self.tail_folded = folded
        log.info(
            "projector rebuilt %s operations up to seq %s (target %s; %s records folded)",
            len(self.view.operations),
            self.view.last_seq,
            target,
            folded,
        )
        self.caught_up.set()
        self._task = asyncio.create_task(self._follow(), name="trainjet-projector")
        if self.snapshots is not None and self.snapshot_seconds > 0:
            self._snapshot_task = asyncio.create_task(
                self._snapshot_loop(), name="trainjet-projector-snapshots"
            )

    async def stop(self) -> None:
        """Stop following; with snapshots, save one of what was folded (a clean shutdown
        restarts from here)."""
        for task in (self._snapshot_task, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._snapshot_task = self._task = None
        if self.snapshots is not None and self.caught_up.is_set():
            try:
                await self.save_snapshot()
            except Exception:  # shutting down: the next start folds the longer tail
                log.exception("could not save the projection snapshot at stop")

    async def save_snapshot(self) -> int | None:
        """Snapshot the view now if it moved since the last one; the sequence it covers."""
        if self.snapshots is None or self.view.last_seq <= self.snapshot_seq:
            return None
        state = self.view.state()  # on the loop: a consistent copy of the containers
        size = await self.snapshots.save(state, state.last_seq)
        self.snapshot_seq = state.last_seq
        log.info("saved projection snapshot at seq %s (%s bytes)", state.last_seq, size)
        return state.last_seq

    async def _snapshot_loop(self) -> None:
        while True:
            await asyncio.sleep(self.snapshot_seconds)
            if self.view.last_seq - self.snapshot_seq < self.snapshot_min_events:
                continue
            try:
                await self.save_snapshot()
            except Exception:  # the log is the truth: a missed snapshot only costs start-up
                log.exception("could not save the projection snapshot")

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
