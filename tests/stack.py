"""Real processes for end-to-end tests: a nats-server, `trainjet api` and `trainjet runner`
subprocesses, talking over real HTTP and real NATS, each on free ports.

`running_stack(root, **env)` is the one way a test starts a deployment: a fresh nats-server
under `root` and a `Stack` on it, closed (processes, then the server) when the block ends. The
fixtures in tests/conftest.py and the module- or package-scoped fixtures of the suites that
prepare a deployment of their own (trained models, extra strategies) all go through it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from trainjet.core.events import TERMINAL_TYPES, OperationStatus, type_name
from trainjet.natsd import EmbeddedNats

REPO = Path(__file__).resolve().parents[1]
# Terminal statuses, and the wire types of the terminal events, as the event model defines them.
TERMINAL = {s.value for s in OperationStatus if s.is_terminal}
TERMINAL_EVENTS = frozenset(type_name(t) for t in TERMINAL_TYPES)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    """One trainjet deployment: API + runners on one NATS server."""

    def __init__(self, nats_url: str, workdir: Path, **env: str) -> None:
        self.nats_url = nats_url
        self.workdir = workdir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/api/v1"
        self.env = {
            **os.environ,
            "TRAINJET_NATS_URL": nats_url,
            "TRAINJET_DATA_DIR": str(workdir / ".trainjet"),
            "TRAINJET_MODELS_DIR": str(workdir / "models"),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.api_proc: subprocess.Popen[bytes] | None = None
        self.runners: list[subprocess.Popen[bytes]] = []
        self.http = httpx.Client(base_url=self.base, timeout=30.0)
        self.provisioned = False

    def setup(self, **env: str) -> str:
        """`trainjet setup` on this stack's server (once; `env` adds e.g. admin credentials):
        the API and runners only check for the streams, as in a real deployment."""
        result = subprocess.run(
            [sys.executable, "-m", "trainjet", "setup"], env={**self.env, **env},
            cwd=self.workdir, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"trainjet setup failed: {result.stdout}{result.stderr}")
        self.provisioned = True
        return result.stdout

    def _spawn(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        if not self.provisioned:
            self.setup()
        with open(self.workdir / log, "ab") as out:  # the child keeps its own descriptor
            return subprocess.Popen(
                [sys.executable, "-m", "trainjet", *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )

    def start_api(self, timeout: float = 30.0) -> None:
        self.api_proc = self._spawn("api", "--port", str(self.port), log="api.log")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.api_proc.poll() is not None:
                raise RuntimeError(f"API exited: {self.log('api.log')}")
            try:
                if self.http.get("/health").status_code in (200, 503):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"API not ready: {self.log('api.log')}")

    def stop_api(self) -> None:
        if self.api_proc is not None:
            self.api_proc.send_signal(signal.SIGTERM)
            self.api_proc.wait(timeout=20)
            self.api_proc = None

    def start_runner(self, *args: str) -> subprocess.Popen[bytes]:
        proc = self._spawn("runner", *args, log=f"runner{len(self.runners)}.log")
        self.runners.append(proc)
        return proc

    def wait_runners(self, count: int, timeout: float = 90.0) -> list[dict[str, Any]]:
        """A runner registers once it has imported the training stack (seconds of CPU; more
        on a loaded machine): the bound only catches a runner that never comes up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self.http.get("/runners").json()["data"]
            if len(data) >= count:
                return list(data)
            time.sleep(0.1)
        raise TimeoutError(f"{count} runner(s) not registered: {self.log('runner0.log')}")

    def log(self, name: str) -> str:
        try:
            return (self.workdir / name).read_text()[-4000:]
        except OSError:
            return ""

    def operation(self, op_id: str) -> dict[str, Any]:
        response = self.http.get(f"/operations/{op_id}")
        response.raise_for_status()
        return dict(response.json()["data"])

    def wait_status(self, op_id: str, statuses: set[str], timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        op: dict[str, Any] = {}
        while time.monotonic() < deadline:
            op = self.operation(op_id)
            if op["status"] in statuses:
                return op
            time.sleep(0.02)
        raise TimeoutError(f"{op_id} still {op.get('status')}; wanted {statuses}")

    def start_dummy(self, iterations: int = 5, interval: float = 0.05, **extra: Any) -> str:
        response = self.http.post(
            "/dummy/start", json={"iterations": iterations, "interval_seconds": interval, **extra}
        )
        response.raise_for_status()
        return str(response.json()["data"]["operation_id"])

    def close(self) -> None:
        for proc in [*self.runners, *([self.api_proc] if self.api_proc else [])]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [*self.runners, *([self.api_proc] if self.api_proc else [])]:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.http.close()


def assert_outage_answer(response: httpx.Response) -> None:
    """What the API answers when the store cannot serve a request: 503 JSON with Retry-After
    (never a bare 500, never text/plain)."""
    assert response.status_code == 503, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.text
    assert response.headers["retry-after"].isdigit()
    assert response.json()["success"] is False


def copy_inputs(root: Path) -> dict[str, str]:
    """Copies of the repository's market data and strategies under `root` (for tests that
    add, change or remove some), and the settings that point a stack at them."""
    shutil.copytree(REPO / "data", root / "data")
    shutil.copytree(REPO / "strategies", root / "strategies")
    return {
        "TRAINJET_STRATEGIES_DIR": str(root / "strategies"),
        "TRAINJET_MARKET_DATA_DIR": str(root / "data"),
    }


@contextmanager
def running_stack(root: Path, stack_type: type[Stack] = Stack, **env: str) -> Iterator[Stack]:
    """A fresh nats-server (its store under `root`) and a `stack_type` on it, nothing started
    yet; everything it started is stopped when the block ends."""
    with EmbeddedNats(root / "nats-data") as server:
        stack = stack_type(server.url, root, **env)
        try:
            yield stack
        finally:
            stack.close()


def detail_of(response: httpx.Response) -> str:
    """The error message of an API answer: `detail` is a string, or for configuration errors
    ktrdr's structured object, whose `message` is the text."""
    detail = response.json()["detail"]
    return str(detail["message"]) if isinstance(detail, dict) else str(detail)
