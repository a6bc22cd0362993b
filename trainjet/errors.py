"""One error tree for trainjet. Boundaries translate it: HTTP status in the API, exit code in
the CLI. Every error says what to fix; none should reach a user as a traceback."""

from __future__ import annotations

from typing import Any


class TrainjetError(Exception):
    """`code` is trainjet's own; `error_code` (`CATEGORY-Name`, as ktrdr's clients expect) is
    set only on errors a user fixes in their configuration: the API then answers with ktrdr's
    structured `detail` (message, error_code, context, details, suggestion), which is what
    ktrdr's CLI prints. `suggestion` is one sentence telling the user how to fix it."""

    http_status = 500
    exit_code = 1
    code = "TRAINJET-Error"
    error_code: str | None = None
    suggestion: str | None = None
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        error_code: str | None = None,
        context: dict[str, Any] | None = None,
        suggestion: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.context: dict[str, Any] = context or {}
        if error_code is not None:
            self.error_code = error_code
        if suggestion is not None:
            self.suggestion = suggestion


class InvalidRequest(TrainjetError):
    """The caller sent something that cannot be done as asked (fix the input)."""

    http_status = 400
    exit_code = 2
    code = "TRAINJET-InvalidRequest"


class NotFound(InvalidRequest):
    http_status = 404
    code = "TRAINJET-NotFound"


class Unprocessable(InvalidRequest):
    """Well-formed, but a value breaks a rule (a tag's grammar, a note's length)."""

    http_status = 422
    code = "TRAINJET-Unprocessable"


class Conflict(InvalidRequest):
    http_status = 409
    code = "TRAINJET-Conflict"


class Unauthorized(TrainjetError):
    http_status = 401
    exit_code = 2
    code = "TRAINJET-Unauthorized"


class ServiceUnavailable(TrainjetError):
    """A dependency (NATS, a runner pool) is not there right now; trying later may work."""

    http_status = 503
    code = "TRAINJET-Unavailable"
    retryable = True


class OperationTimeout(ServiceUnavailable, TimeoutError):
    code = "TRAINJET-Timeout"
