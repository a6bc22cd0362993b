"""`/models` and `/strategies` end to end: a real training through a runner, then the
stored model listed, saved under a name, loaded and used for predictions over real HTTP.

One stack per module (training once costs a few seconds). Its data and strategies are copies
in the test directory, so a test can hide a data file or add a broken strategy safely.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.stack import TERMINAL, Stack, copy_inputs, detail_of, running_stack
from tests.strategy_texts import unknown_indicator

REPO = Path(__file__).resolve().parents[2]
MODEL_ID = "eurusd_rsi_mlp/EURUSD_1h_v1"
# The module fixture starts a stack and trains before the first test: give it more than the
# suite's per-test default even on a loaded machine (it takes about 5 s when idle).
pytestmark = pytest.mark.timeout(300)
SIGNALS = {"BUY", "HOLD", "SELL"}
BROKEN_YAML = unknown_indicator("broken_demo")


def make_workdir(root: Path) -> dict[str, str]:
    """Copies of the example strategies (plus a broken and an unreadable one) and the data;
    the settings that point a stack at them."""
    inputs = copy_inputs(root)
    (root / "strategies" / "broken_demo.yaml").write_text(BROKEN_YAML)
    (root / "strategies" / "unreadable.yaml").write_text("name: [unclosed\n")
    return inputs


def start_training(stack: Stack, **body: Any) -> str:
    response = stack.http.post(
        "/trainings/start", json={"strategy_name": "eurusd_rsi_mlp", "epochs": 2, **body}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["task_id"])


def finish(stack: Stack, op_id: str, timeout: float = 90.0) -> dict[str, Any]:
    """The operation once it ended; on a timeout, fail with what the processes logged."""
    try:
        return stack.wait_status(op_id, TERMINAL, timeout=timeout)
    except TimeoutError as exc:
        pytest.fail(f"{exc}\nrunner: {stack.log('runner0.log')}\napi: {stack.log('api.log')}")


class Trained:
    """The module's stack after one completed and one failed training."""

    def __init__(self, stack: Stack, completed: dict[str, Any], failed_id: str) -> None:
        self.stack, self.completed, self.failed_id = stack, completed, failed_id
        self.http = stack.http


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    root = tmp_path_factory.mktemp("models_api")
    with running_stack(root, **make_workdir(root)) as stack:
        stack.start_api()
        # A training whose data vanishes before a runner takes it: pending, then failed.
        shutil.copy(root / "data" / "EURUSD_1h.csv", root / "data" / "GONE_1h.csv")
        failing = start_training(stack, symbols=["GONE"], task_id="doomed-training")
        assert stack.operation(failing)["status"] == "pending"
        pending = stack.http.post("/models/save", json={"task_id": failing, "model_name": "x"})
        assert pending.status_code == 400
        assert "not completed (status: pending)" in detail_of(pending)
        (root / "data" / "GONE_1h.csv").unlink()
        stack.start_runner()
        assert finish(stack, failing)["status"] == "failed"
        done = finish(stack, start_training(stack))
        assert done["status"] == "completed", (done["error_message"], stack.log("runner0.log"))
        yield Trained(stack, done, failing)


def test_models_lists_the_trained_model_with_real_ids_and_metrics(trained: Trained) -> None:
    body = trained.http.get("/models").json()
    assert body["success"] is True
    [model] = [m for m in body["models"] if m["model_id"] == MODEL_ID]
    summary = trained.completed["result_summary"]
    assert summary["artifacts"]["model_id"] == MODEL_ID
    assert model["model_name"] == MODEL_ID
    assert (model["strategy"], model["symbol"], model["timeframe"]) == (
        "eurusd_rsi_mlp",
        "EURUSD",
        "1h",
    )
    assert (model["symbols"], model["timeframes"], model["version"]) == (["EURUSD"], ["1h"], 1)
    assert model["test_accuracy"] == pytest.approx(summary["test_metrics"]["test_accuracy"])
    assert 0.0 <= model["training_accuracy"] <= 1.0
    assert model["size_bytes"] > 0
    assert Path(model["path"], "model.pt").is_file()
    assert model["created_at"]
    assert model["description"] == ""
    assert trained.http.get("/models", params={"strategy": "nope"}).json()["models"] == []
    detail = trained.http.get(f"/models/{MODEL_ID}").json()["model"]
    assert len(detail["feature_names"]) == detail["model_spec"]["input_size"] == 18
    assert trained.http.get("/models/nope").status_code == 404


