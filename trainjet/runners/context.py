"""What one operation's work sees: its inputs, a way to emit events, its cancel signal, and
where its checkpoints go (and the one it resumes from)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from trainjet.core.cancellation import CancelCause, CancellationToken
from trainjet.core.events import AnyEvent, Event, EventFactory, OperationInputs
from trainjet.core.projections import OperationInfo
from trainjet.core.store.blobs import Blob, BlobStore
from trainjet.runners.outbox import EventOutbox

E = TypeVar("E", bound=Event)


@dataclass
class OperationContext:
    operation: OperationInfo
    inputs: OperationInputs | None
    history: list[AnyEvent]
    outbox: EventOutbox
    token: CancellationToken
    runner_id: str
    pool: str
    attempt: int
    session_id: str | None = None
    # Filled by the work when it is cancelled or fails part-way (kept in the terminal event).
    partial_result: dict[str, Any] | None = None
    # Per-runner resources an executor may use (settings, the models bucket, ...).
    resources: dict[str, Any] = field(default_factory=dict)
    # Where this operation's checkpoints go (None: not kept; a lost run restarts from scratch).
    checkpoints: BlobStore | None = None
    # The checkpoint this attempt resumes from (attempt > 1), with its `epoch` in `meta`.
    resume: Blob | None = None
    # Set when this runner lost the operation to another: it must write nothing more for it.
    fenced: bool = False

    @property
    def operation_id(self) -> str:
        return self.operation.operation_id

    def make(self, event_type: type[E], **fields: Any) -> E:
        return EventFactory(self.operation_id).make(event_type, **fields)

    def emit(self, event_type: type[E], **fields: Any) -> E:
        """Build and queue an event of this operation; never blocks (any thread). Once the
        operation is fenced (handed over to another runner) the event is dropped."""
        event = self.make(event_type, **fields)
        if not self.fenced:
            self.outbox.emit(event)
        return event

    def emit_many(self, events: Sequence[Event]) -> None:
        """Queue events built with `make`, in order, in one hand-over (one wake of the loop);
        dropped once the operation is fenced."""
        if not self.fenced:
            self.outbox.emit_many(events)

    @property
    def resumed_from_epoch(self) -> int | None:
        raw = self.resume.meta.get("epoch") if self.resume is not None else None
        return int(raw) if raw is not None and raw.isdigit() else None

    def fence(self, reason: str) -> None:
        """This runner no longer owns the operation: stop the work, write nothing more."""
        self.fenced = True
        self.token.cancel(reason, CancelCause.LOST_LEASE)

    async def sleep_or_cancel(self, seconds: float) -> bool:
        """Sleep, waking early on cancellation. True when cancelled."""
        return await self.token.sleep_or_cancel(seconds)
