"""The error bodies the API sends, as pydantic models, and their place in the OpenAPI schema.

Every error answer has one shape (`ErrorResponse`): FastAPI's `detail`, which ktrdr's clients
read, and trainjet's own `error` object beside it. `detail` is a string, except for errors a
user fixes in their configuration (an unknown strategy, a missing data file...), where it is
ktrdr's structured object: ktrdr's CLI prints the reason only when `detail` has `error_code`.

The models forbid extra fields, so a test validating real answers against them catches any
drift between what is sent and what `/openapi.json` documents.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field

from trainjet.api.deps import get_backend, require_token


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(_Closed):
    """ktrdr's structured error, for configuration errors."""

    message: str
    error_code: str = Field(description="CATEGORY-Name, e.g. CONFIG-StrategyNotFound")
    context: dict[str, Any] = Field(description="the request values the error is about")
    details: dict[str, Any] = Field(description="what was found, e.g. the available choices")
    suggestion: str = Field(description="one sentence telling the user how to fix it")


class TrainjetErrorInfo(_Closed):
    """trainjet's own error object (the trainjet CLI and scripts read `code`)."""

    code: str = Field(description="trainjet's error code, e.g. TRAINJET-NotFound")
    message: str
    details: dict[str, Any]


class ErrorResponse(_Closed):
    success: bool = Field(False, description="always false")
    detail: str | ErrorDetail = Field(
        description="a message, or ktrdr's structured object for configuration errors"
    )
    error: TrainjetErrorInfo


_DESCRIPTIONS = {
    400: "Bad input: the message (and, for configuration errors, the suggestion) says what to fix",
    401: "Missing or wrong bearer token (only when TRAINJET_API_TOKEN is set)",
    404: "Not found, e.g. `Operation not found: <id>`",
    409: "Conflicts with what exists (a name or id already taken)",
    422: "The request does not match the documented schema",
    503: "NATS or a runner pool is not available right now; retry later",
}
# Routes that can answer 409 besides the generic rules (a taken task id, model name).
_CONFLICTS = {
    ("POST", "/api/v1/trainings/start"),
    ("POST", "/api/v1/dummy/start"),
    ("POST", "/api/v1/models/save"),
}
# Routes that look up a model or an operation named in the body.
_LOOKUPS = {("POST", "/api/v1/models/predict"), ("POST", "/api/v1/models/save")}
# Route needing a live runner pool or the event store without going through `get_backend`.
_BACKEND_ROUTES = {("POST", "/api/v1/trainings/start")}


def _calls(dependant: Dependant) -> set[Any]:
    found: set[Any] = set()
    for dep in dependant.dependencies:
        found.add(dep.call)
        found |= _calls(dep)
    return found


def _statuses(route: APIRoute, path: str, method: str) -> list[int]:
    calls = _calls(route.dependant)
    dep = route.dependant
    has_input = bool(dep.path_params or dep.query_params or dep.body_params)
    key = (method, path)
    statuses = {400} if method in ("POST", "DELETE", "PUT", "PATCH") or has_input else set()
    if require_token in calls:
        statuses.add(401)
    if dep.path_params or key in _LOOKUPS:
        statuses.add(404)
    if key in _CONFLICTS:
        statuses.add(409)
    if has_input:
        statuses.add(422)
    if get_backend in calls or key in _BACKEND_ROUTES:
        statuses.add(503)
    return sorted(statuses)


def document_error_responses(app: FastAPI, prefix: str) -> None:
    """Document `ErrorResponse` on each API route for the statuses it can answer.

    Derived from the route itself (token guard, inputs, path parameters, NATS dependency)
    rather than listed by hand per route, so a new route is documented the day it is added.
    It also replaces FastAPI's default 422 body, which the error handlers never send.
    """
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        defs = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(defs.pop("$defs", {}))
        components["ErrorResponse"] = defs
        ref = {"$ref": "#/components/schemas/ErrorResponse"}
        # Routes of included routers are reached through their contexts, which carry the
        # full (prefixed) path, as FastAPI's own schema generation does.
        for context in iter_route_contexts(app.routes):
            route, path = context.original_route, context.path_format or ""
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            if not path.startswith(prefix):
                continue
            for method in context.methods or ():
                operation = schema["paths"].get(path, {}).get(method.lower())
                if operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                for status in _statuses(route, path, method):
                    responses[str(status)] = {
                        "description": _DESCRIPTIONS[status],
                        "content": {"application/json": {"schema": ref}},
                    }
        for name in ("HTTPValidationError", "ValidationError"):
            if name in components and not _referenced(schema, name):
                del components[name]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _referenced(schema: dict[str, Any], name: str) -> bool:
    return f'"#/components/schemas/{name}"' in json.dumps(schema)
