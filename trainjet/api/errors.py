"""The API edge of the error tree: one table from error class to HTTP status and codes.

Domain errors (`trainjet.core.errors`, `trainjet.training.errors`) carry no HTTP status; this
module decides it, walking an error's classes until one is in `HTTP_ERRORS`. The body keeps
FastAPI's `detail` (what ktrdr clients read) and adds trainjet's `error`. An error with a ktrdr
code (its own `error_code`, else the table's) carries ktrdr's structured object as `detail`.
Every 503 is an outage, not the client's fault: it comes with `Retry-After`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from trainjet.core.errors import (
    Conflict,
    InvalidName,
    InvalidRequest,
    NotFound,
    OperationTimeout,
    ServiceUnavailable,
    StoreError,
    TrainjetError,
    Unauthorized,
    Unprocessable,
)
from trainjet.core.projections.rejections import clip
from trainjet.training.errors import (
    DataError,
    DataNotFoundError,
    InsufficientDataError,
    ModelNotFoundError,
    NoBarsInRangeError,
    StrategyNotFoundError,
    StrategyValidationError,
    TrainingConfigError,
    UnsupportedIndicatorError,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HttpError:
    status: int
    code: str  # trainjet's `error.code`
    ktrdr_code: str | None = None  # ktrdr's `detail.error_code`: a configuration mistake


HTTP_ERRORS: dict[type[Exception], HttpError] = {
    TrainjetError: HttpError(500, "TRAINJET-Error"),
    InvalidRequest: HttpError(400, "TRAINJET-InvalidRequest"),
    NotFound: HttpError(404, "TRAINJET-NotFound"),
    Unprocessable: HttpError(422, "TRAINJET-Unprocessable"),
    Conflict: HttpError(409, "TRAINJET-Conflict"),
    Unauthorized: HttpError(401, "TRAINJET-Unauthorized"),
    ServiceUnavailable: HttpError(503, "TRAINJET-Unavailable"),
    OperationTimeout: HttpError(503, "TRAINJET-Timeout"),
    StoreError: HttpError(503, "TRAINJET-StoreUnavailable"),
    InvalidName: HttpError(400, "TRAINJET-InvalidRequest"),
    ModelNotFoundError: HttpError(404, "TRAINJET-ModelNotFound"),
    # A missing strategy is 400 where it is an input (training start); the strategy routes,
    # where it is the resource asked for, answer 404 (`RespondAs`).
    StrategyValidationError: HttpError(400, "TRAINJET-StrategyInvalid", "CONFIG-InvalidStrategy"),
    TrainingConfigError: HttpError(400, "TRAINJET-StrategyInvalid", "CONFIG-InvalidTraining"),
    StrategyNotFoundError: HttpError(400, "TRAINJET-StrategyNotFound", "CONFIG-StrategyNotFound"),
    UnsupportedIndicatorError: HttpError(
        400, "TRAINJET-StrategyInvalid", "CONFIG-UnsupportedIndicator"
    ),
    DataError: HttpError(400, "TRAINJET-DataError", "DATA-InvalidData"),
    DataNotFoundError: HttpError(400, "TRAINJET-DataError", "DATA-NotFound"),
    NoBarsInRangeError: HttpError(400, "TRAINJET-DataError", "DATA-NoBarsInRange"),
    InsufficientDataError: HttpError(400, "TRAINJET-DataError", "DATA-InsufficientData"),
}


def http_error(exc: TrainjetError) -> HttpError:
    """The table's entry for the most specific class of `exc` that has one."""
    for cls in type(exc).__mro__:
        entry = HTTP_ERRORS.get(cls)
        if entry is not None:
            return entry
    return HTTP_ERRORS[TrainjetError]


class RespondAs(Exception):
    """Answer `error` with another status than the table's, where a route knows better: a
    strategy that is missing is the input's fault on training start (400), but on
    `GET /strategies/{name}` it is the absent resource itself (404)."""

    def __init__(self, error: TrainjetError, status: int) -> None:
        super().__init__(error.message)
        self.error = error
        self.status = status


