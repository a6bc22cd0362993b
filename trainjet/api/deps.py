"""Request dependencies: the backend of this app, and the bearer-token guard."""

from __future__ import annotations

from fastapi import Request

from trainjet.api.guards import token_matches
from trainjet.core.errors import ServiceUnavailable, Unauthorized
from trainjet.system import ApiSystem

# Dependencies are `async def` on purpose: FastAPI runs a plain `def` dependency in a worker
# thread, a hop that costs more than everything else a read does.


async def get_backend(request: Request) -> ApiSystem:
    return backend_of(request)


def backend_of(request: Request) -> ApiSystem:
    backend: ApiSystem | None = getattr(request.app.state, "backend", None)
    if backend is None:
        raise ServiceUnavailable("trainjet API is starting: NATS connection not ready yet")
    return backend


async def require_token(request: Request) -> None:
    """Mutating endpoints need `Authorization: Bearer <TRAINJET_API_TOKEN>` when one is set."""
    expected: str | None = request.app.state.settings.api_token
    if not expected:
        return
    # The app-wide guard (trainjet.api.guards) already checks every write; this stays for
    # routes mounted on another app.
    if not token_matches(request.headers.get("authorization"), expected):
        raise Unauthorized(
            "Missing or invalid API token: send 'Authorization: Bearer <token>' with the value "
            "of TRAINJET_API_TOKEN"
        )
