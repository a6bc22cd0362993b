"""Who may do what, on a nats-server running the repository's own `nats.conf` (its users and
permissions from deploy/nats/users.conf, passwords from the server's environment):

- every cell of the permission matrix (`permission_matrix.ROWS`, also docs/security.md):
  each role tries each JetStream verb that matters and is allowed or refused as the table says;
- the API and a host runner do their whole job as their own users, after `trainjet setup` as
  the admin, with no permissions violation in their logs;
- without setup the API and a runner stop with one line naming the fix (exit 2), and setup
  as a non-admin user says it needs the admin;
- a wrong password is refused with a clear message.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import nats.js.errors
import pytest
from nats.aio.client import Client

from tests.integration import permission_matrix as matrix
from tests.stack import TERMINAL, Stack, free_port
from trainjet.core.errors import StoreUnavailable
from trainjet.core.events import EventFactory, PhaseChanged
from trainjet.core.store import (
    JetStreamBlobStore,
    JetStreamCommandQueue,
    JetStreamEventStore,
    JetStreamRunnerRegistry,
    StartCommand,
    provision,
)
from trainjet.natsd import connect, find_nats_server

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)
PASSWORDS = {"admin": "admin-secret", "api": "api-secret", "runner": "runner-secret",
             "viewer": "viewer-secret"}  # fmt: skip


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
            raise RuntimeError(
                f"nats-server did not start: {log.read_text() if log.exists() else ''}"
            )
        time.sleep(0.02)
    return proc, f"nats://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, url = start_server(tmp_path_factory.mktemp("matrix"))
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def user(who: str) -> dict[str, Any]:
    return {"user": f"trainjet-{who}", "password": PASSWORDS[who]}


def as_env(who: str) -> dict[str, str]:
    return {"TRAINJET_NATS_USER": f"trainjet-{who}", "TRAINJET_NATS_PASSWORD": PASSWORDS[who]}


# -- the matrix ----------------------------------------------------------------------------


@pytest.fixture
async def admin(server: str) -> AsyncIterator[Client]:
    """The admin, having laid out and seeded a fresh state for the verb under test (an admin
    verb before may have deleted a stream): one event, one start command, a registry key,
    an object in each bucket and a durable consumer on the log."""
    nc = await nats.connect(server, **user("admin"))
    js = nc.jetstream(timeout=30)
    layout = matrix.LAYOUT
    await provision(js, layout)
    await JetStreamEventStore(nc, layout).append(
        EventFactory(matrix.PROBE_OP).make(PhaseChanged, phase="loading")
    )
    await JetStreamCommandQueue(nc, layout).submit(
        StartCommand(operation_id=f"op_{time.monotonic_ns()}", operation_type="dummy")
    )
    await JetStreamRunnerRegistry(nc, layout).heartbeat(matrix.heartbeat())
    for bucket in (matrix.CKPT, matrix.MODELS, matrix.SNAPS):
        await JetStreamBlobStore(nc, bucket, layout).put(matrix.PROBE_KEY, b"probe")
    await matrix.new_consumer(matrix.E, "audit")(
        matrix.Ctx(nc, js, {}, {}, admin_publish=lambda subject: nc.publish(subject))
    )
    yield nc
    await nc.close()


async def attempt(url: str, admin: Client, role: str, verb: matrix.Verb) -> matrix.Outcome:
    """Run `verb` as `role`: `no` as soon as the server reports a permissions violation,
    `stream` when JetStream itself refuses, `yes` when it is done."""
    violation = asyncio.Event()
    seen: list[str] = []

    async def on_error(exc: Exception) -> None:
        if "permissions violation" in str(exc).lower():
            seen.append(str(exc))
            violation.set()

    nc = await nats.connect(url, error_cb=on_error, **user(role))
    try:
        js = nc.jetstream(timeout=30)
        ajs = admin.jetstream()
        buckets = (matrix.CKPT, matrix.MODELS, matrix.SNAPS)
        names = [matrix.E, matrix.C, matrix.KV, *(f"OBJ_{bucket}" for bucket in buckets)]
        infos = {name: await ajs.stream_info(name) for name in names}
        configs = {name: info.config for name, info in infos.items()}
        last = {name: int(info.state.last_seq) for name, info in infos.items()}

        async def admin_publish(subject: str) -> None:
            await admin.publish(subject, b"{}")
            await admin.flush()

        task = asyncio.ensure_future(verb(matrix.Ctx(nc, js, configs, last, admin_publish)))
        refused = asyncio.ensure_future(violation.wait())
        done, _ = await asyncio.wait({task, refused}, timeout=60, return_when="FIRST_COMPLETED")
        if refused in done:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return "no"
        refused.cancel()
        assert task in done, f"{role}: no answer and no violation within 60 s"
        try:
            task.result()
        except nats.js.errors.APIError as exc:
            if "not permitted" in str(exc.description):
                return "stream"
            raise
        return "yes"
    finally:
        await nc.close()


@pytest.mark.parametrize(("verb", "role", "expected"), matrix.CASES)
async def test_permission_matrix(
    server: str, admin: Client, verb: str, role: str, expected: matrix.Outcome
) -> None:
    assert await attempt(server, admin, role, matrix.VERBS[verb]) == expected


def test_security_doc_shows_the_tested_matrix() -> None:
    """docs/security.md carries this very table (`python -m tests.integration.permission_matrix`
    rewrites it after a change)."""
    assert matrix.doc_table(matrix.DOC.read_text()) == matrix.render()


async def test_only_admin_credentials_can_lay_out_the_log(server: str) -> None:
    """The events stream the setup made carries the switches that outlast every role."""
    nc = await nats.connect(server, **user("admin"))
    try:
        js = nc.jetstream()
        await provision(js, matrix.LAYOUT)
        config = (await js.stream_info(matrix.E)).config
        assert (config.deny_delete, config.deny_purge) == (True, True)
        with pytest.raises(nats.js.errors.APIError, match="can not cancel deny"):
            await js.update_stream(config.evolve(deny_delete=False))
    finally:
        await nc.close()


# -- setup, start-up checks and the whole job as the real users ----------------------------


def trainjet(root: Path, url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trainjet", *args],
        env={**os.environ, "TRAINJET_NATS_URL": url, "TRAINJET_DATA_DIR": str(root / ".tj"), **env},
        cwd=root, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_without_setup_processes_stop_with_one_line(tmp_path: Path) -> None:
    proc, url = start_server(tmp_path)
    try:
        for args, who in ((["api", "--port", str(free_port())], "api"),
                          (["runner", "--pool", "host"], "runner")):  # fmt: skip
            result = trainjet(tmp_path, url, *args, **as_env(who))
            assert result.returncode == 2, result.stdout + result.stderr
            assert result.stderr.strip().splitlines() == [
                "error: stream TRAINJET_OPS not found: run `trainjet setup` with admin credentials"
            ], result.stderr
        denied = trainjet(tmp_path, url, "setup", **as_env("api"))
        assert denied.returncode == 1 and "Traceback" not in denied.stderr
        assert "trainjet-api have admin rights" in denied.stderr
        first = trainjet(tmp_path, url, "setup", **as_env("admin"))
        assert first.returncode == 0, first.stderr
        assert "created  stream TRAINJET_OPS (replicas 1)" in first.stdout
        assert "created  consumer runners-host on TRAINJET_CMDS (replicas 1)" in first.stdout
        wrong_role = trainjet(tmp_path, url, "api", "--port", str(free_port()), **as_env("viewer"))
        assert wrong_role.returncode == 1 and "Traceback" not in wrong_role.stderr
        assert "refused an action of user 'trainjet-viewer'" in wrong_role.stderr  # the subject
        assert "does trainjet-viewer have the permissions of its role" in wrong_role.stderr
        again = trainjet(tmp_path, url, "setup", **as_env("admin"))
        assert again.returncode == 0 and {
            line.split()[0] for line in again.stdout.splitlines()
        } == {"found"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("permissions")
    server, url = start_server(root)
    stack = Stack(
        url, root, **as_env("api"),
        TRAINJET_STRATEGIES_DIR=str(REPO / "strategies"),
        TRAINJET_MARKET_DATA_DIR=str(REPO / "data"),
        TRAINJET_TORCH_THREADS="1",
    )  # fmt: skip
    try:
        stack.setup(**as_env("admin"))
        stack.start_api()
        runner_env = {**stack.env, **as_env("runner"),
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
    cancelled = secured.start_dummy(iterations=500, interval=0.05)
    assert secured.http.post(f"/operations/{cancelled}/cancel").status_code == 200
    assert secured.wait_status(cancelled, TERMINAL)["status"] == "cancelled"
    assert "permissions violation" not in secured.log("runner0.log").lower()
    assert "permissions violation" not in secured.log("api.log").lower()


def test_a_wrong_password_is_refused_clearly(server: str) -> None:
    async def attempt() -> None:
        await connect(server, user="trainjet-runner", password="wrong")

    with pytest.raises(StoreUnavailable, match="authorization failed"):
        asyncio.run(attempt())
