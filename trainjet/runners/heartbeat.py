"""A runner's heartbeat, on a thread of its own with its own small NATS connection.

The lease monitor hands a runner's work over once its heartbeat stops. A heartbeat task on the
runner's event loop stops whenever the loop is starved (a module import, a slow callback, a
burst of events) and a busy training thread holding the GIL for long stretches makes that
worse: healthy runners then lose their work for nothing. Here the heartbeat has its own loop
and its own connection, so nothing the runner's loop does can delay it; only a frozen process
(SIGSTOP, a swap storm) or a lost server can, which is what the heartbeat is meant to detect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable

from trainjet.core.store.port import RunnerInfo, RunnerRegistry

log = logging.getLogger(__name__)

Closer = Callable[[], Awaitable[None]]
OpenRegistry = Callable[[], Awaitable[tuple[RunnerRegistry, Closer]]]
# Least time between two beats: a new operation is listed within it, far inside the TTL
# the lease monitor grants a runner before it misses one.
MIN_GAP = 0.25


class HeartbeatThread:
    def __init__(
        self,
        open_registry: OpenRegistry,
        info: Callable[[], RunnerInfo],
        interval: float,
        *,
        name: str = "runner-heartbeat",
    ) -> None:
        self._open_registry = open_registry
        self._info = info
        self.interval = interval
        self.last_ok = time.monotonic()
        self.last_error = 0.0  # when a beat last failed (0: never)
        self.beats = 0
        self._name = name
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False
        self._ready = threading.Event()
        self._remove_on_stop: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name=self._name, daemon=True)
        self._thread.start()
        self._ready.wait(10.0)  # the thread's loop exists (not that a beat landed)

    def beat_now(self) -> None:
        """Ask for a heartbeat at once (the registry should list a new operation). Any thread."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the thread's loop has ended
                loop.call_soon_threadsafe(wake.set)

    def stop(self, remove_runner: str | None = None, timeout: float = 5.0) -> None:
        """End the thread; with `remove_runner`, delete that registry entry on the way out."""
        self._stopping = True
        self._remove_on_stop = remove_runner
        self.beat_now()
        if self._thread is not None:
            self._thread.join(timeout)

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._ready.set()
        registry: RunnerRegistry | None = None
        close: Closer | None = None
        try:
            while not self._stopping:
                if registry is None:
                    try:
                        registry, close = await self._open_registry()
                    except Exception as exc:
                        self.last_error = time.monotonic()
                        log.warning("heartbeat connection failed (%s); retrying", exc)
                # no interval between opening and the first beat: until it lands the runner
                # is listed nowhere and takes no work
                if registry is not None:
                    try:
                        await registry.heartbeat(self._info())
                        self.last_ok = time.monotonic()
                        self.beats += 1
                    except Exception as exc:
                        self.last_error = time.monotonic()
                        log.warning("heartbeat failed: %s", exc)
                if not self._stopping:
                    # Asked for again at once while it beat (every operation taken asks),
                    # beat at most this often: each beat lists every operation, thousands
                    # on a busy runner, and back to back they loaded the server for nothing.
                    await asyncio.sleep(min(MIN_GAP, self.interval))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.interval)
                self._wake.clear()
            if registry is not None and self._remove_on_stop:
                with contextlib.suppress(Exception):
                    await registry.remove(self._remove_on_stop)
        finally:
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
