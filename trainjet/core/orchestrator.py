"""The write side: `ServiceOrchestrator` validates and appends, the runners do the work.

`start_managed_operation` keeps the name of the design trainjet replaces. It appends
`operation_created` (with everything needed to run the operation), queues the start command
for the pool, waits until the projection shows the operation (read-your-writes) and returns it.
Cancellation appends `cancel_requested` and waits for the runner's terminal event; where the
orchestrator ends an operation itself (still pending, or forced), it decides on the latest
history under a precondition (`core.fate`), so it never adds a second terminal event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from trainjet.core.errors import Conflict, InvalidRequest, NotFound
from trainjet.core.events import (
    CancelRequested,
    Event,
    EventFactory,
    OperationCancelled,
    OperationCreated,
    OperationFailed,
    OperationInputs,
    OperationStatus,
    OperationType,
    WarningRaised,
    is_valid_operation_id,
)
from trainjet.core.fate import History, decide
from trainjet.core.operation_spec import OperationSpec, TerminalWaiter, created_event
from trainjet.core.projections import OperationInfo
from trainjet.core.projections.projector import Projector
from trainjet.core.retry import (
    Retried,
    checkpoint_epoch,
    refuse_unless_failed,
    retry_inputs,
    retry_message,
)
from trainjet.core.store.blobs import BlobStore
from trainjet.core.store.port import CommandQueue, EventStore, StartCommand, StoredEvent


class CancelOutcome(msgspec.Struct, kw_only=True):
    operation: OperationInfo
    confirmed: bool
    latency_ms: float
    already_requested: bool = False


class ServiceOrchestrator:
    def __init__(
        self,
        store: EventStore,
        commands: CommandQueue,
        projector: Projector,
        *,
        cancel_wait_seconds: float = 10.0,
    ) -> None:
        self.store = store
        self.commands = commands
        self.projector = projector
        self.cancel_wait_seconds = cancel_wait_seconds

    def get(self, operation_id: str) -> OperationInfo:
        info = self.projector.query.get(operation_id)
        if info is None:
            raise NotFound(f"Operation not found: {operation_id}")
        return info

    async def start_managed_operation(
        self,
        operation_type: OperationType,
        *,
        metadata: Mapping[str, Any] | None = None,
        inputs: OperationInputs | None = None,
        pool: str = "local",
        total_steps: int = 0,
        operation_id: str | None = None,
        retry_of: str | None = None,
        warnings: Sequence[str] = (),
    ) -> tuple[OperationInfo, bool]:
        """Create and queue an operation. Returns (info, created); `created` is False when a
        client-chosen `operation_id` already exists (the idempotent replay of a request)."""
        if operation_id is not None:
            existing = self._existing(operation_type, operation_id)
            if existing is not None:
                return existing, False
        created = created_event(
            operation_type,
            OperationSpec(
                metadata=dict(metadata or {}),
                inputs=inputs,
                total_steps=total_steps,
                operation_id=operation_id,
                pool=pool,
            ),
            retry_of,
        )
        op_id = created.operation_id
        factory = EventFactory(op_id)
        seq = await self.store.append(created)
        if warnings:
            seqs = await self.store.append_many(
                [factory.make(WarningRaised, message=message) for message in warnings]
            )
            seq = max(seqs)
        try:
            await self.commands.submit(
                StartCommand(operation_id=op_id, operation_type=operation_type.value, pool=pool)
            )
        except Exception as exc:
            seq = await self._queue_failed(op_id, pool, exc)
            await self.projector.wait_until(seq)
            raise
        await self.projector.wait_until(seq)
        return self.get(op_id), True

    async def retry(self, operation_id: str, checkpoints: BlobStore | None = None) -> Retried:
        """A new operation with the inputs of a failed one (anything else: 400); a training
        names the failed run in `resume_from`, so its runner resumes from that checkpoint."""
        refuse_unless_failed(self.get(operation_id))  # 404 first, then the status rule
        records = await self.store.read_operation(operation_id)
        created = next(
            r.event
            for r in records
            if isinstance(r, StoredEvent) and isinstance(r.event, OperationCreated)
        )
        inputs, resume_from = retry_inputs(created)
        epoch = None if resume_from is None else await checkpoint_epoch(checkpoints, operation_id)
        new, _ = await self.start_managed_operation(
            created.operation_type,
            metadata=created.metadata,
            inputs=inputs,
            pool=created.pool,
            total_steps=created.total_steps,
            retry_of=operation_id,
        )
        message = retry_message(operation_id, new.operation_id, resume_from, epoch)
        return Retried(new, resume_from, epoch, message)

    async def start_operations(
        self, operation_type: OperationType, specs: Sequence[OperationSpec]
    ) -> list[tuple[OperationInfo, bool]]:
        """Create and queue several operations in one go: the `operation_created` events in
        one pipelined append, the start commands in flight together, one wait for the
        projection. Every item is checked before anything is written, so a bad item (an
        invalid or repeated `operation_id`, one used by another type) refuses the whole
        batch and leaves nothing behind. Items whose `operation_id` exists already are the
        idempotent replay of a request: answered, not created again."""
        answers: list[tuple[OperationInfo, bool] | OperationCreated] = []
        seen: set[str] = set()
        for index, spec in enumerate(specs):
            if spec.operation_id is not None:
                if spec.operation_id in seen:
                    raise InvalidRequest(
                        f"operations[{index}]: task_id {spec.operation_id!r} appears twice "
                        "in the batch"
                    )
                seen.add(spec.operation_id)
                existing = self._existing(operation_type, spec.operation_id, index)
                if existing is not None:
                    answers.append((existing, False))
                    continue
            answers.append(created_event(operation_type, spec, None))
        fresh = [a for a in answers if isinstance(a, OperationCreated)]
        seqs = await self.store.append_many(fresh) if fresh else []
        last = max(seqs, default=0)
        results = await asyncio.gather(
            *(
                self.commands.submit(
                    StartCommand(
                        operation_id=e.operation_id,
                        operation_type=operation_type.value,
                        pool=e.pool,
                    )
                )
                for e in fresh
            ),
            return_exceptions=True,
        )
        failure: BaseException | None = None
        for event, result in zip(fresh, results, strict=True):
            if isinstance(result, BaseException):
                failure = failure or result
                last = max(last, await self._queue_failed(event.operation_id, event.pool, result))
        await self.projector.wait_until(last)
        if failure is not None:
            raise failure
        return [
            (self.get(a.operation_id), True) if isinstance(a, OperationCreated) else a
            for a in answers
        ]

    def _existing(
        self, operation_type: OperationType, operation_id: str, index: int | None = None
    ) -> OperationInfo | None:
        where = "" if index is None else f"operations[{index}]: "
        if not is_valid_operation_id(operation_id):
            raise InvalidRequest(
                f"{where}task_id {operation_id!r} is not a valid operation id: use 1-128 "
                "letters, digits, '_' or '-'"
            )
        existing = self.projector.query.get(operation_id)
        if existing is not None and existing.operation_type != operation_type:
            raise Conflict(
                f"{where}task_id {operation_id} is already used by a "
                f"{existing.operation_type} operation; choose another id"
            )
        return existing

    async def _queue_failed(self, operation_id: str, pool: str, exc: BaseException) -> int:
        """Never leave a pending operation that no runner will ever see."""
        return await self.store.append(
            EventFactory(operation_id).make(
                OperationFailed,
                error=f"Could not queue the operation for the '{pool}' pool: {exc}",
                error_code="queue_unavailable",
            )
        )

    async def cancel_operation(
        self, operation_id: str, reason: str | None = None, *, force: bool = False
    ) -> CancelOutcome:
        """Ask the runner to stop and wait (bounded) for its confirmation.

        A pending operation that no runner has started is cancelled here at once. With
        `force`, a runner that does not confirm in time is overruled: the operation is ended
        `cancelled` by the orchestrator (the runner stops when it sees that terminal event).
        """
        info = self.get(operation_id)
        if info.status.is_terminal:
            raise InvalidRequest(
                f"Operation {operation_id} cannot be cancelled (status: {info.status.value})"
            )
        reason = reason or "Operation cancelled by user"
        started = time.perf_counter()
        factory = EventFactory(operation_id)
        already = info.cancel_requested_at is not None
        done = self._terminal_waiter(operation_id)
        try:
            if not already:
                await self.store.append(factory.make(CancelRequested, reason=reason))
            if info.status is OperationStatus.PENDING and info.runner_id is None:
                # No runner seemed to hold it, but one may have started it since the view was
                # built: decide on the latest history, and only end it if it is still pending.
                await self._end_if(operation_id, _still_pending, reason)
            confirmed = await done.wait(self.cancel_wait_seconds)
            if not confirmed and force:
                forced = (
                    f"{reason} (forced: runner {info.runner_id} did not confirm "
                    f"within {self.cancel_wait_seconds:g}s)"
                )
                await self._end_if(operation_id, _not_ended, forced)
                confirmed = True
        finally:
            self.projector.remove_listener(done.listener)
        return CancelOutcome(
            operation=self.get(operation_id),
            confirmed=confirmed,
            latency_ms=(time.perf_counter() - started) * 1000.0,
            already_requested=already,
        )

    async def _end_if(
        self, operation_id: str, condition: Callable[[OperationInfo], bool], reason: str
    ) -> None:
        """Append `operation_cancelled` if the latest history still meets `condition`, under
        the precondition that it has not moved since (a runner may be deciding at the same
        time); then wait until the projection shows the outcome, whoever decided it."""

        def decision(history: History) -> Event | None:
            if history.info is None or not condition(history.info):
                return None
            return EventFactory(operation_id).make(OperationCancelled, reason=reason)

        outcome = await decide(self.store, operation_id, decision)
        seq = outcome.seq or outcome.history.last_seq
        if seq:
            await self.projector.wait_until(seq)

    def _terminal_waiter(self, operation_id: str) -> TerminalWaiter:
        waiter = TerminalWaiter(operation_id, lambda: self.get(operation_id).status.is_terminal)
        self.projector.add_listener(waiter.listener)
        return waiter


def _still_pending(info: OperationInfo) -> bool:
    return info.status is OperationStatus.PENDING


def _not_ended(info: OperationInfo) -> bool:
    return not info.status.is_terminal
