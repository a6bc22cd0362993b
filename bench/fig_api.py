"""6. API read path under load: `GET /operations/{id}` and `GET /operations?limit=100` of a
real `trainjet api` process with N operations in its projection, against a bare FastAPI route
served by uvicorn with the same settings; 64 keep-alive clients from a load generator in its own
process (`bench.loadgen`), arms interleaved. Both sides run twice: on uvloop and httptools (what
`trainjet api` uses where installed) and on asyncio and h11 (TRAINJET_API_FAST_IO=false)."""

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
# server I/O -> TRAINJET_API_FAST_IO for both the API and the bare route
IO = {"fast": "true", "plain": "false"}


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

    from bench.workload import operation_id

    n_ops = sizes.api_operations
    # "pages": a different page each request, so the API's page cache (a page polled again
    # while nothing changed is served as kept) cannot answer it: the cost of building a page
    arms = [f"{kind}_{io}" for io in IO for kind in ("get", "list", "pages", "bare")]
    results: dict[str, list[dict[str, Any]]] = {arm: [] for arm in arms}
    ports: dict[str, int] = {}
    with nats_server(workdir) as server:
        sent = asyncio.run(_fill(server.url, n_ops))
        deployments: list[Deployment] = []
        bare_procs: list[subprocess.Popen[bytes]] = []
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        try:
            for io, flag in IO.items():
                home = workdir / io
                home.mkdir(exist_ok=True)
                deployment = Deployment(server.url, home, TRAINJET_API_FAST_IO=flag)
                deployments.append(deployment)
                deployment.start_api()
                port = free_port()
                bare_procs.append(
                    subprocess.Popen(
                        [PY, "-m", "bench.bare_app", "--port", str(port)],
                        env={**env, "TRAINJET_API_FAST_IO": flag},
                        cwd=ROOT,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.STDOUT,
                    )
                )
                wait_http(f"http://127.0.0.1:{port}/bare", bare_procs[-1], 60)
                ports |= dict.fromkeys((f"get_{io}", f"list_{io}", f"pages_{io}"), deployment.port)
                ports[f"bare_{io}"] = port
                _wait_loaded(deployment, n_ops)
            ids = [operation_id("api", i) for i in range(n_ops)]
            pages = max(n_ops - 100, 1)
            random.Random(6).shuffle(ids)
            paths = {
                "get": "\n".join(f"/api/v1/operations/{i}" for i in ids),
                "list": "/api/v1/operations?limit=100\n",
                "pages": "\n".join(
                    f"/api/v1/operations?limit=100&offset={k}"
                    for k in random.Random(7).sample(range(pages), pages)
                ),
                "bare": "/bare\n",
            }
            for kind, text in paths.items():
                (workdir / f"{kind}.txt").write_text(text)
            for _, arm in stats.interleave(arms, sizes.api_rounds, seed=6):
                paths_file = workdir / f"{arm.split('_')[0]}.txt"
                results[arm].append(loadgen(ports[arm], paths_file, sizes.api_seconds, env))
        finally:
            for deployment in deployments:
                deployment.close()
            stop_all(bare_procs)

    errors = {arm: sum(r["errors"] for r in rs) for arm, rs in results.items()}
    if any(errors.values()):
        first = next(r["first_error"] for rs in results.values() for r in rs if r["errors"])
        raise RuntimeError(f"HTTP errors under load: {errors} (first: {first})")
    rps = {arm: stats.median([r["rps"] for r in rs]) for arm, rs in results.items()}
    p99 = {arm: stats.median([r["p99_ms"] for r in rs]) for arm, rs in results.items()}
    rows = []
    labels = (
        ("get_fast", "api_get", "6a. API GET /operations/{id}"),
        ("list_fast", "api_list", "6b. API GET /operations?limit=100"),
        ("pages_fast", "api_pages", "6b'. API GET /operations?limit=100&offset=k, k new each time"),
        ("get_plain", "api_get_plain", "6c. API GET /operations/{id}, asyncio + h11"),
        ("list_plain", "api_list_plain", "6d. API GET /operations?limit=100, asyncio + h11"),
        (
            "pages_plain",
            "api_pages_plain",
            "6d'. API GET /operations?limit=100&offset=k, k new each time, asyncio + h11",
        ),
    )
    for arm, key, label in labels:
        bare = f"bare_{arm.split('_')[1]}"
        ratio = rps[arm] / rps[bare]
        rows.append(
            row(
                key,
                label,
                figure=f"{fmt_rate(rps[arm])} req/s, p99 {p99[arm]:.0f} ms "
                f"({n_ops:,} operations, {CONCURRENCY} clients)",
                baseline=f"bare FastAPI route {fmt_rate(rps[bare])} req/s, p99 {p99[bare]:.0f} ms",
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
            "server": {io: _server_io(flag) for io, flag in IO.items()},
        },
    }


def _wait_loaded(deployment: Deployment, n_ops: int) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        health = httpx.get(f"{deployment.base}/health", timeout=30).json()
        if health["projector"]["operations"] >= n_ops:
            return
        time.sleep(0.1)
    raise TimeoutError(f"the API did not load {n_ops} operations")


def _server_io(flag: str) -> str:
    from trainjet.cli.serve import server_io

    loop, http = server_io(flag == "true")
    return f"uvicorn, loop={loop}, http={http}"
