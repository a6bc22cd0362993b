"""A prediction from a stored model: its features rebuilt for one bar, its answer in ktrdr's shape.

The features of the requested bar are rebuilt from the model's *own* stored strategy config
(`config.json`, written at training time) with training's own `build_features`, warm-up rows
dropped. So a model answers for exactly the inputs it was trained on, whatever happened to the
strategy file since. Data are cut at the requested bar before any feature is computed, so
nothing after `test_date` can leak in even through an indicator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainjet.core.errors import Conflict, InvalidRequest
from trainjet.training.errors import DataError

# pandas and the feature code are imported by the functions that predict, not with the module:
# the API's routes import it at start-up, and a start must not pay about 0.4 s of pandas
# before the first prediction asks for it.
if TYPE_CHECKING:
    import pandas as pd

    from trainjet.training.features.build import FeatureRecipe

if TYPE_CHECKING:
    from trainjet.training.artifacts.model_files import LoadedModel


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
    from trainjet.training.features.build import FeatureRecipe

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
    import pandas as pd

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


def predict(stored: LoadedModel, query: PredictionQuery, market_data_dir: Path) -> dict[str, Any]:
    """Signal for the last complete bar at or before `test_date` (else the last bar)."""
    import pandas as pd

    from trainjet.training.features.alignment import bar_close_times
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
    row, frames = feature_row(recipe, query, market_data_dir)
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


def feature_row(
    recipe: FeatureRecipe, q: PredictionQuery, market_data_dir: Path
) -> tuple[pd.Series, pd.DataFrame]:
    """The usable feature row for the query and the base bars it was computed from."""
    import pandas as pd

    from trainjet.training.data.ohlcv import load_ohlcv
    from trainjet.training.features.alignment import bar_close_times
    from trainjet.training.features.build import build_features

    full = {tf: load_ohlcv(q.symbol, tf, market_data_dir, min_bars=1) for tf in recipe.timeframes}
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
