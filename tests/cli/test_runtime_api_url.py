"""The CLI finds a local serve's API the way it finds its NATS: from runtime.json."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trainjet.cli.app import app
from trainjet.cli.runtime import resolve_api_url, write_runtime
from trainjet.config import Settings


def test_a_live_serve_s_api_url_is_used_when_none_was_named(tmp_path: Path) -> None:
    write_runtime(tmp_path, nats_url="nats://127.0.0.1:1", api_url="http://127.0.0.1:8123")
    settings = Settings(data_dir=tmp_path)
    assert resolve_api_url(settings, explicit=False).api_url == "http://127.0.0.1:8123"
    assert resolve_api_url(settings, explicit=True).api_url == settings.api_url


def test_a_dead_serve_s_record_is_ignored(tmp_path: Path) -> None:
    path = write_runtime(tmp_path, api_url="http://127.0.0.1:8123")
    path.write_text(path.read_text().replace(f'"pid": {os.getpid()}', '"pid": 999999999'))
    assert resolve_api_url(Settings(data_dir=tmp_path), explicit=False).api_url.endswith(":8000")


def test_the_cli_calls_the_recorded_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing listens on the recorded port: the error names it, proving the CLI dialled it.
    monkeypatch.delenv("TRAINJET_API_URL", raising=False)
    write_runtime(tmp_path, api_url="http://127.0.0.1:9")
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "ops", "list"])
    assert result.exit_code != 0
    assert "127.0.0.1:9" in str(result.exception or "") + result.output
