"""The store's error tree: what callers catch instead of a client library's exceptions.

Adapters translate at their boundary, so the API, runners and CLI handle one small set of
errors whatever the backend. Each error says whether trying again can help (`retryable`); a
lost server is retryable, a stream configured by someone else for something else is not.
Timeouts also subclass `TimeoutError` and a lost server `ConnectionError`, so generic handlers
(`except TimeoutError`) keep working.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of every store failure."""

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable


class StoreUnavailable(StoreError, ConnectionError):
    """No server answers (not started, wrong URL, network down, JetStream disabled)."""

    retryable = True


class StoreTimeout(StoreError, TimeoutError):
    """The server did not answer in time; the operation may or may not have happened."""

    retryable = True


class StreamConfigConflict(StoreError):
    """A stream, consumer or bucket exists with a configuration trainjet cannot use."""

    retryable = False


class LayoutMissing(StoreError):
    """A stream, bucket or pool consumer trainjet needs does not exist.

    Only `trainjet setup` (admin credentials) or an embedded `trainjet serve` creates the
    layout; every other process checks for it and stops with this message instead of creating
    it with credentials that must not be able to.
    """

    retryable = False


SETUP_HINT = "run `trainjet setup` with admin credentials"


class InvalidName(StoreError, ValueError):
    """A pool, runner id or subject token that cannot be used as a NATS subject or key."""

    retryable = False


class ConcurrencyConflict(StoreError):
    """A conditional append found the operation's history moved since the caller read it.

    Nothing was stored. Trying the same write again cannot help: the caller re-reads the
    history and decides again (another writer may already have decided the operation's fate).
    """

    retryable = False

    def __init__(self, message: str, *, expected: int, actual: int | None = None) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


__all__ = [
    "SETUP_HINT",
    "ConcurrencyConflict",
    "InvalidName",
    "LayoutMissing",
    "StoreError",
    "StoreTimeout",
    "StoreUnavailable",
    "StreamConfigConflict",
]
