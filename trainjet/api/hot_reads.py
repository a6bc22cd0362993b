"""The reads clients poll (`GET /operations`, `GET /operations/{id}`), matched and answered
ahead of FastAPI's routing by one route placed first in the app's route list.

Why: FastAPI matches an included router lazily, router after router, with scope bookkeeping
for every candidate it tries, and then resolves the route's parameters and dependencies
through its generic machinery. For these two reads that was about four fifths of a request's
CPU time in the app, the reads themselves the rest, and under load they reached well under
0.7 of a bare FastAPI route's rate. Here the routes' own path patterns match them and a plain
`request -> response` handler answers.

What does not change:
- The FastAPI routes stay registered: OpenAPI documents them as before, and they answer
  whatever this route passes on.
- Every middleware (token and origin guards, the outage guard, CORS) and every exception
  handler wraps this route as it wraps the others: they sit outside the router.
- A route registered before a hot one that would take some of its paths keeps them: a literal
  path is passed on (`/operations/compare`, `/operations/events-stream`); a route with
  parameters whose paths overlap a hot one is refused when the app is built.
- With FastAPI's own telemetry on, or a root path, requests take the ordinary way, so spans
  are named by route and paths are resolved as FastAPI resolves them.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.convertors import StringConvertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class _Read:
    pattern: re.Pattern[str]
    handler: Handler
    route: APIRoute  # what `scope["route"]` names, as FastAPI's own matching would
    has_params: bool


class HotReads(BaseRoute):
    """GET requests for the hot paths, answered by their handlers; nothing else matches."""

    def __init__(self, reads: list[_Read], passed_on: frozenset[str]) -> None:
        self.reads = reads
        self.passed_on = passed_on

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope.get("root_path")
            or "fastapi.telemetry" in scope
        ):
            return Match.NONE, {}
        path: str = scope["path"]
        # `$` in a route's pattern also matches before one trailing newline
        if path in self.passed_on or (path.endswith("\n") and path[:-1] in self.passed_on):
            return Match.NONE, {}
        for read in self.reads:
            found = read.pattern.match(path)
            if found is not None:
                params = found.groupdict() if read.has_params else {}
                return Match.FULL, {
                    "endpoint": read.handler,
                    "path_params": params,
                    "route": read.route,
                }
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler: Handler = scope["endpoint"]
        response = await handler(Request(scope, receive))
        await response(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        # the FastAPI routes build these URLs (their names are theirs)
        raise NoMatchFound(name, path_params)


def _methods(context: RouteContext) -> set[str] | None:
    methods = context.methods
    return None if methods is None else set(methods)


def _overlaps(earlier: RouteContext, read: RouteContext) -> bool:
    """Whether a route with parameters could take some of the hot route's paths."""
    pattern, template = getattr(earlier, "path_regex", None), earlier.path_format
    if pattern is None or template is None:
        return False
    return bool(pattern.match(read.path_format or "")) or bool(read.path_regex.match(template))


def hot_reads(
    routes: Iterable[BaseRoute], handlers: Mapping[Callable[..., Any], Handler]
) -> HotReads:
    """A `HotReads` for the GET routes of `routes` whose endpoint has a handler in `handlers`,
    passing on what routes registered before them take (see the module's docstring)."""
    reads: list[_Read] = []
    passed_on: set[str] = set()
    earlier: list[RouteContext] = []
    for context in iter_route_contexts(list(routes)):
        route = context.original_route
        endpoint = context.endpoint
        handler = handlers.get(endpoint) if endpoint and isinstance(route, APIRoute) else None
        if handler is None or _methods(context) != {"GET"}:
            earlier.append(context)
            continue
        assert isinstance(route, APIRoute)
        convertors = context.param_convertors
        if not all(isinstance(c, StringConvertor) for c in convertors.values()):
            raise ValueError(f"hot read {context.path}: only plain string parameters")
        for before in earlier:
            methods = _methods(before)
            if methods is not None and "GET" not in methods:
                continue  # FastAPI goes on past a route of other methods, to this one
            if not getattr(before, "param_convertors", None):
                if before.path is not None and context.path_regex.match(before.path):
                    passed_on.add(before.path)
            elif _overlaps(before, context):
                raise ValueError(
                    f"hot read {context.path} would take paths of {before.path_format}, "
                    "registered before it"
                )
        reads.append(_Read(context.path_regex, handler, route, bool(convertors)))
        earlier.append(context)
    missing = len(handlers) - len(reads)
    if missing:
        raise ValueError(f"{missing} hot read handler(s) name no GET route of the app")
    return HotReads(reads, frozenset(passed_on))


def install_hot_reads(app: FastAPI, handlers: Mapping[Callable[..., Any], Handler]) -> None:
    """Put the hot reads first in `app`'s routes; call it once every route is registered."""
    app.router.routes.insert(0, hot_reads(app.router.routes, handlers))
