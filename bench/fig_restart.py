"""9. API restart with a long log: a `trainjet api` process started on a log of N events, once
from its projection snapshot (folding only the tail) and once without one (the full fold),
arms interleaved on the same log. Also the API's resident memory after start-up as the log
grows (N/4, N/2, N), each measured after a full fold."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import stats
from bench.common import Deployment, Sizes, fmt_rate, nats_server, row, stop_all

NAME = "restart"
TITLE = "API restart with a long log"
PER_OPERATION = 100  # 1,000,000 events are 10,000 operations
GOAL_SECONDS = 3.0
TAIL = 1_000  # events appended after the snapshot: the tail a restart folds


def run(sizes: Sizes, workdir: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-restart-") as tmp:
        return _run(sizes, Path(workdir or tmp))


async def _append(url: str, total: int, prefix: str) -> int:
    """Append `total` events of new operations (pipelined raw publishes, as fig_rebuild)."""
    from bench.fig_rebuild import load
    from trainjet.core.store import StoreSettings, ensure_streams
    from trainjet.natsd import connect

    nc = await connect(url, name="bench-restart-fill")
    js = nc.jetstream(timeout=30)
    layout = StoreSettings()
    await ensure_streams(js, layout)
    sent = await load(js, layout, total, prefix, min(PER_OPERATION, total))
    await nc.close()
    return sent


async def _drop_snapshot(url: str) -> None:
    """Delete the API's snapshot, so its next start folds the whole log."""
    from trainjet.core.projections.snapshot import SnapshotStore
    from trainjet.core.store import JetStreamBlobStore, StoreSettings
    from trainjet.natsd import connect

    nc = await connect(url, name="bench-restart-drop")
    layout = StoreSettings()
    snapshots = SnapshotStore(JetStreamBlobStore(nc, layout.snapshots_bucket_name, layout))
    await snapshots.blobs.delete(snapshots.key)
    await nc.close()


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _start(deployment: Deployment, events: int) -> dict[str, Any]:
    """Start the API; seconds until /health answered with every event applied, its RSS."""
    t0 = time.perf_counter()
    deployment.start_api(timeout=600)
    while True:  # /health answers once the projector caught up; checked, not assumed
        health = httpx.get(f"{deployment.base}/health", timeout=30).json()
        if health["projector"]["events_applied"] >= events:
            break
        time.sleep(0.01)
    seconds = time.perf_counter() - t0
    assert deployment.api_proc is not None
    snapshot = health["projector"]["snapshot"]
    return {
        "seconds": seconds,
        "rss_mib": rss_mib(deployment.api_proc.pid),
        "operations": health["projector"]["operations"],
        "loaded_snapshot_seq": snapshot["loaded_at_start"],
        "folded": snapshot["records_folded_at_start"],
    }


def _stop(deployment: Deployment) -> None:
    """SIGTERM, as an operator restarts it: the API saves its snapshot on the way out."""
    stop_all([p for p in deployment.procs if p is deployment.api_proc])
    deployment.procs = [p for p in deployment.procs if p is not deployment.api_proc]
    deployment.api_proc = None


def _run(sizes: Sizes, workdir: Path) -> dict[str, Any]:
    total = sizes.restart_events
    tail = max(1, min(TAIL, total // 20))
    steps = [total // 4, total // 2, total]
    growth: list[dict[str, Any]] = []
    runs: dict[str, list[dict[str, Any]]] = {"snapshot": [], "full": []}
    with nats_server(workdir) as server:
        deployment = Deployment(server.url, workdir, TRAINJET_SNAPSHOT_SECONDS="0")
        try:
            stored, load_s = 0, 0.0
            for i, step in enumerate(steps):  # memory as the log grows: a full fold each
                t0 = time.perf_counter()
                stored += asyncio.run(_append(server.url, step - stored, f"restart{i}"))
                load_s += time.perf_counter() - t0
                if i:  # the first start made the bucket; it holds the last stop's snapshot
                    asyncio.run(_drop_snapshot(server.url))
                started = _start(deployment, stored)
                growth.append({"events": stored, **started})
                _stop(deployment)
            for j, (_, arm) in enumerate(
                stats.interleave(list(runs), sizes.restart_rounds, seed=9)
            ):
                # a short tail after the snapshot the last stop saved, as in a real restart
                stored += asyncio.run(_append(server.url, tail, f"tail{j}"))
                if arm == "full":
                    asyncio.run(_drop_snapshot(server.url))
                runs[arm].append(_start(deployment, stored))
                _stop(deployment)
        finally:
            deployment.close()

    for arm, expected in (("snapshot", True), ("full", False)):
        if any((r["loaded_snapshot_seq"] > 0) != expected for r in runs[arm]):
            raise RuntimeError(f"the {arm} arm did not start as intended: {runs[arm]}")
    snap = stats.median([r["seconds"] for r in runs["snapshot"]])
    full = stats.median([r["seconds"] for r in runs["full"]])
    folded = stats.median([r["folded"] for r in runs["snapshot"]])
    rss = {g["events"]: g["rss_mib"] for g in growth}
    last = growth[-1]
    growth_text = ", ".join(f"{g['events'] // 1000:,}k: {g['rss_mib']:.0f} MiB" for g in growth)
    per_op_kib = (
        (growth[-1]["rss_mib"] - growth[0]["rss_mib"])
        * 1024
        / max(1, growth[-1]["operations"] - growth[0]["operations"])
    )
    return {
        "rows": [
            row(
                NAME,
                "9. API restart with a long log",
                figure=f"{snap:.1f} s to answer with {stored:,} events in the log "
                f"(snapshot + {folded:,.0f}-event tail)",
                baseline=f"full fold of the same log {full:.1f} s",
                ratio=f"{full / snap:.1f}× faster",
                goal=f"≤ {GOAL_SECONDS:.0f} s",
                met=snap <= GOAL_SECONDS,
            ),
            row(
                "restart_memory",
                "9b. API memory with a long log",
                figure=f"RSS {last['rss_mib']:.0f} MiB at {last['events']:,} events "
                f"({last['operations']:,} operations); {growth_text}",
                baseline=f"≈ {per_op_kib:.1f} KiB per operation added",
                ratio="",
                goal="(report)",
                met=None,
            ),
        ],
        "data": {
            "events": stored,
            "events_per_operation": PER_OPERATION,
            "tail_events": tail,
            "load_seconds": load_s,
            "load_events_per_s": steps[-1] / load_s if load_s else None,
            "rounds": sizes.restart_rounds,
            "snapshot_seconds": snap,
            "full_seconds": full,
            "full_events_per_s": stored / full,
            "growth": growth,
            "rss_mib": rss,
            "runs": runs,
            "note": f"full fold {fmt_rate(stored / full)} events/s including process start",
        },
    }
