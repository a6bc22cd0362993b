"""Request guards that hold for every route, present and future: one ASGI middleware.

Why a middleware and not a dependency per route: a route added later (by anyone) is guarded
without its author thinking of it, and the checks run before FastAPI reads or parses a body,
so a refused request costs nothing and never reaches a handler.

What it enforces:
- Writes (POST, PUT, PATCH, DELETE) that a web page cannot forge. A browser sends a
  cross-site "simple" request (a `text/plain` or form body) without asking first, so a write
  must come from the API's own origin (or no browser at all: no `Origin`), and its body, if
  any, must be `application/json` (a content type a page can only send after a CORS
  preflight, which trainjet answers only for configured origins).
- With `TRAINJET_API_TOKEN` set, every write needs it (and every read under `/api/v1` too with
  `TRAINJET_API_PROTECT_READS`, except `/health`, which probes must reach).
- A bounded body (413): read at most the limit, whatever `Content-Length` claims.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trainjet.api.errors import error_response
from trainjet.config import Settings

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
API_PREFIX = "/api/v1"
OPEN_READS = frozenset({f"{API_PREFIX}/health"})  # liveness probes carry no token
_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


class Refused(Exception):
    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def _normal_host(host: str, scheme: str) -> str:
    """`host[:port]` in lower case, the scheme's default port dropped."""
    host = host.strip().lower()
    default = _DEFAULT_PORTS.get(scheme)
    if default and host.endswith(f":{default}") and not host.endswith("]"):
        host = host[: -len(default) - 1]
    return host


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def token_matches(header: str | None, expected: str) -> bool:
    scheme, _, supplied = (header or "").partition(" ")
    # compare_digest: the time taken must not reveal how much of the token matched
    return scheme.lower() == "bearer" and hmac.compare_digest(
        supplied.strip().encode(), expected.encode()
    )


def _may_have_body(scope: Scope) -> bool:
    return any(key in (b"content-length", b"transfer-encoding") for key, _ in scope["headers"])


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class RequestGuard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.token = settings.api_token
        self.protect_reads = settings.api_protect_reads
        self.max_body = settings.api_max_body_bytes
        self.allowed_origins = {o.rstrip("/").lower() for o in settings.api_cors_origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._check_headers(scope)
            if scope["method"].upper() not in WRITE_METHODS and not _may_have_body(scope):
                # the read hot path: nothing to read or bound, the app gets the channel as is
                await self.app(scope, receive, send)
                return
            body = await self._read_body(scope, receive)
        except Refused as refused:
            response = error_response(refused.status, refused.message, refused.code)
            await response(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    def _check_headers(self, scope: Scope) -> None:
        method = scope["method"].upper()
        path: str = scope.get("path", "")
        if method in WRITE_METHODS:
            self._check_origin(scope)
            self._check_token(scope)
            content_type = _header(scope, b"content-type")
            if content_type is not None and not _is_json(content_type):
                raise Refused(
                    415,
                    f"Unsupported content type {content_type[:100]!r}: send the body as "
                    "'Content-Type: application/json' (or send no body)",
                    "TRAINJET-UnsupportedMediaType",
                )
        elif (
            self.protect_reads
            and method != "OPTIONS"  # a CORS preflight carries no credentials, by design
            and path.startswith(API_PREFIX)
            and path not in OPEN_READS
        ):
            self._check_token(scope)

    def _check_origin(self, scope: Scope) -> None:
        origin = _header(scope, b"origin")
        if origin is None:
            return  # not a browser (curl, the CLI, scripts): nothing to forge
        if origin.rstrip("/").lower() in self.allowed_origins:
            return
        parts = urlsplit(origin.strip())
        scheme = parts.scheme.lower()
        host = _header(scope, b"host") or ""
        # The host (and port) decide, not the scheme: behind a proxy that ends TLS the API
        # sees http while the page it serves is https, on the same host.
        if (
            scheme in ("http", "https")
            and parts.netloc
            and _normal_host(parts.netloc, scheme) == _normal_host(host, scheme)
        ):
            return
        raise Refused(
            403,
            f"Cross-site request refused: Origin {origin[:200]!r} is not this API's origin. "
            "Call the API from its own console or a non-browser client, or list the origin in "
            "TRAINJET_API_CORS_ORIGINS",
            "TRAINJET-CrossSiteRefused",
        )

    def _check_token(self, scope: Scope) -> None:
        if self.token and not token_matches(_header(scope, b"authorization"), self.token):
            raise Refused(
                401,
                "Missing or invalid API token: send 'Authorization: Bearer <token>' with the "
                "value of TRAINJET_API_TOKEN",
                "TRAINJET-Unauthorized",
            )

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        """The whole body, refused past the limit: the declared length is checked first, then
        the bytes actually received (a client may lie or stream without a length)."""
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit() or len(declared.strip()) > 18:
                raise Refused(400, "Invalid Content-Length header", "TRAINJET-BadHeader")
            if int(declared) > self.max_body:
                raise self._too_large()
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Refused(400, "client disconnected", "TRAINJET-Disconnected")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _too_large(self) -> Refused:
        return Refused(
            413,
            f"Request body too large: at most {self.max_body} bytes (TRAINJET_API_MAX_BODY_BYTES)",
            "TRAINJET-PayloadTooLarge",
        )


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body already read, then the real channel (whose
    next message is the client's disconnect, which streaming responses listen for)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def install_guards(app: FastAPI, settings: Settings) -> None:
    """Guard every route of `app`; answer CORS preflights only for configured origins."""
    if settings.api_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.api_cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )
    # added last, so it runs first: a refused request never reaches CORS or a route
    app.add_middleware(RequestGuard, settings=settings)
