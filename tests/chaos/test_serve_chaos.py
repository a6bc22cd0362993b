"""`trainjet serve` under abuse: SIGHUP and SIGKILL leave nothing behind, a second serve on
a live store is refused, a crashed runner is restarted, and a SIGKILLed nats-server is
restarted under the running serve with every operation ending as it should."""

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

from tests.chaos.report import full, record
from tests.chaos.terminal_scan import assert_one_terminal_each
from tests.integration.test_serve import _alive, _children
from tests.stack import TERMINAL, free_port
from trainjet.cli.runtime import read_runtime
from trainjet.natsd import EmbeddedNats, StoreInUse
from trainjet.natsd.embedded import LOCK_NAME, lock_dir

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(300)]


class Serve:
    """One `trainjet serve` subprocess on a data dir, its output in serve.log."""

    def __init__(self, root: Path, runners: int = 1) -> None:
        self.root = root
        self.data_dir = root / ".trainjet"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/api/v1"
        env = {k: v for k, v in os.environ.items() if k != "TRAINJET_NATS_URL"}
        env.update(TRAINJET_DATA_DIR=str(self.data_dir), PYTHONUNBUFFERED="1")
        self.env = env
        self.log_path = root / f"serve-{self.port}.log"
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "trainjet", "serve", "--port", str(self.port),
                 "--runners", str(runners)],
                env=env, cwd=root, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def health(self) -> dict[str, object]:
        return dict(httpx.get(f"{self.base}/health", timeout=5).json())

    def wait_healthy(self, runners: int = 1, timeout: float = 90) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log()
            try:
                health = self.health()
                if health["status"] == "ok" and health["runners"]["count"] >= runners:  # type: ignore[index]
                    return health
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"serve not healthy: {self.log()[-3000:]}")

    def nats_pid(self) -> int:
        for pid in _children(self.proc.pid):
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "nats-server":
                    return pid
            except OSError:
                continue
        raise AssertionError(f"serve has no nats-server child: {self.log()[-2000:]}")

    def runner_pids(self) -> list[int]:
        found = []
        for pid in _children(self.proc.pid):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"runner" in cmd and b"trainjet" in cmd:
                found.append(pid)
        return found

    def start_dummy(self, iterations: int, interval: float) -> str:
        body = {"iterations": iterations, "interval_seconds": interval}
        response = httpx.post(f"{self.base}/dummy/start", json=body, timeout=30)
        response.raise_for_status()
        return str(response.json()["data"]["operation_id"])

    def status(self, op_id: str) -> str:
        return str(
            httpx.get(f"{self.base}/operations/{op_id}", timeout=10).json()["data"]["status"]
        )

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _lock_is_free(data_dir: Path, name: str) -> bool:
    try:
        fd = lock_dir(data_dir, name, "test")
    except StoreInUse:
        return False
    os.close(fd)
    return True


def _wait_gone(pids: set[int], timeout: float) -> float:
    started = time.monotonic()
    while any(_alive(p) for p in pids):
        assert time.monotonic() - started < timeout, [p for p in pids if _alive(p)]
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGKILL], ids=["SIGHUP", "SIGKILL"])
def test_serve_ended_by_a_signal_leaves_nothing_behind(tmp_path: Path, sig: signal.Signals) -> None:
    serve = Serve(tmp_path)
    try:
        serve.wait_healthy()
        serve.start_dummy(iterations=10_000, interval=0.05)  # work in flight
        children = _children(serve.proc.pid)
        nats_pid = serve.nats_pid()
        assert nats_pid in children and serve.runner_pids()
        started = time.monotonic()
        serve.proc.send_signal(sig)
        serve.proc.wait(timeout=60)
        gone = _wait_gone(children, timeout=30) + (time.monotonic() - started)
        held = not _alive(nats_pid) and _lock_is_free(serve.data_dir, LOCK_NAME)
        held = held and _lock_is_free(serve.data_dir, "serve.lock")
        held = held and read_runtime(serve.data_dir) == {}
        record(
            f"serve ended by {sig.name}", "seconds until every child is gone", round(gone, 2), held
        )
        assert not _alive(nats_pid), "nats-server outlived serve"
        assert _lock_is_free(serve.data_dir, LOCK_NAME), "the store lock outlived serve"
        assert _lock_is_free(serve.data_dir, "serve.lock")
        assert read_runtime(serve.data_dir) == {}  # removed, or naming a dead pid
        if sig is signal.SIGHUP:
            assert serve.proc.returncode == 0
            assert not (serve.data_dir / "runtime.json").exists()
    finally:
        serve.close()


