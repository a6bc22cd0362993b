"""Writes a web page cannot forge, and the token on every write: checked for every mutating
route the app has, enumerated from the app itself, so a route added later is covered too."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.routing import BaseRoute, Route

from tests.hostile.conftest import TOKEN, ClientFactory, build_app, make_settings, running

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
EVIL = "https://evil.example"


def app_routes(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route, through included routers (FastAPI >= 0.16x keeps them
    as lazy branches with their prefix; older versions list the routes flat)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from app_routes(inner.routes, prefix + getattr(context, "prefix", ""))
        elif isinstance(route, Route) and route.methods:
            for method in route.methods:
                yield method, prefix + route.path


def write_routes() -> list[tuple[str, str]]:
    app = build_app(make_settings(Path("/nonexistent")))
    # any value for the path parameters: the guard must answer before the route does
    return sorted(
        {(m, re.sub(r"\{[^}]+\}", "x", path)) for m, path in app_routes(app.routes) if m in WRITES}
    )


WRITE_ROUTES = write_routes()


def test_the_enumeration_finds_every_kind_of_write() -> None:
    paths = {path for _, path in WRITE_ROUTES}
    assert {"/api/v1/dummy/start", "/api/v1/models/predict", "/api/v1/trainings/start"} <= paths
    assert ("DELETE", "/api/v1/operations/x") in WRITE_ROUTES
    assert len(WRITE_ROUTES) >= 9


def refused(response: httpx.Response, status: int) -> bool:
    body = response.json()
    return response.status_code == status and body["success"] is False and bool(body["detail"])


@pytest.mark.parametrize("token", [None, TOKEN], ids=["no-token", "token"])
async def test_every_write_refuses_a_cross_site_simple_request(
    api: ClientFactory, token: str | None
) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"} if token else {}
    async with api(api_token=token) as http:
        for method, path in WRITE_ROUTES:
            # what a page's <form> or fetch(no-cors) sends without asking: no preflight
            for content_type, body in (
                ("text/plain", '{"iterations": 1}'),
                ("application/x-www-form-urlencoded", "iterations=1"),
                ("multipart/form-data; boundary=x", "--x--"),
            ):
                headers = {"Origin": EVIL, "Content-Type": content_type, **auth}
                r = await http.request(method, path, content=body, headers=headers)
                assert refused(r, 403), (method, path, content_type, r.status_code)
            # even JSON, from another site, is refused (token or not: a browser may hold it)
            r = await http.request(method, path, json={}, headers={"Origin": EVIL, **auth})
            assert refused(r, 403), (method, path)
            r = await http.request(method, path, json={}, headers={"Origin": "null", **auth})
            assert refused(r, 403), (method, path, "null origin")


@pytest.mark.parametrize("token", [None, TOKEN], ids=["no-token", "token"])
async def test_every_write_refuses_a_body_that_is_not_json(
    api: ClientFactory, token: str | None
) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"} if token else {}
    async with api(api_token=token) as http:
        for method, path in WRITE_ROUTES:
            for content_type in ("text/plain", "application/x-www-form-urlencoded"):
                r = await http.request(
                    method, path, content=b"{}", headers={"Content-Type": content_type, **auth}
                )
                assert refused(r, 415), (method, path, content_type, r.status_code)
                assert "application/json" in r.json()["detail"]


async def test_same_origin_and_non_browser_writes_pass_the_guard(api: ClientFactory) -> None:
    async with api() as http:
        for origin in (None, "http://127.0.0.1:8000", "HTTP://127.0.0.1:8000/"):
            headers = {"Origin": origin} if origin else {}
            r = await http.post(
                "/api/v1/dummy/start",
                json={"iterations": 1, "interval_seconds": 0},
                headers=headers,
            )
            assert r.status_code == 200, (origin, r.text)
        # a write that takes no body may send none, with no content type at all
        op_id = r.json()["data"]["operation_id"]
        r = await http.post(f"/api/v1/operations/{op_id}/retry")
        assert r.status_code == 400 and "still" in r.json()["detail"]  # reached the route
        r = await http.post(
            "/api/v1/dummy/start", json={}, headers={"Origin": "http://127.0.0.1:9"}
        )
        assert refused(r, 403)  # another port is another origin


async def test_a_configured_origin_may_write_and_gets_cors_headers(api: ClientFactory) -> None:
    console = "https://console.example.com"
    async with api(api_cors_origins=(console,)) as http:
        preflight = await http.options(
            "/api/v1/dummy/start",
            headers={"Origin": console, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.headers["access-control-allow-origin"] == console
        r = await http.post(
            "/api/v1/dummy/start", json={"iterations": 1}, headers={"Origin": console}
        )
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == console
        evil = await http.options(
            "/api/v1/dummy/start", headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in evil.headers


async def test_cors_is_off_unless_configured(api: ClientFactory) -> None:
    async with api() as http:
        r = await http.get("/api/v1/operations", headers={"Origin": EVIL})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


async def test_with_a_token_every_write_needs_it(api: ClientFactory) -> None:
    async with api(api_token=TOKEN) as http:
        for method, path in WRITE_ROUTES:  # predict and validate included
            for auth in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                r = await http.request(method, path, json={}, headers=auth)
                assert refused(r, 401), (method, path, auth)
        ok = await http.post(
            "/api/v1/strategies/validate/x", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert ok.status_code in (400, 404)  # past the guard, the route answers
        assert (await http.get("/api/v1/operations")).status_code == 200  # reads stay open


async def test_reads_can_be_protected_too_but_not_health(api: ClientFactory) -> None:
    async with api(api_token=TOKEN, api_protect_reads=True) as http:
        for path in (
            "/api/v1/operations",
            "/api/v1/models",
            "/api/v1/strategies",
            "/api/v1/runners",
        ):
            assert refused(await http.get(path), 401), path
            r = await http.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert r.status_code == 200, path
        preflight = await http.options("/api/v1/operations")
        assert preflight.status_code != 401  # preflights carry no credentials
        health = await http.get("/api/v1/health")
        assert health.status_code == 200
        assert health.json()["orchestrator"]["auth_required_for_reads"] is True


async def test_a_route_added_later_is_guarded_without_asking(tmp_path: Path) -> None:
    app = build_app(make_settings(tmp_path, api_token=TOKEN))

    @app.post("/api/v1/tags/{name}")  # what another part of trainjet might add tomorrow
    async def add_tag(name: str) -> dict[str, str]:
        return {"tag": name}

    async with running(app) as http:
        assert refused(await http.post("/api/v1/tags/a", json={}), 401)
        r = await http.post(
            "/api/v1/tags/a",
            content="x",
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/plain"},
        )
        assert refused(r, 415)
        r = await http.post(
            "/api/v1/tags/a", json={}, headers={"Authorization": f"Bearer {TOKEN}", "Origin": EVIL}
        )
        assert refused(r, 403)
        r = await http.post("/api/v1/tags/a", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200
