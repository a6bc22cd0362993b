"""7. Scale: N concurrent dummy operations across 4 runner processes (`trainjet runner
--concurrency ceil(N/4)`) behind a real `trainjet api`: wall time from the first start request
to the last terminal state, events per second, and an exact count check: the events the
workload sends (created + started + one per iteration + completed, per operation) = the
messages the stream stores = the events the API's projection folded.

Starts go through `POST /dummy/start/batch` (BATCH items a request, CLIENTS requests in
flight); starts per second is N over the time until the last start was answered. While it runs,
a sampler reads every SAMPLE_S the number of JetStream consumers on the events stream and the
resident memory of the API and of each runner: the consumer count must not grow with the
operations running (it is compared at the plateau, every operation started and none ended,
with the idle count before the first start), and memory is reported at N/10, N/2 and N
operations started.

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
BATCH = 250  # starts per request
CLIENTS = 4  # requests in flight
SAMPLE_S = 0.5
READ_LAPSE_S = 6.0  # an ephemeral reader consumer outlives its reader by 5 s
STARTS_GOAL = 500.0  # starts per second
WALL_GOAL = 1.5  # × one operation's duration, plus the time the starts took


def run(sizes: Sizes, workdir: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        base = Path(workdir or tmp)
        first = _run(sizes, sizes.scale_operations, base / "n")
        rows, data = list(first["rows"]), {"runs": [first["data"]]}
        if not first["data"]["exact"] and sizes.scale_operations >= 8:
            half = _run(sizes, sizes.scale_operations // 2, base / "half")
            rows.extend(half["rows"])
            data["runs"].append(half["data"])
        return {"rows": rows, "data": data}


async def _drive(
    base: str, nats_url: str, pids: dict[str, int], sizes: Sizes, n: int
) -> dict[str, Any]:
    import httpx
    import nats.errors

    from trainjet.core.store import StoreSettings
    from trainjet.natsd import connect

    item = {"iterations": sizes.scale_iterations, "interval_seconds": sizes.scale_interval}
    limits = httpx.Limits(max_connections=CLIENTS)
    refused: list[str] = []
    nc = await connect(nats_url, name="bench-scale-sampler")
    js = nc.jetstream()
    stream = StoreSettings().events_stream_name
    samples: list[dict[str, Any]] = []

    async def consumers() -> int:
        return int((await js.stream_info(stream)).state.consumer_count)

    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:

        async def sample() -> dict[str, Any]:
            projector = (await client.get("/health")).json()["projector"]
            point = {
                "t": time.perf_counter() - t0,
                "operations": projector["operations"],
                "active": projector["active_operations"],
                "consumers": await consumers(),
                "rss_mb": {name: rss_mb(pid) for name, pid in pids.items()},
            }
            samples.append(point)
            return point

        async def sampler() -> None:
            while True:
                try:
                    await sample()
                except (httpx.HTTPError, nats.errors.Error, KeyError) as exc:
                    # a loaded API or server answering late is part of the result, not an end
                    # of the measurement
                    print(f"[bench] scale: sample failed ({type(exc).__name__}: {exc})")
                await asyncio.sleep(SAMPLE_S)

        gate = asyncio.Semaphore(CLIENTS)

        async def start(count: int) -> list[str]:
            async with gate:
                try:
                    response = await client.post(
                        "/dummy/start/batch", json={"operations": [item] * count}
                    )
                    response.raise_for_status()
                except httpx.HTTPError as exc:
                    refused.extend([f"{type(exc).__name__}: {exc}"[:300]] * count)
                    return []
                return [str(op["operation_id"]) for op in response.json()["data"]["operations"]]

        idle_consumers = await consumers()
        t0 = time.perf_counter()
        sampling = asyncio.create_task(sampler())
        chunks = [min(BATCH, n - i) for i in range(0, n, BATCH)]
        ids = [i for batch in await asyncio.gather(*(start(c) for c in chunks)) for i in batch]
        started_s = time.perf_counter() - t0
        peak_active, finished = 0, False
        last_change, last_active = time.monotonic(), -1
        while True:
            point = samples[-1] if samples else await sample()
            active = point["active"]
            peak_active = max(peak_active, active)
            if point["operations"] >= len(ids) and active == 0:
                finished = True
                break
            if active != last_active:
                last_change, last_active = time.monotonic(), active
            elif time.monotonic() - last_change > STALL_S:
                break
            await asyncio.sleep(SAMPLE_S)
        wall = time.perf_counter() - t0
        sampling.cancel()
        await asyncio.gather(sampling, return_exceptions=True)
        await asyncio.sleep(0.5)  # nothing more may arrive; read the final counts
        stored = int((await js.stream_info(stream)).state.messages)
        health = (await client.get("/health")).json()
        for _ in range(60):  # the projection may still be catching up with the stream
            if health["projector"]["events_applied"] >= stored:
                break
            await asyncio.sleep(1.0)
            health = (await client.get("/health")).json()
        completed = (
            await client.get("/operations", params={"status": "completed", "limit": 1})
        ).json()["total_count"]
    await nc.close()
    return {
        "accepted": len(set(ids)),
        "refused": refused,
        "finished": finished,
        "wall_s": wall,
        "start_requests_s": started_s,
        "peak_active": peak_active,
        "completed": completed,
        "health": health,
        "stored": stored,
        "idle_consumers": idle_consumers,
        "samples": samples,
    }


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process (Linux), in MiB; None where it cannot be read."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else None


def consumer_figures(samples: list[dict[str, Any]], n: int, idle: int) -> dict[str, Any]:
    """Consumers on the events stream: idle, the most at any time, and on the plateau (every
    operation started, none ended, the last start's reads expired) against its size."""
    plateau = [s for s in samples if s["operations"] >= n and s["active"] >= n]
    # a history read's consumer lapses READ_LAPSE_S after it: count only after that
    settled = [s for s in plateau if plateau and s["t"] >= plateau[0]["t"] + READ_LAPSE_S]
    return {
        "idle": idle,
        "max": max((s["consumers"] for s in samples), default=idle),
        "plateau": max((s["consumers"] for s in settled), default=None),
        "plateau_active": min((s["active"] for s in settled), default=None),
    }


def memory_figures(samples: list[dict[str, Any]], n: int) -> dict[str, dict[str, float | None]]:
    """RSS (MiB) of the API and the largest runner at the first sample with N/10, N/2 and N
    operations started."""
    out: dict[str, dict[str, float | None]] = {}
    for mark in sorted({max(1, n // 10), max(1, n // 2), n}):
        point = next((s for s in samples if s["operations"] >= mark), None)
        if point is None:
            continue
        rss = point["rss_mb"]
        runners = [v for k, v in rss.items() if k.startswith("runner") and v is not None]
        out[str(mark)] = {"api": rss.get("api"), "runner_max": max(runners, default=None)}
    return out


def _first_error(deployment: Deployment) -> str | None:
    for log in sorted(deployment.workdir.glob("runner*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if re.search(r"\b(Error|error):", line) and "Traceback" not in line:
                return line.strip()[:300]
    return None


def _log_counts(deployment: Deployment) -> dict[str, int]:
    """How often the runners logged a returned command and the API a lost runner."""
    counts = {"came_back": 0, "runner_lost": 0}
    for log in deployment.workdir.glob("*.log"):
        text = log.read_text(errors="replace")
        counts["came_back"] += text.count("came back while running it")
        counts["runner_lost"] += text.count("goes to another runner of its pool")
    return counts


def _handover_lines(counts: dict[str, int]) -> str:
    return (
        f"(runner logs: {counts['came_back']:,} commands came back to a runner still running "
        f"them, their lease not renewed in time; API: {counts['runner_lost']:,} operations "
        "handed over from a runner whose heartbeat lapsed)"
    )


def _run(sizes: Sizes, n: int, workdir: Path) -> dict[str, Any]:
    workdir.mkdir(parents=True)
    per_runner = math.ceil(n / sizes.scale_runners)
    with nats_server(workdir) as server:
        deployment = Deployment(server.url, workdir)
        try:
            deployment.start_api()
            assert deployment.api_proc is not None
            pids = {"api": deployment.api_proc.pid}
            for index in range(sizes.scale_runners):
                proc = deployment.start_runner("--pool", "local", "--concurrency", str(per_runner))
                pids[f"runner{index + 1}"] = proc.pid
            # four runners import torch at once on a shared machine: give them time
            deployment.wait_runners(sizes.scale_runners, timeout=300)
            result = asyncio.run(_drive(deployment.base, server.url, pids, sizes, n))
            error = _first_error(deployment)
            deployment_logs = _log_counts(deployment)
        finally:
            deployment.close()

    health = result["health"]
    sent = result["accepted"] * (sizes.scale_iterations + 3)
    stored = int(result["stored"])
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
        elif result["finished"] and result["completed"] == n and stored == folded:
            note = (
                f"all completed, stored = folded, but {stored - sent:+,} events against the "
                "workload's own: lease hand-overs (runner_lost, a new operation_started) "
                f"{_handover_lines(deployment_logs)}"
            )
        else:
            note = "operations stalled"
    key = NAME if n == sizes.scale_operations else f"{NAME}_half"
    starts_per_s = result["accepted"] / result["start_requests_s"]
    wall_bound = WALL_GOAL * ideal + result["start_requests_s"]
    cons = consumer_figures(result["samples"], n, result["idle_consumers"])
    memory = memory_figures(result["samples"], n)
    flat = cons["plateau"] is not None and cons["plateau"] <= cons["idle"]
    rows = [
        row(
            key,
            title,
            figure=figure,
            baseline=f"ideal wall {ideal:.1f} s (one operation's own duration)",
            ratio=f"{result['wall_s'] / ideal:.1f}×" if exact else "—",
            goal="counts exact, all completed",
            met=exact,
            note=note,
        ),
        row(
            f"{key}_wall",
            f"{title}: wall time",
            figure=f"{result['wall_s']:.1f} s from the first start to the last end",
            baseline=f"{WALL_GOAL:g} × {ideal:.1f} s + {result['start_requests_s']:.1f} s of "
            f"starts = {wall_bound:.1f} s",
            ratio=f"{result['wall_s'] / wall_bound:.2f}× of the bound",
            goal=f"≤ {WALL_GOAL:g}× one operation + start-up",
            met=exact and result["wall_s"] <= wall_bound,
        ),
        row(
            f"{key}_starts",
            f"{title}: starts through the API",
            figure=f"{starts_per_s:,.0f} starts/s ({result['accepted']:,} in "
            f"{result['start_requests_s']:.1f} s)",
            baseline=f"POST /dummy/start/batch, {BATCH} a request, {CLIENTS} requests in flight",
            ratio=f"{starts_per_s / STARTS_GOAL:.2f}× the goal",
            goal=f"≥ {STARTS_GOAL:g}/s",
            met=starts_per_s >= STARTS_GOAL,
        ),
        row(
            f"{key}_consumers",
            f"{title}: JetStream consumers on the events stream",
            figure=f"{cons['plateau']} with {cons['plateau_active']:,} running"
            if cons["plateau"] is not None
            else f"no plateau of {READ_LAPSE_S:g} s with all {n:,} running",
            baseline=f"{cons['idle']} idle, before the first start; {cons['max']} at most "
            "(history reads at start and end, each lapsing 5 s after)",
            ratio="—",
            goal="does not grow with running operations",
            met=flat if cons["plateau"] is not None else None,
        ),
        row(
            f"{key}_memory",
            f"{title}: resident memory",
            figure="; ".join(
                f"{int(mark):,} started: API {fmt_mb(m['api'])}, runner {fmt_mb(m['runner_max'])}"
                for mark, m in memory.items()
            ),
            baseline="RSS from /proc, the largest of the runners",
            ratio="—",
            goal="(reported, no goal)",
            met=None,
        ),
    ]
    return {
        "rows": rows,
        "data": {
            "operations": n,
            "runners": sizes.scale_runners,
            "concurrency_per_runner": per_runner,
            "iterations": sizes.scale_iterations,
            "interval_s": sizes.scale_interval,
            "wall_s": result["wall_s"],
            "wall_bound_s": wall_bound,
            "start_requests_s": result["start_requests_s"],
            "starts_per_s": starts_per_s,
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
            "log_counts": deployment_logs,
            "consumers": cons,
            "rss_mb": memory,
            "samples": result["samples"],
        },
    }


def fmt_mb(value: float | None) -> str:
    return "?" if value is None else f"{value:,.0f} MiB"
