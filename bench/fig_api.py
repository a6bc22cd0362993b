"""6. API read path under load: `GET /operations/{id}` and `GET /operations?limit=100` of a
real `trainjet api` process with N operations in its projection, against a bare FastAPI route
served by uvicorn with the same settings; 64 keep-alive clients from a load generator in its own
process (`bench.loadgen`), arms interleaved."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import stats
from bench.common import (
    PY,
    ROOT,
    Deployment,
    Sizes,
    fmt_rate,
    free_port,
    nats_server,
    row,
    stop_all,
    wait_http,
)

NAME = "api"
TITLE = "API read path under load"
CONCURRENCY = 64
EVENTS_PER_OPERATION = 6
GOAL = 0.7


def run(sizes: Sizes, workdir: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        return _run(sizes, Path(workdir or tmp))


async def _fill(url: str, total_ops: int) -> int:
    from bench.fig_rebuild import load
    from trainjet.core.store import StoreSettings, ensure_streams
    from trainjet.natsd import connect

    nc = await connect(url, name="bench-api-fill")
    js = nc.jetstream(timeout=30)
    layout = StoreSettings()
    await ensure_streams(js, layout)
    sent = await load(js, layout, total_ops * EVENTS_PER_OPERATION, "api", EVENTS_PER_OPERATION)
    await nc.close()
    return sent


def loadgen(port: int, paths_file: Path, seconds: float, env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [
            PY,
            "-m",
            "bench.loadgen",
            "--port",
            str(port),
            "--paths-file",
            str(paths_file),
            "--concurrency",
            str(CONCURRENCY),
            "--seconds",
            str(seconds),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=seconds + 120,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _run(sizes: Sizes, workdir: Path) -> dict[str, Any]:
    import httpx

    from bench.workload import operation_id

    n_ops = sizes.api_operations
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    results: dict[str, list[dict[str, Any]]] = {"get": [], "list": [], "bare": []}
    with nats_server(workdir) as server:
        sent = asyncio.run(_fill(server.url, n_ops))
        deployment = Deployment(server.url, workdir)
        bare_port = free_port()
        bare_proc = subprocess.Popen(
            [PY, "-m", "bench.bare_app", "--port", str(bare_port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        try:
            deployment.start_api()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                health = httpx.get(f"{deployment.base}/health", timeout=30).json()
                if health["projector"]["operations"] >= n_ops:
                    break
                time.sleep(0.1)
            else:
                raise TimeoutError(f"the API did not load {n_ops} operations")
            wait_http(f"http://127.0.0.1:{bare_port}/bare", bare_proc, 60)
            ids = [operation_id("api", i) for i in range(n_ops)]
            random.Random(6).shuffle(ids)
            files = {
                "get": workdir / "get.txt",
                "list": workdir / "list.txt",
                "bare": workdir / "bare.txt",
            }
            files["get"].write_text("\n".join(f"/api/v1/operations/{i}" for i in ids))
            files["list"].write_text("/api/v1/operations?limit=100\n")
            files["bare"].write_text("/bare\n")
            for _, arm in stats.interleave(list(results), sizes.api_rounds, seed=6):
                port = bare_port if arm == "bare" else deployment.port
                results[arm].append(loadgen(port, files[arm], sizes.api_seconds, env))
        finally:
            deployment.close()
            stop_all([bare_proc])

    errors = {arm: sum(r["errors"] for r in rs) for arm, rs in results.items()}
    if any(errors.values()):
        first = next(r["first_error"] for rs in results.values() for r in rs if r["errors"])
        raise RuntimeError(f"HTTP errors under load: {errors} (first: {first})")
    rps = {arm: stats.median([r["rps"] for r in rs]) for arm, rs in results.items()}
    p99 = {arm: stats.median([r["p99_ms"] for r in rs]) for arm, rs in results.items()}
    rows = []
    for arm, label in (
        ("get", "6a. API GET /operations/{id}"),
        ("list", "6b. API GET /operations?limit=100"),
    ):
        ratio = rps[arm] / rps["bare"]
        rows.append(
            row(
                f"api_{arm}",
                label,
                figure=f"{fmt_rate(rps[arm])} req/s, p99 {p99[arm]:.0f} ms "
                f"({n_ops:,} operations, {CONCURRENCY} clients)",
                baseline=f"bare FastAPI route {fmt_rate(rps['bare'])} req/s, p99 {p99['bare']:.0f} ms",
                ratio=f"{ratio:.2f}×",
                goal=f"≥ {GOAL:.0%} of bare",
                met=ratio >= GOAL,
            )
        )
    return {
        "rows": rows,
        "data": {
            "operations": n_ops,
            "events": sent,
            "concurrency": CONCURRENCY,
            "seconds_per_run": sizes.api_seconds,
            "rounds": sizes.api_rounds,
            "rps": rps,
            "p99_ms": p99,
            "runs": results,
            "server": "uvicorn (trainjet.cli.serve.run_api settings), h11 unless httptools is installed",
        },
    }
