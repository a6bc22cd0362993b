"""A 3-node cluster with every stream replicated 3 times loses a node mid-work: the work
completes, every event is stored exactly once, and the node, restarted on its store, catches
up. The fast variant kills the events stream's leader under dummy operations; the full one
(`make chaos`) kills the leader and, separately, a follower under real trainings."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import nats
import nats.errors
import pytest

from tests.chaos.report import full, record
from tests.chaos.terminal_scan import assert_one_terminal_each
from tests.integration.test_cluster import REPO, _name, start_cluster, stream_facts, wait_jetstream
from tests.stack import TERMINAL, Stack
from trainjet.natsd import EmbeddedNats

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(420)]
EVENTS = "TRAINJET_OPS"
T = TypeVar("T")
VICTIMS = ["leader", "follower"] if full() else ["leader"]


async def replica_state(urls: str, node: str) -> tuple[bool, int | None]:
    """(current, lag) of `node`'s replica of the events stream, as the leader reports it."""
    nc = await nats.connect(urls.split(","))
    try:
        info = await nc.jetstream(timeout=2).stream_info(EVENTS)
        for peer in (info.cluster.replicas or []) if info.cluster else []:
            if peer.name == node:
                return bool(peer.current) and not peer.offline, peer.lag
        return info.cluster is not None and info.cluster.leader == node, 0
    finally:
        await nc.close()


def _settled(read: Callable[[], T], timeout: float = 60.0) -> T:
    """`read()`, retried while the cluster settles after the node's return (JetStream answers
    "temporarily unavailable" during the elections that follow)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return read()
        except (nats.errors.Error, TimeoutError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _start_work(stack: Stack) -> list[str]:
    if full():
        body = {"strategy_name": "eurusd_rsi_mlp", "epochs": 20}
        response = stack.http.post("/trainings/start", json=body)
        assert response.status_code == 200, response.text
        return [str(response.json()["task_id"])]
    return [stack.start_dummy(iterations=150, interval=0.05) for _ in range(3)]


def _progressed(stack: Stack, op_id: str) -> bool:
    op = stack.operation(op_id)
    if op["operation_type"] == "training":
        return int(op["progress"]["steps_completed"]) >= 2
    return int(op["progress"]["items_processed"]) >= 20


@pytest.mark.parametrize("victim", VICTIMS)
def test_losing_a_node_mid_work(tmp_path: Path, victim: str) -> None:
    nodes = start_cluster(tmp_path)
    urls = ",".join(n.url for n in nodes)
    stack = Stack(
        urls, tmp_path,
        TRAINJET_STREAM_REPLICAS="3",
        TRAINJET_STRATEGIES_DIR=str(REPO / "strategies"),
        TRAINJET_MARKET_DATA_DIR=str(REPO / "data"),
        TRAINJET_TORCH_THREADS="1",
        # a node's loss costs a reconnect and a Raft election (4-9 s): see test_cluster.py
        TRAINJET_RUNNER_TTL_SECONDS="12",
        TRAINJET_LEASE_SECONDS="15",
    )  # fmt: skip
    try:
        asyncio.run(wait_jetstream(urls))
        stack.start_api(timeout=90)
        stack.start_runner()
        stack.start_runner()
        stack.wait_runners(2, timeout=90)
        facts = asyncio.run(stream_facts(urls))
        assert set(facts["replicas"].values()) == {3}, facts["replicas"]
        ops = _start_work(stack)
        deadline = time.monotonic() + 120
        while not all(_progressed(stack, op) for op in ops):
            assert time.monotonic() < deadline, stack.log("runner0.log")
            time.sleep(0.1)
        target: EmbeddedNats = next(
            n for n in nodes if (_name(n) == facts["leader"]) == (victim == "leader")
        )
        assert target.pid is not None
        os.kill(target.pid, signal.SIGKILL)
        target.stop()  # reap it and free its store lock

        statuses: dict[str, str] = {}
        deadline = time.monotonic() + 240
        while len(statuses) < len(ops):
            assert time.monotonic() < deadline, (statuses, stack.log("api.log"))
            for op in ops:
                try:
                    status = stack.operation(op)["status"]
                except Exception:  # an election in progress: the API may answer 503
                    continue
                if status in TERMINAL:
                    statuses[op] = status
            time.sleep(0.2)

        # the node comes back on its own store and catches up from the others
        target.start()
        started = time.monotonic()
        caught_up: float | None = None
        while time.monotonic() - started < 90:
            try:
                current, lag = asyncio.run(replica_state(urls, _name(target)))
            except (nats.errors.Error, TimeoutError, OSError):
                current, lag = False, None
            if current and not lag:
                caught_up = round(time.monotonic() - started, 2)
                break
            time.sleep(0.5)

        duplicates: list[str] = []
        for op in ops:
            ids: list[Any] = _settled(lambda op=op: asyncio.run(stream_facts(urls, op)))["ids"]
            if len(ids) != len(set(ids)):
                duplicates.append(op)
        ended = _settled(lambda: assert_one_terminal_each(urls))
        completed = set(statuses.values()) == {"completed"}
        record(
            f"3-node cluster, R3: {victim} killed mid-{'training' if full() else 'work'}",
            "seconds for the restarted node to catch up",
            caught_up,
            completed and not duplicates and caught_up is not None and ended == len(ops),
        )
        assert completed, statuses
        assert not duplicates, f"events stored twice: {duplicates}"
        assert caught_up is not None, "the restarted node never caught up"
        assert ended == len(ops)
    finally:
        stack.close()
        for node in nodes:
            node.stop()
