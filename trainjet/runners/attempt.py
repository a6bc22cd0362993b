"""One attempt at one operation: the part of the runner protocol between a claim and its ack.

Kept apart from `worker.py` (the runner's lifecycle) because this is where the hand-over
rules live. The sequence of a resumed training, as the log shows it::

    operation_created
    operation_started      attempt 1, runner A, session s1
    ... batch_progress / epoch_completed 1..k (checkpoint k uploaded after epoch k)
    runner_lost            attempt 1, runner A (lease monitor, or the runner taking over)
    operation_started      attempt 2, runner B, session s2, resumed_from_epoch k
    ... batch_progress / epoch_completed k+1..N (an epoch A reported past k is reported
        again and replaces A's in the projections)
    operation_completed    runner B
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from trainjet.core.cancellation import CancellationError, CancellationToken
from trainjet.core.events import (
    TERMINAL_TYPES,
    AnyEvent,
    CancelRequested,
    Event,
    EventFactory,
    OperationCancelled,
    OperationCompleted,
    OperationCreated,
    OperationFailed,
    OperationStarted,
    OperationStatus,
    RunnerLost,
    operation_filter,
    type_name,
)
from trainjet.core.leases import loss_recorded, runner_lost_event
from trainjet.core.projections import fold
from trainjet.core.store.blobs import Blob
from trainjet.core.store.errors import StoreError
from trainjet.core.store.port import Claim, StoredEvent
from trainjet.runners.context import OperationContext

if TYPE_CHECKING:
    from trainjet.runners.worker import Runner

log = logging.getLogger(__name__)

Executor = Callable[[OperationContext], Awaitable[dict[str, Any]]]
E = TypeVar("E", bound=Event)

# How long a lifecycle event (started, terminal) is retried through a NATS outage or a
# leader election before the attempt gives up; same event id, so JetStream stores it once.
APPEND_DEADLINE = 30.0
# How long a new attempt waits for this runner's own fenced attempt to unwind.
UNWIND_WAIT = 30.0


async def append_retrying(runner: Runner, event: E) -> int:
    deadline = time.monotonic() + APPEND_DEADLINE
    while True:
        try:
            return await runner.store.append(event)
        except StoreError as exc:
            if not exc.retryable or time.monotonic() > deadline:
                raise
            log.warning("appending %s failed (%s); retrying", type(event).__name__, exc)
            await asyncio.sleep(0.5)


async def execute_claim(runner: Runner, claim: Claim) -> None:
    op_id = claim.command.operation_id
    mine = runner.active.get(op_id)
    if mine is not None and not mine.fenced:
        # Our own lease lapsed (an outage) and the command came back to us while we still
        # run it: keep going, renewing and acknowledging this delivery instead.
        log.warning("command for %s came back while running it; keeping it", op_id)
        mine.claim = claim
        return
    if mine is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(mine.finished.wait(), UNWIND_WAIT)

    records = await runner.store.read_operation(op_id)
    history = [r.event for r in records if isinstance(r, StoredEvent)]
    last_seq = records[-1].seq if records else 0
    info = fold(history)
    created = next((e for e in history if isinstance(e, OperationCreated)), None)
    factory = EventFactory(op_id)
    if info is None or created is None:
        log.error("start command for unknown operation %s; dropping it", op_id)
        await claim.complete()
        return
    if info.status.is_terminal:
        await claim.complete()
        return
    if info.status is OperationStatus.RUNNING and loss_recorded(history, info.attempt) is None:
        # The command came back: whoever ran this attempt stopped renewing its lease.
        lost = runner_lost_event(
            op_id,
            info.runner_id or "",
            info.attempt,
            f"its lease on the operation expired (attempt {info.attempt})",
            runner.runner_id,
        )
        await append_retrying(runner, lost)
        history.append(lost)
    if info.cancel_requested_at is not None:
        await append_retrying(
            runner, factory.make(OperationCancelled, reason=info.cancellation_reason or "cancelled")
        )
        await claim.complete()
        return
    executor = runner.executors.get(claim.command.operation_type)
    if executor is None:
        await append_retrying(
            runner,
            factory.make(
                OperationFailed,
                error=f"Runner pool '{runner.pool}' cannot run '{claim.command.operation_type}' "
                "operations",
                error_code="unsupported",
            ),
        )
        await claim.complete()
        return

    attempt = info.attempt + 1
    ctx = OperationContext(
        operation=info,
        inputs=dict(created.inputs),
        history=history,
        outbox=runner.outbox,
        token=CancellationToken(op_id),
        runner_id=runner.runner_id,
        pool=runner.pool,
        attempt=attempt,
        session_id=uuid.uuid4().hex if runner.pool == "host" else None,
        resources=runner.resources,
        claim=claim,
        checkpoints=runner.checkpoints,
        resume=await _checkpoint(runner, op_id, attempt, created.inputs),
    )
    runner.active[op_id] = ctx
    try:
        await _run_attempt(runner, ctx, last_seq, executor)
    finally:
        runner.active.pop(op_id, None)
        ctx.finished.set()


async def _checkpoint(
    runner: Runner, op_id: str, attempt: int, inputs: Mapping[str, Any]
) -> Blob | None:
    """The checkpoint to resume from: a later attempt's own, else (a retry of a failed
    training) the one of the operation its inputs name as `resume_from`."""
    source = inputs.get("resume_from")
    keys = [op_id] if attempt > 1 else []
    keys += [source] if isinstance(source, str) and source != op_id else []
    if runner.checkpoints is None:
        return None
    for key in keys:
        try:
            blob = await runner.checkpoints.get(key)
        except StoreError as exc:  # resuming from the start beats not resuming
            log.warning("cannot read the checkpoint of %s (%s); starting over", key, exc)
            return None
        if blob is not None:
            return blob
    return None


async def _run_attempt(
    runner: Runner, ctx: OperationContext, last_seq: int, executor: Executor
) -> None:
    await runner.beat_soon()
    await append_retrying(
        runner,
        ctx.make(
            OperationStarted,
            runner_id=runner.runner_id,
            pool=runner.pool,
            host=runner.host,
            attempt=ctx.attempt,
            session_id=ctx.session_id,
            device=runner.device,
            resumed_from_epoch=ctx.resumed_from_epoch,
        ),
    )
    if ctx.attempt > 1:
        runner.resumed += 1
    helpers = [
        asyncio.create_task(_watch(runner, ctx, last_seq), name=f"watch-{ctx.operation_id}"),
        asyncio.create_task(_keep_lease(runner, ctx), name=f"lease-{ctx.operation_id}"),
    ]
    try:
        terminal = await _run_executor(runner, executor, ctx)
    finally:
        for task in helpers:
            task.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
    if ctx.fenced:
        runner.outbox.discard(ctx.operation_id)
        return  # another runner owns the operation now: no terminal event, no ack
    await runner.outbox.flush()
    await append_retrying(runner, terminal)
    assert ctx.claim is not None
    await ctx.claim.complete()
    runner.completed += 1
    # A failed training keeps its checkpoint, so that a retry resumes from it.
    if ctx.checkpoints is not None and not isinstance(terminal, OperationFailed):
        with contextlib.suppress(Exception):  # expires with the bucket's max age anyway
            await ctx.checkpoints.delete(ctx.operation_id)


async def _run_executor(runner: Runner, executor: Executor, ctx: OperationContext) -> AnyEvent:
    try:
        result = await executor(ctx)
    except CancellationError as exc:
        if runner.stopping and ctx.token.reason and "shut down" in ctx.token.reason:
            return ctx.make(
                OperationFailed,
                error=ctx.token.reason,
                error_code="runner_shutdown",
                runner_id=runner.runner_id,
                partial_result=ctx.partial_result,
            )
        return ctx.make(
            OperationCancelled,
            reason=ctx.token.reason or exc.reason,
            partial_result=ctx.partial_result,
            runner_id=runner.runner_id,
        )
    except Exception as exc:
        if not ctx.fenced:
            log.exception("operation %s failed", ctx.operation_id)
        return ctx.make(
            OperationFailed,
            error=f"{type(exc).__name__}: {exc}",
            runner_id=runner.runner_id,
            partial_result=ctx.partial_result,
        )
    return ctx.make(OperationCompleted, result_summary=result, runner_id=runner.runner_id)


async def _watch(runner: Runner, ctx: OperationContext, last_seq: int) -> None:
    """Turn `cancel_requested` (or an end decided elsewhere) into the cancel token, and a
    hand-over of this attempt into fencing."""
    async for record in runner.store.subscribe(operation_filter(ctx.operation_id), last_seq + 1):
        if not isinstance(record, StoredEvent):
            continue
        event = record.event
        if isinstance(event, CancelRequested):
            ctx.token.cancel(event.reason)
            ctx.cancelled.set()
        elif isinstance(event, TERMINAL_TYPES):
            ctx.token.cancel(f"Operation ended elsewhere ({type_name(type(event))})")
            ctx.cancelled.set()
        elif isinstance(event, RunnerLost) and event.attempt == ctx.attempt:
            runner.fence(ctx, f"attempt {ctx.attempt} was handed over: {event.reason}")
        elif isinstance(event, OperationStarted) and event.attempt > ctx.attempt:
            runner.fence(ctx, f"runner {event.runner_id} took over as attempt {event.attempt}")


async def _keep_lease(runner: Runner, ctx: OperationContext) -> None:
    interval = max(0.2, runner.commands.lease_seconds / 3)
    while not ctx.fenced:
        await asyncio.sleep(interval)
        if ctx.fenced or ctx.claim is None:
            return
        try:
            await ctx.claim.extend()
        except Exception as exc:
            log.warning("lease renewal failed: %s", exc)
