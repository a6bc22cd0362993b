# size: the runner lifecycle: pull, lease, heartbeat and drain share the runner's state
"""The runner protocol, shared by every pool (local, host).

A runner pulls start commands for its pool under a lease and runs each as an `Attempt`
(`attempt.py`): it decides the start on the operation's latest history (skipping one that
already ended, recording the hand-over of one whose runner was lost, resuming it from its
latest checkpoint), runs the registered executor while its lease is renewed, and decides the
end, each of these appends under the precondition that the history has not moved since.

Around the attempts the runner keeps one heartbeat (on a thread of its own when the process
assembly gives it a connection for one, so a starved loop cannot miss it) and one control
watcher (a single tail of the control events for every operation it runs).

Fencing: a runner that learns it no longer owns an operation (a `runner_lost` for its attempt,
a later attempt started elsewhere) stops the work and writes nothing more for it. One that goes
a TTL in which its heartbeats failed (cut off), or three TTLs without one, stops too, and on the way out
records the hand-over of its attempt (unless someone did) and gives the command back, so the
operation is resumed or ended, never left `running`.

Stopping (SIGTERM): stop pulling, cancel every attempt with cause `shutdown` (the training
stops at its next batch), hand each operation over to the other runners of the pool (it is
resumed from its checkpoint) or, with no other runner of the pool alive, end it `failed`;
wait at most `grace_seconds` for all that, then exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from trainjet import __version__
from trainjet.core.cancellation import CancelCause
from trainjet.core.errors import StoreError
from trainjet.core.events import utcnow
from trainjet.core.store.blobs import BlobStore
from trainjet.core.store.port import Claim, CommandQueue, EventStore, RunnerInfo, RunnerRegistry
from trainjet.runners.attempt import Attempt
from trainjet.runners.control import ControlWatcher
from trainjet.runners.deps import AttemptDeps, Executor, RunnerStats
from trainjet.runners.heartbeat import HeartbeatThread, OpenRegistry
from trainjet.runners.outbox import EventOutbox

log = logging.getLogger(__name__)

__all__ = ["Executor", "Runner"]

GpuProbe = Callable[[], dict[str, Any] | None]
# How long a stopping runner waits for its attempts to hand over before it exits anyway
# (the lease monitor then hands their operations over, a TTL later).
DEFAULT_GRACE_SECONDS = 30.0
# How long a new attempt waits for this runner's own fenced attempt to unwind.
UNWIND_WAIT = 30.0
# Most commands claimed in one round trip, however many slots are free: a bounded request
# (the loop takes the rest on its next turn).
MAX_CLAIM_BATCH = 256


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
        heartbeat_registry: OpenRegistry | None = None,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
    ) -> None:
        self.store = store
        self.commands = commands
        self.registry = registry
        self.pool = pool
        self.concurrency = concurrency
        self.host = socket.gethostname()
        self.runner_id = runner_id or f"{pool}-{self.host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.device = device
        self.gpu_probe = gpu_probe
        self.grace_seconds = grace_seconds
        self.outbox = EventOutbox(store)
        self.control = ControlWatcher(store)
        self.stats = RunnerStats()
        self.deps = AttemptDeps(
            store=store,
            outbox=self.outbox,
            registry=registry,
            control=self.control,
            executors=executors,
            runner_id=self.runner_id,
            pool=pool,
            host=self.host,
            device=device,
            lease_seconds=commands.lease_seconds,
            checkpoints=checkpoints,
            resources=resources or {},
            stats=self.stats,
        )
        # The attempts running, by operation. The loop changes it; the heartbeat thread reads
        # it (`info`): both under `_active_lock`, or a copy taken while the loop adds an
        # attempt fails with "dictionary changed size during iteration" (a copy of a large
        # dict allocates, the collector may run Python code, and that lets the loop run).
        self.active: dict[str, Attempt] = {}
        self._active_lock = threading.Lock()
        self.started_at = utcnow().isoformat()
        self._stopping = False
        self._slots = asyncio.Semaphore(concurrency)
        self._last_beat_ok = time.monotonic()
        self._last_beat_error = 0.0
        self._beat_thread: HeartbeatThread | None = None
        if heartbeat_registry is not None:
            interval = max(0.2, registry.ttl_seconds / 3)
            self._beat_thread = HeartbeatThread(heartbeat_registry, self.info, interval)

    # Counters kept under their old names (tests and the runner's log read them).
    @property
    def completed(self) -> int:
        return self.stats.completed

    @property
    def resumed(self) -> int:
        return self.stats.resumed

    @property
    def fenced(self) -> int:
        return self.stats.fenced

    @property
    def stopping(self) -> bool:
        return self._stopping

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Serve commands until `stop` is set; then hand in-flight work over and exit."""
        self.outbox.start()
        await self.control.start()
        helpers = [asyncio.create_task(self._contact_watch(), name="runner-contact-watch")]
        if self._beat_thread is not None:
            await asyncio.to_thread(self._beat_thread.start)
        else:
            await self.beat_soon()
            helpers.append(asyncio.create_task(self._heartbeat_loop(), name="runner-heartbeat"))
        tasks: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                if not await self._take_slot(stop):
                    break
                slots = 1 + await self._take_free_slots()
                if self._cut_off() is not None:
                    # A runner nobody can see must not take work: it would be fenced again
                    # at once, and its claims would bounce. Wait for a heartbeat to land.
                    self._give_slots(slots)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 0.2)
                    continue
                try:
                    # As many commands as there are free slots, in one or two round trips.
                    claims = await self.commands.next_claims(self.pool, slots, timeout=0.5)
                except StoreError as exc:  # NATS down or a leader election: wait, retry
                    self._give_slots(slots)
                    log.warning("taking a command failed (%s); retrying", exc)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 0.5)
                    continue
                self._give_slots(slots - len(claims))
                for claim in claims:
                    task = asyncio.create_task(
                        self._handle(claim), name=f"op-{claim.command.operation_id}"
                    )
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
        finally:
            self._stopping = True
            await self.beat_soon()  # tell the pool at once: nothing is to be handed to us
            await self._shut_down(tasks)
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await self.deps.leases.close()
            await self.control.stop()
            await self.outbox.close()
            if self._beat_thread is not None:
                await asyncio.to_thread(self._beat_thread.stop, self.runner_id)
            with contextlib.suppress(Exception):
                await self.registry.remove(self.runner_id)

    async def _shut_down(self, tasks: set[asyncio.Task[None]]) -> None:
        if self.active:
            # A whole pool is often stopped at once (serve, a deploy): give the others' own
            # "stopping" heartbeats a moment to land, so nobody hands work to a runner that
            # is going away too.
            await asyncio.sleep(min(1.0, self.registry.ttl_seconds / 4))
        for attempt in list(self.active.values()):
            attempt.cancel(
                CancelCause.SHUTDOWN,
                f"Runner {self.runner_id} shut down while running this operation",
            )
        if not tasks:
            return
        _done, pending = await asyncio.wait(set(tasks), timeout=self.grace_seconds)
        if pending:
            log.warning(
                "%d operation(s) did not hand over within %gs; leaving them to the lease monitor",
                len(pending),
                self.grace_seconds,
            )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

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

    async def _take_free_slots(self) -> int:
        """Take every slot free now, without waiting (at most `MAX_CLAIM_BATCH` - 1 more)."""
        taken = 0
        while taken < MAX_CLAIM_BATCH - 1 and not self._slots.locked():
            await self._slots.acquire()  # free: returns at once
            taken += 1
        return taken

    def _give_slots(self, count: int) -> None:
        for _ in range(count):
            self._slots.release()

    def info(self) -> RunnerInfo:
        """This runner's registry entry; called from the heartbeat thread too."""
        gpu: dict[str, Any] | None = None
        if self.gpu_probe is not None:
            try:
                gpu = self.gpu_probe()
            except Exception:  # a failing probe must not stop the heartbeat
                log.debug("gpu probe failed", exc_info=True)
        with self._active_lock:
            attempts = list(self.active.items())
        return RunnerInfo(
            runner_id=self.runner_id,
            pool=self.pool,
            host=self.host,
            pid=os.getpid(),
            device=self.device,
            gpu=gpu,
            concurrency=self.concurrency,
            current_operations=sorted(op for op, a in attempts if not a.fenced),
            started_at=self.started_at,
            last_seen=utcnow().isoformat(),
            version=__version__,
            outbox_depth=self.outbox.depth,
            outbox_dropped=self.outbox.dropped,
            state="stopping" if self._stopping else "running",
        )

    @property
    def last_beat_ok(self) -> float:
        if self._beat_thread is not None:
            return self._beat_thread.last_ok
        return self._last_beat_ok

    @property
    def last_beat_error(self) -> float:
        if self._beat_thread is not None:
            return self._beat_thread.last_error
        return self._last_beat_error

    async def heartbeat(self) -> None:
        await self.registry.heartbeat(self.info())
        self._last_beat_ok = time.monotonic()

    async def beat_soon(self) -> None:
        """Heartbeat now (best effort): the registry should list a new operation at once."""
        if self._beat_thread is not None:
            self._beat_thread.beat_now()
            return
        try:
            await self.heartbeat()
        except Exception as exc:
            self._last_beat_error = time.monotonic()
            log.warning("heartbeat failed: %s", exc)

    async def _heartbeat_loop(self) -> None:
        interval = max(0.2, self.registry.ttl_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            await self.beat_soon()

    def _cut_off(self) -> float | None:
        """Seconds without a heartbeat, once this runner must consider itself cut off.

        That is a TTL of silence in which a beat was tried and failed (NATS unreachable), or
        three TTLs of silence whatever the cause. A process that was only starved of CPU for
        a while (its beats did not fail, they did not run) is not cut off: if the monitor
        handed its work over meanwhile, the `runner_lost` in the log fences the attempt."""
        ttl = self.registry.ttl_seconds
        silent = time.monotonic() - self.last_beat_ok
        failed = self.last_beat_error > self.last_beat_ok
        if (silent > ttl and failed) or silent > 3 * ttl:
            return silent
        return None

    async def _contact_watch(self) -> None:
        """Fence every attempt once this runner is cut off (see `_cut_off`): by then the
        registry has dropped it and the lease monitor may have handed its work on, and a
        runner that cannot read the log would not learn of it."""
        ttl = self.registry.ttl_seconds
        while True:
            await asyncio.sleep(max(0.1, ttl / 8))
            silent = self._cut_off()
            if silent is None:
                continue
            for attempt in list(self.active.values()):
                attempt.fence(
                    f"runner {self.runner_id} lost contact with NATS for {silent:.1f}s "
                    f"(heartbeat TTL {ttl:g}s); the operation may have been handed over",
                    release=True,
                )

    # -- one operation ---------------------------------------------------------------------

    def _set_active(self, op_id: str, attempt: Attempt | None) -> None:
        """Add (or with None, remove) the running attempt of `op_id`; see `active`."""
        with self._active_lock:
            if attempt is None:
                self.active.pop(op_id, None)
            else:
                self.active[op_id] = attempt

    async def _handle(self, claim: Claim) -> None:
        op_id = claim.command.operation_id
        attempt: Attempt | None = None
        try:
            mine = self.active.get(op_id)
            if mine is not None and not mine.fenced:
                # Our own lease lapsed (an outage) and the command came back to us while we
                # still run it: keep going, renewing and acknowledging this delivery instead.
                log.warning("command for %s came back while running it; keeping it", op_id)
                mine.claim = claim
                return
            if mine is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(mine.finished.wait(), UNWIND_WAIT)
            attempt = Attempt(self.deps, claim)
            self._set_active(op_id, attempt)
            await self.beat_soon()
            await attempt.run()
        except Exception:
            log.exception("runner failed handling %s", op_id)
            if attempt is None or not attempt.fenced:
                with contextlib.suppress(Exception):
                    await claim.release()
        finally:
            if attempt is not None and self.active.get(op_id) is attempt:
                self._set_active(op_id, None)
            self._slots.release()
