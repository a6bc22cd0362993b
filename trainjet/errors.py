"""One error tree for trainjet. Boundaries translate it: HTTP status in the API, exit code in
the CLI. Every error says what to fix; none should reach a user as a traceback."""

from __future__ import annotations

from typing import Any


class TrainjetError(Exception):
    http_status = 500
    exit_code = 1
    code = "TRAINJET-Error"
    retryable = False

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


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
