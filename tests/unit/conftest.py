"""The API on the in-memory adapters, for the unit tests that call it over HTTP.

A test module that needs other settings or another base URL overrides `api_settings` or
`api_base_url`; `backend` is the running `ApiSystem` the app serves from.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from trainjet.api.app import create_app
from trainjet.config import Settings
from trainjet.system import ApiSystem, memory_api


@pytest.fixture
def api_settings() -> Settings:
    return Settings()


@pytest.fixture
def api_base_url() -> str:
    return "http://trainjet.test"


@pytest.fixture
async def backend(api_settings: Settings) -> AsyncIterator[ApiSystem]:
    system = memory_api(api_settings)
    await system.start(lease_monitor=False)
    try:
        yield system
    finally:
        await system.close()


@pytest.fixture
async def http(
    backend: ApiSystem, api_settings: Settings, api_base_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(api_settings, lease_monitor=False)
    app.state.backend = backend  # the lifespan's job, done here without NATS
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=api_base_url
    ) as client:
        yield client
