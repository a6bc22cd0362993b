"""Minting ids and times. Writers call this; folds never do (they stay pure)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

from trainjet.core.events.model import Event

E = TypeVar("E", bound=Event)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_event_id() -> str:
    return uuid.uuid4().hex


def new_operation_id(operation_type: str, now: datetime | None = None) -> str:
    """ktrdr's id format, kept so existing clients recognise it: op_<type>_<UTC stamp>_<uuid8>."""
    stamp = (now or utcnow()).strftime("%Y%m%d_%H%M%S")
    return f"op_{operation_type}_{stamp}_{uuid.uuid4().hex[:8]}"


class EventFactory:
    """Builds events for one operation with fresh envelope fields."""

    def __init__(self, operation_id: str) -> None:
        self.operation_id = operation_id

    def make(self, event_type: type[E], **fields: Any) -> E:
        return event_type(
            event_id=new_event_id(),
            operation_id=self.operation_id,
            occurred_at=utcnow(),
            **fields,
        )
