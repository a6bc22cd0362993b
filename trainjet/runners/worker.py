"""The runner protocol, shared by every pool (local, host).

A runner pulls start commands for its pool under a lease and, for each (see `attempt.py`):

1. reads the operation's history; skips (and acks) one that already ended;
2. if the operation is `running`, the command came back because whoever ran it stopped
   renewing its lease: it records the hand-over (`runner_lost`) and resumes the operation,
   from its latest checkpoint, as the next attempt;
3. appends `operation_started` and runs the registered executor for the operation type,
   while a watcher turns `cancel_requested` (or a terminal event written elsewhere) into the
   cancel token, a keeper renews the lease, and a heartbeat keeps the runner registered;
4. appends exactly one terminal event: completed, cancelled (on `CancellationError`) or
   failed, after everything the work emitted, then acknowledges the command.

Fencing: a runner that learns it no longer owns an operation (a `runner_lost` for its
attempt, a later attempt started elsewhere, or no successful heartbeat for a whole TTL, after
which the monitor may have handed the work over) stops the work and writes nothing more for
it: no events, no checkpoint, no renewal, no ack. Two runners never both write one attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

from trainjet import __version__
from trainjet.core.events import utcnow
from trainjet.core.store.blobs import BlobStore
from trainjet.core.store.errors import StoreError
from trainjet.core.store.port import Claim, CommandQueue, EventStore, RunnerInfo, RunnerRegistry
from trainjet.runners.attempt import Executor, execute_claim
from trainjet.runners.context import OperationContext
from trainjet.runners.outbox import EventOutbox

log = logging.getLogger(__name__)

__all__ = ["Executor", "Runner"]

GpuProbe = Callable[[], dict[str, Any] | None]


class Runner:
    def __init__(
        self,
        *,
        store: EventStore,
        commands: CommandQueue,
        registry: RunnerRegistry,
        executors: dict[str, Executor],
        pool: str = "local",
        concurrency: int = 1,
        runner_id: str | None = None,
        device: str = "cpu",
        resources: dict[str, Any] | None = None,
        checkpoints: BlobStore | None = None,
        gpu_probe: GpuProbe | None = None,
    ) -> None:
        self.store = store
        self.commands = commands
        self.registry = registry
        self.executors = executors
        self.pool = pool
        self.concurrency = concurrency
        self.host = socket.gethostname()
        self.runner_id = runner_id or f"{pool}-{self.host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.device = device
        self.resources = resources or {}
        self.checkpoints = checkpoints
        self.gpu_probe = gpu_probe
        self.outbox = EventOutbox(store)
        self.active: dict[str, OperationContext] = {}
        self.completed = 0
        self.resumed = 0
        self.fenced = 0
        self.started_at = utcnow().isoformat()
        self._stopping = False
        self._slots = asyncio.Semaphore(concurrency)
        self._last_beat_ok = time.monotonic()

    @property
    def stopping(self) -> bool:
        return self._stopping

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Serve commands until `stop` is set; then end in-flight work cleanly."""
        self.outbox.start()
        await self.heartbeat()
        helpers = [
            asyncio.create_task(self._heartbeat_loop(), name="runner-heartbeat"),
            asyncio.create_task(self._contact_watch(), name="runner-contact-watch"),
        ]
        tasks: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                if not await self._take_slot(stop):
                    break
                try:
                    claim = await self.commands.next_claim(self.pool, timeout=0.5)
                except StoreError as exc:  # NATS down or a leader election: wait, retry
                    self._slots.release()
                    log.warning("taking a command failed (%s); retrying", exc)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 0.5)
                    continue
                if claim is None:
                    self._slots.release()
                    continue
                task = asyncio.create_task(
                    self._handle(claim), name=f"op-{claim.command.operation_id}"
                )
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            self._stopping = True
            for ctx in list(self.active.values()):
                ctx.token.cancel(f"Runner {self.runner_id} shut down while running this operation")
                ctx.cancelled.set()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await self.outbox.close()
            with contextlib.suppress(Exception):
                await self.registry.remove(self.runner_id)

    async def _take_slot(self, stop: asyncio.Event) -> bool:
        """Wait for a free slot, or for `stop` (False): a busy runner must still stop."""
        if not self._slots.locked():
            await self._slots.acquire()
            return True
        acquire = asyncio.ensure_future(self._slots.acquire())
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({acquire, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if stop.is_set():
            if acquire.done() and not acquire.cancelled():
                self._slots.release()
            else:
                acquire.cancel()
            return False
        return True

    def info(self) -> RunnerInfo:
        gpu: dict[str, Any] | None = None
        if self.gpu_probe is not None:
            try:
                gpu = self.gpu_probe()
            except Exception:  # a failing probe must not stop the heartbeat
                log.debug("gpu probe failed", exc_info=True)
        return RunnerInfo(
            runner_id=self.runner_id,
            pool=self.pool,
            host=self.host,
            pid=os.getpid(),
            device=self.device,
            gpu=gpu,
            concurrency=self.concurrency,
            current_operations=sorted(op for op, ctx in self.active.items() if not ctx.fenced),
            started_at=self.started_at,
            last_seen=utcnow().isoformat(),
            version=__version__,
            outbox_depth=self.outbox.depth,
            outbox_dropped=self.outbox.dropped,
        )

    async def heartbeat(self) -> None:
        await self.registry.heartbeat(self.info())
        self._last_beat_ok = time.monotonic()

    async def beat_soon(self) -> None:
        """Heartbeat now (best effort): the registry should list a new operation at once."""
        try:
            await self.heartbeat()
        except Exception as exc:
            log.warning("heartbeat failed: %s", exc)

    async def _heartbeat_loop(self) -> None:
        interval = max(0.2, self.registry.ttl_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            await self.beat_soon()

    async def _contact_watch(self) -> None:
        """Fence every operation once no heartbeat has landed for a whole TTL: by then the
        registry has dropped this runner and the lease monitor may have handed its work on."""
        ttl = self.registry.ttl_seconds
        while True:
            await asyncio.sleep(max(0.1, ttl / 8))
            silent = time.monotonic() - self._last_beat_ok
            if silent <= ttl:
                continue
            for ctx in list(self.active.values()):
                if not ctx.fenced:
                    self.fence(
                        ctx,
                        f"runner {self.runner_id} lost contact with NATS for {silent:.1f}s "
                        f"(heartbeat TTL {ttl:g}s); the operation may have been handed over",
                    )

    def fence(self, ctx: OperationContext, reason: str) -> None:
        if ctx.fenced:
            return
        log.warning("giving up %s (attempt %d): %s", ctx.operation_id, ctx.attempt, reason)
        ctx.fence(reason)
        self.fenced += 1
        self.outbox.discard(ctx.operation_id)

    # -- one operation ---------------------------------------------------------------------

    async def _handle(self, claim: Claim) -> None:
        op_id = claim.command.operation_id
        try:
            await execute_claim(self, claim)
        except Exception:
            log.exception("runner failed handling %s", op_id)
            ctx = self.active.get(op_id)
            if ctx is None or not ctx.fenced:
                with contextlib.suppress(Exception):
                    await claim.release()
        finally:
            self._slots.release()
