"""A route's query string validated in one step by one pydantic model, for hot read routes.

FastAPI validates each declared query parameter on its own, re-inspecting its annotation on
every request: for `GET /operations` and its ten parameters that cost about as much as the
whole `GET /operations/{id}`. Here the model validates once per distinct query string (a list
is polled with the same few), and the route documents the same parameters in OpenAPI
(`parameters`), so clients and the schema tests see no difference.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, get_args, get_origin

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import QueryParams

# distinct query strings remembered per route: a console or a script polls a handful
CACHED_QUERIES = 256
MAX_CACHED_QUERY_BYTES = 1024
M = TypeVar("M", bound=BaseModel)


def _is_list(annotation: Any) -> bool:
    if get_origin(annotation) is list:
        return True
    return any(get_origin(a) is list for a in get_args(annotation))


def query_parser(model: type[M]) -> Callable[[bytes], M]:
    """raw query string -> the validated model; a bad value raises the same 422
    (`RequestValidationError`, located in `query`) FastAPI's own parameters raise."""
    repeated = {n for n, f in model.model_fields.items() if _is_list(f.annotation)}
    names = set(model.model_fields)

    def validate(raw: bytes) -> M:
        params = QueryParams(raw.decode("latin-1"))
        data: dict[str, Any] = {}
        for name in params:
            if name in repeated:
                data[name] = params.getlist(name)
            elif name in names:
                data[name] = params[name]
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            errors = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]
            raise RequestValidationError(errors) from None

    remembered = functools.lru_cache(maxsize=CACHED_QUERIES)(validate)

    def parse(raw: bytes) -> M:
        # only short strings are kept: a long one is a one-off (or an attempt to fill memory)
        return remembered(raw) if len(raw) <= MAX_CACHED_QUERY_BYTES else validate(raw)

    return parse


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The model's fields as OpenAPI query parameters (referenced schemas inlined)."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema["properties"].items():
        param: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": _inline(prop, defs),
        }
        if "description" in prop:
            param["description"] = prop["description"]
        out.append(param)
    return out


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            return {**_inline(defs[ref.rsplit("/", 1)[-1]], defs), **rest}
        return {k: _inline(v, defs) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_inline(v, defs) for v in schema]
    return schema
