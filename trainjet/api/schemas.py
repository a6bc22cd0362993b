"""HTTP request and response schemas (pydantic, at the boundary only).

Response models document the shapes in OpenAPI; the hot read paths encode the msgspec read
models directly (same JSON), so the models here are never in the way of a GET.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from trainjet.api.list_rows import OperationSummary
from trainjet.api.struct_models import model_of
from trainjet.core.events import OperationStatus, OperationType
from trainjet.core.events.inputs import DEFAULT_DUMMY_INTERVAL_SECONDS, DEFAULT_DUMMY_ITERATIONS
from trainjet.core.projections import EpochRecord, OperationInfo

# The training request lives with the service that turns it into the operation's inputs.
from trainjet.services.training_request import TrainingStartRequest as TrainingStartRequest


class StrictModel(BaseModel):
    """Request bodies: unknown keys refused, no coercion (`true` is not the integer 1, "5" is
    not a number), only finite numbers (NaN and Infinity reach Python's JSON parser, and an
    infinite interval would never end)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


# Ids become subject tokens: bounded.
OperationIdText = Annotated[str, Field(min_length=1, max_length=128)]


class DummyStartRequest(StrictModel):
    iterations: int = Field(
        DEFAULT_DUMMY_ITERATIONS, ge=1, le=1_000_000, description="How many iterations to run"
    )
    interval_seconds: float = Field(
        DEFAULT_DUMMY_INTERVAL_SECONDS,
        ge=0.0,
        le=3600.0,
        description="Seconds each iteration waits",
    )
    task_id: OperationIdText | None = Field(
        None, description="Client-chosen operation id; repeating it returns the same operation"
    )


# One request's worth: enough to reach hundreds of starts a second from a few clients, small
# enough that one request's appends finish well inside the client's timeout.
MAX_BATCH_STARTS = 1000


class DummyBatchStartRequest(StrictModel):
    operations: list[DummyStartRequest] = Field(
        ...,
        min_length=1,
        max_length=MAX_BATCH_STARTS,
        description="The operations to start; one bad item refuses the whole batch",
    )


class CancelOperationRequest(StrictModel):
    reason: str | None = Field(None, max_length=1000)
    force: bool = Field(
        False,
        description="End the operation as cancelled even if its runner does not confirm in time",
    )


# Generated from the msgspec read models the routes encode, so the two cannot drift.
if TYPE_CHECKING:  # mypy cannot follow a generated class: to it, they are models
    OperationInfoModel: TypeAlias = BaseModel
    EpochRecordModel: TypeAlias = BaseModel
    OperationSummaryModel: TypeAlias = BaseModel
else:
    OperationInfoModel = model_of(
        OperationInfo,
        # computed by the API at answer time (`encoding.operation_dict`), not folded
        extra={"duration_seconds": (float | None, None)},
    )
    EpochRecordModel = model_of(EpochRecord)
    # the list row the route encodes (`api.list_rows`)
    OperationSummaryModel = model_of(OperationSummary)


class OperationStatusResponse(BaseModel):
    success: bool = True
    data: OperationInfoModel


class OperationListResponse(BaseModel):
    success: bool = True
    data: list[OperationSummaryModel]
    total_count: int
    active_count: int


class CancelData(BaseModel):
    success: bool
    operation_id: str
    status: str
    cancelled_at: datetime | None = None
    cancellation_reason: str | None = None
    task_cancelled: bool
    training_session_cancelled: bool
    confirmed: bool
    cancel_latency_ms: float


class OperationCancelResponse(BaseModel):
    success: bool = True
    data: CancelData


class DummyStartData(BaseModel):
    operation_id: str
    status: str = "started"
    message: str = "Started dummy_task operation"


class DummyOperationResponse(BaseModel):
    success: bool = True
    data: DummyStartData | None = None
    error: dict[str, Any] | None = None


class DummyBatchStartData(BaseModel):
    operations: list[DummyStartData]
    created: int = Field(description="How many were created (the rest existed: replays)")


class DummyBatchStartResponse(BaseModel):
    success: bool = True
    data: DummyBatchStartData


class ErrorBody(BaseModel):
    success: bool = False
    detail: str
    error: dict[str, Any]


class TrainingStartResponse(BaseModel):
    success: bool = True
    task_id: str
    operation_id: str
    status: str = "training_started"
    message: str
    symbols: list[str]
    timeframes: list[str]
    strategy_name: str
    estimated_duration_minutes: float
    training_mode: str
    warnings: list[str] = []


class RetryResponse(OperationStatusResponse):
    """The new operation, and where a retried training resumes."""

    retry_of: str
    resume_from: str | None = Field(
        None, description="the failed operation whose checkpoint a training resumes from"
    )
    checkpoint_epoch: int | None = Field(
        None, description="the epoch of that checkpoint; null: it starts from the first epoch"
    )
    message: str


class OperationResultsResponse(BaseModel):
    success: bool = True
    operation_id: str
    operation_type: OperationType
    status: OperationStatus
    error_message: str | None = None
    results: dict[str, Any]


class EpochMetrics(BaseModel):
    epochs: list[EpochRecordModel]
    total_epochs: int
    batches_recorded: int
    best_epoch: int | None
    best_val_loss: float | None = Field(None, description="absent before the first epoch")
    best_val_accuracy: float | None = Field(None, description="absent before the first epoch")
    is_overfitting: bool
    is_plateaued: bool


class MetricsData(BaseModel):
    operation_id: str
    operation_type: OperationType
    metrics: EpochMetrics


class OperationMetricsResponse(BaseModel):
    success: bool = True
    data: MetricsData


class StoredEventRow(BaseModel):
    """One event as stored: its stream position and subject, then the event's own fields
    (which differ per event type)."""

    model_config = ConfigDict(extra="allow")
    seq: int
    subject: str
    type: str
    event_id: str
    operation_id: str
    occurred_at: datetime


class EventsData(BaseModel):
    operation_id: str
    count: int
    events: list[StoredEventRow]


class OperationEventsResponse(BaseModel):
    success: bool = True
    data: EventsData


class EventModelResponse(BaseModel):
    """The event model's vocabulary as the server defines it, so a client (the console) takes
    its event names and terminal set from here instead of keeping its own copy."""

    event_types: list[str] = Field(
        description="Every event type, as named by `type` and by the `event:` line of a stream"
    )
    terminal_types: list[str] = Field(
        description="The event types that end an operation; its stream closes after one"
    )
    terminal_status: dict[str, OperationStatus] = Field(
        description="The status each terminal event type leaves its operation in"
    )
    statuses: list[OperationStatus] = Field(description="Every operation status")
    active_statuses: list[OperationStatus] = Field(
        description="The statuses of an operation that is not over (its stream is live)"
    )
