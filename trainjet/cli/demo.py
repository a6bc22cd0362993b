"""`trainjet demo`: the whole system on one machine for one training, then clean up.

It runs `trainjet serve` (embedded NATS, the API on a free port, one local runner) as a child
process, trains through the API exactly as a user would, and stops the child on the way out,
whatever happens (Ctrl-C included).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace

import httpx

from trainjet.cli.client import CliError
from trainjet.cli.output import console
from trainjet.cli.train import follow_training, start_training
from trainjet.config import Settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CliError("`trainjet serve` exited during start-up (see the output above)")
        try:
            health = httpx.get(f"{url}/api/v1/health", timeout=2).json()
            if health.get("runners", {}).get("count", 0) >= 1:
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise CliError(f"trainjet did not become ready within {timeout:.0f}s")


def run_demo(settings: Settings, strategy: str, epochs: int | None) -> int:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    console.print(f"[bold]trainjet demo[/bold]: embedded NATS + API on {url} + 1 local runner")
    proc = subprocess.Popen(
        [sys.executable, "-m", "trainjet", "serve", "--port", str(port), "--runners", "1"],
        env={**os.environ, "TRAINJET_API_URL": url},
        start_new_session=True,  # our Ctrl-C cancels the training; we stop serve ourselves
    )
    try:
        _wait_ready(url, proc)
        demo_settings = replace(settings, api_url=url)
        body: dict[str, object] = {"strategy_name": strategy}
        if epochs:
            body["epochs"] = epochs
        started = start_training(demo_settings, body)
        console.print(f"[dim]{started['message']} · operation {started['task_id']}[/dim]")
        return follow_training(demo_settings, started["task_id"])
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        console.print("[dim]demo stopped: NATS, API and runner are down[/dim]")
