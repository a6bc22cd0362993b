"""HTTP request and response schemas (pydantic, at the boundary only).

Response models document the shapes in OpenAPI; the hot read paths encode the msgspec read
models directly (same JSON), so the models here are never in the way of a GET.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from trainjet.core.events import OperationStatus, OperationType


class StrictModel(BaseModel):
    """Request bodies: unknown keys refused, no coercion (`true` is not the integer 1, "5" is
    not a number), only finite numbers (NaN and Infinity reach Python's JSON parser, and an
    infinite interval would never end)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


# Bounds on what a client may name: ids become subject tokens, symbols and timeframes file
# names; a list of a million symbols is a mistake, not a training.
OperationIdText = Annotated[str, Field(min_length=1, max_length=128)]
Name = Annotated[str, Field(min_length=1, max_length=32)]


class DummyStartRequest(StrictModel):
    iterations: int = Field(100, ge=1, le=1_000_000, description="How many iterations to run")
    interval_seconds: float = Field(
        2.0, ge=0.0, le=3600.0, description="Seconds each iteration waits"
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


class OperationProgressModel(BaseModel):
    percentage: float = 0.0
    current_step: str | None = None
    steps_completed: int = 0
    steps_total: int = 0
    items_processed: int = 0
    items_total: int | None = None
    current_item: str | None = None
    context: dict[str, Any] = {}


class OperationMetadataModel(BaseModel):
    symbol: str | None = None
    timeframe: str | None = None
    mode: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    parameters: dict[str, Any] = {}


class OperationNoteModel(BaseModel):
    text: str
    at: datetime
    by: str = "api"


class OperationInfoModel(BaseModel):
    operation_id: str
    operation_type: OperationType
    status: OperationStatus
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    progress: OperationProgressModel
    metadata: OperationMetadataModel
    error_message: str | None = None
    warnings: list[str] = []
    errors: list[str] = []
    result_summary: dict[str, Any] | None = None
    pool: str = "local"
    runner_id: str | None = None
    attempt: int = 0
    cancel_requested_at: datetime | None = None
    cancellation_reason: str | None = None
    retry_of: str | None = None
    last_sequence: int = 0
    event_count: int = 0
    duration_seconds: float | None = None
    tags: list[str] = []
    notes: list[OperationNoteModel] = []


class OperationStatusResponse(BaseModel):
    success: bool = True
    data: OperationInfoModel


class OperationSummaryModel(BaseModel):
    operation_id: str
    operation_type: OperationType
    status: OperationStatus
    created_at: datetime
    progress_percentage: float
    current_step: str | None = None
    symbol: str | None = None
    duration_seconds: float | None = None
    strategy: str | None = None
    symbols: list[str] = []
    timeframes: list[str] = []
    best_val_accuracy: float | None = None
    epochs_completed: int = 0
    epochs_total: int | None = None
    runner_id: str | None = None
    pool: str = "local"
    started_at: datetime | None = None
    completed_at: datetime | None = None
    tags: list[str] = []


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


class TrainingStartRequest(StrictModel):
    strategy_name: str = Field(..., min_length=1, max_length=200, description="Strategy file stem")
    symbols: list[Name] | None = Field(
        None, max_length=100, description="Defaults to the strategy's symbols"
    )
    timeframes: list[Name] | None = Field(
        None, max_length=20, description="Defaults to the strategy's timeframes"
    )
    start_date: str | None = Field(None, max_length=40)
    end_date: str | None = Field(None, max_length=40)
    task_id: OperationIdText | None = Field(
        None, description="Client-chosen operation id; repeating it returns the same operation"
    )
    detailed_analytics: bool = False
    training_mode: str | None = Field(None, max_length=16, description="local | host | auto")
    epochs: int | None = Field(None, ge=1, le=100_000, description="Override the strategy's epochs")
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="Random seed (recorded)")


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
