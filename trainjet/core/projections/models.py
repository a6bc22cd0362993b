"""Read models served by the API, in ktrdr's S1 shapes (OperationInfo, OperationProgress).

msgspec Structs rather than pydantic: the projector folds every event of the stream into
these, and the API encodes them straight to JSON, both on hot paths.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from trainjet.core.events import OperationStatus, OperationType


class OperationProgress(msgspec.Struct, frozen=True, kw_only=True):
    percentage: float = 0.0
    current_step: str | None = None
    steps_completed: int = 0
    steps_total: int = 0
    items_processed: int = 0
    items_total: int | None = None
    current_item: str | None = None
    context: dict[str, Any] = msgspec.field(default_factory=dict)


class OperationMetadata(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str | None = None
    timeframe: str | None = None
    mode: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    parameters: dict[str, Any] = msgspec.field(default_factory=dict)


class OperationNote(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    at: datetime
    by: str = "api"


class OperationInfo(msgspec.Struct, frozen=True, kw_only=True):
    operation_id: str
    operation_type: OperationType
    status: OperationStatus
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    progress: OperationProgress = msgspec.field(default_factory=OperationProgress)
    metadata: OperationMetadata = msgspec.field(default_factory=OperationMetadata)
    error_message: str | None = None
    warnings: list[str] = msgspec.field(default_factory=list)
    errors: list[str] = msgspec.field(default_factory=list)
    result_summary: dict[str, Any] | None = None
    # trainjet additions (new fields only, so ktrdr clients keep working)
    pool: str = "local"
    runner_id: str | None = None
    attempt: int = 0
    cancel_requested_at: datetime | None = None
    cancellation_reason: str | None = None
    retry_of: str | None = None
    last_sequence: int = 0
    event_count: int = 0
    # labels and notes people add, also after the run ended (operation_tagged, note_added)
    tags: list[str] = msgspec.field(default_factory=list)
    notes: list[OperationNote] = msgspec.field(default_factory=list)

    def duration_seconds(self, now: datetime) -> float | None:
        if self.started_at is None:
            return None
        return ((self.completed_at or now) - self.started_at).total_seconds()


class EpochRecord(msgspec.Struct, frozen=True, kw_only=True):
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None = None
    val_accuracy: float | None = None
    learning_rate: float | None = None
    duration_seconds: float = 0.0
    timestamp: datetime | None = None


class OperationMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """Per-epoch history of one operation (the `/operations/{id}/metrics` view)."""

    operation_id: str
    epochs: tuple[EpochRecord, ...] = ()
    total_epochs: int = 0
    batches_recorded: int = 0
