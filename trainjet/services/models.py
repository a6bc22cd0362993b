"""`ModelService`: what the model endpoints do with stored models (list, save, load, predict).

ktrdr's endpoints were stubs that registered, loaded and predicted nothing; here they are real.
Loaded models are kept in the app's `ModelCache` (services/model_cache.py); a prediction is
computed from the model's own stored config (services/prediction.py). torch is imported only
when a model is loaded, so listing models (and every other route) never pays for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from trainjet.config import Settings
from trainjet.core.errors import InvalidRequest
from trainjet.core.events import OperationStatus, OperationType
from trainjet.core.projections import OperationInfo
from trainjet.core.projections.promotions import Promotion
from trainjet.services.model_cache import ModelCache
from trainjet.services.model_versions import served_path
from trainjet.services.prediction import PredictionQuery, predict
from trainjet.training.artifacts.json_files import read_json
from trainjet.training.artifacts.registry import (
    NAMED_DIR,
    SAFE_NAME,
    ModelStorage,
)
from trainjet.training.errors import ModelNotFoundError

if TYPE_CHECKING:
    from trainjet.training.artifacts.model_files import LoadedModel


def check_model_name(name: str) -> str:
    """A model reference that cannot leave the models directory (400 otherwise).

    Accepted: a saved name (`my_model`), a strategy name (its latest model) or a model id
    (`strategy/EURUSD_1h_v3`, `_named/my_model`): at most two safe segments, nothing absolute.
    """
    text = name.strip()
    parts = text.split("/")
    if (
        not text
        or "\\" in text
        or len(parts) > 2
        or not all(SAFE_NAME.match(p) or (i == 0 and p == NAMED_DIR) for i, p in enumerate(parts))
    ):
        raise InvalidRequest(
            f"Invalid model name {name!r}: use a saved model name, a strategy name or a model "
            "id such as 'strategy/EURUSD_1h_v1' (letters, digits, '_', '-', '.'; no paths)"
        )
    return text


class ModelService:
    """The model endpoints' facade; one per request, around the app's shared `ModelCache`."""

    def __init__(
        self,
        settings: Settings,
        cache: ModelCache,
        promotions: Mapping[str, Promotion] = MappingProxyType({}),
    ) -> None:
        self.settings = settings
        self.storage = ModelStorage(settings.models_dir)
        self.cache = cache
        self.promotions = promotions  # folded from the log: what a model name serves

    def resolve(self, name: str) -> Path:
        """The model directory `name` means: a promoted version where one is promoted for
        that model name, else the storage's own resolution (the newest)."""
        text = check_model_name(name)
        served = served_path(self.storage, self.promotions, text)
        return (served or self.storage.resolve(text)).resolve()

    def list_models(self, strategy: str | None = None) -> list[dict[str, Any]]:
        return [{**e, **first_of(e)} for e in self.storage.list_models(strategy)]

    def describe(self, name: str) -> dict[str, Any]:
        """A stored model's catalogue entry, metrics and inputs, read without torch."""
        path = self.resolve(name)
        entry = next((e for e in self.list_models() if Path(e["path"]).resolve() == path), None)
        if entry is None:  # resolvable but not a listed kind of model directory
            raise ModelNotFoundError(f"Model {name!r} not found")
        metrics = read_json(path / "metrics.json")
        return {
            **entry,
            "model_spec": read_json(path / "config.json").get("model"),
            "feature_names": read_json(path / "features.json").get("feature_names", []),
            "training_metrics": metrics.get("training_metrics"),
            "test_metrics": metrics.get("test_metrics"),
        }

    def save(self, info: OperationInfo, model_name: str, description: str) -> dict[str, Any]:
        """Register a named copy of a completed training's model (`POST /models/save`)."""
        if info.operation_type is not OperationType.TRAINING:
            raise InvalidRequest(
                f"Operation {info.operation_id} is a {info.operation_type.value} operation, "
                "not a training: only a completed training has a model to save"
            )
        if info.status is not OperationStatus.COMPLETED:
            raise InvalidRequest(
                f"Training {info.operation_id} is not completed (status: {info.status.value}); "
                "a model can only be saved from a completed training"
            )
        summary = info.result_summary or {}
        # The runner's model_path is where *it* saved the model; a model trained on a host
        # lives here under the version it was imported as. Find it by the operation.
        local = next(
            (
                e
                for e in self.storage.list_models()
                if e.get("operation_id") == info.operation_id
                and not str(e["model_id"]).startswith(f"{NAMED_DIR}/")
            ),
            None,
        )
        if local is not None:
            artifacts = {**(summary.get("artifacts") or {}), "model_path": local["path"]}
            summary = {**summary, "artifacts": artifacts}
        saved = self.storage.save_copy(summary, model_name, description, task_id=info.operation_id)
        return {**saved, "description": description}

    def load(self, name: str) -> tuple[LoadedModel, bool]:
        path = self.resolve(name)
        return self.cache.get_or_load(self.storage, path)

    def predict(self, query: PredictionQuery) -> dict[str, Any]:
        """Signal for the last complete bar at or before `test_date` (else the last bar)."""
        # resolve the model first: an unknown name is a 404 without importing torch
        stored, _ = self.load(query.model_name)
        return predict(stored, query, self.settings.market_data_dir)


def first_of(entry: Mapping[str, Any]) -> dict[str, Any]:
    """ktrdr's single `symbol`/`timeframe` fields: the first of the lists."""
    symbols, timeframes = entry.get("symbols") or [None], entry.get("timeframes") or [None]
    return {"symbol": symbols[0], "timeframe": timeframes[0]}
