"""`trainjet api` serves on uvloop and httptools where installed, and on asyncio and h11 when
they are missing or TRAINJET_API_FAST_IO=false."""

from __future__ import annotations

import importlib.util

import pytest

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
