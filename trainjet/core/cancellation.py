"""The per-operation cancel signal the work checks every step (batch, iteration, phase).

Thread-safe: the asyncio side sets it when a `cancel_requested` event arrives; the training
thread polls `is_cancelled` (an Event.is_set, ~50 ns) or calls `raise_if_cancelled`.
"""

from __future__ import annotations

import threading


class CancellationError(Exception):
    """Raised inside the work when its operation was cancelled. Not a failure."""

    def __init__(self, reason: str = "Operation cancelled", operation_id: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.operation_id = operation_id


class CancellationToken:
    """First reason wins; later `cancel` calls change nothing."""

    __slots__ = ("_event", "_lock", "operation_id", "reason")

    def __init__(self, operation_id: str | None = None) -> None:
        self.operation_id = operation_id
        self.reason: str | None = None
        self._event = threading.Event()
        self._lock = threading.Lock()

    def cancel(self, reason: str = "Operation cancelled by user") -> bool:
        with self._lock:
            if self._event.is_set():
                return False
            self.reason = reason
            self._event.set()
            return True

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
