"""2. Cancel latency during real training: from the cancel request (`DELETE /operations/{id}`)
to the first `GET /operations/{id}` that shows `cancelled`, with `trainjet api` and one runner
of each pool (`local`, `host`) as real processes on a private nats-server.

Each trial starts a training of the example strategy, waits until batches are being reported,
waits a random 0-200 ms more, then cancels while a client polls `GET /operations/{id}` back to
back. The baseline runs in the same trials: a second client polling every 0.3 s (ktrdr's
interval) from a random phase, timed to the first poll that shows the terminal state.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import stats
from bench.common import Deployment, Sizes, nats_server, row

NAME = "cancel"
TITLE = "Cancel latency"
POLL_BASELINE_S = 0.3
GOAL_MS = 100.0
STRATEGY = "eurusd_rsi_mlp"


def run(sizes: Sizes, workdir: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-cancel-") as tmp:
        return _run(sizes, Path(workdir or tmp))


async def trial(client: Any, pool: str, rng: random.Random) -> dict[str, Any]:
    started = await client.post(
        "/trainings/start", json={"strategy_name": STRATEGY, "epochs": 5000, "training_mode": pool}
    )
    started.raise_for_status()
    op_id = started.json()["task_id"]
    deadline = time.monotonic() + 120
    while True:  # until batches flow (the training loop is running)
        op = (await client.get(f"/operations/{op_id}")).json()["data"]
        if op["progress"]["items_processed"] > 0 and op["status"] == "running":
            break
        if time.monotonic() > deadline or op["status"] not in ("pending", "running"):
            raise RuntimeError(f"{op_id} never reached training: {op['status']}")
        await asyncio.sleep(0.02)
    assert op["pool"] == pool, op["pool"]
    await asyncio.sleep(rng.uniform(0.0, 0.2))

    seen: dict[str, float] = {}

    async def tight() -> None:
        while True:
            response = await client.get(f"/operations/{op_id}")
            if response.json()["data"]["status"] == "cancelled":
                seen["tight"] = time.perf_counter()
                return

    async def baseline(t0: float, phase: float) -> None:
        await asyncio.sleep(phase)
        while True:
            response = await client.get(f"/operations/{op_id}")
            if response.json()["data"]["status"] in ("cancelled", "completed", "failed"):
                seen["baseline"] = time.perf_counter()
                return
            await asyncio.sleep(POLL_BASELINE_S)

    t0 = time.perf_counter()
    poller = asyncio.create_task(tight())
    slow = asyncio.create_task(baseline(t0, rng.uniform(0.0, POLL_BASELINE_S)))
    answer = await client.delete(f"/operations/{op_id}")
    answered = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(poller, slow), 60)
    body = answer.json()["data"]
    return {
        "operation_id": op_id,
        "pool": pool,
        "latency_ms": (seen["tight"] - t0) * 1000,
        "baseline_ms": (seen["baseline"] - t0) * 1000,
        "delete_answer_ms": (answered - t0) * 1000,
        "server_reported_ms": body.get("cancel_latency_ms"),
        "confirmed": body.get("confirmed"),
        "batches_before_cancel": op["progress"]["items_processed"],
    }


async def _trials(base: str, sizes: Sizes) -> dict[str, list[dict[str, Any]]]:
    import httpx

    rng = random.Random(7)
    out: dict[str, list[dict[str, Any]]] = {"local": [], "host": []}
    limits = httpx.Limits(max_connections=8)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        for _, pool in stats.interleave(list(out), sizes.cancel_trials, seed=7):
            out[pool].append(await trial(client, pool, rng))
    return out


def _run(sizes: Sizes, workdir: Path) -> dict[str, Any]:
    with nats_server(workdir) as server:
        deployment = Deployment(server.url, workdir)
        try:
            deployment.start_api()
            deployment.start_runner("--pool", "local")
            deployment.start_runner("--pool", "host")
            deployment.wait_runners(2)
            trials = asyncio.run(_trials(deployment.base, sizes))
        finally:
            deployment.close()

    rows = []
    data: dict[str, Any] = {"trials": trials, "baseline_poll_s": POLL_BASELINE_S}
    for pool, items in trials.items():
        if not all(t["confirmed"] for t in items):
            raise RuntimeError(f"{pool}: a cancel was not confirmed: {items}")
        ours = stats.latency_summary([t["latency_ms"] for t in items])
        base = stats.latency_summary([t["baseline_ms"] for t in items])
        data[pool] = {"trainjet": ours, "poller_0_3s": base}
        rows.append(
            row(
                f"cancel_{pool}",
                f"2{'ab'[pool == 'host']}. Cancel latency, {pool} runner",
                figure=f"p50 {ours['p50_ms']:.0f} ms, p99 {ours['p99_ms']:.0f} ms "
                f"({ours['n']} trials during training)",
                baseline=f"0.3 s poller p50 {base['p50_ms']:.0f} ms, p99 {base['p99_ms']:.0f} ms",
                ratio=f"{ours['p99_ms'] / base['p99_ms']:.2f}× (p99)",
                goal=f"p99 ≤ {GOAL_MS:.0f} ms",
                met=ours["p99_ms"] <= GOAL_MS,
            )
        )
    return {"rows": rows, "data": data}
