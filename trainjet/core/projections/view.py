# size: the fold, its checks and the replay's batched path side by side (they must agree)
"""The operations view: the fold of the event stream into the read models, one record at a time.

- Positioned: it keeps the last stream sequence applied and skips anything at or below it,
  so re-delivery never double-counts.
- Honest: a malformed message is recorded in `rejected` and skipped.
- Suspicious: an event is applied only if it can be trusted to mean what it says (see
  `OperationsView.apply`); anything else is recorded with its reason and skipped.
- Snapshottable: `state()` is the whole view as one value (`ViewState`), `from_state` its
  inverse, so a restart folds only the tail after a snapshot.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping

import msgspec

from trainjet.core.events import (
    AnyEvent,
    BatchProgress,
    ModelPromoted,
    OperationCreated,
    OperationStatus,
    OperationType,
    is_valid_operation_id,
)
from trainjet.core.events.subjects import EVENTS_PREFIX, operation_id_of
from trainjet.core.projections.metrics import batches_recorded_after, evolve_metrics
from trainjet.core.projections.models import OperationInfo, OperationMetrics
from trainjet.core.projections.operations import changes_of, create
from trainjet.core.projections.promotions import Promotion, evolve_promotions
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
from trainjet.core.store.port import Record, RejectedMessage, StoredEvent

log = logging.getLogger(__name__)

__all__ = ["OperationsView", "RejectedRecord", "ViewState"]


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


class _Run:
    """Batch-progress events of one running operation that `apply_all` has applied but not
    yet written to its read models."""

    __slots__ = ("count", "event", "metrics", "recorded", "seq")

    def __init__(self, metrics: OperationMetrics | None) -> None:
        self.metrics = metrics  # as before the run
        self.recorded = 0 if metrics is None else metrics.batches_recorded
        self.event: BatchProgress | None = None
        self.seq = 0
        self.count = 0


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
        if isinstance(event, ModelPromoted):
            self.promotions = evolve_promotions(self.promotions, event) or self.promotions
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

    def apply_all(self, records: Iterable[Record]) -> int:
        """`apply` each record, in order, leaving the view exactly as that would; what a
        replay calls with each batch it reads. Returns how many records there were.

        Faster on the bulk of a log: a run of batch-progress events (with batches) of a
        running operation is only checked and counted as it goes; its read models are written
        once, when another event of that operation comes or the list ends. The last event of
        such a run decides the progress (the ones before it only move the position, the
        event count and the metrics' batch count), so the result is the same.
        """
        runs: dict[str, _Run] = {}
        live_of = self._live.get
        count = 0
        try:
            for count, record in enumerate(records, 1):  # noqa: B007 (returned)
                if type(record) is StoredEvent:
                    event = record.event
                    op_id = event.operation_id
                    if (
                        type(event) is BatchProgress
                        and event.batches
                        and record.seq > self.last_seq
                    ):
                        live = live_of(op_id)
                        # apply's checks for a running operation; a record failing one takes
                        # the normal path below, which refuses it
                        if (
                            live is not None
                            and record.subject.startswith(live[0])
                            and event.occurred_at.tzinfo is not None
                            and event.event_id not in live[1]
                        ):
                            live[1].add(event.event_id)
                            self.last_seq = record.seq
                            self.applied += 1
                            run = runs.get(op_id)
                            if run is None:
                                run = runs[op_id] = _Run(self.metrics.get(op_id))
                            run.event, run.seq = event, record.seq
                            run.count += 1
                            run.recorded = batches_recorded_after(run.recorded, event)
                            continue
                    run = runs.pop(op_id, None)
                    if run is not None:
                        self._close_run(op_id, run)
                self.apply(record)
        finally:
            for op_id, run in runs.items():
                self._close_run(op_id, run)
        return count

    def _close_run(self, op_id: str, run: _Run) -> None:
        """Write the read models a run of batch events left (as `apply` would have, event by
        event)."""
        assert run.event is not None  # a run starts with its first event
        current = self.operations[op_id]
        changes = changes_of(current, run.event)
        if changes is not None:  # always, for a running operation
            self.operations[op_id] = msgspec.structs.replace(
                current,
                **changes,
                last_sequence=run.seq,
                event_count=current.event_count + run.count,
            )
        if run.metrics is not None:
            self.metrics[op_id] = msgspec.structs.replace(
                run.metrics, batches_recorded=run.recorded, total_epochs=run.event.total_epochs
            )

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