# What a 503 tells a client to wait before trying again: NATS reconnects in well under this.
RETRY_AFTER_SECONDS = 2


def error_response(
    status: int,
    message: str,
    code: str,
    details: object = None,
    *,
    detail: object = None,
    retry: bool = False,
) -> JSONResponse:
    """The one error body (`schemas_errors.ErrorResponse`): `detail` is the message unless a
    structured ktrdr detail is given; `retry` adds `Retry-After` (an outage, not the client)."""
    return JSONResponse(
        status_code=status,
        content={
            "success": False,
            "detail": message if detail is None else detail,
            "error": {"code": code, "message": message, "details": json_safe(details or {})},
        },
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)} if retry else None,
    )


def store_unavailable(nats_url: str | None, why: str) -> JSONResponse:
    """The one answer for "the event store cannot be reached": 503 JSON with Retry-After."""
    where = f" at {nats_url}" if nats_url else ""
    return error_response(
        503,
        f"NATS unreachable{where}: {why}; the request was not carried out, retry shortly",
        "TRAINJET-StoreUnavailable",
        retry=True,
    )


def ktrdr_detail(exc: TrainjetError) -> dict[str, object] | None:
    """ktrdr's structured `detail` for an error that has a ktrdr code, else None."""
    error_code = exc.error_code or http_error(exc).ktrdr_code
    if error_code is None:
        return None
    return {
        "message": exc.message,
        "error_code": error_code,
        "context": jsonable_encoder(exc.context),
        "details": jsonable_encoder(exc.details),
        "suggestion": exc.suggestion or "Correct the request as the message says and retry.",
    }


def trainjet_error_response(
    exc: TrainjetError, nats_url: str | None, status: int | None = None
) -> JSONResponse:
    entry = http_error(exc)
    status = status or entry.status
    if status >= 500:
        log.warning("request failed: %s", exc.message)
    if isinstance(exc, StoreError) and status == 503:
        return store_unavailable(nats_url, exc.message)
    return error_response(
        status,
        exc.message,
        entry.code,
        jsonable_encoder(exc.details),
        detail=ktrdr_detail(exc),
        retry=status == 503,
    )


def json_safe(value: Any, clip_at: int | None = None, depth: int = 0) -> Any:
    """`value` made always encodable: strict JSON has no NaN or Infinity (the input a
    validation error echoes back may be one). With `clip_at`, also small: strings clipped and
    containers cut (that input may be megabytes long)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value if clip_at is None else clip(value, clip_at)
    if depth > 32:
        return "..."
    keep = None if clip_at is None else 50
    if isinstance(value, dict):
        items = list(value.items())[:keep]
        return {str(k): json_safe(v, clip_at, depth + 1) for k, v in items}
    if isinstance(value, list | tuple):
        return [json_safe(v, clip_at, depth + 1) for v in list(value)[:keep]]
    return value


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{loc or 'request'}: {err.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    def nats_url(request: Request) -> str | None:
        return getattr(getattr(request.app.state, "backend", None), "nats_url", None)

    @app.exception_handler(TrainjetError)
    async def _trainjet_error(request: Request, exc: TrainjetError) -> JSONResponse:
        return trainjet_error_response(exc, nats_url(request))

    @app.exception_handler(RespondAs)
    async def _respond_as(request: Request, exc: RespondAs) -> JSONResponse:
        return trainjet_error_response(exc.error, nats_url(request), exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        # jsonable_encoder: a validator's ValueError sits in `ctx` and is not JSON by itself
        errors = jsonable_encoder(exc.errors(), custom_encoder={Exception: str})
        details = {"errors": json_safe(errors, clip_at=200)}
        return error_response(
            422, clip(_describe_validation(exc), 2000), "TRAINJET-ValidationError", details
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # a bug, not the client's fault: logged with its traceback, answered as JSON anyway
        log.error("unhandled error", exc_info=exc)
        return error_response(500, "Internal error (logged by the API)", "TRAINJET-Internal")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), f"HTTP-{exc.status_code}")
