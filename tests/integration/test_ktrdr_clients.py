"""What ktrdr's own CLI and API client send and read, against a real stack (real NATS, HTTP).

Each request below is the exact shape ktrdr's client sends; each answer is checked for the
fields that client reads, and every error body against the model `/openapi.json` documents
for that route and status.
"""

from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.stack import TERMINAL, Stack, copy_inputs, running_stack
from tests.strategy_texts import unknown_indicator
from trainjet.api.schemas_errors import ErrorResponse

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def ktrdr_stack(tmp_path: Path) -> Iterator[Stack]:
    inputs = copy_inputs(tmp_path)
    (tmp_path / "strategies" / "odd_indicator.yaml").write_text(unknown_indicator("odd_indicator"))
    (tmp_path / "strategies" / "no_fuzzy.yaml").write_text("name: no_fuzzy\nindicators: []\n")
    with running_stack(
        tmp_path,
        **inputs,
        # Generous: a loaded CI machine must not make a training look lost.
        TRAINJET_RUNNER_TTL_SECONDS="60",
        TRAINJET_LEASE_SECONDS="60",
    ) as s:
        yield s


def documented_error(stack: Stack, method: str, path: str, response: httpx.Response) -> Any:
    """The body validated against the schema `/openapi.json` documents for this answer."""
    spec = httpx.get(stack.base.removesuffix("/api/v1") + "/openapi.json").json()
    documented = spec["paths"][f"/api/v1{path}"][method.lower()]["responses"]
    status = str(response.status_code)
    assert status in documented, f"{method} {path} answered {status}, documented {list(documented)}"
    ref = documented[status]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/ErrorResponse"
    return ErrorResponse.model_validate(response.json())  # extra="forbid": no drift


def test_symbols_preflight_lists_the_data_files(ktrdr_stack: Stack) -> None:
    """ktrdr's `health_check()`: GET {base}/symbols, 5 s timeout, any 2xx passes."""
    ktrdr_stack.start_api()
    started = time.monotonic()
    response = httpx.get(f"{ktrdr_stack.base}/symbols", timeout=5.0)
    assert response.status_code == 200
    assert time.monotonic() - started < 5.0
    body = response.json()
    assert body["success"] is True and body["error"] is None
    rows = {row["symbol"]: row for row in body["data"]}
    assert set(rows) == {"EURUSD", "GOOG", "BTCUSD"}
    assert rows["EURUSD"]["available_timeframes"] == ["1h", "4h", "1d"]
    assert rows["BTCUSD"]["available_timeframes"] == ["1M"]  # a month, not a minute
    for row in rows.values():
        assert set(row) == {"symbol", "name", "type", "exchange", "currency",
                            "available_timeframes", "trading_hours"}  # fmt: skip
    assert rows["EURUSD"]["type"] == "forex" and rows["EURUSD"]["currency"] == "USD"
    # a new file is listed at once (the cache follows the directory), junk names are not
    data = ktrdr_stack.workdir / "data"
    shutil.copy(data / "GOOG_1d.csv", data / "AAPL_1d.csv")
    (data / "notes.txt").write_text("not data")
    (data / "bad name_1h.csv").write_text("x")
    rows = {r["symbol"]: r for r in ktrdr_stack.http.get("/symbols").json()["data"]}
    assert set(rows) == {"AAPL", "EURUSD", "GOOG", "BTCUSD"}
    timeframes = ktrdr_stack.http.get("/timeframes").json()
    assert [t["id"] for t in timeframes["data"]] == ["1h", "4h", "1d", "1M"]
    assert timeframes["data"][0] == {"id": "1h", "name": "1 Hour", "description": "1 Hour bars"}


START = "/trainings/start"


@pytest.mark.parametrize(
    ("body", "error_code", "context_key"),
    [
        ({"strategy_name": "no_such_strategy"}, "CONFIG-StrategyNotFound", "strategy_name"),
        ({"strategy_name": "no_fuzzy"}, "CONFIG-InvalidStrategy", "strategy_name"),
        ({"strategy_name": "odd_indicator"}, "CONFIG-UnsupportedIndicator", "strategy_name"),
        ({"strategy_name": "eurusd_rsi_mlp", "symbols": ["AAPL"]}, "DATA-NotFound", "symbol"),
        ({"strategy_name": "eurusd_rsi_mlp", "start_date": "2010-01-01",
          "end_date": "2010-06-30"}, "DATA-NoBarsInRange", "start_date"),
        ({"strategy_name": "eurusd_rsi_mlp", "start_date": "soon"}, "CONFIG-InvalidRequest",
         "start_date"),
    ],
)  # fmt: skip
def test_refused_start_carries_ktrdrs_error_object(
    ktrdr_stack: Stack, body: dict[str, Any], error_code: str, context_key: str
) -> None:
    ktrdr_stack.start_api()
    # ktrdr's TrainingOperationAdapter sends exactly these keys
    request = {"strategy_name": body["strategy_name"], "symbols": body.get("symbols", ["EURUSD"]),
               "timeframes": ["1h"], "detailed_analytics": False,
               **{k: v for k, v in body.items() if k.endswith("_date")}}  # fmt: skip
    response = ktrdr_stack.http.post(START, json=request)
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    # ktrdr's CLI prints the reason only for an object with these keys
    assert set(detail) == {"message", "error_code", "context", "details", "suggestion"}
    assert detail["error_code"] == error_code
    assert context_key in detail["context"]
    assert detail["message"] and detail["suggestion"].endswith(".")
    error = response.json()["error"]  # trainjet's own object stays beside it
    assert error["message"] == detail["message"] and error["code"].startswith("TRAINJET-")
    documented_error(ktrdr_stack, "POST", START, response)
    assert ktrdr_stack.http.get("/operations").json()["total_count"] == 0


