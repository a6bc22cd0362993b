"""The OpenAPI schema documents the error bodies the handlers really send."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from trainjet.api.app import create_app
from trainjet.api.errors import install_error_handlers
from trainjet.api.schemas_errors import ErrorResponse
from trainjet.config import Settings
from trainjet.core.errors import NotFound
from trainjet.training.errors import DataNotFoundError


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app(Settings()).openapi()


def _responses(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return dict(spec["paths"][f"/api/v1{path}"][method]["responses"])


def test_every_error_status_refers_to_the_one_error_model(spec: dict[str, Any]) -> None:
    seen = set()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    seen.add(status)
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (path, method)
    assert seen == {"400", "401", "404", "409", "422", "503"}
    # FastAPI's default 422 body is never sent, so it is not documented either
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_statuses_follow_the_route(spec: dict[str, Any]) -> None:
    assert set(_responses(spec, "post", "/trainings/start")) == {
        "200", "400", "401", "409", "422", "503"}  # fmt: skip
    assert set(_responses(spec, "get", "/operations/{operation_id}")) >= {"404", "503"}
    assert "401" not in _responses(spec, "get", "/operations/{operation_id}")
    assert set(_responses(spec, "post", "/operations/{operation_id}/retry")) >= {
        "400", "401", "404"}  # fmt: skip
    assert set(_responses(spec, "get", "/symbols")) == {"200"}  # reads files, never fails


async def test_the_documented_model_matches_what_the_handlers_send() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/plain")
    async def plain() -> None:
        raise NotFound("Operation not found: x")

    @app.get("/config")
    async def config() -> None:
        raise DataNotFoundError("Data file not found: X_1h.csv", context={"symbol": "X"})

    async def fetch(path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return await http.get(path)

    plain_body = (await fetch("/plain")).json()
    assert ErrorResponse.model_validate(plain_body).detail == "Operation not found: x"
    config_body = (await fetch("/config")).json()
    detail = ErrorResponse.model_validate(config_body).detail
    assert not isinstance(detail, str)
    assert (detail.error_code, detail.context) == ("DATA-NotFound", {"symbol": "X"})
    assert detail.suggestion.startswith("Add the missing SYMBOL_TIMEFRAME.csv")
    with pytest.raises(ValueError, match="extra"):  # drift is caught, not tolerated
        ErrorResponse.model_validate({**plain_body, "unexpected": 1})


def test_trainjet_cli_shows_message_and_suggestion_of_either_detail() -> None:
    from trainjet.cli.client import error_message

    structured = {"detail": {"message": "Data file not found: X_1h.csv", "error_code": "DATA-NotFound",
                             "context": {}, "details": {}, "suggestion": "Add the file."}}  # fmt: skip
    assert error_message(structured) == "Data file not found: X_1h.csv. Add the file."
    assert error_message({"detail": "Operation not found: x"}) == "Operation not found: x"
    assert error_message({"error": {"message": "only here"}}) == "only here"
    assert error_message([1]) == ""
