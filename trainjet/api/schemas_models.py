"""Request bodies and documented answers of `/models` and `/strategies` (ktrdr's shapes, so its clients keep working).

Request models forbid unknown fields, so a misspelt key is a 422 that names it instead of a
silently ignored option. Response models document the shapes in OpenAPI only; the routes encode
their dicts directly, like the other read paths.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from trainjet.api.schemas import StrictModel


class _Body(StrictModel):
    # Stripped before the length checks, so a blank name fails `min_length` with a clear 422.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SaveModelRequest(_Body):
    task_id: str = Field(
        ..., min_length=1, max_length=200, description="Id of a completed training operation"
    )
    model_name: str = Field(
        ...,
        min_length=1,
        max_length=128,
        description="Name to register the copy under (letters, digits, _-.)",
    )
    description: str = Field("", max_length=2000)


class PredictRequest(_Body):
    """Unknown fields are accepted and ignored, as ktrdr's server did: ktrdr's client always
    sends `data_mode`. The answer names them in `ignored_fields`, so a typo is still seen."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    model_name: str = Field(
        ...,
        min_length=1,
        max_length=300,
        description="Saved name, strategy name (latest) or model id",
    )
    symbol: str = Field(
        ..., min_length=1, max_length=20, description="One of the symbols the model knows"
    )
    timeframe: str | None = Field(
        None, max_length=8, description="Must be the model's base timeframe when given"
    )
    test_date: str | None = Field(
        None,
        max_length=40,
        description="ISO date or date-time: predict for the last bar at or before it (a bare "
        "date means the end of that day); null: the last bar of the data",
    )
    start_date: str | None = Field(
        None, max_length=40, description="First bar of the history the features are built from"
    )
    end_date: str | None = Field(None, max_length=40, description="Last bar of that history")


class ModelEntry(BaseModel):
    model_id: str
    model_name: str
    strategy: str | None = None
    symbol: str | None = None
    timeframe: str | None = None
    symbols: list[str] = []
    timeframes: list[str] = []
    version: int | None = None
    created_at: str | None = None
    training_accuracy: float | None = None
    test_accuracy: float | None = None
    description: str = ""
    size_bytes: int = 0
    path: str


class ModelListResponse(BaseModel):
    success: bool = True
    models: list[ModelEntry]


class ModelSaveResponse(BaseModel):
    success: bool = True
    model_id: str
    model_name: str
    model_path: str
    task_id: str
    saved_at: str
    model_size_mb: float
    source_model_id: str | None = None
    description: str = ""


class ModelLoadResponse(BaseModel):
    success: bool = True
    model_name: str
    model_loaded: bool
    already_loaded: bool
    model_info: dict[str, Any]


class FuzzyOutputs(BaseModel):
    bullish: float = Field(..., description="probability of buy")
    bearish: float = Field(..., description="probability of sell")
    neutral: float = Field(..., description="probability of hold")


class Prediction(BaseModel):
    signal: str = Field(..., description="buy | hold | sell (ktrdr's lowercase)")
    action: str = Field(..., description="BUY | HOLD | SELL (the class name)")
    confidence: float = Field(..., description="probability of the chosen class")
    signal_strength: float = Field(
        ..., description="margin of the chosen class over the runner-up, 0..1"
    )
    fuzzy_outputs: FuzzyOutputs
    probabilities: dict[str, float] = Field(..., description="per class: BUY, HOLD, SELL")


class PredictResponse(BaseModel):
    success: bool = True
    model_name: str
    model_id: str
    symbol: str
    timeframe: str
    test_date: str
    bar_time: str = Field(..., description="Open time of the bar the prediction is for")
    bar_close_time: str
    prediction: Prediction
    input_features: dict[str, float]
    history_start: str = Field(..., description="First bar the features were computed from")
    ignored_fields: list[str] = Field([], description="request fields trainjet does not use")


class StrategyInfo(BaseModel):
    name: str
    description: str = ""
    version: str | None = None
    symbol: str | None = None
    timeframe: str | None = None
    symbols: list[str] = []
    timeframes: list[str] = []
    indicators: list[dict[str, Any]] = []
    fuzzy_config: dict[str, Any] = {}
    training_status: str = Field(..., description="untrained | trained")
    available_versions: list[int] = []
    latest_version: int | None = None
    latest_model_id: str | None = None
    latest_training_date: str | None = None
    latest_metrics: dict[str, float | None] | None = None
    is_valid: bool
    errors: list[str] = []


class StrategyListResponse(BaseModel):
    success: bool = True
    strategies: list[StrategyInfo]
    skipped: list[dict[str, str]] = []


class ValidationIssueModel(BaseModel):
    severity: str
    category: str
    message: str
    details: dict[str, Any] = {}


class StrategyValidationResponse(BaseModel):
    success: bool = True
    valid: bool
    strategy_name: str
    message: str
    issues: list[ValidationIssueModel]
    errors: list[str] = []
    warnings: list[str] = []
    suggestions: list[str] = []
    available_indicators: list[str]
