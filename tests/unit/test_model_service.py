"""`ModelService` and the `/models` + `/strategies` routes without NATS.

The feature tests hold the central promise of `/models/predict`: the rows it feeds the model
are exactly the rows the training pipeline built for the same bars, for one timeframe, several
timeframes and several symbols alike.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.fakes import FakeReporter
from trainjet.api.app import create_app
from trainjet.api.errors import http_error
from trainjet.config import Settings
from trainjet.core.errors import Conflict, InvalidRequest, NotFound, TrainjetError
from trainjet.core.events import OperationStatus, OperationType, TrainingInputs
from trainjet.core.projections import OperationInfo
from trainjet.services.model_cache import ModelCache
from trainjet.services.models import ModelService, check_model_name
from trainjet.services.prediction import PredictionQuery, recipe_of
from trainjet.training.artifacts.model_files import load_model
from trainjet.training.artifacts.registry import ModelStorage
from trainjet.training.data.ohlcv import load_ohlcv
from trainjet.training.data.prepare import prepare_dataset
from trainjet.training.features.build import FeatureRecipe, build_features
from trainjet.training.model.reproducibility import strategy_dict
from trainjet.training.pipeline import run_training
from trainjet.training.strategy.loader import load_strategy

REPO = Path(__file__).resolve().parents[2]
DATA, STRATEGIES = REPO / "data", REPO / "strategies"
MODEL_ID = "eurusd_rsi_mlp/EURUSD_1h_v1"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A models dir with one real (one-epoch) eurusd_rsi_mlp model, and its result summary."""
    models = tmp_path_factory.mktemp("unit_models") / "models"
    spec = TrainingInputs(strategy_name="eurusd_rsi_mlp", epochs=1)
    summary = run_training(spec, FakeReporter(), models_dir=models, data_dir=DATA,
                           strategies_dir=STRATEGIES)  # fmt: skip
    return models, summary


@pytest.fixture
def service(trained: tuple[Path, dict[str, Any]]) -> ModelService:
    return ModelService(Settings(models_dir=trained[0], market_data_dir=DATA), ModelCache())


def recipe_for(strategy_name: str) -> FeatureRecipe:
    """The recipe a model of this strategy would store (built like `save_model` stores it)."""
    strategy = load_strategy(strategy_name, STRATEGIES)
    stored = SimpleNamespace(config={"strategy": strategy_dict(strategy)}, metadata={},
                             features={"timeframes": strategy.timeframes}, model_id="x")  # fmt: skip
    return recipe_of(stored)  # type: ignore[arg-type]


@pytest.mark.parametrize("strategy_name", ["eurusd_rsi_mlp", "eurusd_multi_timeframe",
                                           "multi_symbol_daily"])  # fmt: skip
def test_inference_features_equal_the_training_rows(strategy_name: str) -> None:
    strategy = load_strategy(strategy_name, STRATEGIES)
    dataset = prepare_dataset(strategy, data_dir=DATA, reporter=FakeReporter())
    recipe = recipe_for(strategy_name)
    splits = (dataset.train, dataset.val, dataset.test)
    for i, symbol in enumerate(dataset.symbols):
        prices = {tf: load_ohlcv(symbol, tf, DATA, min_bars=1) for tf in recipe.timeframes}
        features = build_features(recipe, {symbol: prices})[symbol]
        assert list(features.columns) == dataset.feature_names
        usable = features[features.notna().all(axis=1)].to_numpy(dtype=np.float32)
        expected = np.concatenate([s.X[s.symbol_idx == i] for s in splits])
        np.testing.assert_array_equal(usable, expected)


