"""Scale-out on a 3-node NATS cluster (issue #4): three `nats-server` processes routed on
loopback, streams and buckets replicated 3 times, one API and two runners connected to all
three URLs. The node leading the events stream is killed mid-training; the training still
completes, and every event of it is stored exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest

from tests.stack import TERMINAL, Stack, assert_outage_answer, free_port
from trainjet.natsd import EmbeddedNats

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(180)
NODES = 3
STREAMS = ("TRAINJET_OPS", "TRAINJET_CMDS", "KV_trainjet_runners", "OBJ_trainjet_checkpoints",
           "OBJ_trainjet_models")  # fmt: skip


def start_cluster(root: Path) -> list[EmbeddedNats]:
    routes = [free_port() for _ in range(NODES)]
    route_urls = ",".join(f"nats://127.0.0.1:{port}" for port in routes)
    nodes = [
        EmbeddedNats(
            root / f"node{i}",
            extra_args=(
                *("-n", f"node{i}", "--cluster_name", "trainjet"),
                *("-cluster", f"nats://127.0.0.1:{routes[i]}", "-routes", route_urls),
            ),
        )
        for i in range(NODES)
    ]
    for node in nodes:
        node.start()
    return nodes


async def wait_jetstream(urls: str, timeout: float = 30.0) -> None:
    """Until the cluster has elected its JetStream meta leader (creating R3 streams needs it)."""
    nc = await nats.connect(urls.split(","))
    try:
        js = nc.jetstream(timeout=2)
        deadline = time.monotonic() + timeout
        while True:
            try:
                await js.account_info()
                return
            except (nats.errors.Error, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
    finally:
        await nc.close()


async def stream_facts(urls: str, op_id: str = "") -> dict[str, Any]:
    """Replicas of every trainjet stream, the events stream's leader, and the stored event
    ids of one operation, read with plain nats-py. Retried while a leader is being elected
    (a stream without a leader does not answer)."""
    nc = await nats.connect(urls.split(","))
    try:
        js = nc.jetstream(timeout=2)
        deadline = time.monotonic() + 30
        while True:
            try:
                infos = {name: await js.stream_info(name) for name in STREAMS}
                break
            except (nats.errors.Error, TimeoutError):
                if time.monotonic() > deadline:
                    raise
        ids: list[str] = []
        if op_id:
            sub = await js.subscribe(f"trainjet.ops.{op_id}.>", ordered_consumer=True)
            while True:
                try:
                    msg = await sub.next_msg(timeout=2.0)
                except nats.errors.TimeoutError:
                    break
                ids.append(str(msg.headers.get("Nats-Msg-Id") if msg.headers else ""))
            await sub.unsubscribe()
        events = infos["TRAINJET_OPS"]
        return {
            "replicas": {name: info.config.num_replicas for name, info in infos.items()},
            "leader": events.cluster.leader if events.cluster else None,
            "ids": ids,
        }
    finally:
        await nc.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[EmbeddedNats]]:
    nodes = start_cluster(tmp_path)
    try:
        yield nodes
    finally:
        for node in nodes:
            node.stop()


def test_training_survives_the_loss_of_the_events_leader(
    cluster: list[EmbeddedNats], tmp_path: Path
) -> None:
    urls = ",".join(node.url for node in cluster)
    asyncio.run(wait_jetstream(urls))
    stack = Stack(
        urls,
        tmp_path,
        TRAINJET_STREAM_REPLICAS="3",
        TRAINJET_STRATEGIES_DIR=str(REPO / "strategies"),
        TRAINJET_MARKET_DATA_DIR=str(REPO / "data"),
        TRAINJET_TORCH_THREADS="1",
        # A node's loss costs a reconnect and leader elections (Raft waits 4-9 s): longer
        # lease and TTL keep the runner from being declared lost meanwhile (if it were, the
        # other runner would resume the training and the events would still be unique).
        TRAINJET_RUNNER_TTL_SECONDS="12",
        TRAINJET_LEASE_SECONDS="15",
    )
    try:
        stack.start_api(timeout=60)
        for i in range(2):
            with open(tmp_path / f"runner{i}.log", "ab") as out:
                stack.runners.append(subprocess.Popen(
                    [sys.executable, "-m", "trainjet", "runner", "--pool", "local"],
                    env=stack.env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path))  # fmt: skip
        stack.wait_runners(2, timeout=60)
        facts = asyncio.run(stream_facts(urls))
        assert set(facts["replicas"].values()) == {3}, facts["replicas"]
        assert stack.http.get("/health").json()["streams"]["events"]["replicas"] == 3

        response = stack.http.post(
            "/trainings/start", json={"strategy_name": "eurusd_rsi_mlp", "epochs": 40}
        )
        assert response.status_code == 200, response.text
        op_id = response.json()["task_id"]
        deadline = time.monotonic() + 60
        while stack.operation(op_id)["progress"]["steps_completed"] < 3:
            assert time.monotonic() < deadline, stack.log("runner0.log")
            time.sleep(0.05)
        leader = next(n for n in cluster if _name(n) == facts["leader"])
        assert leader.pid is not None
        os.kill(leader.pid, signal.SIGKILL)  # no goodbye, no leadership hand-off
        leader.stop()
        survivors = ",".join(n.url for n in cluster if n is not leader)

        # While the events stream elects a new leader, a start may not be stored: then the
        # API says so (503 JSON, Retry-After), never a bare 500.
        started = stack.http.post("/dummy/start", json={"iterations": 1})
        if started.status_code != 200:
            assert_outage_answer(started)
        op: dict[str, Any] = {}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            response = stack.http.get(f"/operations/{op_id}")
            if response.status_code != 200:
                assert_outage_answer(response)
                time.sleep(0.2)
                continue
            op = response.json()["data"]
            if op["status"] in TERMINAL:
                break
            time.sleep(0.1)
        logs = "\n".join(stack.log(n) for n in ("api.log", "runner0.log", "runner1.log"))
        assert op.get("status") == "completed", (op.get("error_message"), logs)

        after = asyncio.run(stream_facts(survivors, op_id))
        assert after["leader"] != facts["leader"]  # a new leader took over
        ids = after["ids"]
        assert len(ids) == len(set(ids)), "an event was stored twice"
        events = stack.http.get(f"/operations/{op_id}/events").json()["data"]["events"]
        assert sorted(e["event_id"] for e in events) == sorted(ids)
        types = [e["type"] for e in events]
        assert types.count("operation_completed") == 1
        print(f"\nevents stored: {len(ids)}, attempts: {types.count('operation_started')}")
        metrics = stack.http.get(f"/operations/{op_id}/metrics").json()["data"]["metrics"]
        assert [e["epoch"] for e in metrics["epochs"]] == list(range(1, 41))
    finally:
        stack.close()


def _name(node: EmbeddedNats) -> str:
    args = list(node.extra_args)
    return args[args.index("-n") + 1]
