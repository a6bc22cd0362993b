"""Errors of the training-input side: strategy files and market data.

Both are the caller's to fix (a typo in a YAML file, a missing CSV), so both are
`InvalidRequest` (HTTP 400), as ktrdr's training start answers (inventory §1.11, §3.1).
`StrategyNotFoundError` is also 400 here because that is what *training start* answers; the
strategy endpoints (`GET /strategies/{name}`, `POST /strategies/validate/{name}`) answer 404 for
the same condition, so they catch this subclass and translate it themselves.
"""

from __future__ import annotations

from typing import Any

from trainjet.errors import InvalidRequest


class StrategyValidationError(InvalidRequest):
    """A strategy cannot be used: bad name, unreadable file, or failed validation.

    `errors` holds one line per problem (`"<category>: <message>"`), so a CLI or API can list
    them; the message is the ktrdr-style summary ("Strategy validation failed:\\n...").
    """

    code = "TRAINJET-StrategyInvalid"

    def __init__(
        self,
        message: str,
        errors: list[str] | None = None,
        *,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.errors: list[str] = list(errors) if errors else [message]


class StrategyNotFoundError(StrategyValidationError):
    """No `<name>.yaml` inside the strategies directory (404 on the strategy endpoints)."""

    code = "TRAINJET-StrategyNotFound"


class DataError(InvalidRequest):
    """Market data is missing, malformed or too short for the request."""

    code = "TRAINJET-DataError"
