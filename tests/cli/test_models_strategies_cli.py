"""`trainjet models ...` and `trainjet strategies ...` as a user runs them: real processes
against a real API (on a real nats-server), checking output, `--json` and exit codes.

The model is trained in-process beforehand (the CLI is under test here, not the runner path,
which `tests/integration/test_models_strategies_api.py` covers).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import FakeReporter
from tests.stack import free_port, running_stack
from tests.strategy_texts import unknown_indicator
from trainjet.core.events import TrainingInputs
from trainjet.training.pipeline import run_training

REPO = Path(__file__).resolve().parents[2]
MODEL_ID = "eurusd_rsi_mlp/EURUSD_1h_v1"
BROKEN_YAML = unknown_indicator("broken_demo")


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("cli")
    shutil.copytree(REPO / "strategies", root / "strategies")
    (root / "strategies" / "broken_demo.yaml").write_text(BROKEN_YAML)
    spec = TrainingInputs(strategy_name="eurusd_rsi_mlp", epochs=1)
    run_training(spec, FakeReporter(), models_dir=root / "models", data_dir=REPO / "data",
                 strategies_dir=root / "strategies")  # fmt: skip
    with running_stack(root, TRAINJET_STRATEGIES_DIR=str(root / "strategies"),
                       TRAINJET_MARKET_DATA_DIR=str(REPO / "data")) as stack:  # fmt: skip
        stack.start_api()
        yield f"http://127.0.0.1:{stack.port}"


def trainjet(api_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRAINJET_API_URL": api_url, "COLUMNS": "250", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "trainjet", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_models_list_table_and_json(api_url: str) -> None:
    table = trainjet(api_url, "models", "list")
    assert table.returncode == 0, table.stderr
    assert MODEL_ID in table.stdout
    assert "eurusd_rsi_mlp" in table.stdout
    as_json = trainjet(api_url, "models", "list", "--json")
    assert as_json.returncode == 0
    rows = json.loads(as_json.stdout)
    assert [r["model_id"] for r in rows] == [MODEL_ID]
    assert rows[0]["symbol"] == "EURUSD"
    assert 0 <= rows[0]["test_accuracy"] <= 1
    none = trainjet(api_url, "models", "list", "--strategy", "other", "--json")
    assert json.loads(none.stdout) == []


def test_models_show(api_url: str) -> None:
    shown = trainjet(api_url, "models", "show", MODEL_ID)
    assert shown.returncode == 0, shown.stderr
    assert "EURUSD" in shown.stdout
    assert "test accuracy" in shown.stdout
    as_json = json.loads(trainjet(api_url, "models", "show", "eurusd_rsi_mlp", "--json").stdout)
    assert as_json["model_id"] == MODEL_ID
    assert len(as_json["feature_names"]) == 18
    missing = trainjet(api_url, "models", "show", "nope")
    assert missing.returncode == 2
    assert "not found" in missing.stderr
    assert "Traceback" not in missing.stderr
    escape = trainjet(api_url, "models", "show", "../../etc")
    assert escape.returncode == 2
    assert "Invalid model name" in escape.stderr


def test_models_predict(api_url: str) -> None:
    shown = trainjet(api_url, "models", "predict", MODEL_ID, "--symbol", "EURUSD",
                     "--date", "2017-10-02")  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "2017-10-02 23:00" in shown.stdout
    assert any(signal in shown.stdout for signal in ("BUY", "HOLD", "SELL"))
    result = json.loads(
        trainjet(api_url, "models", "predict", "eurusd_rsi_mlp", "-s", "EURUSD", "--json").stdout
    )
    assert result["prediction"]["signal"] in {"buy", "hold", "sell"}
    assert sum(result["prediction"]["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    wrong = trainjet(api_url, "models", "predict", MODEL_ID, "--symbol", "GOOG")
    assert wrong.returncode == 2
    assert "trained on EURUSD" in wrong.stderr
    late = trainjet(api_url, "models", "predict", MODEL_ID, "-s", "EURUSD", "-d", "2031-01-01")
    assert late.returncode == 2
    assert "outside the data" in late.stderr


def test_models_save_of_an_unknown_operation(api_url: str) -> None:
    result = trainjet(api_url, "models", "save", "no-such-op", "my_model")
    assert result.returncode == 2
    assert "Operation not found: no-such-op" in result.stderr


def test_strategies_list_table_and_json(api_url: str) -> None:
    table = trainjet(api_url, "strategies", "list")
    assert table.returncode == 0, table.stderr
    assert "eurusd_rsi_mlp" in table.stdout
    assert "broken_demo" in table.stdout
    rows = {r["name"]: r for r in json.loads(trainjet(api_url, "strategies", "list",
                                                      "--json").stdout)}  # fmt: skip
    assert rows["eurusd_rsi_mlp"]["training_status"] == "trained"
    assert rows["eurusd_rsi_mlp"]["available_versions"] == [1]
    assert rows["broken_demo"]["is_valid"] is False
    shown = trainjet(api_url, "strategies", "show", "eurusd_rsi_mlp")
    assert shown.returncode == 0
    assert MODEL_ID in shown.stdout


def test_strategies_validate_exit_codes(api_url: str) -> None:
    valid = trainjet(api_url, "strategies", "validate", "eurusd_rsi_mlp")
    assert valid.returncode == 0, valid.stderr
    assert "Strategy 'eurusd_rsi_mlp' is valid" in valid.stdout
    invalid = trainjet(api_url, "strategies", "validate", "broken_demo")
    assert invalid.returncode == 1
    assert "has 1 error" in invalid.stdout or "error(s)" in invalid.stdout
    assert "not_an_indicator" in invalid.stdout
    assert "error" in invalid.stdout
    as_json = trainjet(api_url, "strategies", "validate", "broken_demo", "--json")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["valid"] is False
    missing = trainjet(api_url, "strategies", "validate", "nope")
    assert missing.returncode == 2
    assert "Strategy file not found: nope.yaml" in missing.stderr
    unsafe = trainjet(api_url, "strategies", "validate", "../etc/passwd")
    assert unsafe.returncode == 2
    assert "Invalid strategy name" in unsafe.stderr


def test_unreachable_api_is_a_clear_error() -> None:
    result = trainjet(f"http://127.0.0.1:{free_port()}", "strategies", "list")
    assert result.returncode == 1
    assert "cannot reach the trainjet API" in result.stderr
    assert "Traceback" not in result.stderr
