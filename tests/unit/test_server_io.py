"""`trainjet api` serves on uvloop and httptools where installed, and on asyncio and h11 when
they are missing or TRAINJET_API_FAST_IO=false."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import signal
from collections.abc import AsyncIterator

import pytest
import uvicorn

from tests.stack import free_port
from trainjet.cli import serve
from trainjet.config import ConfigError, Settings

pytestmark = pytest.mark.unit


def test_fast_io_uses_uvloop_and_httptools_where_installed() -> None:
    pytest.importorskip("uvloop")
    pytest.importorskip("httptools")
    assert Settings.from_env().api_fast_io is True
    assert serve.server_io(True) == ("uvloop", "httptools")


def test_without_them_or_switched_off_it_is_asyncio_and_h11(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert serve.server_io(False) == ("asyncio", "h11")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert serve.server_io(True) == ("asyncio", "h11")


def test_the_switch_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAINJET_API_FAST_IO", "false")
    assert Settings.from_env().api_fast_io is False
    monkeypatch.setenv("TRAINJET_API_FAST_IO", "sometimes")
    with pytest.raises(ConfigError, match="TRAINJET_API_FAST_IO"):
        Settings.from_env()


def test_the_api_freezes_what_its_start_up_built() -> None:
    """What the lifespan folded is frozen (left out of later cycle collections) by the time
    the server says it is ready."""
    from fastapi import FastAPI

    built: list[object] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built.extend({"operation": i} for i in range(1000))  # the fold's read models
        yield

    ready: list[int] = []
    config = uvicorn.Config(FastAPI(lifespan=lifespan), port=free_port(), lifespan="on")

    def on_ready() -> None:
        ready.append(gc.get_freeze_count())
        server.should_exit = True

    server = serve._Server(config, on_ready, lambda: None)
    previous = signal.getsignal(signal.SIGHUP)
    gc.unfreeze()
    try:
        asyncio.run(asyncio.wait_for(server.serve(), 60))  # the bound only catches a hang
        assert ready and ready[0] >= len(built)
    finally:
        gc.unfreeze()
        signal.signal(signal.SIGHUP, previous)
