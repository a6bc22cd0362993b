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

from trainjet.errors import TrainjetError

log = logging.getLogger(__name__)


def error_response(status: int, message: str, code: str, details: object = None) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={
            "success": False,
            "detail": message,
            "error": {"code": code, "message": message, "details": details or {}},
        },
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
        return error_response(exc.http_status, exc.message, exc.code, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        # jsonable_encoder: a validator's ValueError sits in `ctx` and is not JSON by itself
        details = {"errors": jsonable_encoder(exc.errors(), custom_encoder={Exception: str})}
        return error_response(422, _describe_validation(exc), "TRAINJET-ValidationError", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), f"HTTP-{exc.status_code}")
