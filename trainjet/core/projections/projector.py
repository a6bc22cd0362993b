"""The projector: runs the operations view (core/projections/view.py) against the event store.

- Awaitable: `wait_until(seq)` gives read-your-writes to the API (append, then wait for the
  projector to catch up before answering).
- Honest: a failure of the background task is kept in `error` and surfaced by /health
  instead of being swallowed.
- Restartable in O(tail): with a `SnapshotStore`, start-up loads the newest valid snapshot of
  the view and folds only the events after it; the view is snapshotted again every
  `snapshot_seconds` (when at least `snapshot_min_events` were applied since) and at stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from trainjet.core.events import ALL_EVENTS_FILTER, AnyEvent
from trainjet.core.gc_pause import no_cycle_collection
from trainjet.core.projections.models import OperationInfo
from trainjet.core.projections.query import ReadModel
from trainjet.core.projections.snapshot import SnapshotStore
from trainjet.core.projections.view import OperationsView, ViewState
from trainjet.core.store.port import EventStore

log = logging.getLogger(__name__)

Listener = Callable[[OperationInfo, AnyEvent], None]


__all__ = ["Listener", "Projector"]


class Projector:
    """Runs an `OperationsView` against a store: catch up, then follow live."""

    def __init__(
        self,
        store: EventStore,
        view: OperationsView | None = None,
        *,
        snapshots: SnapshotStore | None = None,
        snapshot_seconds: float = 60.0,
        snapshot_min_events: int = 10_000,
    ) -> None:
        self.store = store
        self.view = view or OperationsView()
        # what readers use; the view itself is this projector's to replace (snapshots)
        self.query = ReadModel(lambda: self.view)
        self.error: BaseException | None = None
        self.caught_up = asyncio.Event()
        self.started_at: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._progress = asyncio.Condition()
        self._listeners: list[Listener] = []
        self.snapshots = snapshots
        self.snapshot_seconds = snapshot_seconds
        self.snapshot_min_events = snapshot_min_events
        self.snapshot_seq = 0  # the sequence the newest snapshot (loaded or saved) covers
        self.loaded_snapshot_seq = 0  # the snapshot start-up began from (0: none)
        self.tail_folded = 0  # records folded at start-up after the snapshot
        self._snapshot_task: asyncio.Task[None] | None = None

    def add_listener(self, listener: Listener) -> None:
        """Called after each applied event (used by SSE streams and cancel waiters)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    async def start(self) -> None:
        """Rebuild (from the newest valid snapshot and the tail after it, else from the whole
        stream), then follow the stream live in the background."""
        target = await self.store.last_sequence()
        if self.snapshots is not None and self.view.last_seq == 0:
            state = await self.snapshots.load(ViewState, stream_last_seq=target)
            if state is not None:
                self.view = OperationsView.from_state(state)
                self.snapshot_seq = self.loaded_snapshot_seq = state.last_seq
        folded = 0
        # the fold keeps what it builds and makes no cycles: the collector would only rescan it
        with no_cycle_collection():
            async for batch in self.store.read_all_batches(from_seq=self.view.last_seq + 1):
                folded += self.view.apply_all(batch)
        self.tail_folded = folded
        log.info(
            "projector rebuilt %s operations up to seq %s (target %s; %s records folded)",
            len(self.view.operations),
            self.view.last_seq,
            target,
            folded,
        )
        self.caught_up.set()
        self._task = asyncio.create_task(self._follow(), name="trainjet-projector")
        if self.snapshots is not None and self.snapshot_seconds > 0:
            self._snapshot_task = asyncio.create_task(
                self._snapshot_loop(), name="trainjet-projector-snapshots"
            )

    async def stop(self) -> None:
        """Stop following; with snapshots, save one of what was folded (a clean shutdown
        restarts from here)."""
        for task in (self._snapshot_task, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._snapshot_task = self._task = None
        if self.snapshots is not None and self.caught_up.is_set():
            try:
                await self.save_snapshot()
            except Exception:  # shutting down: the next start folds the longer tail
                log.exception("could not save the projection snapshot at stop")

    async def save_snapshot(self) -> int | None:
        """Snapshot the view now if it moved since the last one; the sequence it covers."""
        if self.snapshots is None or self.view.last_seq <= self.snapshot_seq:
            return None
        state = self.view.state()  # on the loop: a consistent copy of the containers
        size = await self.snapshots.save(state, state.last_seq)
        self.snapshot_seq = state.last_seq
        log.info("saved projection snapshot at seq %s (%s bytes)", state.last_seq, size)
        return state.last_seq

    async def _snapshot_loop(self) -> None:
        while True:
            await asyncio.sleep(self.snapshot_seconds)
            if self.view.last_seq - self.snapshot_seq < self.snapshot_min_events:
                continue
            try:
                await self.save_snapshot()
            except Exception:  # the log is the truth: a missed snapshot only costs start-up
                log.exception("could not save the projection snapshot")

    async def _follow(self) -> None:
        try:
            async for record in self.store.subscribe(
                ALL_EVENTS_FILTER, from_seq=self.view.last_seq + 1
            ):
                applied = self.view.apply(record)
                if applied is not None:
                    for listener in list(self._listeners):
                        try:
                            listener(*applied)
                        except Exception:  # a listener must never stop the projection
                            log.exception("projection listener failed")
                async with self._progress:
                    self._progress.notify_all()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self.error = exc
            log.exception("projector stopped")
            async with self._progress:
                self._progress.notify_all()
            raise

    async def wait_until(self, seq: int, timeout: float = 10.0) -> None:
        """Return once the view reflects stream sequence `seq` (read-your-writes)."""

        async def _wait() -> None:
            async with self._progress:
                while self.view.last_seq < seq:
                    if self.error is not None:
                        raise RuntimeError(f"projector failed: {self.error!r}") from self.error
                    await self._progress.wait()

        if self.view.last_seq >= seq:
            return
        await asyncio.wait_for(_wait(), timeout)

    async def lag(self) -> int:
        """Events stored but not yet applied."""
        return max(0, await self.store.last_sequence() - self.view.last_seq)
