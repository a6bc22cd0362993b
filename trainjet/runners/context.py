"""What one operation's work sees: its inputs, a way to emit events, and its cancel signal."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, TypeVar

from trainjet.core.cancellation import CancellationToken
from trainjet.core.events import AnyEvent, Event, EventFactory
from trainjet.core.projections import OperationInfo
from trainjet.runners.outbox import EventOutbox

E = TypeVar("E", bound=Event)


@dataclass
class OperationContext:
    operation: OperationInfo
    inputs: dict[str, Any]
    history: list[AnyEvent]
    outbox: EventOutbox
    token: CancellationToken
    runner_id: str
    pool: str
    attempt: int
    session_id: str | None = None
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    # Filled by the work when it is cancelled or fails part-way (kept in the terminal event).
    partial_result: dict[str, Any] | None = None
    # Per-runner resources an executor may use (settings, model storage, ...).
    resources: dict[str, Any] = field(default_factory=dict)

    @property
    def operation_id(self) -> str:
        return self.operation.operation_id

    def make(self, event_type: type[E], **fields: Any) -> E:
        return EventFactory(self.operation_id).make(event_type, **fields)

    def emit(self, event_type: type[E], **fields: Any) -> E:
        """Build and queue an event of this operation; never blocks (any thread)."""
        event = self.make(event_type, **fields)
        self.outbox.emit(event)
        return event

    async def sleep_or_cancel(self, seconds: float) -> bool:
        """Sleep, waking early on cancellation. True when cancelled."""
        if self.cancelled.is_set():
            return True
        try:
            await asyncio.wait_for(self.cancelled.wait(), seconds)
        except TimeoutError:
            return False
        return True