def test_predict_matches_the_model_on_the_training_rows(
    service: ModelService, trained: tuple[Path, dict[str, Any]]
) -> None:
    from trainjet.services.prediction import ktrdr_prediction
    from trainjet.training.model.inference import predict_from_prepared

    strategy = load_strategy("eurusd_rsi_mlp", STRATEGIES)
    dataset = prepare_dataset(strategy, data_dir=DATA, reporter=FakeReporter())
    result = service.predict(PredictionQuery("eurusd_rsi_mlp", "EURUSD"))
    stored = load_model(ModelStorage(trained[0]), MODEL_ID)
    [direct] = predict_from_prepared(stored, dataset.test.X[-1])
    assert result["prediction"] == ktrdr_prediction(direct)
    assert (result["prediction"]["action"], result["prediction"]["probabilities"]) == (
        direct["signal"], direct["probabilities"])  # fmt: skip
    assert result["bar_time"] == "2018-02-07T15:00:00+00:00"
    assert result["bar_close_time"] == "2018-02-07T16:00:00+00:00"
    assert list(result["input_features"].values()) == pytest.approx(dataset.test.X[-1].tolist())
    assert result["model_id"] == MODEL_ID
    assert result["timeframe"] == "1h"


@pytest.mark.parametrize(
    ("test_date", "bar_time"),
    [
        ("2017-10-02", "2017-10-02T23:00:00+00:00"),  # a date: that day's last bar
        ("2017-10-02T14:30", "2017-10-02T14:00:00+00:00"),  # a time: the bar open then
        ("2017-10-02T14:00:00Z", "2017-10-02T14:00:00+00:00"),
        ("2017-09-30", "2017-09-29T20:00:00+00:00"),  # a Saturday: Friday's last bar
    ],
)
def test_test_date_picks_the_bar_at_or_before_it(
    service: ModelService, test_date: str, bar_time: str
) -> None:
    result = service.predict(PredictionQuery(MODEL_ID, "EURUSD", test_date=test_date))
    assert result["bar_time"] == bar_time
    assert result["test_date"] == test_date


def test_no_future_bar_reaches_the_features(service: ModelService) -> None:
    """Cutting the data at the bar gives the same row as computing on the whole file."""
    cut = service.predict(PredictionQuery(MODEL_ID, "EURUSD", test_date="2017-10-02T14:00"))
    stored, _ = service.load(MODEL_ID)
    recipe = recipe_of(stored)
    full = build_features(recipe, {"EURUSD": {"1h": load_ohlcv("EURUSD", "1h", DATA, min_bars=1)}})[
        "EURUSD"
    ]
    row = full.loc[pd.Timestamp("2017-10-02T14:00", tz="UTC")]
    assert list(cut["input_features"].values()) == pytest.approx(row.tolist())


@pytest.mark.parametrize(
    ("query", "error", "message"),
    [
        ({"symbol": "GOOG"}, InvalidRequest, "was trained on EURUSD, not 'GOOG'"),
        ({"symbol": "EURUSD", "timeframe": "1d"}, InvalidRequest, "predicts on 1h bars"),
        ({"symbol": "EURUSD", "test_date": "2019-01-01"}, InvalidRequest, "outside the data"),
        ({"symbol": "EURUSD", "test_date": "2017-01-01"}, InvalidRequest, "outside the data"),
        ({"symbol": "EURUSD", "test_date": "soon"}, InvalidRequest, "Bad test_date 'soon'"),
        ({"symbol": "EURUSD", "test_date": "2017-04-19T12:00"}, InvalidRequest, "No usable bar"),
        ({"symbol": "EURUSD", "start_date": "2017-09-01", "test_date": "2017-08-01"},
         InvalidRequest, "outside the requested range"),
        ({"symbol": "EURUSD", "start_date": "2017-09-02", "end_date": "2017-09-01"},
         InvalidRequest, "Bad date range"),
        ({"symbol": "EURUSD", "model_name": "nope"}, NotFound, "not found"),
        ({"symbol": "EURUSD", "model_name": "../x"}, InvalidRequest, "Invalid model name"),
    ],
)  # fmt: skip
def test_predict_errors_are_clear(
    service: ModelService, query: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(")) as caught:
        service.predict(PredictionQuery(**{"model_name": MODEL_ID, **query}))
    assert isinstance(caught.value, TrainjetError) and http_error(caught.value).status < 500


def test_predict_with_a_missing_data_file(trained: tuple[Path, dict[str, Any]],
                                          tmp_path: Path) -> None:  # fmt: skip
    service = ModelService(Settings(models_dir=trained[0], market_data_dir=tmp_path), ModelCache())
    with pytest.raises(InvalidRequest, match="Data file not found") as caught:
        service.predict(PredictionQuery(MODEL_ID, "EURUSD"))
    assert http_error(caught.value).status == 400


def test_a_model_whose_features_no_longer_match_is_a_conflict(
    trained: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    models = tmp_path / "models"
    shutil.copytree(trained[0], models)
    features_file = models / MODEL_ID / "features.json"
    features = json.loads(features_file.read_text())
    features["feature_names"] = list(reversed(features["feature_names"]))
    features_file.write_text(json.dumps(features))
    service = ModelService(Settings(models_dir=models, market_data_dir=DATA), ModelCache())
    with pytest.raises(Conflict, match="retrain"):
        service.predict(PredictionQuery(MODEL_ID, "EURUSD"))


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/b/c", "..", "a\\b", "", " / ",
                                  "_named/../x", ".hidden", "x y"])  # fmt: skip
def test_unsafe_model_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidRequest, match="Invalid model name"):
        check_model_name(name)


