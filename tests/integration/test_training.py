"""Training end to end (issue #3's "Done when"): real nats-server, API and runner processes,
real torch on CPU, the bundled data and example strategies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import FakeReporter
from tests.stack import TERMINAL, Stack, copy_inputs, detail_of, running_stack
from tests.strategy_texts import unknown_indicator
from trainjet.core.events import BatchRecord
from trainjet.core.projections import batch_curve
from trainjet.core.store import JetStreamEventStore, StoredEvent
from trainjet.natsd import connect

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(300)

BAD_STRATEGIES = {
    "bad_indicator": unknown_indicator("bad_indicator"),
    "bad_fuzzy": """
name: bad_fuzzy
training_data: {symbols: {mode: single, symbol: EURUSD}, timeframes: {mode: single, timeframe: 1h}}
indicators:
  - {name: rsi, period: 14}
fuzzy_sets:
  rsi:
    low: {type: triangular, parameters: [30, 10]}
model: {type: mlp, architecture: {hidden_layers: [4]}, training: {epochs: 1}}
training: {labels: {source: zigzag, zigzag_threshold: 0.01}}
""",
    "short_history": """
name: short_history
training_data: {symbols: {mode: single, symbol: BTCUSD}, timeframes: {mode: single, timeframe: 1M}}
indicators:
  - {name: rsi, period: 14}
fuzzy_sets:
  rsi:
    low: {type: triangular, parameters: [0, 20, 40]}
    high: {type: triangular, parameters: [60, 80, 100]}
