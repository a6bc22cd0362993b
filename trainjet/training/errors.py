"""Errors of the training side: strategy files, training settings, market data, checkpoints.

Both are the caller's to fix (a typo in a YAML file, a missing CSV), so both are
`InvalidRequest` (HTTP 400), as ktrdr's training start answers (inventory §1.11, §3.1).
`StrategyNotFoundError` is also 400 here because that is what *training start* answers; the
strategy endpoints (`GET /strategies/{name}`, `POST /strategies/validate/{name}`) answer 404 for
the same condition, so they catch this subclass and translate it themselves.
"""

from __future__ import annotations

from typing import Any

from trainjet.errors import InvalidRequest, TrainjetError


class StrategyValidationError(InvalidRequest):
    """A strategy cannot be used: bad name, unreadable file, or failed validation.

    `errors` holds one line per problem (`"<category>: <message>"`), so a CLI or API can list
    them; the message is the ktrdr-style summary ("Strategy validation failed:\\n...").
    """

    code = "TRAINJET-StrategyInvalid"
    error_code = "CONFIG-InvalidStrategy"
    suggestion = (
        "Fix the strategy file as each listed problem says; "
        "`POST /api/v1/strategies/validate/<name>` (or `trainjet strategies validate`) shows them all."
    )

    def __init__(
        self,
        message: str,
        errors: list[str] | None = None,
        *,
        details: dict[str, Any] | None = None,
        error_code: str | None = None,
        context: dict[str, Any] | None = None,
        suggestion: str | None = None,
    ) -> None:
        super().__init__(
            message,
            details=details,
            error_code=error_code,
            context=context,
            suggestion=suggestion,
        )
        self.errors: list[str] = list(errors) if errors else [message]


class StrategyNotFoundError(StrategyValidationError):
    """No `<name>.yaml` inside the strategies directory (404 on the strategy endpoints)."""

    code = "TRAINJET-StrategyNotFound"
    error_code = "CONFIG-StrategyNotFound"
    suggestion = (
        "Check the strategy name (the file stem, without .yaml), or add the file to the "
        "strategies directory (TRAINJET_STRATEGIES_DIR); `GET /api/v1/strategies` lists them."
    )


class UnsupportedIndicatorError(StrategyValidationError):
    """The strategy names an indicator trainjet does not have (or not by that spelling)."""

    code = "TRAINJET-StrategyInvalid"
    error_code = "CONFIG-UnsupportedIndicator"
    suggestion = (
        "Use an indicator listed in details.available_indicators (spelling and case as there, "
        "an `Indicator` suffix is allowed), or remove it from the strategy."
    )


class TrainingConfigError(StrategyValidationError):
    """`model.training` holds a value the loop cannot use (a wrong type, out of range, an
    unknown optimizer or scheduler)."""

    error_code = "CONFIG-InvalidTraining"
    suggestion = (
        "Fix the strategy's model.training section as the message says "
        "(`trainjet strategies validate <name>` lists every problem)."
    )


class DataError(InvalidRequest):
    """Market data is missing, malformed or too short for the request."""

    code = "TRAINJET-DataError"
    error_code = "DATA-InvalidData"
    suggestion = "Fix or replace the data file named in the message."


class DataNotFoundError(DataError):
    """No `SYMBOL_TIMEFRAME.csv` for a requested pair."""

    error_code = "DATA-NotFound"
    suggestion = (
        "Add the missing SYMBOL_TIMEFRAME.csv to the market-data directory "
        "(TRAINJET_MARKET_DATA_DIR), or choose a symbol and timeframe that "
        "`GET /api/v1/symbols` lists."
    )


class NoBarsInRangeError(DataError):
    """The file exists but has no bar between the requested dates."""

    error_code = "DATA-NoBarsInRange"
    suggestion = "Choose start_date and end_date inside the span the data file covers."


class InsufficientDataError(DataError):
    """Bars exist in the range, but too few to warm the indicators up and still train."""

    error_code = "DATA-InsufficientData"
    suggestion = "Widen the date range, or use a finer timeframe, so that enough bars remain."


class CheckpointError(TrainjetError):
    """A checkpoint that is not trainjet's, or does not fit the run resuming from it. Not the
    caller's to fix: the run fails (a retry starts from the first epoch if it persists)."""

    code = "TRAINJET-CheckpointInvalid"
