"""Documented answers of the console, model-version, health and runner routes (OpenAPI only:
the routes encode their dicts and msgspec structs directly, like every read path). A test
validates real answers against these, so a field added to an answer and not here fails."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from trainjet.api.schemas import EpochMetrics
from trainjet.api.schemas_models import ModelEntry, StrategyInfo
from trainjet.api.struct_models import model_of
from trainjet.core.events import OperationStatus, OperationType
from trainjet.core.store.port import RunnerInfo

if TYPE_CHECKING:  # mypy cannot follow a generated class: to it, it is a model
    RunnerInfoModel: TypeAlias = BaseModel
else:
    RunnerInfoModel = model_of(RunnerInfo)


class BatchSeries(BaseModel):
    x: list[float] = Field(..., description="global batch number, 1-based")
    y: list[float]


class BatchCurves(BaseModel):
    count: int
    max_points: int
    loss: BatchSeries
    accuracy: BatchSeries
    last_epoch: int


class TimelineEntry(BaseModel):
    model_config = ConfigDict(extra="allow")  # the event's own fields
    seq: int
    type: str


class CurvesData(BaseModel):
    operation_id: str
    last_seq: int
    batches: BatchCurves
    epochs: EpochMetrics
    timeline: list[TimelineEntry]


class CurvesResponse(BaseModel):
    success: bool = True
    data: CurvesData


class AuditDifference(BaseModel):
    path: str
    rebuilt: Any
    served: Any


class AuditData(BaseModel):
    operation_id: str
    at_sequence: int
    events_folded: int
    ok: bool
    differences: list[AuditDifference]


class AuditResponse(BaseModel):
    success: bool = True
    data: AuditData


class FinalEpoch(BaseModel):
    train_loss: float | None
    train_accuracy: float | None
    val_loss: float | None
    val_accuracy: float | None


class RunSummary(BaseModel):
    operation_id: str
    operation_type: OperationType
    status: OperationStatus
    strategy: str | None
    symbols: list[str]
    timeframes: list[str]
    tags: list[str]
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    duration_seconds: float | None
    epochs: int
    total_epochs: int
    best_epoch: int | None
    best_val_loss: float | None
    best_val_accuracy: float | None
    final: FinalEpoch
    test_metrics: dict[str, Any] | None


class EpochSeries(BaseModel):
    epoch: list[int]
    train_loss: list[float]
    train_accuracy: list[float]
    val_loss: list[float | None]
    val_accuracy: list[float | None]


class ConfigDifference(BaseModel):
    path: str
    values: list[Any] = Field(..., description="one value per run, in the order asked")


class CompareData(BaseModel):
    operations: list[RunSummary]
    metrics: dict[str, EpochSeries] = Field(..., description="operation id -> its curves")
    config_diff: list[ConfigDifference]


class CompareResponse(BaseModel):
    success: bool = True
    data: CompareData


class ModelVersion(BaseModel):
    version: str
    model_name: str
    model_id: str
    number: int | None
    operation_id: str | None
    created_at: str | None
    symbols: list[str]
    timeframes: list[str]
    test_metrics: dict[str, Any] | None
    training_metrics: dict[str, Any] | None
    promoted: bool
    promoted_at: datetime | None
    promoted_by: str | None
    served: bool


class ModelVersionsResponse(BaseModel):
    success: bool = True
    data: list[ModelVersion]


class ModelVersionResponse(BaseModel):
    success: bool = True
    data: ModelVersion


class ModelDetail(ModelEntry):
    model_spec: dict[str, Any] | None = None
    feature_names: list[str] = Field(default_factory=list)
    training_metrics: dict[str, Any] | None = None
    test_metrics: dict[str, Any] | None = None


class ModelDetailResponse(BaseModel):
    success: bool = True
    model: ModelDetail


class StrategyDetailResponse(StrategyInfo):
    success: bool = True


class PerformanceResponse(BaseModel):
    success: bool = True
    task_id: str
    status: str = "completed"
    training_metrics: dict[str, Any] | None
    test_metrics: dict[str, Any] | None
    model_info: dict[str, Any] | None


class RunnersResponse(BaseModel):
    success: bool = Field(..., description="false: the runner registry could not be read")
    data: list[RunnerInfoModel]
    count: int


class SnapshotHealth(BaseModel):
    enabled: bool
    covered_sequence: int
    loaded_at_start: int
    records_folded_at_start: int


class ProjectorHealth(BaseModel):
    last_sequence: int
    lag: int | None
    operations: int
    active_operations: int
    events_applied: int
    rejected_messages: int
    rejected_by_reason: dict[str, int]
    last_rejected: list[dict[str, Any]]
    running: bool
    snapshot: SnapshotHealth


class RunnersHealth(BaseModel):
    count: int
    by_pool: dict[str, int]


class OrchestratorHealth(BaseModel):
    service: str
    default_training_mode: str
    lease_seconds: float
    runner_ttl_seconds: float
    cancel_wait_seconds: float
    runners_lost_total: int
    auth_required_for_writes: bool
    auth_required_for_reads: bool
    cors_origins: list[str]
    max_body_bytes: int


class HealthResponse(BaseModel):
    """200 when everything answered; 503 with the same body when something did not."""

    status: str = Field(..., description="ok | degraded")
    version: str
    problems: list[str]
    down: list[str]
    nats: dict[str, Any]
    streams: dict[str, Any]
    projector: ProjectorHealth
    runners: RunnersHealth
    orchestrator: OrchestratorHealth


def raw_body(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route whose 200 is a stream or a file, not JSON: its media type."""
    schema = {"type": "string", "format": "binary"} if "gzip" in media_type else {"type": "string"}
    return {200: {"description": description, "content": {media_type: {"schema": schema}}}}
