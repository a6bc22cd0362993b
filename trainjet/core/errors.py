"""trainjet's one error tree. Every error trainjet raises on purpose is a `TrainjetError`.

    TrainjetError
    ├── InvalidRequest               the caller asked for something that cannot be done; fix it
    │   ├── NotFound                 what the request names does not exist
    │   ├── Unprocessable            well-formed, but a value breaks a rule (a tag's grammar)
    │   └── Conflict                 clashes with what exists (an id used by another operation)
    ├── Unauthorized                 no or a wrong API token
    ├── ServiceUnavailable           a dependency (a runner pool) is not there now; retry later
    │   └── OperationTimeout         (also a TimeoutError) waited too long for an answer
    └── StoreError                   the event store failed (adapters translate client errors)
        ├── StoreUnavailable         (also a ConnectionError) no server answers
        ├── StoreTimeout             (also a TimeoutError) no answer in time; may have happened
        ├── StreamConfigConflict     a stream or bucket is configured for something else
        ├── LayoutMissing            a stream, bucket or pool consumer is not set up
        ├── InvalidName              (also a ValueError) unusable as a subject token or key
        └── ConcurrencyConflict      a conditional append found the history moved

The training side adds its own leaves (`trainjet.training.errors`: strategy and market-data
errors, under `InvalidRequest`/`NotFound`). The errors say what went wrong and whether trying
again can help (`retryable`); what that means for a client is decided at the edges: the API
maps classes to HTTP statuses and error codes (`trainjet.api.errors`), the CLI to exit codes.
Timeouts and lost servers also subclass the builtin `TimeoutError` / `ConnectionError`, so
generic handlers keep working. This module imports nothing of trainjet.
"""

from __future__ import annotations

from typing import Any


class TrainjetError(Exception):
    """`details` and `context` are data for the client; `error_code` (`CATEGORY-Name`, as
    ktrdr's clients expect) names a configuration mistake more precisely than the class does,
    where the raiser knows it; `suggestion` is one sentence telling the user how to fix it."""

    retryable = False
    error_code: str | None = None
    suggestion: str | None = None

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        error_code: str | None = None,
        context: dict[str, Any] | None = None,
        suggestion: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.context: dict[str, Any] = context or {}
        if error_code is not None:
            self.error_code = error_code
        if suggestion is not None:
            self.suggestion = suggestion
        if retryable is not None:
            self.retryable = retryable


class InvalidRequest(TrainjetError):
    """The caller sent something that cannot be done as asked (fix the input)."""


class NotFound(InvalidRequest):
    """What the request names does not exist."""


class Unprocessable(InvalidRequest):
    """Well-formed, but a value breaks a rule (a tag's grammar, a note's length)."""


class Conflict(InvalidRequest):
    """The request clashes with what exists."""


class Unauthorized(TrainjetError):
    """No API token, or not the right one."""


class ServiceUnavailable(TrainjetError):
    """A dependency (a runner pool, the API still starting) is not there right now."""

    retryable = True


class OperationTimeout(ServiceUnavailable, TimeoutError):
    """Waited longer than the bound for an answer."""


# -- the event store ------------------------------------------------------------------------


class StoreError(TrainjetError):
    """Base of every store failure; adapters raise these instead of a client library's."""


class StoreUnavailable(StoreError, ConnectionError):
    """No server answers (not started, wrong URL, network down, JetStream disabled)."""

    retryable = True


class StoreTimeout(StoreError, TimeoutError):
    """The server did not answer in time; the operation may or may not have happened."""

    retryable = True


class StreamConfigConflict(StoreError):
    """A stream, consumer or bucket exists with a configuration trainjet cannot use."""


class LayoutMissing(StoreError):
    """A stream, bucket or pool consumer trainjet needs does not exist.

    Only `trainjet setup` (admin credentials) or an embedded `trainjet serve` creates the
    layout; every other process checks for it and stops with this message instead of creating
    it with credentials that must not be able to.
    """


class InvalidName(StoreError, ValueError):
    """A pool, runner id or subject token that cannot be used as a NATS subject or key."""


class ConcurrencyConflict(StoreError):
    """A conditional append found the operation's history moved since the caller read it.

    Nothing was stored. Trying the same write again cannot help: the caller re-reads the
    history and decides again (another writer may already have decided the operation's fate).
    """

    def __init__(self, message: str, *, expected: int, actual: int | None = None) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual
