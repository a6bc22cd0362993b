"""Translate trainjet's error tree (and request-validation errors) into clear 4xx answers.

The body keeps FastAPI's `detail` (what ktrdr clients read) and adds a structured `error`.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from trainjet.core.store.errors import InvalidName, StoreError
from trainjet.errors import TrainjetError

log = logging.getLogger(__name__)


# What a 503 tells a client to wait before trying again: NATS reconnects in well under this.
RETRY_AFTER_SECONDS = 2


def error_response(
    status: int, message: str, code: str, details: object = None, *, retry: bool = False
) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={
            "success": False,
            "detail": message,
            "error": {"code": code, "message": message, "details": details or {}},
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
            exc.http_status, exc.message, exc.code, exc.details, retry=exc.retryable
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
        details = {"errors": jsonable_encoder(exc.errors(), custom_encoder={Exception: str})}
        return error_response(422, _describe_validation(exc), "TRAINJET-ValidationError", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), f"HTTP-{exc.status_code}")