model: {type: mlp, architecture: {hidden_layers: [4]}, training: {epochs: 1}}
training: {labels: {source: zigzag, zigzag_threshold: 0.01}}
""",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("training")
    inputs = copy_inputs(root)
    for name, text in BAD_STRATEGIES.items():
        (root / "strategies" / f"{name}.yaml").write_text(text)
    with running_stack(root, **inputs, TRAINJET_TORCH_THREADS="1") as s:
        s.start_api()
        s.start_runner()
        s.wait_runners(1)
        yield s


def train(stack: Stack, strategy: str, **body: Any) -> str:
    response = stack.http.post("/trainings/start", json={"strategy_name": strategy, **body})
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["status"] == "training_started" and data["task_id"] == data["operation_id"]
    return str(data["task_id"])


def finish(stack: Stack, op_id: str, timeout: float = 120.0) -> dict[str, Any]:
    try:
        return stack.wait_status(op_id, TERMINAL, timeout=timeout)
    except TimeoutError as exc:
        pytest.fail(f"{exc}\nrunner: {stack.log('runner0.log')}")


def events_of(stack: Stack, op_id: str) -> list[dict[str, Any]]:
    return list(stack.http.get(f"/operations/{op_id}/events").json()["data"]["events"])


def test_eurusd_example_completes_with_test_metrics_and_a_stored_model(stack: Stack) -> None:
    op_id = train(stack, "eurusd_rsi_mlp", epochs=3, seed=7)
    op = finish(stack, op_id)
    assert op["status"] == "completed", op["error_message"]
    result = op["result_summary"]
    for section in (
        "training_metrics",
        "validation_metrics",
        "test_metrics",
        "resource_usage",
        "artifacts",
        "session_info",
        "model_info",
        "data_summary",
    ):
        assert section in result, section
    assert result["training_metrics"]["epochs_completed"] == 3
    test = result["test_metrics"]
    for key in (
        "test_loss",
        "test_accuracy",
        "precision",
        "recall",
        "f1_score",
        "confusion_matrix",
    ):
        assert test[key] is not None, key
    model_dir = stack.workdir / result["artifacts"]["model_path"]
    for name in ("model.pt", "config.json", "metrics.json", "features.json", "metadata.json"):
        assert (model_dir / name).is_file(), name
    assert (model_dir.parent / "EURUSD_1h_latest").read_text().strip() == model_dir.name

    params = op["metadata"]["parameters"]
    assert params["strategy_name"] == "eurusd_rsi_mlp" and params["epochs"] == 3
    assert op["metadata"]["symbol"] == "EURUSD" and op["metadata"]["timeframe"] == "1h"
    phases = [e["phase"] for e in events_of(stack, op_id) if e["type"] == "phase_changed"]
    for phase in (
        "loading",
        "indicators",
        "fuzzy",
        "features",
        "labels",
        "splitting",
        "training",
        "evaluating",
        "saving",
    ):
        assert phase in phases, phase
    perf = stack.http.get(f"/trainings/{op_id}/performance").json()
    assert perf["test_metrics"]["test_accuracy"] == test["test_accuracy"]
    metrics = stack.http.get(f"/operations/{op_id}/metrics").json()["data"]["metrics"]
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2, 3]
    assert metrics["best_epoch"] in (1, 2, 3)

    predicted = stack.http.post(
        "/models/predict", json={"model_name": "eurusd_rsi_mlp", "symbol": "EURUSD"}
    ).json()
    assert predicted["prediction"]["action"] in {"BUY", "HOLD", "SELL"}


@pytest.mark.parametrize(
    ("strategy", "symbol", "timeframes"),
    [
        ("eurusd_multi_timeframe", "EURUSD", ["1h", "4h", "1d"]),
        ("multi_symbol_daily", "MULTI", ["1d"]),
    ],
)
def test_multi_timeframe_and_multi_symbol_examples_complete(
    stack: Stack, strategy: str, symbol: str, timeframes: list[str]
) -> None:
    op = finish(stack, train(stack, strategy, epochs=2, detailed_analytics=True))
    assert op["status"] == "completed", op["error_message"]
    assert op["metadata"]["symbol"] == symbol
    assert op["metadata"]["parameters"]["analytics_enabled"] is True
    artifacts = op["result_summary"]["artifacts"]
    analytics = stack.workdir / artifacts["analytics_dir"]
    for name in ("metrics.csv", "detailed_metrics.json"):
        assert (analytics / name).is_file(), (name, artifacts["analytics_files"])
    summary = op["result_summary"]["data_summary"]
    assert sorted(summary["timeframes"]) == sorted(timeframes)
    assert op["result_summary"]["test_metrics"]["test_accuracy"] is not None


def test_cancel_mid_epoch_ends_cancelled_within_one_batch_and_saves_nothing(stack: Stack) -> None:
    models_before = set((stack.workdir / "models").rglob("model.pt"))
    # many epochs: the run lasts long enough to be cancelled mid-epoch
    op_id = train(stack, "eurusd_rsi_mlp", epochs=400)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        # an epoch is done and the loop is inside the next ones (epochs here last ~50 ms, so
        # the request lands between two batches of some epoch)
        if stack.operation(op_id)["progress"]["steps_completed"] >= 1:
            break
        time.sleep(0.02)
    response = stack.http.post(f"/operations/{op_id}/cancel", json={"reason": "stop it"})
    data = response.json()["data"]
    assert response.status_code == 200 and data["status"] == "cancelled"
    assert data["cancel_latency_ms"] < 5_000
    op = stack.operation(op_id)
    assert op["status"] == "cancelled" and op["cancellation_reason"] == "stop it"
    partial = op["result_summary"]
    assert partial["session_info"]["cancellation_reason"]
    assert 1 <= partial["training_metrics"]["epochs_completed"] < 400
    assert partial["artifacts"].get("model_path") in (None, "")
    assert set((stack.workdir / "models").rglob("model.pt")) == models_before

    events = events_of(stack, op_id)
    cancel_at = next(i for i, e in enumerate(events) if e["type"] == "cancel_requested")
    after = [e for e in events[cancel_at:] if e["type"] == "batch_progress"]
    before = [e for e in events[:cancel_at] if e["type"] == "batch_progress"]
    # Batches the runner still reported after the request: those coalesced before it saw the
    # cancel (at most ~100 ms worth) plus at most one more.
    last_before = before[-1]["items_processed"] if before else 0
    reported_after = sum(len(e["batches"]) for e in after)
    assert after == [] or after[-1]["items_processed"] - last_before == reported_after
    assert [e["type"] for e in events].count("operation_cancelled") == 1
    assert events[-1]["type"] == "operation_cancelled"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"strategy_name": "bad_indicator"}, "not_an_indicator"),
        ({"strategy_name": "bad_fuzzy"}, "rsi"),
        ({"strategy_name": "short_history"}, "Too few bars in BTCUSD_1M.csv: 156"),
        ({"strategy_name": "eurusd_rsi_mlp", "symbols": ["NOPE"]}, "Data file not found"),
        ({"strategy_name": "../strategies/eurusd_rsi_mlp"}, "strategy name"),
        ({"strategy_name": "no_such_strategy"}, "no_such_strategy"),
        ({"strategy_name": "eurusd_rsi_mlp", "training_mode": "gpu"}, "training_mode"),
        (
            {
                "strategy_name": "eurusd_rsi_mlp",
                "start_date": "2018-01-05",
                "end_date": "2017-01-01",
            },
            "must be before",
        ),
    ],
)
def test_bad_strategy_or_data_gives_400_and_leaves_no_operation(
    stack: Stack, body: dict[str, Any], needle: str
) -> None:
    before = stack.http.get("/health").json()["streams"]["events"]["messages"]
    response = stack.http.post("/trainings/start", json=body)
    assert response.status_code == 400, response.text
    assert needle.lower() in detail_of(response).lower()
    after = stack.http.get("/health").json()["streams"]["events"]["messages"]
    assert after == before


def test_host_mode_without_host_runner_is_refused(stack: Stack) -> None:
    response = stack.http.post(
        "/trainings/start", json={"strategy_name": "eurusd_rsi_mlp", "training_mode": "host"}
    )
    assert response.status_code == 503
    assert "No live host runner" in detail_of(response)


def _recorded_curve(stack: Stack, op_id: str) -> list[BatchRecord]:
    async def read() -> list[BatchRecord]:
        nc = await connect(stack.nats_url)
        try:
            records = await JetStreamEventStore(nc).read_operation(op_id)
            return batch_curve(r.event for r in records if isinstance(r, StoredEvent))
        finally:
            await nc.close()

    return asyncio.run(read())


def test_log_replays_the_exact_batch_curve_and_the_same_inputs_reproduce_the_run(
    stack: Stack,
) -> None:
    op_id = train(stack, "eurusd_rsi_mlp", epochs=2, seed=1234)
    op = finish(stack, op_id)
    assert op["status"] == "completed"
    curve = _recorded_curve(stack, op_id)
    bpe = op["progress"]["items_total"] // 2
    assert [(r.epoch, r.batch) for r in curve] == [
        (e, b) for e in (1, 2) for b in range(1, bpe + 1)
    ]

    # The same run, in this process, recording every batch the loop reports: the log must hold
    # exactly those values (not a sample, not a smoothing).
    import torch

    from trainjet.core.events import TrainingInputs
    from trainjet.training.pipeline import run_training

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the runner does: same kernels, same floating-point order
    try:
        recorder = FakeReporter()
        run_training(
            TrainingInputs(strategy_name="eurusd_rsi_mlp", epochs=2, seed=1234),
            recorder,
            models_dir=stack.workdir / "models-local",
            data_dir=stack.workdir / "data",
            strategies_dir=stack.workdir / "strategies",
        )
    finally:
        torch.set_num_threads(threads)
    assert curve == [BatchRecord(e, b, loss, acc) for e, b, _, _, loss, acc in recorder.batches]

    # Retry is only for failed operations (as ktrdr's server does); the same request again is
    # how a user reruns a completed one, and with the same seed it is the same run.
    again_id = train(stack, "eurusd_rsi_mlp", epochs=2, seed=1234)
    again = finish(stack, again_id)
    assert again["status"] == "completed"
    assert again["metadata"]["parameters"]["seed"] == 1234
    assert again["result_summary"]["test_metrics"] == op["result_summary"]["test_metrics"]
    assert _recorded_curve(stack, again_id) == curve
    created = events_of(stack, op_id)[0]
    assert created["inputs"]["strategy_yaml"].startswith("# The demo strategy")
    assert set(created["inputs"]["data_hashes"]) == {"EURUSD_1h"}
    assert created["inputs"]["versions"]["torch"].startswith("2.13")
