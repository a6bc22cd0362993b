"""The per-operation cancel signal the work checks every step (batch, iteration, phase).

One object owns both sides of the signal: the thread-side flag the training thread polls
(`is_cancelled`, an Event.is_set, ~50 ns, or `raise_if_cancelled`) and the loop-side event
coroutines wait on (`wait_cancelled`). It says *why* with a typed `cause`, so the code that
writes the operation's end asks `token.cause is CancelCause.SHUTDOWN` instead of matching the
reason's text: the first `cancel` wins, cause and reason together.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import threading
from collections.abc import Callable


class CancelCause(enum.Enum):
    """Why an attempt stops before its work is done."""

    USER = "user"  # cancel_requested: the operation ends `cancelled`
    ENDED_ELSEWHERE = "ended_elsewhere"  # a terminal event was written by someone else
    SHUTDOWN = "shutdown"  # this runner is stopping: hand the operation over
    LOST_LEASE = "lost_lease"  # another runner owns the operation now (fenced)


class CancellationError(Exception):
    """Raised inside the work when its operation was cancelled. Not a failure."""

    def __init__(self, reason: str = "Operation cancelled", operation_id: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.operation_id = operation_id


class CancellationToken:
    """First cancel wins; later `cancel` calls change nothing. Thread-safe on both sides.

    Build it on the event loop that will wait on it (or call `bind_loop` there): a cancel
    from another thread then wakes the loop side through `call_soon_threadsafe`.
    """

    __slots__ = (
        "_event",
        "_lock",
        "_loop",
        "_loop_event",
        "cause",
        "is_set",
        "operation_id",
        "reason",
    )

    def __init__(self, operation_id: str | None = None) -> None:
        self.operation_id = operation_id
        self.reason: str | None = None
        self.cause: CancelCause | None = None
        self._event = threading.Event()
        # `is_cancelled` as a plain call, for a caller that checks it on every batch
        self.is_set: Callable[[], bool] = self._event.is_set
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_event = asyncio.Event()
        with contextlib.suppress(RuntimeError):
            self._loop = asyncio.get_running_loop()

    def bind_loop(self) -> None:
        """Attach the loop side to the running loop (a token made outside any loop)."""
        self._loop = asyncio.get_running_loop()
        if self._event.is_set():
            self._loop_event.set()

    def cancel(
        self, reason: str = "Operation cancelled by user", cause: CancelCause = CancelCause.USER
    ) -> bool:
        with self._lock:
            if self._event.is_set():
                return False
            self.reason = reason
            self.cause = cause
            self._event.set()
        self._wake_loop()
        return True

    def _wake_loop(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._loop_event.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._loop_event.set)

    @property
    def is_cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self, where: str = "") -> None:
        if self._event.is_set():
            reason = self.reason or "Operation cancelled"
            raise CancellationError(
                reason if not where else f"{reason} (at {where})", self.operation_id
            )

    def wait(self, timeout: float | None = None) -> bool:
        """Block the calling thread until cancelled or `timeout`; True if cancelled."""
        return self._event.wait(timeout)

    async def wait_cancelled(self) -> None:
        """Wait on the event loop until cancelled."""
        if self._event.is_set():
            return
        if self._loop is None:
            self.bind_loop()
        await self._loop_event.wait()

    async def sleep_or_cancel(self, seconds: float) -> bool:
        """Sleep, waking early on cancellation. True when cancelled."""
        if self._event.is_set():
            return True
        try:
            await asyncio.wait_for(self.wait_cancelled(), seconds)
        except TimeoutError:
            return self._event.is_set()
        return True