@pytest.mark.parametrize("name", ["my_model", "strategy/EURUSD_1h_v3", "_named/x", "v1.2-b"])
def test_safe_model_names_pass(name: str) -> None:
    assert check_model_name(name) == name


def test_cache_is_lru_and_reloads_a_replaced_model(
    trained: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    storage = ModelStorage(trained[0])
    path = storage.resolve(MODEL_ID)
    cache = ModelCache(capacity=2)
    first, cached = cache.get_or_load(storage, path)
    assert not cached
    again, cached = cache.get_or_load(storage, path)
    assert cached
    assert again is first
    others = []
    for i in range(2):
        copy = tmp_path / f"copy{i}"
        shutil.copytree(path, copy)
        others.append(copy)
        cache.get_or_load(storage, copy)
    assert len(cache) == 2
    assert not cache.get_or_load(storage, path)[1]  # evicted as least recently used
    stat = (others[1] / "model.pt").stat()
    os.utime(others[1] / "model.pt", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert not cache.get_or_load(storage, others[1])[1]  # changed on disk: loaded again


def _op(status: OperationStatus, summary: dict[str, Any] | None,
        kind: OperationType = OperationType.TRAINING) -> OperationInfo:  # fmt: skip
    return OperationInfo(operation_id="op_1", operation_type=kind, status=status,
                         created_at=datetime.now(UTC), result_summary=summary)  # fmt: skip


def test_save_requires_a_completed_training(
    trained: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    models = tmp_path / "models"
    shutil.copytree(trained[0], models)
    summary = {"artifacts": {"model_path": str(models / MODEL_ID)}}
    service = ModelService(Settings(models_dir=models, market_data_dir=DATA), ModelCache())
    with pytest.raises(InvalidRequest, match="not a training"):
        service.save(_op(OperationStatus.COMPLETED, summary, OperationType.DUMMY), "m", "")
    with pytest.raises(InvalidRequest, match=r"not completed \(status: running\)"):
        service.save(_op(OperationStatus.RUNNING, None), "m", "")
    with pytest.raises(InvalidRequest, match="Trained model file not found"):
        service.save(_op(OperationStatus.COMPLETED, {}), "m", "")
    saved = service.save(_op(OperationStatus.COMPLETED, summary), "keeper", "best so far")
    assert saved["model_id"] == "_named/keeper"
    assert saved["description"] == "best so far"
    with pytest.raises(Conflict):
        service.save(_op(OperationStatus.COMPLETED, summary), "keeper", "")
    assert service.describe("keeper")["description"] == "best so far"
    assert service.predict(PredictionQuery("keeper", "EURUSD"))["model_id"] == "_named/keeper"


@pytest.fixture
async def client(trained: tuple[Path, dict[str, Any]]) -> AsyncIterator[httpx.AsyncClient]:
    """The real app without its lifespan: these routes need settings, not NATS."""
    settings = Settings(models_dir=trained[0], market_data_dir=DATA, strategies_dir=STRATEGIES)
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as c:
        yield c


async def test_routes_answer_without_nats(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/models")).json()["models"]
    assert [m["model_id"] for m in listed] == [MODEL_ID]
    assert (listed[0]["symbol"], listed[0]["timeframe"]) == ("EURUSD", "1h")
    loaded = (await client.post(f"/models/{MODEL_ID}/load")).json()
    assert loaded["model_loaded"] is True
    assert loaded["model_info"]["input_size"] == 18
    predicted = await client.post("/models/predict", json={"model_name": MODEL_ID,
                                                           "symbol": "EURUSD"})  # fmt: skip
    assert predicted.status_code == 200
    strategies = (await client.get("/strategies")).json()["strategies"]
    assert {s["name"]: s["training_status"] for s in strategies}["eurusd_rsi_mlp"] == "trained"
    save = await client.post("/models/save", json={"task_id": "x", "model_name": "y"})
    assert save.status_code == 503  # the only one that needs the event store


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/models/%2E%2E%2F%2E%2E", None),
        ("GET", "/models/a%00b", None),
        ("POST", "/models/%2Fetc%2Fpasswd/load", None),
        ("POST", "/models/predict", {"model_name": MODEL_ID, "symbol": "EUR/USD"}),
        ("POST", "/models/predict", {"model_name": MODEL_ID, "symbol": "EURUSD",
                                     "test_date": "2017-13-45"}),
        ("POST", "/models/predict", {"model_name": MODEL_ID, "symbol": "EURUSD",
                                     "start_date": "x" * 40}),
        ("POST", "/models/predict", {"model_name": 5, "symbol": []}),
        ("POST", "/models/predict", [1, 2]),
        ("GET", "/strategies/%00", None),
        ("GET", "/strategies/a%2F..%2F..%2Fb", None),
        ("GET", "/strategies/eurusd_rsi_mlp?version=-1", None),
        ("POST", "/strategies/validate/%2Fetc%2Fpasswd", None),
        ("POST", "/strategies/validate/x.yml", None),
    ],
)  # fmt: skip
async def test_odd_requests_get_a_4xx_never_a_5xx(
    client: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    response = await client.request(method, path, json=body)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["detail"]


def test_model_and_strategy_routes_do_not_import_torch() -> None:
    """`trainjet api` starts fast: torch arrives with the first model load, not the import."""
    import subprocess
    import sys

    code = ("import sys, trainjet.api.routes.models, trainjet.api.routes.strategies; "
            "sys.exit('torch' in sys.modules)")  # fmt: skip
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


async def test_writes_need_the_token_when_one_is_set(trained: tuple[Path, dict[str, Any]]) -> None:
    settings = Settings(models_dir=trained[0], market_data_dir=DATA, api_token="s3cret")
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as c:
        save = await c.post("/models/save", json={"task_id": "x", "model_name": "y"})
        assert save.status_code == 401
        assert (await c.post(f"/models/{MODEL_ID}/load")).status_code == 401
        authorised = {"Authorization": "Bearer s3cret"}
        loaded = await c.post(f"/models/{MODEL_ID}/load", headers=authorised)
        assert loaded.status_code == 200
        # predict loads a model and runs torch: work, so it needs the token too (issue 14)
        body = {"model_name": MODEL_ID, "symbol": "EURUSD"}
        assert (await c.post("/models/predict", json=body)).status_code == 401
        predicted = await c.post("/models/predict", json=body, headers=authorised)
        assert predicted.status_code == 200
        assert (await c.get("/models")).status_code == 200  # reads stay open


def test_ktrdr_prediction_shape() -> None:
    from trainjet.services.prediction import ktrdr_prediction

    raw = {"signal": "BUY", "confidence": 0.5, "probabilities": {"BUY": 0.5, "HOLD": 0.3,
                                                                  "SELL": 0.2}}  # fmt: skip
    shaped = ktrdr_prediction(raw)
    assert shaped["signal"] == "buy" and shaped["action"] == "BUY"
    assert shaped["signal_strength"] == pytest.approx(0.2)
    assert shaped["fuzzy_outputs"] == {"bullish": 0.5, "bearish": 0.2, "neutral": 0.3}