def test_save_registers_a_named_copy_once(trained: Trained) -> None:
    http, op_id = trained.http, trained.completed["operation_id"]
    body = {"task_id": op_id, "model_name": "rsi_demo_saved", "description": "from the test"}
    saved = http.post("/models/save", json=body)
    assert saved.status_code == 200, saved.text
    data = saved.json()
    assert data["success"] is True
    assert (data["model_id"], data["model_name"], data["task_id"]) == (
        "_named/rsi_demo_saved", "rsi_demo_saved", op_id)  # fmt: skip
    assert data["source_model_id"] == MODEL_ID
    assert data["saved_at"].endswith("Z")
    assert data["model_size_mb"] > 0
    assert Path(data["model_path"], "model.pt").is_file()
    listed = {m["model_id"]: m for m in http.get("/models").json()["models"]}
    assert listed["_named/rsi_demo_saved"]["description"] == "from the test"
    assert listed["_named/rsi_demo_saved"]["model_name"] == "rsi_demo_saved"
    again = http.post("/models/save", json=body)
    assert again.status_code == 409
    assert "already exists" in detail_of(again)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"task_id": "no-such-op", "model_name": "m"}, 404, "Operation not found: no-such-op"),
        ({"task_id": "doomed-training", "model_name": "m"}, 400, "not completed (status: failed)"),
        ({"task_id": "{op}", "model_name": "../escape"}, 400, "Invalid model name"),
        ({"task_id": "{op}", "model_name": "  "}, 422, "model_name"),
        ({"task_id": "{op}", "model_name": "m", "extra": 1}, 422, "extra"),
    ],
)
def test_save_refuses_what_it_cannot_do(
    trained: Trained, body: dict[str, Any], status: int, message: str
) -> None:
    body = {k: (trained.completed["operation_id"] if v == "{op}" else v) for k, v in body.items()}
    response = trained.http.post("/models/save", json=body)
    assert response.status_code == status, response.text
    assert message in detail_of(response)


def test_save_refuses_an_operation_that_is_not_a_training(trained: Trained) -> None:
    dummy = trained.stack.start_dummy(iterations=1, interval=0.0)
    trained.stack.wait_status(dummy, TERMINAL)
    response = trained.http.post("/models/save", json={"task_id": dummy, "model_name": "d"})
    assert response.status_code == 400
    assert "not a training" in detail_of(response)


def test_load_by_saved_name_and_by_versioned_id(trained: Trained) -> None:
    http, op_id = trained.http, trained.completed["operation_id"]
    http.post("/models/save", json={"task_id": op_id, "model_name": "to_load"})
    for name in ("to_load", MODEL_ID):
        response = http.post(f"/models/{name}/load")
        assert response.status_code == 200, response.text
        data = response.json()
        assert (data["success"], data["model_name"], data["model_loaded"]) == (True, name, True)
        info = data["model_info"]
        assert (info["symbol"], info["timeframe"], info["symbols"]) == ("EURUSD", "1h", ["EURUSD"])
        assert info["architecture"] == "mlp_32_16"
        assert info["parameters_count"] > 0
        assert info["test_accuracy"] == pytest.approx(
            trained.completed["result_summary"]["test_metrics"]["test_accuracy"])  # fmt: skip
        assert info["created_at"]
    assert http.post(f"/models/{MODEL_ID}/load").json()["already_loaded"] is True
    missing = http.post("/models/nope/load")
    assert missing.status_code == 404
    assert "not found" in detail_of(missing)
    escape = http.post("/models/..%2F..%2Fetc/load")
    assert escape.status_code == 400
    assert "Invalid model name" in detail_of(escape)


