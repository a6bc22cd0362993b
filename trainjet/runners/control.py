"""One watcher per runner process: the control events of every operation it runs.

An attempt must learn when its operation is cancelled, ended elsewhere or handed over. A tail
per operation costs the server a consumer each (nats-server refuses a stream's 1,001st) and
sends the runner its own progress back; this watcher is one tail, filtered to the few control
types (`cancel_requested`, `runner_lost`, `operation_started`, the terminal types), that hands
each record to the attempt running that operation.

No record is lost between an attempt's read of its history and its registration here: an
attempt registers *before* it reads. Whatever the watcher had dispatched by then was stored
before the read, so the read holds it; whatever comes later is dispatched to the mailbox. An
attempt ignores what its history already covered (records up to the sequence it decided on).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from trainjet.core.errors import StoreError
from trainjet.core.events import (
    TERMINAL_TYPES,
    CancelRequested,
    Event,
    OperationStarted,
    RunnerLost,
    type_name,
)
from trainjet.core.events.subjects import operation_event_subject, operation_id_of
from trainjet.core.store.port import EventStore, StoredEvent

log = logging.getLogger(__name__)

CONTROL_TYPES: tuple[type[Event], ...] = (
    CancelRequested,
    RunnerLost,
    OperationStarted,
    *TERMINAL_TYPES,
)
CONTROL_FILTERS = [operation_event_subject("*", type_name(t)) for t in CONTROL_TYPES]
# Pause before a failed tail is opened again (NATS restarting, a leader election).
_RETRY_SECONDS = 0.5


class Mailbox:
    """The control records of one operation, in stream order, for the attempt running it."""

    def __init__(self, operation_id: str) -> None:
        self.operation_id = operation_id
        self.queue: asyncio.Queue[StoredEvent] = asyncio.Queue()


class ControlWatcher:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._mailboxes: dict[str, Mailbox] = {}
        self._task: asyncio.Task[None] | None = None
        self._next_seq = 1
        self.dispatched = 0

    async def start(self) -> None:
        """Tail from the end of the log: operations this process runs start later."""
        self._next_seq = await self.store.last_sequence() + 1
        self._task = asyncio.create_task(self._follow(), name="runner-control-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def register(self, operation_id: str) -> Mailbox:
        mailbox = Mailbox(operation_id)
        self._mailboxes[operation_id] = mailbox
        return mailbox

    def unregister(self, mailbox: Mailbox) -> None:
        if self._mailboxes.get(mailbox.operation_id) is mailbox:
            del self._mailboxes[mailbox.operation_id]

    async def _follow(self) -> None:
        while True:
            tail = self.store.subscribe(CONTROL_FILTERS, self._next_seq)
            try:
                async for record in tail:
                    self._next_seq = record.seq + 1
                    if not isinstance(record, StoredEvent):
                        continue
                    mailbox = self._mailboxes.get(operation_id_of(record.subject))
                    if mailbox is not None:
                        mailbox.queue.put_nowait(record)
                        self.dispatched += 1
            except StoreError as exc:
                log.warning("control tail failed (%s); reopening", exc)
            finally:
                with contextlib.suppress(Exception):
                    await tail.aclose()  # type: ignore[attr-defined]
            await asyncio.sleep(_RETRY_SECONDS)
