"""One real deployment for the CLI tests of this package: a nats-server, `trainjet api` and one
`trainjet runner` as subprocesses, with one completed, one cancelled and one failed training
already in the log (made through the API, so the replay tests do not depend on the train
tests). Package-scoped: starting the stack and the runner's torch costs seconds."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.stack import TERMINAL, Stack, copy_inputs, running_stack

REPO = Path(__file__).resolve().parents[2]


@dataclass
class CliStack:
    stack: Stack
    root: Path
    completed: str
    cancelled: str
    failed: str

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.stack.port}"

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "TRAINJET_API_URL": self.api_url,
            "TRAINJET_NATS_URL": self.stack.nats_url,
            "TRAINJET_DATA_DIR": str(self.root / ".trainjet-cli"),
            "COLUMNS": "200",
            "NO_COLOR": "1",
            **extra,
        }

    def run(self, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "trainjet", *args],
            env=self.env(**env), cwd=self.root, capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "trainjet", *args],
            env=self.env(), cwd=self.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip

    def events(self, op_id: str) -> list[dict[str, Any]]:
        body = self.stack.http.get(f"/operations/{op_id}/events").json()
        return list(body["data"]["events"])

    def finish(self, op_id: str, timeout: float = 90.0) -> dict[str, Any]:
        try:
            return self.stack.wait_status(op_id, TERMINAL, timeout=timeout)
        except TimeoutError as exc:
            pytest.fail(f"{exc}\nrunner: {self.stack.log('runner0.log')}")

    def wait_epochs(self, op_id: str, epochs: int = 1, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.stack.operation(op_id)["progress"]["steps_completed"] >= epochs:
                return
            time.sleep(0.05)
        pytest.fail(f"{op_id}: no epoch finished in {timeout}s\n{self.stack.log('runner0.log')}")


class Lines:
    """A child's stdout read in a thread, so a test can wait for a line with a deadline."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert proc.stdout is not None
        stream = proc.stdout

        def pump() -> None:
            for line in stream:
                self._queue.put(line)
            self._queue.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} never came; output so far:\n{''.join(self.seen)}")

    def rest(self) -> str:
        """Everything still to come (call once the child has exited)."""
        lines = []
        while (line := self._queue.get(timeout=10)) is not None:
            lines.append(line)
        self.seen += lines
        return "".join(lines)


def start_training(stack: Stack, **body: Any) -> str:
    response = stack.http.post(
        "/trainings/start", json={"strategy_name": "eurusd_rsi_mlp", "epochs": 2, **body}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["task_id"])


@pytest.fixture(scope="package")
def cli_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliStack]:
    root = tmp_path_factory.mktemp("cli_live")
    inputs = copy_inputs(root)
    with running_stack(root, **inputs, TRAINJET_TORCH_THREADS="1") as stack:
        stack.start_api()
        # Failed: its data vanishes after the API accepted it, before a runner takes it.
        shutil.copy(root / "data" / "EURUSD_1h.csv", root / "data" / "GONE_1h.csv")
        failed = start_training(stack, symbols=["GONE"])
        (root / "data" / "GONE_1h.csv").unlink()
        stack.start_runner()
        cli = CliStack(stack, root, "", "", failed)
        assert cli.finish(failed)["status"] == "failed"
        cli.completed = start_training(stack)
        assert cli.finish(cli.completed)["status"] == "completed"
        cli.cancelled = start_training(stack, epochs=500)
        cli.wait_epochs(cli.cancelled, 2)
        cancel = stack.http.post(f"/operations/{cli.cancelled}/cancel", json={})
        assert cancel.status_code == 200, cancel.text
        assert cli.finish(cli.cancelled)["status"] == "cancelled"
        yield cli
