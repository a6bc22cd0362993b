"""The bounded, non-blocking path by which events leave a runner.

`emit` may be called from any thread (the training thread included) and never waits on the
network: it appends to a deque and nudges the event loop. A drain task publishes everything
pending in one pipelined `append_many`, retrying (same event ids, so JetStream dedups) while
NATS is unreachable.

Bounded: past `max_pending` events, a new `batch_progress` is merged into the newest pending
one of the same operation instead of growing the queue. Every batch record is kept (the log
must hold every batch's loss); only the number of messages is bounded. Lifecycle events
(phase, epoch, terminal) are never merged: there are few of them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
from collections.abc import Sequence

import msgspec
from msgspec.structs import replace

from trainjet.core.events import BatchProgress, Event, encode
from trainjet.core.store.port import EventStore

log = logging.getLogger(__name__)


class EventOutbox:
    def __init__(
        self,
        store: EventStore,
        *,
        max_pending: int = 256,
        retry_seconds: float = 0.5,
        linger_seconds: float = 0.0,
    ) -> None:
        self.store = store
        self.max_pending = max_pending
        self.retry_seconds = retry_seconds
        # Waking the loop from the training thread costs ~100 us of loop CPU each time, and
        # every publish costs more: wake it once per burst. The training bridge already hands
        # a burst over in one `emit_many`, so by default nothing lingers: a linger is one more
        # timer wake of the loop per burst. A caller that emits a burst in several calls can
        # let it gather for `linger_seconds` so it leaves in one append_many.
        self.linger_seconds = linger_seconds
        self._wake_scheduled = False
        self.published = 0
        self.merged = 0
        self.dropped = 0
        # (event, bytes, ticket): tickets number the events in the order they were queued,
        # so `flush` can wait for those queued before it and not for the ones after.
        self._pending: collections.deque[tuple[Event, bytes, int]] = collections.deque()
        self._tickets = 0  # the last ticket given (under the lock)
        self._in_flight: list[tuple[Event, bytes, int]] = []  # the batch being published
        self._flushes: list[tuple[int, asyncio.Future[None]]] = []  # (ticket, waiter)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._task = asyncio.create_task(self._drain(), name="trainjet-outbox")

    def emit(self, event: Event) -> None:
        """Queue an event for publication. Thread-safe, never blocks on I/O."""
        self.emit_many((event,))

    def emit_many(self, events: Sequence[Event]) -> None:
        """Queue several events in order, with one lock and at most one wake of the loop.

        Each event is encoded once, here: a value that cannot be encoded is a bug in the
        caller and must fail there, loudly, rather than block every event queued behind it;
        and the bytes are kept, so publishing does not encode it again.
        """
        encoded = [(event, _encode(event)) for event in events]
        with self._lock:
            for event, data in encoded:
                if not self._merge_if_full(event):
                    self._tickets += 1
                    self._pending.append((event, data, self._tickets))
            loop = self._loop
            if loop is None or self._wake_scheduled:
                return
            self._wake_scheduled = True
        if threading.get_ident() == self._loop_thread:
            self._nudge()
        else:
            loop.call_soon_threadsafe(self._nudge)

    def _merge_if_full(self, event: Event) -> bool:
        """Past `max_pending`, fold a batch_progress into the newest pending one of its
        operation (under the lock). Merging across an epoch or phase event would reorder
        them, so only a pending batch_progress that is that operation's newest is merged."""
        if len(self._pending) < self.max_pending or not isinstance(event, BatchProgress):
            return False
        for index in range(len(self._pending) - 1, -1, -1):
            queued, _, ticket = self._pending[index]
            if queued.operation_id != event.operation_id:
                continue
            if isinstance(queued, BatchProgress):
                merged = _merge(queued, event)
                # rare: only when backed up. It keeps its place, and so its ticket.
                self._pending[index] = (merged, _encode(merged), ticket)
                self.merged += 1
                return True
            return False
        return False

    @property
    def depth(self) -> int:
        """Events emitted but not yet stored."""
        with self._lock:
            return len(self._pending)

    def discard(self, operation_id: str) -> int:
        """Drop the queued events of one operation (its runner lost it to another, whose
        events must not be interleaved with stale ones); return how many were dropped."""
        with self._lock:
            kept = [item for item in self._pending if item[0].operation_id != operation_id]
            dropped = len(self._pending) - len(kept)
            self._pending = collections.deque(kept)
        self.dropped += dropped
        self._release_flushes()
        return dropped

    def _nudge(self) -> None:
        self._wake.set()

    def _unsettled(self) -> int:
        """The oldest ticket not yet stored (or dropped): the batch in flight is older than
        anything still queued. One past the last ticket when nothing is left."""
        if self._in_flight:
            return self._in_flight[0][2]
        with self._lock:
            return self._pending[0][2] if self._pending else self._tickets + 1

    def _release_flushes(self) -> None:
        if not self._flushes:
            return
        unsettled = self._unsettled()
        waiting = []
        for ticket, waiter in self._flushes:
            if ticket < unsettled:
                if not waiter.done():
                    waiter.set_result(None)
            else:
                waiting.append((ticket, waiter))
        self._flushes = waiting

    async def flush(self) -> None:
        """Wait until everything emitted so far is stored (or dropped).

        Only what was emitted before the call: a runner with thousands of operations is
        never without a pending event, and an attempt ending must not wait for a moment when
        the whole queue is empty (it came ever later as more operations ran, and the ends
        queued behind it)."""
        with self._lock:
            ticket = self._tickets
        if ticket < self._unsettled():
            return
        waiter = asyncio.get_running_loop().create_future()
        self._flushes.append((ticket, waiter))
        self._nudge()
        await waiter

    async def close(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _drain(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.linger_seconds:
                await asyncio.sleep(self.linger_seconds)
            while True:
                with self._lock:
                    batch = list(self._pending)
                    self._pending.clear()
                    self._wake_scheduled = False
                if not batch:
                    break
                self._in_flight = batch
                try:
                    await self._publish(batch)
                finally:
                    self._in_flight = []
                self._release_flushes()

    async def _publish(self, batch: list[tuple[Event, bytes, int]]) -> None:
        events = [event for event, _, _ in batch]
        encoded = [data for _, data, _ in batch]
        while True:
            try:
                await self.store.append_many(events, encoded=encoded)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS down: keep the events and try again
                if not getattr(exc, "retryable", isinstance(exc, (ConnectionError, TimeoutError))):
                    log.error("dropping %d event(s) the store refused: %s", len(batch), exc)
                    self.dropped += len(batch)
                    return
                log.warning("publishing %d event(s) failed (%s); retrying", len(batch), exc)
                await asyncio.sleep(self.retry_seconds)
                continue
            self.published += len(batch)
            return


def _encode(event: Event) -> bytes:
    try:
        return encode(event)
    except (TypeError, msgspec.EncodeError) as exc:
        raise TypeError(f"{type(event).__name__} cannot be encoded as JSON: {exc}") from exc


def _merge(older: BatchProgress, newer: BatchProgress) -> BatchProgress:
    return replace(newer, event_id=older.event_id, batches=[*older.batches, *newer.batches])
