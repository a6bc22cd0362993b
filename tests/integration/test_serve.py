"""`trainjet serve` owns an embedded nats-server and its runners: Ctrl-C or SIGTERM stops
every process it started, and a restart finds the same operations in the same store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.stack import free_port

pytestmark = pytest.mark.timeout(180)


def _children(pid: int) -> set[int]:
    """Every descendant pid of `pid`, from /proc."""
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _start(tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "TRAINJET_NATS_URL"}
    env["TRAINJET_DATA_DIR"] = str(tmp_path / ".trainjet")
    return subprocess.Popen(
        [sys.executable, "-m", "trainjet", "serve", "--port", str(port), "--runners", "2"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_healthy(base: str, runners: int) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            health = httpx.get(f"{base}/health", timeout=2).json()
            if health["runners"]["count"] >= runners:
                return dict(health)
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.2)
    raise TimeoutError("serve did not become healthy")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_everything_it_started(tmp_path: Path, sig: signal.Signals) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    proc = _start(tmp_path, port)
    try:
        health = _wait_healthy(base, runners=2)
        assert health["nats"]["url"].startswith("nats://127.0.0.1:")
        runtime = json.loads((tmp_path / ".trainjet" / "runtime.json").read_text())
        assert runtime["nats_url"] == health["nats"]["url"]
        assert (tmp_path / ".trainjet" / "nats" / "jetstream").is_dir()  # store in the data dir
        op = httpx.post(
            f"{base}/dummy/start", json={"iterations": 1000, "interval_seconds": 0.05}
        ).json()
        children = _children(proc.pid)
        assert len(children) >= 3  # nats-server + 2 runners
        proc.send_signal(sig)
        assert proc.wait(timeout=60) == (0 if sig is signal.SIGTERM else 130)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in children if _alive(pid)], "serve left processes behind"
        assert not (tmp_path / ".trainjet" / "runtime.json").exists()
    finally:
        if proc.poll() is None:
            proc.kill()

    # the same data dir again: the operation is still there, and it did not stay "running"
    proc = _start(tmp_path, port)
    try:
        _wait_healthy(base, runners=1)
        again = httpx.get(f"{base}/operations/{op['data']['operation_id']}").json()["data"]
        assert again["status"] == "failed"
        assert "shut down" in again["error_message"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
