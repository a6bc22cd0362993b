# size: one attempt from claim to ack; every step appends under the same precondition
"""One attempt at one operation: the part of the runner protocol between a claim and its ack.

An `Attempt` gets what it needs as explicit dependencies (`AttemptDeps`, built once by the
runner) and never reaches back into the runner. Every append that decides the operation's fate
(the hand-over of a lost attempt, a new attempt, the end) is taken on the operation's latest
history under a precondition (`core.fate`): if the history moved, it is read again and the
decision taken again, so the log never holds two terminal events and no attempt starts after
the operation ended. The sequence of a resumed training, as the log shows it::

    operation_created
    operation_started      attempt 1, runner A, session s1
    ... batch_progress / epoch_completed 1..k (checkpoint k uploaded after epoch k)
    runner_lost            attempt 1, runner A (lease monitor, runner A shutting down or cut
                           off, or the runner taking the redelivered command)
    operation_started      attempt 2, runner B, session s2, resumed_from_epoch k
    ... batch_progress / epoch_completed k+1..N
    operation_completed    runner B
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from trainjet.core.cancellation import CancelCause, CancellationError, CancellationToken
from trainjet.core.errors import StoreError
from trainjet.core.events import (
    TERMINAL_TYPES,
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
    TrainingInputs,
    type_name,
)
from trainjet.core.fate import History, decide, read_whole_history
from trainjet.core.leases import loss_recorded, runner_lost_event
from trainjet.core.store.blobs import Blob
from trainjet.core.store.port import Claim
from trainjet.runners.context import OperationContext
from trainjet.runners.control import Mailbox
from trainjet.runners.deps import AttemptDeps, Executor, Retrying

log = logging.getLogger(__name__)


class Attempt:
    """Runs one claim: decide the start, run the executor, decide the end, ack or hand back."""

    def __init__(self, deps: AttemptDeps, claim: Claim) -> None:
        self.deps = deps
        self.claim = claim  # replaced if the command comes back while this attempt runs
        self.operation_id = claim.command.operation_id
        self.token = CancellationToken(self.operation_id)
        self.ctx: OperationContext | None = None
        self.finished = asyncio.Event()
        self.fenced = False
        # Fenced because this runner lost contact (nobody told it): it still gives the
        # operation back on the way out, since nobody may have noticed yet.
        self._release_on_exit = False
        self._store = Retrying(deps.store, deps.reads, deps.latest_reads)
        self._started_seq = 0

    # -- signals from the runner -----------------------------------------------------------

    def cancel(self, cause: CancelCause, reason: str) -> None:
        self.token.cancel(reason, cause)

    def fence(self, reason: str, *, release: bool = False) -> None:
        """This runner no longer owns the attempt: stop the work, write no progress. With
        `release`, hand the operation back on the way out (nobody else decided yet)."""
        if self.fenced:
            return
        log.warning("giving up %s: %s", self.operation_id, reason)
        self.fenced = True
        self._release_on_exit = release
        self.deps.stats.fenced += 1
        if self.ctx is not None:
            self.ctx.fence(reason)
        else:
            self.token.cancel(reason, CancelCause.LOST_LEASE)
        self.deps.outbox.discard(self.operation_id)

    # -- the protocol ----------------------------------------------------------------------

    async def run(self) -> None:
        mailbox = self.deps.control.register(self.operation_id)  # before reading: see control
        # The lease is renewed from the moment the command is held to its ack or hand-back:
        # deciding the start or the end (reads, a checkpoint download, appends) can take
        # longer than a lease on a loaded machine, and a lapsed lease hands the command to
        # another runner for nothing. A fenced attempt is no longer renewed.
        self.deps.leases.hold(self)
        try:
            await self._run(mailbox)
        finally:
            self.deps.leases.drop(self)
            self.deps.control.unregister(mailbox)
            self.finished.set()

    async def _run(self, mailbox: Mailbox) -> None:
        started = await self._decide_start()
        if started is None:
            return
        ctx, executor = started
        watch = asyncio.create_task(self._watch(mailbox, ctx), name=f"watch-{self.operation_id}")
        try:
            terminal = await self._run_executor(executor, ctx)
        finally:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
        if self.fenced:
            self.deps.outbox.discard(self.operation_id)
            if self._release_on_exit:
                await self._hand_back(ctx, "lost contact with NATS for longer than its TTL")
            return  # another runner owns the operation now: no terminal event, no ack
        await self.deps.outbox.flush()
        if self.token.cause is CancelCause.SHUTDOWN and await self._pool_has_another_runner():
            await self._hand_back(ctx, "is shutting down")
            return
        await self._decide_end(ctx, terminal)

    async def _decide_start(self) -> tuple[OperationContext, Executor] | None:
        deps, op_id = self.deps, self.operation_id
        executor = deps.executors.get(self.claim.command.operation_type)
        # A whole history read scans every message stored since the operation's first; a
        # new operation's history is its creation alone, which one cheap get finds.
        history: History | None = await read_whole_history(self._store, op_id)
        assert history is not None
        resume: Blob | None = None
        if history.info is not None and history.info.attempt >= 1:
            resume = await self._checkpoint(op_id)  # before the start, which names its epoch
        # a retry of a failed training resumes from the failed operation's last checkpoint
        created_event = next((e for e in history.events if isinstance(e, OperationCreated)), None)
        inputs = created_event.inputs if created_event else None
        source = inputs.resume_from if isinstance(inputs, TrainingInputs) else None
        from_retry = False
        if resume is None and source is not None and source != op_id:
            resume = await self._checkpoint(source)
            from_retry = resume is not None
        resume_epoch = _epoch_of(resume)

        first_attempt = history.info.attempt if history.info is not None else 0

        def decision(history: History) -> Event | None:
            info = history.info
            created = next((e for e in history.events if isinstance(e, OperationCreated)), None)
            if info is None or created is None or info.status.is_terminal:
                return None
            if info.attempt > first_attempt:
                # Another runner started an attempt since this one read the history: the
                # command was redelivered to it while this runner was deciding (a lapsed
                # lease). This delivery is stale; leave the operation to that runner.
                return None
            factory = EventFactory(op_id)
            if info.status is OperationStatus.RUNNING and not loss_recorded(
                history.events, info.attempt
            ):
                # The command came back: whoever ran this attempt stopped renewing its lease.
                return runner_lost_event(
                    op_id,
                    info.runner_id or "",
                    info.attempt,
                    f"its lease on the operation expired (attempt {info.attempt})",
                    deps.runner_id,
                )
            if info.cancel_requested_at is not None:
                return factory.make(
                    OperationCancelled, reason=info.cancellation_reason or "cancelled"
                )
            if executor is None:
                return factory.make(
                    OperationFailed,
                    error=f"Runner pool '{deps.pool}' cannot run "
                    f"'{self.claim.command.operation_type}' operations",
                    error_code="unsupported",
                )
            return factory.make(
                OperationStarted,
                runner_id=deps.runner_id,
                pool=deps.pool,
                host=deps.host,
                attempt=info.attempt + 1,
                session_id=uuid.uuid4().hex if deps.pool == "host" else None,
                device=deps.device,
                resumed_from_epoch=resume_epoch if info.attempt >= 1 or from_retry else None,
            )

        while True:
            outcome = await decide(self._store, op_id, decision, history=history)
            event = outcome.event
            if not isinstance(event, RunnerLost):
                break
            history = None  # decide again on the history with the hand-over in it
        latest = outcome.history
        if not isinstance(event, OperationStarted):
            if latest.info is None:
                log.error("start command for unknown operation %s; dropping it", op_id)
            elif event is None and not latest.info.status.is_terminal:
                log.warning("%s was taken over by %s; dropping this stale delivery", op_id,
                            latest.info.runner_id)  # fmt: skip
                self.fenced = True
                return None
            await self.claim.complete()  # ended, here or before: nothing to run
            return None
        info = latest.info
        assert info is not None and executor is not None
        if event.resumed_from_epoch is None:
            resume = None  # decided on a history with no attempt yet: start from scratch
        created = next(e for e in latest.events if isinstance(e, OperationCreated))
        self._started_seq = outcome.seq
        ctx = OperationContext(
            operation=info,
            inputs=created.inputs,
            history=list(latest.events),
            outbox=deps.outbox,
            token=self.token,
            runner_id=deps.runner_id,
            pool=deps.pool,
            attempt=event.attempt,
            session_id=event.session_id,
            resources=deps.resources,
            checkpoints=deps.checkpoints,
            resume=resume,
        )
        self.ctx = ctx
        if self.fenced:
            ctx.fence(self.token.reason or "fenced")
        if event.attempt > 1:
            deps.stats.resumed += 1
        return ctx, executor

    async def _checkpoint(self, key: str) -> Blob | None:
        """The latest checkpoint of operation `key` (this one, or the failed one a retry
        resumes), or None."""
        if self.deps.checkpoints is None:
            return None
        try:
            return await self.deps.checkpoints.get(key)
        except StoreError as exc:  # resuming from the start beats not resuming
            log.warning("cannot read the checkpoint of %s (%s); restarting", key, exc)
            return None

    async def _run_executor(self, executor: Executor, ctx: OperationContext) -> Event:
        runner_id = self.deps.runner_id
        try:
            result = await executor(ctx)
        except CancellationError as exc:
            if self.token.cause is CancelCause.SHUTDOWN:
                return ctx.make(
                    OperationFailed,
                    error=self.token.reason or exc.reason,
                    error_code="runner_shutdown",
                    runner_id=runner_id,
                    partial_result=ctx.partial_result,
                )
            return ctx.make(
                OperationCancelled,
                reason=self.token.reason or exc.reason,
                partial_result=ctx.partial_result,
                runner_id=runner_id,
            )
        except Exception as exc:
            if not self.fenced:
                log.exception("operation %s failed", self.operation_id)
            return ctx.make(
                OperationFailed,
                error=f"{type(exc).__name__}: {exc}",
                runner_id=runner_id,
                partial_result=ctx.partial_result,
            )
        return ctx.make(OperationCompleted, result_summary=result, runner_id=runner_id)

    def _still_mine(self, history: History, ctx: OperationContext) -> bool:
        """Whether the latest history still has this attempt as the running one."""
        info = history.info
        return (
            info is not None
            and info.status is OperationStatus.RUNNING
            and info.attempt == ctx.attempt
            and info.runner_id == self.deps.runner_id
            and loss_recorded(history.events, ctx.attempt) is None
        )

    async def _decide_end(self, ctx: OperationContext, terminal: Event) -> None:
        """Append the terminal event if the operation is still this attempt's to end."""
        # `_still_mine` needs only the newest start, hand-over and terminal event: read the
        # last event of each type, not the whole history (whose every progress event costs
        # the server a scan of all the messages stored between them, thousands of operations
        # interleaved).
        outcome = await decide(
            self._store,
            self.operation_id,
            lambda history: terminal if self._still_mine(history, ctx) else None,
            latest=True,
        )
        info = outcome.history.info
        if outcome.event is None and info is not None and not info.status.is_terminal:
            # Handed over meanwhile (a runner_lost for this attempt, or a later attempt):
            # the runner that resumes it holds the command now.
            self.fenced = True
            return
        await self.claim.complete()
        if outcome.event is not None:
            self.deps.stats.completed += 1
        # A failed training keeps its checkpoint, so that a retry resumes from it.
        if self.deps.checkpoints is not None and not isinstance(outcome.event, OperationFailed):
            with contextlib.suppress(Exception):  # expires with the bucket's max age anyway
                await self.deps.checkpoints.delete(self.operation_id)

    async def _hand_back(self, ctx: OperationContext, why: str) -> None:
        """Record the hand-over of this attempt (unless someone did) and give the command
        back at once, so a runner of the pool resumes the operation from its checkpoint."""
        runner_id = self.deps.runner_id

        def decision(history: History) -> Event | None:
            if not self._still_mine(history, ctx):
                return None
            reason = f"runner {runner_id} {why} (attempt {ctx.attempt})"
            return runner_lost_event(self.operation_id, runner_id, ctx.attempt, reason, runner_id)

        try:
            outcome = await decide(self._store, self.operation_id, decision, latest=True)
        except StoreError as exc:
            log.warning(
                "could not hand %s over (%s); the lease monitor will", self.operation_id, exc
            )
            return
        info = outcome.history.info
        with contextlib.suppress(Exception):
            if info is not None and info.status.is_terminal:
                await self.claim.complete()
            elif outcome.event is not None or (
                info is not None
                and info.attempt == ctx.attempt
                and loss_recorded(outcome.history.events, ctx.attempt) is not None
            ):
                # Handed over (here or by a monitor) and nobody resumed it yet: the command
                # is still ours to give back.
                await self.claim.release()
        if outcome.event is not None:
            self.deps.stats.handed_over += 1
            log.warning("handed %s over: runner %s %s", self.operation_id, runner_id, why)

    async def _pool_has_another_runner(self) -> bool:
        try:
            runners = await self.deps.registry.list()
        except StoreError:
            return False
        mine = self.deps.runner_id
        return any(
            r.pool == self.deps.pool and r.runner_id != mine and r.state != "stopping"
            for r in runners
        )

    async def _watch(self, mailbox: Mailbox, ctx: OperationContext) -> None:
        """Turn control events of this operation into the cancel token, or into fencing."""
        while True:
            record = await mailbox.queue.get()
            if record.seq <= self._started_seq:
                continue  # the start was decided on a history that holds it
            event = record.event
            if isinstance(event, CancelRequested):
                self.token.cancel(event.reason, CancelCause.USER)
            elif isinstance(event, TERMINAL_TYPES):
                self.token.cancel(
                    f"Operation ended elsewhere ({type_name(type(event))})",
                    CancelCause.ENDED_ELSEWHERE,
                )
            elif isinstance(event, RunnerLost) and event.attempt == ctx.attempt:
                self.fence(f"attempt {ctx.attempt} was handed over: {event.reason}")
            elif isinstance(event, OperationStarted) and event.attempt > ctx.attempt:
                self.fence(f"runner {event.runner_id} took over as attempt {event.attempt}")


def _epoch_of(resume: Blob | None) -> int | None:
    raw = resume.meta.get("epoch") if resume is not None else None
    return int(raw) if raw is not None and raw.isdigit() else None
