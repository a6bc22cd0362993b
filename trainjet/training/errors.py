"""Errors of the training side: strategy files, training settings, market data, checkpoints.

All are the caller's to fix (a typo in a YAML file, a missing CSV, a model name), so all are
`InvalidRequest`s; the API and the CLI decide what that means for their clients
(`trainjet.api.errors`, which also holds ktrdr's code for each class). A raiser that knows
a more precise ktrdr code passes it as `error_code`.
"""

from __future__ import annotations

from typing import Any

from trainjet.core.errors import InvalidRequest, NotFound, TrainjetError


class StrategyValidationError(InvalidRequest):
    """A strategy cannot be used: bad name, unreadable file, or failed validation.

    `errors` holds one line per problem (`"<category>: <message>"`), so a CLI or API can list
    them; the message is the ktrdr-style summary ("Strategy validation failed:\\n...").
    """

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

    suggestion = (
        "Check the strategy name (the file stem, without .yaml), or add the file to the "
        "strategies directory (TRAINJET_STRATEGIES_DIR); `GET /api/v1/strategies` lists them."
    )


class UnsupportedIndicatorError(StrategyValidationError):
    """The strategy names an indicator trainjet does not have (or not by that spelling)."""

    suggestion = (
        "Use an indicator listed in details.available_indicators (spelling and case as there, "
        "an `Indicator` suffix is allowed), or remove it from the strategy."
    )


class TrainingConfigError(StrategyValidationError):
    """`model.training` holds a value the loop cannot use (a wrong type, out of range, an
    unknown optimizer or scheduler)."""

    suggestion = (
        "Fix the strategy's model.training section as the message says "
        "(`trainjet strategies validate <name>` lists every problem)."
    )


class DataError(InvalidRequest):
    """Market data is missing, malformed or too short for the request."""

    suggestion = "Fix or replace the data file named in the message."


class DataNotFoundError(DataError):
    """No `SYMBOL_TIMEFRAME.csv` for a requested pair."""

    suggestion = (
        "Add the missing SYMBOL_TIMEFRAME.csv to the market-data directory "
        "(TRAINJET_MARKET_DATA_DIR), or choose a symbol and timeframe that "
        "`GET /api/v1/symbols` lists."
    )


class NoBarsInRangeError(DataError):
    """The file exists but has no bar between the requested dates."""

    suggestion = "Choose start_date and end_date inside the span the data file covers."


class InsufficientDataError(DataError):
    """Bars exist in the range, but too few to warm the indicators up and still train."""

    suggestion = "Widen the date range, or use a finer timeframe, so that enough bars remain."


class ModelNotFoundError(NotFound):
    """No stored model (or version of one) by that name or path."""


class TrainingDivergedError(TrainjetError):
    """The loss stopped being a finite number; training further cannot recover."""


class CheckpointError(TrainjetError):
    """A checkpoint that is not trainjet's, or does not fit the run resuming from it. Not the
    caller's to fix: the run fails (a retry starts from the first epoch if it persists)."""


class DeviceUnavailableError(TrainjetError):
    """The device a training asked for (`cuda`, `mps`, an index) is not on the runner's machine,
    or is not one trainjet trains on."""
