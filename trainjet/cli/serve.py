"""`trainjet serve | api | runner`: the long-running parts, alone or all together."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import uvicorn

from trainjet.cli.runtime import remove_runtime, write_runtime
from trainjet.config import Settings
from trainjet.core.gc_pause import freeze_survivors
from trainjet.core.store.nats_connect import redact_all

log = logging.getLogger("trainjet")
SERVE_LOCK = "serve.lock"
STOP_GRACE_HTTP = 2  # seconds open HTTP connections get to finish when the API stops


class _Server(uvicorn.Server):
    """uvicorn's server, saying so once it accepts requests (the ready line)."""

    def __init__(
        self,
        config: uvicorn.Config,
        on_ready: Callable[[], None] | None,
        on_stop: Callable[[], None],
    ) -> None:
        super().__init__(config)
        self._on_ready = on_ready
        self._on_stop = on_stop

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._on_stop()  # before uvicorn waits for open connections to finish
        await super().shutdown(sockets)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # A closed terminal (SIGHUP) stops the server the graceful way SIGTERM does, so the
        # lifespan closes the NATS connection and the stack unwinds as on any clean stop.
        signal.signal(signal.SIGHUP, self.handle_exit)
        if not self.started:
            return
        # The lifespan has folded the log: at 1,000,000 events the read models are ~170,000
        # containers, and every full cycle collection rescanned them all (0.12-0.25 s with the
        # GIL held, every request and live stream stalled). They hold no cycles and are freed
        # by reference counting when an operation's state is replaced, so the collector can
        # leave them out of its scans for good (gc_pause.py).
        freeze_survivors()
        if self._on_ready is not None:
            self._on_ready()


def server_io(fast: bool) -> tuple[str, str]:
    """uvicorn's (loop, http) for the API: uvloop and httptools where installed (faster per
    request, same behaviour), else the pure-Python asyncio and h11 they fall back to."""
    if not fast:
        return "asyncio", "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") is not None else "h11"
    return loop, http


def run_api(
    settings: Settings,
    *,
    on_ready: Callable[[], None] | None = None,
    on_stop: Callable[[], None] | None = None,
    access_log: bool = False,
) -> None:
    from trainjet.api.app import create_app

    app = create_app(settings)
    loop, http = server_io(settings.api_fast_io)
    config = uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        loop=loop,
        http=http,
        log_level="info" if access_log else "warning",
        access_log=access_log,
        lifespan="on",
        # A live stream (the console, an SSE client) must not hold a stop for as long as its
        # operation runs: uvicorn waits for open connections unless given a bound. This was
        # the 16+ s (or an operation's whole length) that `serve` took to stop.
        timeout_graceful_shutdown=STOP_GRACE_HTTP,
    )
    if access_log:
        # the request log, without uvicorn's own start-up chatter (serve prints its own)
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)

    def stopping() -> None:
        app.state.stopping.set()
        if on_stop is not None:
            on_stop()

    server = _Server(config, on_ready, stopping)
    server.run()
    if not server.started:
        raise SystemExit(1)


def run_runner(settings: Settings, pool: str, concurrency: int) -> None:
    # What a runner is built of lives in trainjet.system; its device and GPU probe with the runners.
    from trainjet.cli.client import CliError
    from trainjet.core.errors import StoreError
    from trainjet.runners.service import run_runner as _run

    try:
        _run(settings, pool, concurrency)
    except StoreError as exc:  # unreachable past the retry bound: one line, no traceback
        raise CliError(exc.message) from None


def wait_for_nats(settings: Settings) -> None:
    """Block until NATS answers (retrying, bounded by the settings), before the API starts:
    an unreachable server then reads as one line per try instead of uvicorn's traceback."""
    from trainjet.cli.client import CliError
    from trainjet.core.errors import StoreError
    from trainjet.system import wait_for_nats as probe

    try:
        asyncio.run(probe(settings))
    except StoreError as exc:
        raise CliError(exc.message) from None


