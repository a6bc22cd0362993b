"""`GET /events/model` is the event model itself, and the console takes its event names and
terminal set from it rather than from a list of its own."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import get_args

import httpx
import pytest

from tests.unit.test_read_schemas import Documented
from trainjet.api.app import create_app
from trainjet.config import Settings
from trainjet.core.events import (
    EVENT_TYPES,
    TERMINAL_STATUS,
    TERMINAL_TYPES,
    AnyEvent,
    OperationStatus,
    type_name,
)

pytestmark = pytest.mark.unit
CONSOLE_JS = Path(__file__).resolve().parents[2] / "trainjet" / "api" / "console" / "static" / "js"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(), lease_monitor=False)  # no store needed: the model is code
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://events.test"
    ) as client:
        yield client


async def test_the_route_answers_the_event_models_terminal_set_and_names(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/api/v1/events/model")
    assert response.status_code == 200, response.text
    body = Documented().check("get", "/events/model", response)
    assert body["terminal_types"] == [type_name(t) for t in TERMINAL_TYPES]
    assert body["terminal_status"] == {type_name(t): s.value for t, s in TERMINAL_STATUS.items()}
    assert body["event_types"] == [type_name(t) for t in EVENT_TYPES]
    assert set(body["event_types"]) == {type_name(t) for t in get_args(AnyEvent)}
    assert body["statuses"] == [s.value for s in OperationStatus]
    assert body["active_statuses"] == ["pending", "running"]
    # every status is either live or left by a terminal event
    ended = set(body["terminal_status"].values())
    assert ended == {s.value for s in OperationStatus if s.is_terminal}
    assert ended.isdisjoint(body["active_statuses"])


def test_the_console_names_no_terminal_event_type_of_its_own() -> None:
    """When a stream is over is the server's to say: the JS reads `terminal_types`."""
    terminal = [type_name(t) for t in TERMINAL_TYPES]
    found = [
        f"{path.name}: {name}"
        for path in sorted(CONSOLE_JS.rglob("*.js"))
        for name in terminal
        if re.search(rf"[\"'`]{name}[\"'`]", path.read_text(encoding="utf-8"))
    ]
    assert found == []
