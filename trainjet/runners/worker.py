"""The runner protocol, shared by every pool (local, host).

A runner pulls start commands for its pool under a lease and, for each:

1. reads the operation's history; skips (and acks) one that already ended;
2. appends `operation_started` and runs the registered executor for the operation type,
   while a watcher turns `cancel_requested` (or a terminal event written elsewhere) into the
   cancel token, a keeper renews the lease, and a heartbeat keeps the runner registered;
3. appends exactly one terminal event: completed, cancelled (on `CancellationError`) or
   failed, after everything the work emitted, then acknowledges the command.

A runner that dies stops heartbeating and renewing; the lease monitor then fails its
operations with a reason naming it, and the command is redelivered to a runner that sees it
has ended and acknowledges it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from trainjet import __version__
from trainjet.core.cancellation import CancellationError, CancellationToken
from trainjet.core.events import (
    TERMINAL_TYPES,
    AnyEvent,
    CancelRequested,
    EventFactory,
    OperationCancelled,
    OperationCompleted,
    OperationCreated,
    OperationFailed,
    OperationStarted,
    OperationStatus,
    operation_filter,
    type_name,
    utcnow,
)
from trainjet.core.projections import fold
from trainjet.core.store.port import (
    Claim,
    CommandQueue,
    EventStore,
    RunnerInfo,
    RunnerRegistry,
    StoredEvent,
)
from trainjet.runners.context import OperationContext
from trainjet.runners.outbox import EventOutbox

log = logging.getLogger(__name__)

Executor = Callable[[OperationContext], Awaitable[dict[str, Any]]]


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
        self.outbox = EventOutbox(store)
        self.active: dict[str, OperationContext] = {}
        self.completed = 0
        self.started_at = utcnow().isoformat()
        self._stopping = False
        self._slots = asyncio.Semaphore(concurrency)

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Serve commands until `stop` is set; then end in-flight work cleanly."""
        self.outbox.start()
        await self.heartbeat()
        heartbeat = asyncio.create_task(self._heartbeat_loop(), name="runner-heartbeat")
        tasks: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                if not await self._take_slot(stop):
                    break
                claim = await self.commands.next_claim(self.pool, timeout=0.5)
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
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
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
        return RunnerInfo(
            runner_id=self.runner_id,
            pool=self.pool,
            host=self.host,
            pid=os.getpid(),
            device=self.device,
            concurrency=self.concurrency,
            current_operations=sorted(self.active),
            started_at=self.started_at,
            last_seen=utcnow().isoformat(),
            version=__version__,
        )

    async def heartbeat(self) -> None:
        await self.registry.heartbeat(self.info())

    async def _heartbeat_loop(self) -> None:
        interval = max(0.2, self.registry.ttl_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.heartbeat()
            except Exception as exc:  # NATS blip: the next beat will tell
                log.warning("heartbeat failed: %s", exc)

    # -- one operation ---------------------------------------------------------------------

    async def _handle(self, claim: Claim) -> None:
        op_id = claim.command.operation_id
        try:
            await self._execute(claim)
        except Exception:
            log.exception("runner failed handling %s", op_id)
            with contextlib.suppress(Exception):
                await claim.release()
        finally:
            self._slots.release()

    async def _execute(self, claim: Claim) -> None:
        op_id = claim.command.operation_id
        records = await self.store.read_operation(op_id)
        history = [r.event for r in records if isinstance(r, StoredEvent)]
        last_seq = records[-1].seq if records else 0
        info = fold(history)
        created = next((e for e in history if isinstance(e, OperationCreated)), None)
        if info is None or created is None:
            log.error("start command for unknown operation %s; dropping it", op_id)
            await claim.complete()
            return
        if info.status.is_terminal:
            await claim.complete()
            return
        if info.status is OperationStatus.RUNNING:
            # The command came back: whoever ran this before stopped renewing its lease.
            await self.store.append(
                EventFactory(op_id).make(
                    OperationFailed,
                    error=f"Runner {info.runner_id} lost: its lease on the operation expired "
                    f"(attempt {info.attempt})",
                    error_code="runner_lost",
                    runner_id=info.runner_id,
                )
            )
            await claim.complete()
            return
        if info.cancel_requested_at is not None:
            await self.store.append(
                EventFactory(op_id).make(
                    OperationCancelled, reason=info.cancellation_reason or "cancelled"
                )
            )
            await claim.complete()
            return
        executor = self.executors.get(claim.command.operation_type)
        if executor is None:
            await self.store.append(
                EventFactory(op_id).make(
                    OperationFailed,
                    error=f"Runner pool '{self.pool}' cannot run '{claim.command.operation_type}' "
                    "operations",
                    error_code="unsupported",
                )
            )
            await claim.complete()
            return

        attempt = info.attempt + 1
        session_id = uuid.uuid4().hex if self.pool == "host" else None
        ctx = OperationContext(
            operation=info,
            inputs=dict(created.inputs),
            history=history,
            outbox=self.outbox,
            token=CancellationToken(op_id),
            runner_id=self.runner_id,
            pool=self.pool,
            attempt=attempt,
            session_id=session_id,
            resources=self.resources,
        )
        self.active[op_id] = ctx
        await self.store.append(
            ctx.make(
                OperationStarted,
                runner_id=self.runner_id,
                pool=self.pool,
                host=self.host,
                attempt=attempt,
                session_id=session_id,
                device=self.device,
            )
        )
        helpers = [
            asyncio.create_task(self._watch(ctx, last_seq), name=f"watch-{op_id}"),
            asyncio.create_task(self._keep_lease(claim), name=f"lease-{op_id}"),
        ]
        try:
            terminal = await self._run_executor(executor, ctx)
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            self.active.pop(op_id, None)
        await self.outbox.flush()
        await self.store.append(terminal)
        await claim.complete()
        self.completed += 1

    async def _run_executor(self, executor: Executor, ctx: OperationContext) -> AnyEvent:
        try:
            result = await executor(ctx)
        except CancellationError as exc:
            if self._stopping and ctx.token.reason and "shut down" in ctx.token.reason:
                return ctx.make(
                    OperationFailed,
                    error=ctx.token.reason,
                    error_code="runner_shutdown",
                    runner_id=self.runner_id,
                    partial_result=ctx.partial_result,
                )
            return ctx.make(
                OperationCancelled,
                reason=ctx.token.reason or exc.reason,
                partial_result=ctx.partial_result,
                runner_id=self.runner_id,
            )
        except Exception as exc:
            log.exception("operation %s failed", ctx.operation_id)
            return ctx.make(
                OperationFailed,
                error=f"{type(exc).__name__}: {exc}",
                runner_id=self.runner_id,
                partial_result=ctx.partial_result,
            )
        return ctx.make(OperationCompleted, result_summary=result, runner_id=self.runner_id)

    async def _watch(self, ctx: OperationContext, last_seq: int) -> None:
        """Turn `cancel_requested` (or an end decided elsewhere) into the cancel token."""
        async for record in self.store.subscribe(operation_filter(ctx.operation_id), last_seq + 1):
            if not isinstance(record, StoredEvent):
                continue
            event = record.event
            if isinstance(event, CancelRequested):
                ctx.token.cancel(event.reason)
                ctx.cancelled.set()
            elif isinstance(event, TERMINAL_TYPES):
                ctx.token.cancel(f"Operation ended elsewhere ({type_name(type(event))})")
                ctx.cancelled.set()

    async def _keep_lease(self, claim: Claim) -> None:
        interval = max(0.2, self.commands.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await claim.extend()
            except Exception as exc:
                log.warning("lease renewal failed: %s", exc)