def test_predict_loads_on_demand_and_answers_for_the_bar(trained: Trained) -> None:
    http, op_id = trained.http, trained.completed["operation_id"]
    http.post("/models/save", json={"task_id": op_id, "model_name": "never_loaded"})
    started = time.monotonic()
    # ktrdr's client's exact request: it always adds `data_mode`, which is ignored (and named)
    response = http.post(
        "/models/predict",
        json={"model_name": "never_loaded", "symbol": "EURUSD", "timeframe": "1h",
              "test_date": "2017-10-02", "data_mode": "local"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    data = response.json()
    assert time.monotonic() - started < 30
    assert (data["success"], data["symbol"], data["timeframe"]) == (True, "EURUSD", "1h")
    assert data["test_date"] == "2017-10-02"
    assert data["bar_time"] == "2017-10-02T23:00:00+00:00"  # the day's last hourly bar
    assert data["ignored_fields"] == ["data_mode"]
    assert data["model_name"] == "never_loaded"
    prediction = data["prediction"]
    assert prediction["action"] in SIGNALS
    assert prediction["signal"] == prediction["action"].lower()  # ktrdr's lowercase signal
    probabilities = prediction["probabilities"]
    assert set(probabilities) == SIGNALS
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert prediction["confidence"] == max(probabilities.values())
    assert probabilities[prediction["action"]] == prediction["confidence"]
    fuzzy = prediction["fuzzy_outputs"]
    assert fuzzy == {"bullish": probabilities["BUY"], "bearish": probabilities["SELL"],
                     "neutral": probabilities["HOLD"]}  # fmt: skip
    runner_up = sorted(probabilities.values())[-2]
    assert prediction["signal_strength"] == pytest.approx(prediction["confidence"] - runner_up)
    assert all(isinstance(v, float) for v in data["input_features"].values())
    features = json.loads(Path(trained.completed["result_summary"]["artifacts"]["model_path"],
                               "features.json").read_text())  # fmt: skip
    assert list(data["input_features"]) == features["feature_names"]
    assert all(0.0 <= v <= 1.0 for v in data["input_features"].values())
    # the same model by id and by strategy name gives the same answer
    for name in (MODEL_ID, "eurusd_rsi_mlp"):
        same = http.post("/models/predict", json={"model_name": name, "symbol": "EURUSD",
                                                   "test_date": "2017-10-02"}).json()  # fmt: skip
        assert same["prediction"] == prediction
        assert same["input_features"] == data["input_features"]
    latest = http.post("/models/predict", json={"model_name": MODEL_ID, "symbol": "EURUSD"})
    assert latest.json()["bar_time"] == "2018-02-07T15:00:00+00:00"  # the data's last bar


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"symbol": "GOOG"}, 400, "was trained on EURUSD, not 'GOOG'"),
        ({"symbol": "EURUSD", "test_date": "2030-01-01"}, 400, "outside the data"),
        ({"symbol": "EURUSD", "test_date": "2001-01-01"}, 400, "outside the data"),
        ({"symbol": "EURUSD", "test_date": "not-a-date"}, 400, "Bad test_date"),
        ({"symbol": "EURUSD", "timeframe": "4h"}, 400, "predicts on 1h bars"),
        ({"symbol": "EURUSD", "test_date": "2017-04-19"}, 400, "No usable bar"),
        ({"symbol": "EURUSD", "model_name": "nope"}, 404, "not found"),
        ({"symbol": "EURUSD", "model_name": "../../x"}, 400, "Invalid model name"),
        ({"symbol": ""}, 422, "symbol"),
    ],
)
def test_predict_rejects_bad_requests_clearly(
    trained: Trained, body: dict[str, Any], status: int, message: str
) -> None:
    response = trained.http.post("/models/predict", json={"model_name": MODEL_ID, **body})
    assert response.status_code == status, response.text
    assert message in detail_of(response)


