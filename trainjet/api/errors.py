"""Translate trainjet's error tree (and request-validation errors) into clear 4xx answers.

The body keeps FastAPI's `detail` (what ktrdr clients read) and adds trainjet's `error`.
Configuration errors (those with an `error_code`) carry ktrdr's structured object as `detail`.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from trainjet.errors import TrainjetError

log = logging.getLogger(__name__)


def error_response(
    status: int, message: str, code: str, details: object = None, *, detail: object = None
) -> JSONResponse:
    """The one error body (`schemas_errors.ErrorResponse`): `detail` is the message unless a
    structured ktrdr detail is given."""
    return JSONResponse(
        status_code=status,
        content={
            "success": False,
            "detail": message if detail is None else detail,
            "error": {"code": code, "message": message, "details": json_safe(details or {})},
        },
    )


def ktrdr_detail(exc: TrainjetError) -> dict[str, object] | None:
    """ktrdr's structured `detail` for an error that has an `error_code`, else None."""
    if exc.error_code is None:
        return None
    return {
        "message": exc.message,
        "error_code": exc.error_code,
        "context": jsonable_encoder(exc.context),
        "details": jsonable_encoder(exc.details),
        "suggestion": exc.suggestion or "Correct the request as the message says and retry.",
    }


def clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


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
    @app.exception_handler(TrainjetError)
    async def _trainjet_error(_: Request, exc: TrainjetError) -> JSONResponse:
        if exc.http_status >= 500:
            log.warning("request failed: %s", exc.message)
        return error_response(
            exc.http_status,
            exc.message,
            exc.code,
            jsonable_encoder(exc.details),
            detail=ktrdr_detail(exc),
        )

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
