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

from trainjet.core.projections.rejections import clip
from trainjet.core.store.errors import InvalidName, StoreError
from trainjet.errors import TrainjetError

log = logging.getLogger(__name__)


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
            retry=exc.retryable,
        )

    @app.exception_handler(StoreError)
    async def _store_error(request: Request, exc: StoreError) -> JSONResponse:
        # The store's errors are not TrainjetErrors (core/ imports nothing outward): this is
        # where they meet HTTP. A bad name is the client's; anything else is an outage.
        if isinstance(exc, InvalidName):
            return error_response(400, exc.message, "TRAINJET-InvalidRequest")
        log.warning("request failed, store unavailable: %s", exc.message)
        backend = getattr(request.app.state, "backend", None)
        return store_unavailable(getattr(backend, "nats_url", None), exc.message)

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