def test_predict_without_the_data_file_is_a_clear_400(trained: Trained) -> None:
    data_file = trained.stack.workdir / "data" / "EURUSD_1h.csv"
    hidden = data_file.with_suffix(".hidden")
    data_file.rename(hidden)
    try:
        response = trained.http.post(
            "/models/predict", json={"model_name": MODEL_ID, "symbol": "EURUSD"}
        )
    finally:
        hidden.rename(data_file)
    assert response.status_code == 400
    assert "Data file not found" in detail_of(response)


def test_strategy_catalogue_joins_model_storage(trained: Trained) -> None:
    for path in ("/strategies", "/strategies/"):
        body = trained.http.get(path).json()
        assert body["success"] is True
    rows = {s["name"]: s for s in body["strategies"]}
    assert {"eurusd_rsi_mlp", "eurusd_multi_timeframe", "broken_demo"} <= set(rows)
    demo = rows["eurusd_rsi_mlp"]
    assert (demo["symbol"], demo["timeframe"], demo["is_valid"]) == ("EURUSD", "1h", True)
    assert demo["training_status"] == "trained"
    assert demo["available_versions"] == [1]
    assert demo["latest_version"] == 1
    assert demo["latest_model_id"] == MODEL_ID
    assert demo["latest_training_date"]
    test_metrics = trained.completed["result_summary"]["test_metrics"]
    assert demo["latest_metrics"]["accuracy"] == pytest.approx(test_metrics["test_accuracy"])
    assert demo["latest_metrics"]["f1_score"] == pytest.approx(test_metrics["f1_score"])
    assert [i["id"] for i in demo["indicators"]] == ["rsi", "macd"]
    assert "rsi" in demo["fuzzy_config"]
    assert rows["eurusd_multi_timeframe"]["training_status"] == "untrained"
    assert rows["eurusd_multi_timeframe"]["latest_metrics"] is None
    assert rows["broken_demo"]["is_valid"] is False
    assert rows["broken_demo"]["errors"]
    assert [s["file"] for s in body["skipped"]] == ["unreadable.yaml"]


def test_strategy_detail_404_and_traversal_400(trained: Trained) -> None:
    http = trained.http
    one = http.get("/strategies/eurusd_rsi_mlp")
    assert one.status_code == 200
    assert one.json()["available_versions"] == [1]
    assert http.get("/strategies/eurusd_rsi_mlp", params={"version": 1}).status_code == 200
    assert http.get("/strategies/eurusd_rsi_mlp", params={"version": 7}).status_code == 404
    missing = http.get("/strategies/no_such_strategy")
    assert missing.status_code == 404
    assert "Strategy file not found: no_such_strategy.yaml" in detail_of(missing)
    for bad in ("..%2Fsecrets", "bad%20name", "%2Fetc%2Fpasswd"):
        response = http.get(f"/strategies/{bad}")
        assert response.status_code == 400, (bad, response.text)
        assert "Invalid strategy name" in detail_of(response)


def test_validate_reports_issues_and_404s(trained: Trained) -> None:
    http = trained.http
    ok = http.post("/strategies/validate/eurusd_rsi_mlp").json()
    assert (ok["success"], ok["valid"], ok["strategy_name"]) == (True, True, "eurusd_rsi_mlp")
    assert ok["message"] == "Strategy 'eurusd_rsi_mlp' is valid"
    assert ok["issues"] == []
    assert "RSI" in ok["available_indicators"]
    bad = http.post("/strategies/validate/broken_demo").json()
    assert bad["valid"] is False
    assert bad["message"].startswith("Strategy 'broken_demo' has ")
    issue = next(i for i in bad["issues"] if i["severity"] == "error")
    assert set(issue) == {"severity", "category", "message", "details"}
    assert "not_an_indicator" in " ".join(i["message"] for i in bad["issues"])
    unreadable = http.post("/strategies/validate/unreadable").json()
    assert unreadable["valid"] is False
    assert unreadable["issues"][0]["category"] == "structure"
    missing = http.post("/strategies/validate/nope")
    assert missing.status_code == 404
    assert "Strategy file not found" in detail_of(missing)
    assert http.post("/strategies/validate/..%2Fx").status_code == 400