def test_a_second_serve_on_a_live_store_is_refused(tmp_path: Path) -> None:
    first = Serve(tmp_path)
    try:
        first.wait_healthy()
        started = time.monotonic()
        second = Serve(tmp_path)
        code = second.proc.wait(timeout=60)
        took = time.monotonic() - started
        out = second.log().strip()
        refused = code == 2 and "Traceback" not in out and len(out.splitlines()) == 1
        record("second serve on a live data dir", "seconds to refuse", round(took, 2), refused)
        assert code == 2, out
        assert "in use by another `trainjet serve`" in out and str(first.proc.pid) in out, out
        assert "Traceback" not in out and len(out.splitlines()) == 1, out
        # a bare nats-server on the store in use is refused too
        with pytest.raises(StoreInUse, match="in use by"):
            EmbeddedNats(first.data_dir).start()
        assert first.health()["status"] == "ok"  # the first one did not notice
    finally:
        first.close()


def test_a_crashed_runner_is_logged_and_restarted(tmp_path: Path) -> None:
    serve = Serve(tmp_path)
    try:
        serve.wait_healthy()
        (old,) = serve.runner_pids()
        os.kill(old, signal.SIGKILL)
        started = time.monotonic()
        deadline = started + 60
        while not (pids := serve.runner_pids()) or old in pids:
            assert time.monotonic() < deadline, serve.log()[-3000:]
            time.sleep(0.1)
        back = time.monotonic() - started
        ok = "exited after" in serve.log() and "killed by SIGKILL" in serve.log()
        record("runner SIGKILLed under serve", "seconds until restarted", round(back, 2), ok)
        assert f"(pid {old}) exited after" in serve.log()
        assert "killed by SIGKILL; restarting in" in serve.log()
        serve.wait_healthy()  # and it registers again
    finally:
        serve.close()


def test_nats_server_sigkilled_under_serve_is_restarted(tmp_path: Path) -> None:
    rounds = 3 if full() else 1
    serve = Serve(tmp_path, runners=2)
    try:
        serve.wait_healthy(runners=2)
        url = json.loads((serve.data_dir / "runtime.json").read_text())["nats_url"]
        ops: list[str] = []
        worst = 0.0
        for _ in range(rounds):
            ops += [serve.start_dummy(iterations=60, interval=0.05) for _ in range(4)]
            deadline = time.monotonic() + 60
            while not any(serve.status(op) == "running" for op in ops[-4:]):
                assert time.monotonic() < deadline
                time.sleep(0.1)
            killed = serve.nats_pid()
            os.kill(killed, signal.SIGKILL)
            started = time.monotonic()
            deadline = started + 90
            while True:
                assert time.monotonic() < deadline, serve.log()[-3000:]
                try:
                    if serve.nats_pid() != killed and serve.health()["status"] == "ok":
                        break
                except (AssertionError, httpx.HTTPError, ValueError):
                    pass
                time.sleep(0.1)
            worst = max(worst, time.monotonic() - started)
        statuses: dict[str, str] = {}
        deadline = time.monotonic() + 120
        while len(statuses) < len(ops):
            assert time.monotonic() < deadline, (statuses, serve.log()[-3000:])
            for op in ops:
                if op not in statuses and (status := serve.status(op)) in TERMINAL:
                    statuses[op] = status
            time.sleep(0.2)
        all_completed = set(statuses.values()) == {"completed"}
        ended = assert_one_terminal_each(url)
        record(
            f"nats-server SIGKILLed under serve ({rounds}x, {len(ops)} operations)",
            "seconds until healthy again (worst)",
            round(worst, 2),
            all_completed and ended == len(ops),
        )
        assert "nats-server (pid" in serve.log() and "restarting it on" in serve.log()
        assert all_completed, statuses
        assert ended == len(ops)
    finally:
        serve.close()
