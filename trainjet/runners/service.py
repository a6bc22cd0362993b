"""A runner process, wired: connect, pick the device, serve the pool until SIGINT/SIGTERM.

`trainjet runner --pool local|host [--concurrency N]` ends here. Every runner gets the
checkpoints bucket (`trainjet.system.RunnerSystem`: any runner of the pool can resume an
operation another one lost); host runners also get their device, a GPU probe for heartbeats
and progress, and the models bucket for publishing what they train.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from trainjet.config import Settings
from trainjet.core.gc_pause import freeze_survivors
from trainjet.core.store.port import RunnerRegistry
from trainjet.runners.executors import executors_for, preload_training
from trainjet.runners.heartbeat import Closer
from trainjet.runners.worker import GpuProbe, Runner

log = logging.getLogger("trainjet.runner")


async def runner_main(
    settings: Settings, pool: str, concurrency: int, *, stop: asyncio.Event | None = None
) -> None:
    from trainjet.system import connect_runner

    # Import the training stack before this runner registers or takes work. The import holds
    # the GIL for seconds (torch's native initialisation): done while the runner holds an
    # operation, it starves the heartbeat and the lease renewals on a loaded machine and the
    # work is handed over for nothing. Done first, a cold runner is simply slower to appear.
    log.info("runner for pool %s: importing the training stack", pool)
    await preload_training()
    system = await connect_runner(settings, pool)
    resources: dict[str, Any] = {"settings": settings}
    device, probe = "cpu", None
    if pool == "host":
        device, probe = _host_device()
        resources["device"] = device
        resources["models"] = system.models
    # What was imported and connected lives as long as the process: out of the collector's
    # scans, a full collection no longer stalls a running training or a cancel (gc_pause.py).
    freeze_survivors()

    async def heartbeat_registry() -> tuple[RunnerRegistry, Closer]:
        return await system.heartbeat_registry(f"trainjet-runner-{pool}-heartbeat")

    runner = Runner(
        store=system.store,
        commands=system.commands,
        registry=system.registry,
        executors=executors_for(pool),
        pool=pool,
        concurrency=concurrency,
        device=device,
        resources=resources,
        checkpoints=system.checkpoints,
        gpu_probe=probe,
        heartbeat_registry=heartbeat_registry,
    )
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    log.info(
        "runner %s serving pool %s on %s (concurrency %d)",
        runner.runner_id,
        pool,
        device,
        concurrency,
    )
    try:
        await runner.run(stop)
    finally:
        await system.close()


def _host_device() -> tuple[str, GpuProbe]:
    # Only a host runner pays for importing torch up front to report its device.
    from trainjet.runners.host.device import gpu_probe, host_device

    device = host_device()
    return device, gpu_probe(device)


def run_runner(settings: Settings, pool: str, concurrency: int) -> None:
    asyncio.run(runner_main(settings, pool, concurrency))