def test_error_bodies_match_the_documented_schema(ktrdr_stack: Stack) -> None:
    ktrdr_stack.start_api()
    http = ktrdr_stack.http
    missing = http.get("/operations/nope")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "Operation not found: nope"  # ktrdr's string
    documented_error(ktrdr_stack, "GET", "/operations/{operation_id}", missing)
    validate = http.post("/strategies/validate/no_such_strategy")
    assert validate.status_code == 404
    assert validate.json()["detail"]["error_code"] == "CONFIG-StrategyNotFound"
    documented_error(ktrdr_stack, "POST", "/strategies/validate/{strategy_name}", validate)
    bad_name = http.post("/strategies/validate/bad%20name")
    assert bad_name.status_code == 400
    assert bad_name.json()["detail"]["error_code"] == "CONFIG-InvalidStrategyName"
    documented_error(ktrdr_stack, "POST", "/strategies/validate/{strategy_name}", bad_name)
    shape = http.post(START, json={"strategy_name": 5, "epochs": "many"})
    assert shape.status_code == 422
    documented_error(ktrdr_stack, "POST", START, shape)
    host = http.post(START, json={"strategy_name": "eurusd_rsi_mlp", "training_mode": "host"})
    assert host.status_code == 503
    assert host.json()["detail"]["error_code"] == "TRAINING-NoHostRunner"
    documented_error(ktrdr_stack, "POST", START, host)


def test_retry_refuses_all_but_failed_operations(ktrdr_stack: Stack) -> None:
    ktrdr_stack.start_api()
    ktrdr_stack.start_runner()
    running = ktrdr_stack.start_dummy(iterations=1000, interval=0.05)
    ktrdr_stack.wait_status(running, {"running"})
    refused = ktrdr_stack.http.post(f"/operations/{running}/retry")
    assert refused.status_code == 400
    assert "still running" in refused.json()["detail"]
    ktrdr_stack.http.post(f"/operations/{running}/cancel", json={"reason": "retry me"})
    assert ktrdr_stack.wait_status(running, TERMINAL)["status"] == "cancelled"
    cancelled = ktrdr_stack.http.post(f"/operations/{running}/retry")
    assert cancelled.status_code == 400
    assert "only a failed operation can be retried" in cancelled.json()["detail"]
    documented_error(ktrdr_stack, "POST", "/operations/{operation_id}/retry", cancelled)
    done = ktrdr_stack.start_dummy(iterations=1, interval=0.0)
    ktrdr_stack.wait_status(done, TERMINAL)
    assert ktrdr_stack.http.post(f"/operations/{done}/retry").status_code == 400
    unknown = ktrdr_stack.http.post("/operations/nope/retry")
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "Operation not found: nope"
    assert ktrdr_stack.http.get("/operations").json()["total_count"] == 2  # nothing new


def _events(stack: Stack, op_id: str) -> list[dict[str, Any]]:
    return list(stack.http.get(f"/operations/{op_id}/events").json()["data"]["events"])


def _wait_epoch(stack: Stack, op_id: str, epoch: int, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(e["type"] == "epoch_completed" and e["epoch"] >= epoch
               for e in _events(stack, op_id)):  # fmt: skip
            return
        time.sleep(0.2)
    pytest.fail(f"{op_id} never reached epoch {epoch}: {stack.log('runner0.log')}")


def test_retry_of_a_failed_training_resumes_from_its_checkpoint(ktrdr_stack: Stack) -> None:
    stack = ktrdr_stack
    stack.start_api()
    proc = stack.start_runner()
    stack.wait_runners(1)
    started = stack.http.post(START, json={"strategy_name": "eurusd_rsi_mlp", "epochs": 400})
    assert started.status_code == 200, started.text
    failed = started.json()["task_id"]
    _wait_epoch(stack, failed, 3)
    # The runner is stopped: its training fails (runner_shutdown) and keeps its checkpoint.
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    op = stack.wait_status(failed, TERMINAL, timeout=60)
    assert op["status"] == "failed", op
    stack.start_runner()
    stack.wait_runners(1)
    answer = stack.http.post(f"/operations/{failed}/retry")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    retry = body["data"]["operation_id"]
    assert (body["retry_of"], body["resume_from"], body["data"]["retry_of"]) == (
        failed, failed, failed)  # fmt: skip
    epoch = body["checkpoint_epoch"]
    assert isinstance(epoch, int) and epoch >= 1
    assert f"resumes from the checkpoint of epoch {epoch}" in body["message"]
    _wait_epoch(stack, retry, epoch + 1)
    events = _events(stack, retry)
    assert events[0]["type"] == "operation_created"
    assert events[0]["inputs"]["resume_from"] == failed
    started_event = next(e for e in events if e["type"] == "operation_started")
    assert (started_event["attempt"], started_event["resumed_from_epoch"]) == (1, epoch)
    assert any(f"epoch {epoch} of failed operation {failed}" in str(e.get("message"))
               for e in events if e["type"] == "phase_changed")  # fmt: skip
    first_epoch = next(e["epoch"] for e in events if e["type"] == "epoch_completed")
    assert first_epoch == epoch + 1  # not from the first epoch
    stack.http.post(f"/operations/{retry}/cancel")
    assert stack.wait_status(retry, TERMINAL)["status"] == "cancelled"
