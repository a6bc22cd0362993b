"""The error tree's edges: one table each for HTTP (status, codes) and the CLI (exit code)."""

from __future__ import annotations

import httpx
import pytest

from trainjet.api.app import create_app
from trainjet.api.errors import HTTP_ERRORS, http_error
from trainjet.cli import app as cli_app
from trainjet.cli.errors import exit_code
from trainjet.config import Settings
from trainjet.core.errors import (
    ConcurrencyConflict,
    InvalidName,
    NotFound,
    OperationTimeout,
    StoreError,
    StoreTimeout,
    StoreUnavailable,
    TrainjetError,
    Unauthorized,
)
from trainjet.system import ApiSystem, memory_api
from trainjet.training.errors import DataNotFoundError, StrategyNotFoundError


def test_store_errors_are_trainjet_errors() -> None:
    assert issubclass(StoreError, TrainjetError)
    assert isinstance(StoreUnavailable("down"), ConnectionError)  # generic handlers still work
    assert ConcurrencyConflict("moved", expected=1).retryable is False


@pytest.mark.parametrize(
    ("error", "status", "code", "ktrdr"),
    [
        (NotFound("x"), 404, "TRAINJET-NotFound", None),
        (StoreUnavailable("down"), 503, "TRAINJET-StoreUnavailable", None),
        (InvalidName("bad pool"), 400, "TRAINJET-InvalidRequest", None),
        (OperationTimeout("slow"), 503, "TRAINJET-Timeout", None),
        (StrategyNotFoundError("no x.yaml"), 400, "TRAINJET-StrategyNotFound", "CONFIG-StrategyNotFound"),
        (DataNotFoundError("no csv"), 400, "TRAINJET-DataError", "DATA-NotFound"),
    ],
)  # fmt: skip
def test_the_api_table_picks_the_most_specific_class(
    error: TrainjetError, status: int, code: str, ktrdr: str | None
) -> None:
    entry = http_error(error)
    assert (entry.status, entry.code, entry.ktrdr_code) == (status, code, ktrdr)


def test_domain_errors_carry_no_http_status() -> None:
    for cls in HTTP_ERRORS:
        assert not hasattr(cls, "http_status") and not hasattr(cls, "exit_code"), cls


@pytest.mark.parametrize(
    ("error", "code"),
    [(NotFound("x"), 2), (Unauthorized("token"), 2), (StoreUnavailable("down"), 1)],
)
def test_cli_main_ends_a_trainjet_error_with_its_exit_code(
    error: TrainjetError, code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing() -> None:
        raise error

    monkeypatch.setattr(cli_app, "app", failing)
    with pytest.raises(SystemExit) as ended:
        cli_app.main()
    assert ended.value.code == code == exit_code(error)


async def test_a_store_outage_during_a_start_is_a_503_json_with_retry_after() -> None:
    """The store's errors are TrainjetErrors: an outage mid-request is answered by the one
    error table (503, JSON, Retry-After), not by the catch-all 500."""
    system = memory_api(Settings())

    async def down(*_: object, **__: object) -> int:
        raise StoreTimeout("publishing operation_created: NATS did not answer in time")

    system.connection.store.append = down  # type: ignore[method-assign]
    app = create_app(Settings(), lambda _settings: _ready(system), lease_monitor=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.post("/api/v1/dummy/start", json={"iterations": 1})
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["retry-after"].isdigit()
    body = response.json()
    assert body["error"]["code"] == "TRAINJET-StoreUnavailable"
    assert "did not answer in time" in body["detail"]


async def _ready(system: ApiSystem) -> ApiSystem:
    return system
