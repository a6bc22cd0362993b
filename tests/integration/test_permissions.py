"""Who may do what (issue #4), on a nats-server running the repository's own `nats.conf`
(its users and permissions from deploy/nats/users.conf): the API and a host runner do their
whole job as their users; a runner is refused when it tries to queue work or delete the log;
a viewer reads but cannot publish; a wrong password is refused with a clear message."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest

from tests.integration.harness import TERMINAL, Stack, free_port
from trainjet.core.store import JetStreamCommandQueue, StartCommand, StoreSettings, StoreTimeout
from trainjet.core.store.errors import StoreUnavailable
from trainjet.natsd import connect, find_nats_server

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)
PASSWORDS = {"api": "api-secret", "runner": "runner-secret", "viewer": "viewer-secret"}


def start_server(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    """nats-server on `nats.conf` as shipped, only its ports moved; started in `root`, so the
    config's relative store dir lands there. Passwords come from its environment."""
    port, log = free_port(), root / "nats.log"
    env = {**os.environ, **{f"TRAINJET_NATS_{w.upper()}_PASSWORD": s for w, s in PASSWORDS.items()}}
    proc = subprocess.Popen(
        [str(find_nats_server()), "-c", str(REPO / "nats.conf"), "-p", str(port),
         "-m", str(free_port()), "-l", str(log)],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 15
    while "Server is ready" not in (log.read_text() if log.exists() else ""):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"nats-server did not start: {log.read_text() if log.exists() else ''}")
        time.sleep(0.02)
    return proc, f"nats://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("permissions")
    server, url = start_server(root)
    stack = Stack(
        url, root,
        TRAINJET_NATS_USER="trainjet-api", TRAINJET_NATS_PASSWORD=PASSWORDS["api"],
        TRAINJET_STRATEGIES_DIR=str(REPO / "strategies"),
        TRAINJET_MARKET_DATA_DIR=str(REPO / "data"),
        TRAINJET_TORCH_THREADS="1",
    )  # fmt: skip
    try:
        stack.start_api()
        runner_env = {**stack.env, "TRAINJET_NATS_USER": "trainjet-runner",
                      "TRAINJET_NATS_PASSWORD": PASSWORDS["runner"],
                      "TRAINJET_MODELS_DIR": str(root / "runner-models")}  # fmt: skip
        with open(root / "runner0.log", "ab") as out:
            stack.runners.append(subprocess.Popen(
                [sys.executable, "-m", "trainjet", "runner", "--pool", "host"],
                env=runner_env, stdout=out, stderr=subprocess.STDOUT, cwd=root))  # fmt: skip
        stack.wait_runners(1, timeout=60)
        yield stack
    finally:
        stack.close()
        server.terminate()
        server.wait(timeout=10)


def user(who: str) -> dict[str, Any]:
    return {"user": f"trainjet-{who}", "password": PASSWORDS[who]}


def test_api_and_runner_do_their_whole_job_as_their_users(secured: Stack) -> None:
    response = secured.http.post("/trainings/start", json={
        "strategy_name": "eurusd_rsi_mlp", "epochs": 2, "training_mode": "host"})  # fmt: skip
    assert response.status_code == 200, response.text
    op = secured.wait_status(response.json()["task_id"], TERMINAL, timeout=90)
    assert op["status"] == "completed", (op["error_message"], secured.log("runner0.log"))
    model_id = op["result_summary"]["artifacts"]["model_id"]
    deadline = time.monotonic() + 20  # imported from the models bucket by the API's user
    while not (secured.workdir / "models" / model_id / "model.pt").is_file():
        assert time.monotonic() < deadline, secured.log("api.log")
        time.sleep(0.05)
    assert "permissions violation" not in secured.log("runner0.log").lower()
    assert "permissions violation" not in secured.log("api.log").lower()


def test_a_runner_may_not_queue_work_or_delete_the_log(secured: Stack) -> None:
    async def attempt() -> list[str]:
        refused: list[str] = []

        async def on_error(exc: Exception) -> None:
            refused.append(str(exc))

        nc = await nats.connect(secured.nats_url, error_cb=on_error, **user("runner"))
        try:
            queue = JetStreamCommandQueue(nc, StoreSettings(request_timeout=1.0))
            with pytest.raises(StoreTimeout):
                await queue.submit(StartCommand(operation_id="sneaky", operation_type="dummy"))
            with pytest.raises(nats.errors.TimeoutError):
                await nc.jetstream(timeout=1.0).delete_stream("TRAINJET_OPS")
            await asyncio.sleep(0.2)  # the server's -ERR arrives after the request's timeout
        finally:
            await nc.close()
        return refused

    refused = asyncio.run(attempt())
    assert any('publish to "trainjet.cmd.start.local"' in r for r in refused), refused
    assert any("stream.delete.trainjet_ops" in r.lower() for r in refused), refused
    health = secured.http.get("/health").json()
    assert health["streams"]["commands"]["messages"] == 0  # nothing was queued
    assert health["streams"]["events"]["messages"] > 0  # and the log is still there


def test_a_viewer_reads_the_log_but_cannot_publish(secured: Stack) -> None:
    async def attempt() -> tuple[int, list[str]]:
        refused: list[str] = []

        async def on_error(exc: Exception) -> None:
            refused.append(str(exc))

        nc = await nats.connect(secured.nats_url, error_cb=on_error, **user("viewer"))
        try:
            js = nc.jetstream(timeout=0.5)
            sub = await js.subscribe("trainjet.ops.>", ordered_consumer=True)
            read = 0
            while True:
                try:
                    await sub.next_msg(timeout=0.5)
                    read += 1
                except nats.errors.TimeoutError:
                    break
            for subject in ("trainjet.ops.x.operation_failed", "trainjet.cmd.start.local",
                            "$KV.trainjet_runners.fake"):  # fmt: skip
                with pytest.raises(nats.errors.TimeoutError):
                    await js.publish(subject, b"{}")
            await asyncio.sleep(0.2)
        finally:
            await nc.close()
        return read, refused

    read, refused = asyncio.run(attempt())
    assert read > 0
    assert len([r for r in refused if "permissions violation for publish" in r]) == 3, refused


def test_a_wrong_password_is_refused_clearly(secured: Stack) -> None:
    async def attempt() -> None:
        await connect(secured.nats_url, user="trainjet-runner", password="wrong")

    with pytest.raises(StoreUnavailable, match="authorization failed"):
        asyncio.run(attempt())
