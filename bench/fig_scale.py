"""7. Scale: N concurrent dummy operations across 4 runner processes (`trainjet runner
--concurrency ceil(N/4)`) behind a real `trainjet api`: wall time from the first start request
to the last terminal state, events per second, and an exact count check: the events the
workload sends (created + started + one per iteration + completed, per operation) = the
messages the stream stores = the events the API's projection folded.

A run that does not finish (operations left running, start requests refused) is a result,
not a crash of the benchmark: it is reported with the runners' first error, and the same
workload is run again at half the size to show where the system does work.
"""

from __future__ import annotations

import asyncio
import math
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Deployment, Sizes, fmt_rate, nats_server, row

NAME = "scale"
TITLE = "Scale: concurrent operations"
STALL_S = 60.0  # no operation ended for this long: the run is stuck


def run(sizes: Sizes, workdir: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        base = Path(workdir or tmp)
        first = _run(sizes, sizes.scale_operations, base / "n")
        rows, data = [first["row"]], {"runs": [first["data"]]}
        if not first["data"]["exact"] and sizes.scale_operations >= 8:
            half = _run(sizes, sizes.scale_operations // 2, base / "half")
            rows.append(half["row"])
            data["runs"].append(half["data"])
        return {"rows": rows, "data": data}


async def _drive(base: str, sizes: Sizes, n: int) -> dict[str, Any]:
    import httpx

    body = {"iterations": sizes.scale_iterations, "interval_seconds": sizes.scale_interval}
    limits = httpx.Limits(max_connections=32)
    refused: list[str] = []
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        gate = asyncio.Semaphore(32)

        async def start(_: int) -> str | None:
            async with gate:
                try:
                    response = await client.post("/dummy/start", json=body)
                    response.raise_for_status()
                except httpx.HTTPError as exc:
                    refused.append(f"{type(exc).__name__}: {exc}"[:300])
                    return None
                return str(response.json()["data"]["operation_id"])

        t0 = time.perf_counter()
        ids = [i for i in await asyncio.gather(*(start(i) for i in range(n))) if i]
        started_s = time.perf_counter() - t0
        peak_active, finished = 0, False
        last_change, last_active = time.monotonic(), -1
        while True:
            projector = (await client.get("/health")).json()["projector"]
            active = projector["active_operations"]
            peak_active = max(peak_active, active)
            if projector["operations"] >= len(ids) and active == 0:
                finished = True
                break
            if active != last_active:
                last_change, last_active = time.monotonic(), active
            elif time.monotonic() - last_change > STALL_S:
                break
            await asyncio.sleep(0.05)
        wall = time.perf_counter() - t0
        await asyncio.sleep(0.5)  # nothing more may arrive; read the final counts
        health = (await client.get("/health")).json()
        completed = (
            await client.get("/operations", params={"status": "completed", "limit": 1})
        ).json()["total_count"]
    return {
        "accepted": len(set(ids)),
        "refused": refused,
        "finished": finished,
        "wall_s": wall,
        "start_requests_s": started_s,
        "peak_active": peak_active,
        "completed": completed,
        "health": health,
    }


def _first_error(deployment: Deployment) -> str | None:
    for log in sorted(deployment.workdir.glob("runner*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if re.search(r"\b(Error|error):", line) and "Traceback" not in line:
                return line.strip()[:300]
    return None


def _run(sizes: Sizes, n: int, workdir: Path) -> dict[str, Any]:
    workdir.mkdir(parents=True)
    per_runner = math.ceil(n / sizes.scale_runners)
    with nats_server(workdir) as server:
        deployment = Deployment(server.url, workdir)
        try:
            deployment.start_api()
            for _ in range(sizes.scale_runners):
                deployment.start_runner("--pool", "local", "--concurrency", str(per_runner))
            deployment.wait_runners(sizes.scale_runners)
            result = asyncio.run(_drive(deployment.base, sizes, n))
            error = _first_error(deployment)
        finally:
            deployment.close()

    health = result["health"]
    sent = result["accepted"] * (sizes.scale_iterations + 3)
    stored = int(health["streams"]["events"]["messages"])
    folded = int(health["projector"]["events_applied"])
    exact = (
        result["finished"]
        and not result["refused"]
        and sent == stored == folded
        and result["completed"] == n
    )
    rate = stored / result["wall_s"]
    ideal = sizes.scale_iterations * sizes.scale_interval
    title = (
        f"7{'ab'[n != sizes.scale_operations]}. Scale: {n:,} concurrent operations, "
        f"{sizes.scale_runners} runners"
    )
    if exact:
        figure = (
            f"{result['wall_s']:.1f} s wall, {fmt_rate(rate)} events/s; "
            f"sent {sent:,} = stored {stored:,} = folded {folded:,}"
        )
        note = (
            f"peak {result['peak_active']} active at once; starting them took "
            f"{result['start_requests_s']:.1f} s"
        )
    else:
        figure = (
            f"did not complete: {result['completed']:,}/{n:,} completed, "
            f"{len(result['refused'])} start requests failed; stored {stored:,}, "
            f"folded {folded:,}"
        )
        if error:
            note = f"first runner error: {error}"
        elif result["refused"]:
            note = (
                f"{len(result['refused'])} start request(s) got no answer from the API "
                f"({result['refused'][0].strip()}); {result['completed']:,} of the "
                f"{result['accepted']:,} accepted completed"
            )
        else:
            note = "operations stalled"
    return {
        "row": row(
            NAME if n == sizes.scale_operations else f"{NAME}_half",
            title,
            figure=figure,
            baseline=f"ideal wall {ideal:.1f} s (one operation's own duration)",
            ratio=f"{result['wall_s'] / ideal:.1f}×" if exact else "—",
            goal="counts exact, all completed",
            met=exact,
            note=note,
        ),
        "data": {
            "operations": n,
            "runners": sizes.scale_runners,
            "concurrency_per_runner": per_runner,
            "iterations": sizes.scale_iterations,
            "interval_s": sizes.scale_interval,
            "wall_s": result["wall_s"],
            "start_requests_s": result["start_requests_s"],
            "events_per_s": rate,
            "sent": sent,
            "stored": stored,
            "folded": folded,
            "accepted": result["accepted"],
            "refused": result["refused"][:5],
            "refused_count": len(result["refused"]),
            "finished": result["finished"],
            "completed": result["completed"],
            "peak_active": result["peak_active"],
            "rejected": health["projector"]["rejected_messages"],
            "exact": exact,
            "first_runner_error": error,
        },
    }
