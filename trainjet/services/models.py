# size: the model endpoints' facade: its cache, name checks and the prediction query it serves
"""`ModelService`: what the model endpoints do with stored models (list, save, load, predict).

ktrdr's endpoints were stubs that registered, loaded and predicted nothing; here they are real.
A prediction rebuilds the features of the requested bar from the model's *own* stored strategy
config (`config.json`, written at training time) with training's own `build_features`, warm-up
rows dropped. So a model answers for exactly the inputs it was trained on, whatever
happened to the strategy file since.

Data for a prediction is cut at the requested bar before any feature is computed, so nothing
after `test_date` can leak in even through an indicator. torch is imported only when a model
is loaded, so listing models (and every other route) never pays for it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import pandas as pd

from trainjet.config import Settings
from trainjet.core.errors import Conflict, InvalidRequest
from trainjet.core.events import OperationStatus, OperationType
from trainjet.core.projections import OperationInfo
from trainjet.core.projections.promotions import Promotion
from trainjet.services.model_versions import served_path
from trainjet.training.artifacts.json_files import read_json
from trainjet.training.artifacts.registry import (
    NAMED_DIR,
    SAFE_NAME,
    ModelStorage,
)
from trainjet.training.data.ohlcv import load_ohlcv
from trainjet.training.errors import DataError, ModelNotFoundError
from trainjet.training.features.alignment import bar_close_times
from trainjet.training.features.build import FeatureRecipe, build_features

if TYPE_CHECKING:
    from trainjet.training.artifacts.model_files import LoadedModel

MODEL_CACHE_SIZE = 8  # loaded models kept per API process (each is small, but not free)


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


class ModelCache:
    """A small LRU of loaded models keyed by model directory, shared by one app's requests.

    An entry remembers its `model.pt` modification time and is reloaded if the file changed,
    so a replaced model is never served stale. Loading happens outside the lock: two first
    requests for one model may both load it, which is harmless and never blocks other models.
    """

    def __init__(self, capacity: int = MODEL_CACHE_SIZE) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[Path, tuple[int, LoadedModel]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get_or_load(self, storage: ModelStorage, path: Path) -> tuple[LoadedModel, bool]:
        """(model, whether it was already loaded)."""
        stamp = (path / "model.pt").stat().st_mtime_ns
        with self._lock:
            hit = self._entries.get(path)
            if hit is not None and hit[0] == stamp:
                self._entries.move_to_end(path)
                return hit[1], True
        from trainjet.training.artifacts.model_files import load_model  # imports torch

        loaded = load_model(storage, path)  # weights_only: a model file cannot run code
        with self._lock:
            self._entries[path] = (stamp, loaded)
            self._entries.move_to_end(path)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return loaded, False


@dataclass(frozen=True)
class PredictionQuery:
    model_name: str
    symbol: str
    timeframe: str | None = None
    test_date: str | None = None
    start_date: str | None = None
    end_date: str | None = None


def recipe_of(stored: LoadedModel) -> FeatureRecipe:
    """The feature recipe a model was trained with, from its own stored strategy config."""
    strategy = stored.config.get("strategy") or {}
    try:
        timeframes = stored.features.get("timeframes") or stored.metadata["timeframes"]
        recipe = FeatureRecipe.from_stored(strategy, timeframes)
    except (KeyError, TypeError, ValueError) as exc:
        raise Conflict(
            f"Model {stored.model_id!r} has no usable strategy config in "
            f"config.json ({exc!r}); retrain it to predict with it"
        ) from exc
    missing = recipe.unknown_targets()
    if missing:
        raise Conflict(
            f"The model's fuzzy sets read {missing}, which no configured indicator "
            "provides in this trainjet version; retrain the model"
        )
    return recipe


def _when(value: str, what: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(the instant, the exclusive end it implies): a bare date means that whole day."""
    try:
        ts = pd.Timestamp(value.strip())
    except (ValueError, TypeError, AttributeError):
        ts = pd.NaT
    if ts is pd.NaT:
        raise DataError(
            f"Bad {what} {value!r}: expected an ISO date such as 2017-10-02 "
            "or a date and time such as 2017-10-02T14:00"
        )
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    date_only = len(value.strip()) == 10
    return ts, ts + (pd.Timedelta(days=1) if date_only else pd.Timedelta(1, unit="ns"))


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
        from trainjet.training.model.inference import predict_from_prepared

        recipe = recipe_of(stored)
        symbols = list(stored.features.get("symbols") or stored.metadata.get("symbols") or [])
        if query.symbol not in symbols:
            raise InvalidRequest(
                f"Model {stored.model_id!r} was trained on {', '.join(symbols) or 'no symbols'}"
                f", not {query.symbol!r}: predict for one of those or train on {query.symbol}"
            )
        base = recipe.timeframes[0]
        if query.timeframe not in (None, base):
            raise InvalidRequest(
                f"Model {stored.model_id!r} predicts on {base} bars "
                f"(timeframes {recipe.timeframes}), not {query.timeframe!r}"
            )
        row, frames = self._feature_row(recipe, query)
        expected = list(stored.features.get("feature_names") or [])
        if expected and list(row.index) != expected:
            raise Conflict(
                f"Model {stored.model_id!r} expects the features {expected} but its "
                f"config now gives {list(row.index)}; retrain the model"
            )
        [raw] = predict_from_prepared(stored, row.to_numpy(dtype="float32"), query.symbol)
        prediction = ktrdr_prediction(raw)
        bar_time = pd.Timestamp(row.name)
        return {
            "model_name": query.model_name,
            "model_id": stored.model_id,
            "symbol": query.symbol,
            "timeframe": base,
            "test_date": query.test_date or bar_time.date().isoformat(),
            "bar_time": bar_time.isoformat(),
            "bar_close_time": bar_close_times(pd.DatetimeIndex([bar_time]), base)[0].isoformat(),
            "prediction": prediction,
            "input_features": {str(k): float(v) for k, v in row.items()},
            "history_start": frames.index[0].isoformat(),
        }

    def _feature_row(
        self, recipe: FeatureRecipe, q: PredictionQuery
    ) -> tuple[pd.Series, pd.DataFrame]:
        """The usable feature row for the query and the base bars it was computed from."""
        full = {
            tf: load_ohlcv(q.symbol, tf, self.settings.market_data_dir, min_bars=1)
            for tf in recipe.timeframes
        }
        base = full[recipe.timeframes[0]]
        first, last = base.index[0], base.index[-1]
        last_close = bar_close_times(pd.DatetimeIndex([last]), recipe.timeframes[0])[0]
        covers = f"the {q.symbol} {recipe.timeframes[0]} data cover {first} .. {last_close}"
        start = _when(q.start_date, "start_date")[0] if q.start_date else first
        cut = _when(q.end_date, "end_date")[1] if q.end_date else last_close
        if q.test_date:
            point, test_cut = _when(q.test_date, "test_date")
            if point > last_close or test_cut <= first:
                raise DataError(f"test_date {q.test_date} is outside the data: {covers}")
            if test_cut <= start or point >= cut:
                raise DataError(
                    f"test_date {q.test_date} is outside the requested range "
                    f"start_date {q.start_date} .. end_date {q.end_date}"
                )
            cut = min(cut, test_cut)
        if start >= cut:
            raise DataError(
                f"Bad date range: start_date {q.start_date} is not before end_date {q.end_date}"
            )
        frames = {tf: df[(df.index >= start) & (df.index < cut)] for tf, df in full.items()}
        if frames[recipe.timeframes[0]].empty:
            raise DataError(f"No {q.symbol} bars between {start} and {cut}: {covers}")
        features = build_features(recipe, {q.symbol: frames})[q.symbol]
        usable = features[features.notna().all(axis=1)]
        if usable.empty:
            raise DataError(
                f"No usable bar at or before {cut}: the indicators need more history than the "
                f"{len(features)} bar(s) from {start} ({covers}); pick a later test_date"
            )
        return usable.iloc[-1], frames[recipe.timeframes[0]]


