"""Answer at once, with 503 and Retry-After, when the event store's connection is down.

Without this a start or `/events` during an outage waits for the JetStream request timeout
(5 s) and only then fails. Requests that need NATS (anything that writes, the raw event
history and live streams) are refused while the client reports no connection; reads served
from the in-memory projections (`GET /operations`, ...) keep answering with what is known.
`/health` is never refused here: it says itself what is down.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from trainjet.api.errors import store_unavailable

_READS_FROM_STORE = ("/events", "/stream")
_SAFE = ("GET", "HEAD", "OPTIONS")


def needs_store(method: str, path: str) -> bool:
    if not path.startswith("/api/v1/") or path.endswith("/health"):
        return False
    return method not in _SAFE or path.endswith(_READS_FROM_STORE)


class OutageGuard:
    """Plain ASGI middleware (not BaseHTTPMiddleware, which buffers live streams)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and needs_store(scope["method"], scope["path"]):
            backend: Any = getattr(scope["app"].state, "backend", None)
            connected = getattr(backend, "connected", None)
            if connected is not None and not connected():
                response = store_unavailable(backend.nats_url, "the connection is down")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
