"""Host (GPU) runners end to end (issue #4): one API and two `--pool host` runner processes on
a real nats-server, torch on CPU. The runners and the API have different models dirs, so a
model the API serves can only have come through the models bucket.

One stack for the module, in the order of the issue: refused without a host runner; a
completed host training served by `/models`; a cancel within one batch; SIGKILL of the runner
mid-training (the other resumes from the last checkpoint); SIGKILL of the last runner (the
operation fails naming it). Leases are short (TTL 2 s, lease 3 s).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.stack import TERMINAL, Stack, detail_of, running_stack

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(180)


class HostStack(Stack):
    def start_host_runner(self, index: int) -> subprocess.Popen[bytes]:
        """`trainjet runner --pool host`, with a models dir of its own."""
        env = {**self.env, "TRAINJET_MODELS_DIR": str(self.workdir / f"runner{index}-models")}
        with open(self.workdir / f"runner{index}.log", "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "trainjet", "runner", "--pool", "host"],
                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir,
            )  # fmt: skip
        self.runners.append(proc)
        return proc

    def train(self, **body: Any) -> str:
        response = self.http.post("/trainings/start", json={"strategy_name": "eurusd_rsi_mlp",
                                                            "training_mode": "host", **body})  # fmt: skip
        assert response.status_code == 200, response.text
        return str(response.json()["task_id"])

    def events(self, op_id: str) -> list[dict[str, Any]]:
        return list(self.http.get(f"/operations/{op_id}/events").json()["data"]["events"])

    def finish(self, op_id: str, timeout: float = 90.0) -> dict[str, Any]:
        try:
            return self.wait_status(op_id, TERMINAL, timeout=timeout)
        except TimeoutError as exc:
            logs = "\n".join(
                f"--- {n}\n{self.log(n)}" for n in ("runner0.log", "runner1.log", "api.log")
            )
            pytest.fail(f"{exc}\n{logs}")

    def wait_epochs(self, op_id: str, epochs: int, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            op = self.operation(op_id)
            if op["progress"]["steps_completed"] >= epochs or op["status"] in TERMINAL:
                return op
            time.sleep(0.02)
        raise TimeoutError(f"{op_id} never reached epoch {epochs}")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostStack]:
    root = tmp_path_factory.mktemp("hosts")
    with running_stack(
        root,
        HostStack,
        TRAINJET_STRATEGIES_DIR=str(REPO / "strategies"),
        TRAINJET_MARKET_DATA_DIR=str(REPO / "data"),
        TRAINJET_MODELS_DIR=str(root / "api-models"),
        TRAINJET_TORCH_THREADS="1",
        TRAINJET_RUNNER_TTL_SECONDS="2",
        TRAINJET_LEASE_SECONDS="3",
    ) as stack:
        stack.start_api()
        yield stack


@pytest.fixture(scope="module")
def hosts(api: HostStack) -> HostStack:
    api.start_host_runner(0)
    api.start_host_runner(1)
    api.wait_runners(2, timeout=60)
    return api


def test_host_mode_without_a_host_runner_is_refused_at_once(api: HostStack) -> None:
    before = api.http.get("/health").json()["streams"]["events"]["messages"]
    started = time.monotonic()
    response = api.http.post(
        "/trainings/start", json={"strategy_name": "eurusd_rsi_mlp", "training_mode": "host"}
    )
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert "No live host runner" in detail_of(response)
    assert "trainjet runner --pool host" in detail_of(response)
    assert api.http.get("/health").json()["streams"]["events"]["messages"] == before
    # auto falls back to the local pool, saying so in the operation
    auto = api.http.post(
        "/trainings/start", json={"strategy_name": "eurusd_rsi_mlp", "training_mode": "auto"}
    )
    assert auto.status_code == 200, auto.text
    op = api.operation(auto.json()["task_id"])
    assert op["pool"] == "local" and op["metadata"]["parameters"]["training_mode"] == "local"
    assert op["warnings"] == ["No live host runner: running on the local pool instead"]
    api.http.delete(f"/operations/{op['operation_id']}")  # no local runner here: drop it


def test_host_training_completes_and_the_api_serves_its_model(hosts: HostStack) -> None:
    runners = hosts.http.get("/runners").json()["data"]
    assert {r["pool"] for r in runners} == {"host"}
    for runner in runners:
        assert runner["device"] == "cpu"  # CUDA, then MPS, then CPU: CPU here
        assert runner["gpu"]["device_type"] == "cpu" and runner["gpu"]["gpu_used"] is False
    assert hosts.http.get("/health").json()["runners"]["by_pool"] == {"host": 2}

    op_id = hosts.train(epochs=3)
    op = hosts.finish(op_id)
    assert op["status"] == "completed", op["error_message"]
    result = op["result_summary"]
    session = result["session_info"]["session_id"]
    assert session and result["session_info"]["training_mode"] == "host"
    assert op["metadata"]["parameters"]["session_id"] == session
    usage = result["resource_usage"]
    assert (usage["training_mode"], usage["session_id"], usage["device"]) == (
        "host",
        session,
        "cpu",
    )
    assert usage["gpu"]["device_type"] == "cpu" and usage["runner_id"] == op["runner_id"]
    events = hosts.events(op_id)
    started = next(e for e in events if e["type"] == "operation_started")
    assert (started["pool"], started["session_id"], started["attempt"]) == ("host", session, 1)
    host_start = next(
        e for e in events if e["type"] == "phase_changed" and e["phase"] == "host_start"
    )
    assert host_start["message"] == f"Host session {session} started for eurusd_rsi_mlp"
    assert any("resource_usage" in e["context"] for e in events if e["type"] == "batch_progress")

    # The model: saved on the runner's machine, published, imported by the API.
    artifacts = result["artifacts"]
    assert artifacts["artifact_key"].startswith(f"{op_id}/")
    assert artifacts["artifact_bucket"] == "trainjet_models"
    assert Path(artifacts["model_path"]).is_relative_to(
        hosts.workdir / f"runner{_index(hosts, op)}-models"
    )
    model_id = artifacts["model_id"]
    deadline = time.monotonic() + 20
    while model_id not in {m["model_id"] for m in hosts.http.get("/models").json()["models"]}:
        assert time.monotonic() < deadline, f"{model_id} never listed: {hosts.log('api.log')}"
        time.sleep(0.05)
    assert (hosts.workdir / "api-models" / model_id / "model.pt").is_file()
    loaded = hosts.http.post(f"/models/{model_id}/load")
    assert loaded.status_code == 200, loaded.text
    predicted = hosts.http.post(
        "/models/predict", json={"model_name": model_id, "symbol": "EURUSD"}
    )
    assert predicted.status_code == 200, predicted.text
    assert predicted.json()["prediction"]["action"] in {"BUY", "HOLD", "SELL"}
    # saving a named copy finds the imported model, not the runner's path
    saved = hosts.http.post("/models/save", json={"task_id": op_id, "model_name": "host-copy"})
    assert saved.status_code == 200, saved.text
    assert (hosts.workdir / "api-models" / "_named" / "host-copy" / "model.pt").is_file()


def test_cancel_of_a_host_training_lands_within_one_batch(hosts: HostStack) -> None:
    op_id = hosts.train(epochs=400)
    hosts.wait_epochs(op_id, 1)
    response = hosts.http.post(f"/operations/{op_id}/cancel", json={"reason": "stop it"})
    data = response.json()["data"]
    assert response.status_code == 200 and data["status"] == "cancelled", response.text
    assert data["cancel_latency_ms"] < 5_000
    events = hosts.events(op_id)
    cancel_at = next(i for i, e in enumerate(events) if e["type"] == "cancel_requested")
    before = [e for e in events[:cancel_at] if e["type"] == "batch_progress"]
    after = [e for e in events[cancel_at:] if e["type"] == "batch_progress"]
    last_before = before[-1]["items_processed"] if before else 0
    # what was coalesced before the runner saw the cancel, plus at most the batch in flight
    assert after == [] or after[-1]["items_processed"] - last_before == sum(
        len(e["batches"]) for e in after
    )
    assert [e["type"] for e in events].count("operation_cancelled") == 1
    assert events[-1]["type"] == "operation_cancelled"


def test_sigkill_mid_training_resumes_on_the_other_runner(hosts: HostStack) -> None:
    op_id = hosts.train(epochs=80)
    op = hosts.wait_epochs(op_id, 4)
    assert op["status"] == "running", op
    victim = _runner(hosts, op["runner_id"])
    os.kill(victim["pid"], signal.SIGKILL)
    killed_at = time.time()
    done = hosts.finish(op_id)
    assert done["status"] == "completed", done["error_message"]

    events = hosts.events(op_id)
    types = [e["type"] for e in events]
    starts = [e for e in events if e["type"] == "operation_started"]
    (lost,) = [e for e in events if e["type"] == "runner_lost"]
    assert [s["attempt"] for s in starts] == [1, 2]
    assert starts[0]["runner_id"] == lost["runner_id"] == victim["runner_id"]
    assert (
        starts[1]["runner_id"] != victim["runner_id"]
        and done["runner_id"] == starts[1]["runner_id"]
    )
    assert starts[1]["session_id"] != starts[0]["session_id"]
    assert types.index("runner_lost") < events.index(starts[1])  # the hand-over, in order
    resumed = starts[1]["resumed_from_epoch"]
    # from the last checkpoint stored (epoch 3 or 4 when killed after 4), not from scratch
    assert resumed is not None and 2 <= resumed < 80
    assert done["result_summary"]["session_info"]["resumed_from_epoch"] == resumed
    assert done["result_summary"]["session_info"]["attempt"] == 2
    handover = _at(starts[1]) - killed_at
    print(f"\nSIGKILL -> resumed by the other runner: {handover:.2f} s (lease 3 s, TTL 2 s)")
    print(" ".join(_compact(events)))
    assert handover < 15
    # no epoch counted twice, none missing
    epochs = hosts.http.get(f"/operations/{op_id}/metrics").json()["data"]["metrics"]["epochs"]
    assert [e["epoch"] for e in epochs] == list(range(1, 81))
    assert types.count("operation_completed") == 1


def test_sigkill_of_the_last_runner_fails_naming_it(hosts: HostStack) -> None:
    (survivor,) = _live(hosts)
    op_id = hosts.train(epochs=400)
    op = hosts.wait_epochs(op_id, 1)
    assert op["runner_id"] == survivor["runner_id"]
    os.kill(survivor["pid"], signal.SIGKILL)
    killed_at = time.monotonic()
    failed = hosts.finish(op_id, timeout=30)
    assert time.monotonic() - killed_at < 15
    assert failed["status"] == "failed"
    assert survivor["runner_id"] in failed["error_message"]
    assert (
        "lost" in failed["error_message"]
        and "no live runner of pool 'host'" in failed["error_message"]
    )
    assert [e["type"] for e in hosts.events(op_id)].count("operation_failed") == 1


def _live(stack: HostStack) -> list[dict[str, Any]]:
    """Registered runners whose process is still alive."""
    alive = {p.pid for p in stack.runners if p.poll() is None}
    return [r for r in stack.http.get("/runners").json()["data"] if r["pid"] in alive]


def _runner(stack: HostStack, runner_id: str) -> dict[str, Any]:
    return next(r for r in stack.http.get("/runners").json()["data"] if r["runner_id"] == runner_id)


def _index(stack: HostStack, op: dict[str, Any]) -> int:
    pid = _runner(stack, op["runner_id"])["pid"]
    return next(i for i, p in enumerate(stack.runners) if p.pid == pid)


def _at(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00")).timestamp()


def _compact(events: list[dict[str, Any]]) -> list[str]:
    """The log as one line per run of a type: `epoch_completed 1-4`, `runner_lost`, ..."""
    out: list[str] = []
    for e in events:
        tag = e["type"]
        if tag == "epoch_completed":
            tag = f"epoch {e['epoch']}"
        elif tag in ("operation_started", "runner_lost"):
            tag = f"{tag}(attempt {e['attempt']}, {e['runner_id'][-6:]}" + (
                f", from epoch {e['resumed_from_epoch']})" if e.get("resumed_from_epoch") else ")"
            )
        elif tag == "phase_changed":
            tag = f"phase {e['phase']}"
        if out and out[-1].split(" x")[0] == tag:
            count = int(out[-1].split(" x")[1]) + 1 if " x" in out[-1] else 2
            out[-1] = f"{tag} x{count}"
        else:
            out.append(tag)
    return out
