"""`trainjet serve | api | runner`: the long-running parts, alone or all together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import uvicorn

from trainjet.config import Settings
from trainjet.runtime import remove_runtime, write_runtime

log = logging.getLogger("trainjet")


def run_api(settings: Settings) -> None:
    from trainjet.api.app import create_app

    app = create_app(settings)
    config = uvicorn.Config(
        app, host=settings.api_host, port=settings.api_port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        raise SystemExit(1)


def run_runner(settings: Settings, pool: str, concurrency: int) -> None:
    # The wiring (checkpoints, models bucket, device and GPU probe) lives with the runners.
    from trainjet.runners.service import run_runner as _run

    _run(settings, pool, concurrency)


def spawn_runners(
    settings: Settings, count: int, pool: str = "local"
) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "TRAINJET_NATS_URL": settings.nats_url or ""}
    return [
        subprocess.Popen(
            [sys.executable, "-m", "trainjet", "runner", "--pool", pool],
            env=env,
        )
        for _ in range(count)
    ]


def stop_processes(procs: list[subprocess.Popen[bytes]], grace: float = 15.0) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _exit_cleanly(signum: int, frame: object) -> None:
    # SystemExit unwinds the ExitStack like any exception; uvicorn re-raises the SIGTERM it
    # captured once it has shut down, which lands here too.
    raise SystemExit(0)


def serve(settings: Settings, runners: int) -> None:
    """Embedded NATS (unless a URL is configured) + the API + `runners` local runners."""
    # SIGTERM must unwind the ExitStack below (stopping NATS and the runners), before, during
    # and after uvicorn's own handling of it. Ctrl-C does so as KeyboardInterrupt (exit 130).
    signal.signal(signal.SIGTERM, _exit_cleanly)
    with contextlib.ExitStack() as stack:
        if not settings.nats_url:
            from trainjet.natsd.embedded import EmbeddedNats

            nats = EmbeddedNats(settings.data_dir)
            url = nats.start()
            stack.callback(nats.stop)
            settings = replace(settings, nats_url=url)
            log.info("embedded nats-server %s (store %s)", url, nats.store_dir)
            # One user owns this server, so this process is its admin: it lays out the
            # streams and buckets that the API and runners only check for.
            from trainjet.nats_backend import provision_nats

            for part in asyncio.run(provision_nats(settings)):
                log.info("setup: %s", part.line())
        else:
            from trainjet.cli.setup import preflight
            from trainjet.nats_backend import API_PARTS

            preflight(settings, API_PARTS, ["local"])  # an external server is set up apart
        write_runtime(
            Path(settings.data_dir),
            nats_url=settings.nats_url,
            api_url=f"http://{settings.api_host}:{settings.api_port}",
        )
        stack.callback(remove_runtime, Path(settings.data_dir))
        procs = spawn_runners(settings, runners)
        stack.callback(stop_processes, procs)
        run_api(settings)
