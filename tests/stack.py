"""Real processes for end-to-end tests: a nats-server, `trainjet api` and `trainjet runner`
subprocesses, talking over real HTTP and real NATS, each on free ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from trainjet.core.events import OperationStatus

TERMINAL = {s.value for s in OperationStatus if s.is_terminal}


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


def detail_of(response: httpx.Response) -> str:
    """The error message of an API answer: `detail` is a string, or for configuration errors
    ktrdr's structured object, whose `message` is the text."""
    detail = response.json()["detail"]
    return str(detail["message"]) if isinstance(detail, dict) else str(detail)