def ktrdr_prediction(raw: Mapping[str, Any]) -> dict[str, Any]:
    """One prediction in ktrdr's shape, trainjet's own fields beside it.

    ktrdr's clients read a lowercase `signal`, `signal_strength` and `fuzzy_outputs`
    (bullish/bearish/neutral); trainjet's `action` keeps the upper-case class name and
    `probabilities` the per-class softmax. `signal_strength` is the margin of the chosen class
    over the runner-up: 0 when the model could as well have said the other, 1 when certain.
    """
    probs = {str(k): float(v) for k, v in raw["probabilities"].items()}
    ranked = sorted(probs.values(), reverse=True)
    return {
        "signal": str(raw["signal"]).lower(),
        "action": str(raw["signal"]),
        "confidence": float(raw["confidence"]),
        "signal_strength": ranked[0] - (ranked[1] if len(ranked) > 1 else 0.0),
        "fuzzy_outputs": {
            "bullish": probs.get("BUY", 0.0),
            "bearish": probs.get("SELL", 0.0),
            "neutral": probs.get("HOLD", 0.0),
        },
        "probabilities": probs,
    }


def first_of(entry: Mapping[str, Any]) -> dict[str, Any]:
    """ktrdr's single `symbol`/`timeframe` fields: the first of the lists."""
    symbols, timeframes = entry.get("symbols") or [None], entry.get("timeframes") or [None]
    return {"symbol": symbols[0], "timeframe": timeframes[0]}
