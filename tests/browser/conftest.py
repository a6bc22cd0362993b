"""A real `trainjet serve` (embedded NATS, the API, two local runners) and Debian's Chromium
driven by Playwright, for the console tests.

Chromium is started from `/usr/bin/chromium` (never a downloaded browser); the tests skip,
saying why, only where Playwright or that Chromium cannot be used. Every request the browser
makes is routed through a check: one to any other host than the server is refused and fails
the test that made it, so the console provably loads with nothing from the internet.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.stack import TERMINAL, free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("TRAINJET_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Screenshots for docs/web.md are written only when asked, so a normal run changes no file.
SHOTS = os.environ.get("TRAINJET_SCREENSHOTS")


class Server:
    """`trainjet serve` as a subprocess, with the HTTP calls the tests make beside the browser."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.api = f"{self.base}/api/v1"
        env = {k: v for k, v in os.environ.items() if k != "TRAINJET_NATS_URL"}
        env.update(
            PYTHONPATH=str(ROOT),
            TRAINJET_DATA_DIR=str(workdir / ".trainjet"),
            TRAINJET_MODELS_DIR=str(workdir / "models"),
            TRAINJET_STRATEGIES_DIR=str(ROOT / "strategies"),
            TRAINJET_MARKET_DATA_DIR=str(ROOT / "data"),
            # generous: two loaded CI cores must not make a runner look lost mid-test
            TRAINJET_RUNNER_TTL_SECONDS="60",
            TRAINJET_LEASE_SECONDS="90",
        )
        env.pop("TRAINJET_API_TOKEN", None)
        self.log = (workdir / "serve.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "trainjet", "serve", "--port", str(self.port), "--runners", "2"],
            env=env,
            cwd=workdir,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.http = httpx.Client(base_url=self.api, timeout=30)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"trainjet serve exited: {(workdir / 'serve.log').read_text()}")
            try:
                if self.http.get("/health").json()["runners"]["count"] >= 2:
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.3)
        raise TimeoutError("trainjet serve did not become healthy with two runners")

    def train(self, epochs: int, seed: int = 1, strategy: str = "eurusd_rsi_mlp") -> str:
        answer = self.http.post(
            "/trainings/start", json={"strategy_name": strategy, "epochs": epochs, "seed": seed}
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["operation_id"])

    def operation(self, op_id: str) -> dict[str, Any]:
        return dict(self.http.get(f"/operations/{op_id}").json()["data"])

    def wait_finished(self, op_id: str, timeout: float = 240) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.operation(op_id)
            if info["status"] in TERMINAL:
                return info
            time.sleep(0.5)
        raise TimeoutError(f"{op_id} did not finish in {timeout}s")

    def close(self) -> None:
        self.http.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("console"))
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed (pip install playwright)")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(
            f"no Chromium at {CHROMIUM} (apt-get install chromium, or set TRAINJET_CHROMIUM)"
        )
    with sync_playwright() as pw:
        try:
            chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Error as exc:
            pytest.skip(f"Chromium at {CHROMIUM} cannot be started by Playwright: {exc}")
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    """A fresh page whose every request must go to the server; any other host fails the test."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    foreign: list[str] = []
    allowed = urlsplit(server.base).netloc

    def guard(route: Any) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or parts.netloc == allowed:
            route.continue_()
        else:
            foreign.append(url)
            route.abort()

    context.route("**/*", guard)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not foreign, f"the console requested other hosts: {foreign}"
    assert not errors, f"JavaScript errors on the page: {errors}"


def shoot(page: Any, name: str, full_page: bool = True) -> None:
    if SHOTS:
        target = Path(SHOTS)
        target.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target / f"{name}.png"), full_page=full_page)
