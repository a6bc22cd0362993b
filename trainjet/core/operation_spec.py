"""What the orchestrator builds and waits on: one operation to create (`OperationSpec`, the
`operation_created` it becomes) and the waiter for an operation's terminal state."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msgspec

from trainjet.core.events import (
    AnyEvent,
    OperationCreated,
    OperationInputs,
    OperationType,
    new_operation_id,
    utcnow,
)
from trainjet.core.projections import OperationInfo


class OperationSpec(msgspec.Struct, kw_only=True):
    """One operation to create: what `start_managed_operation` takes, for a batch."""

    metadata: dict[str, Any] = {}
    inputs: OperationInputs | None = None
    total_steps: int = 0
    operation_id: str | None = None  # client-chosen; repeating it returns the same operation
    pool: str = "local"


def created_event(
    operation_type: OperationType, spec: OperationSpec, retry_of: str | None
) -> OperationCreated:
    op_id = spec.operation_id or new_operation_id(operation_type.value)
    return OperationCreated(
        # A deterministic id makes concurrent duplicates of one request collapse in
        # JetStream's dedup window instead of creating two operations.
        event_id=f"created-{op_id}",
        operation_id=op_id,
        occurred_at=utcnow(),
        operation_type=operation_type,
        pool=spec.pool,
        metadata=spec.metadata,
        total_steps=spec.total_steps,
        inputs=spec.inputs,
        idempotency_key=spec.operation_id,
        retry_of=retry_of,
    )


class TerminalWaiter:
    """Set when the projection shows `operation_id` in a terminal state (a projector listener)."""

    def __init__(self, operation_id: str, is_terminal: Callable[[], bool]) -> None:
        self.operation_id = operation_id
        self.is_terminal = is_terminal  # what the projection shows now
        self.event = asyncio.Event()

    async def wait(self, timeout: float) -> bool:
        """Whether the operation ended within `timeout` (it may have ended already)."""
        if self.is_terminal():
            return True
        try:
            await asyncio.wait_for(self.event.wait(), timeout)
        except TimeoutError:
            return self.is_terminal()
        return True

    def listener(self, info: OperationInfo, _event: AnyEvent) -> None:
        if info.operation_id == self.operation_id and info.status.is_terminal:
            self.event.set()
