"""A real trainjet API app (every route, every guard) on the in-memory backend, driven over
ASGI: hostile requests need no NATS to prove the edge refuses them, and run fast."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from trainjet.api.app import create_app
from trainjet.config import Settings
from trainjet.system import ApiSystem, memory_api

TOKEN = "s3cret-token"
BASE = "http://127.0.0.1:8000"


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / ".trainjet",
        models_dir=tmp_path / "models",
        strategies_dir=Path("strategies").resolve(),
        market_data_dir=Path("data").resolve(),
        **overrides,
    )


def build_app(settings: Settings) -> FastAPI:
    async def factory(s: Settings) -> ApiSystem:
        return memory_api(s)

    return create_app(settings, factory, lease_monitor=False)


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE, timeout=30) as http:
            yield http


ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def api(tmp_path: Path) -> ClientFactory:
    """`async with api(**settings) as http:` a client of a fresh app with those settings."""

    def open_client(**overrides: Any) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return running(build_app(make_settings(tmp_path, **overrides)))

    return open_client


class LiveServer:
    """The app served by a real uvicorn on a free port, in a thread of this process."""

    def __init__(self, app: FastAPI) -> None:
        import threading

        import uvicorn

        from tests.stack import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="hostile-api", daemon=True)

    def __enter__(self) -> LiveServer:
        import time

        self.thread.start()
        deadline = time.monotonic() + 60  # only catches a hang
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
