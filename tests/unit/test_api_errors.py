"""Error translation at the HTTP boundary: clear 4xx bodies, never a 500 for client input."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from pydantic import BaseModel, field_validator

from trainjet.api.errors import install_error_handlers
from trainjet.core.errors import Conflict, InvalidRequest, NotFound


class Body(BaseModel):
    name: str

    @field_validator("name")
    @classmethod
    def no_spaces(cls, value: str) -> str:
        if " " in value:
            raise ValueError("name must not contain spaces")
        return value


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/things")
    async def things(body: Body) -> dict[str, str]:
        return {"name": body.name}

    @app.get("/missing")
    async def missing() -> None:
        raise NotFound("Operation not found: x")

    @app.get("/odd")
    async def odd() -> None:
        raise InvalidRequest("odd input", details={"value": float("nan"), "limit": float("inf")})

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError("a bug")

    @app.get("/conflict")
    async def conflict() -> None:
        raise Conflict("already there")

    return app


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=make_app()), base_url="http://t")


async def test_validator_errors_are_422_with_a_readable_message() -> None:
    async with client() as http:
        response = await http.post("/things", json={"name": "a b"})
    assert response.status_code == 422
    body = response.json()
    assert body["success"] is False
    assert "name: Value error, name must not contain spaces" in body["detail"]
    assert body["error"]["code"] == "TRAINJET-ValidationError"


async def test_domain_errors_keep_their_status_and_message() -> None:
    async with client() as http:
        missing = await http.get("/missing")
        assert missing.status_code == 404
        assert missing.json()["detail"] == "Operation not found: x"
        assert (await http.get("/conflict")).status_code == 409
        assert (await http.get("/nowhere")).status_code == 404


async def test_error_bodies_are_strict_json_even_with_non_finite_details() -> None:
    async with client() as http:
        response = await http.get("/odd")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"value": "nan", "limit": "inf"}


async def test_an_unexpected_failure_is_a_json_500() -> None:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/bug")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "TRAINJET-Internal"