def stop_processes(procs: list[subprocess.Popen[bytes]], grace: float = 15.0) -> None:
    """SIGTERM, then SIGKILL after `grace` (the benchmarks stop their processes this way)."""
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


def _client_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "[::]", "") else host


def serve(settings: Settings, runners: int) -> None:
    """Embedded NATS (unless a URL is configured) + the API + `runners` local runners.

    Whatever ends serve ends its children: a clean stop unwinds the ExitStack; SIGHUP (the
    terminal closed) is handled as SIGTERM; a SIGKILL leaves the kernel's parent-death signal
    to end nats-server and the runners. The data dir is locked for the life of serve.
    """
    from trainjet.cli.client import CliError
    from trainjet.cli.supervisor import NatsWatch, RunnerSupervisor
    from trainjet.natsd.embedded import EmbeddedNats, StoreInUse, lock_dir

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_cleanly)
    data_dir = Path(settings.data_dir)
    fatal: list[str] = []
    # serve is watched by a person: its own lifecycle lines (runner exits, restarts) show.
    if log.getEffectiveLevel() > logging.INFO:
        log.setLevel(logging.INFO)

    def _fatal(message: str) -> None:
        log.error("%s", message)
        fatal.append(message)
        os.kill(os.getpid(), signal.SIGTERM)  # uvicorn shuts down; the stack unwinds

    with contextlib.ExitStack() as stack:
        try:
            stack.callback(os.close, lock_dir(data_dir, SERVE_LOCK, "another `trainjet serve`"))
        except StoreInUse as exc:
            raise CliError(str(exc), 2) from None
        if not settings.nats_url:
            nats = EmbeddedNats(settings.data_dir, die_with_parent=True)
            try:
                url = nats.start()
            except StoreInUse as exc:
                raise CliError(str(exc), 2) from None
            stack.callback(nats.stop)
            watch = NatsWatch(nats, on_fatal=_fatal)
            watch.start()
            stack.callback(watch.stop)
            settings = replace(settings, nats_url=url)
            log.info("embedded nats-server (pid %s), store %s", nats.pid, nats.store_dir)
            # One user owns this server, so this process is its admin: it lays out the
            # streams and buckets that the API and runners only check for.
            from trainjet.system import provision_nats

            for part in asyncio.run(provision_nats(settings)):
                log.info("setup: %s", part.line())
        else:
            from trainjet.cli.setup import preflight
            from trainjet.system import API_PARTS

            preflight(settings, API_PARTS, ["local"])  # an external server is set up apart
        api_url = f"http://{_client_host(settings.api_host)}:{settings.api_port}"
        write_runtime(data_dir, nats_url=settings.nats_url, api_url=api_url)
        stack.callback(remove_runtime, data_dir)
        env = {**os.environ, "TRAINJET_NATS_URL": settings.nats_url or ""}
        supervisor = RunnerSupervisor(env=env, count=runners)
        pids = supervisor.start()
        stack.callback(supervisor.stop)
        _say(f"trainjet serve: data dir {data_dir.resolve()}")
        _say(f"  API      {api_url}/api/v1   (docs {api_url}/docs, metrics {api_url}/metrics)")
        _say(f"  console  {api_url}/")
        _say(f"  NATS     {redact_all(settings.nats_url or '')}")
        _say(f"  runners  {runners} on pool local (pids {', '.join(map(str, pids)) or 'none'})")
        started = time.monotonic()
        run_api(
            settings,
            on_ready=lambda: _say(
                f"ready in {time.monotonic() - started:.1f}s: stop with Ctrl-C or SIGTERM"
            ),
            on_stop=supervisor.quiesce,  # runners exiting now are not restarted
            access_log=True,
        )
    if fatal:
        raise SystemExit(1)


def _say(line: str) -> None:
    print(line, flush=True)
