"""The web console in a real browser (Debian's Chromium via Playwright) against a real
`trainjet serve`: live list, live curves, cancel, compare, promote, runners and offline docs.

Each test also fails on any request to another host than the server and on any JavaScript
error (see conftest.py). With TRAINJET_SCREENSHOTS=DIR the pages are captured for docs/web.md.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.browser.conftest import Server, shoot

pytestmark = pytest.mark.timeout(300)

LIST_LATENCY_S = 1.0  # the promise: a new operation is on the list within a second


def _chart_points(page: Any, chart_id: str) -> int:
    value = page.get_attribute(f"#{chart_id}", "data-points")
    return int(value or 0)


@pytest.fixture(scope="module")
def finished_runs(server: Server) -> list[str]:
    """Two short trainings of one strategy that differ in epochs and seed, run to the end."""
    ids = [server.train(epochs=2, seed=7), server.train(epochs=3, seed=11)]
    for op_id in ids:
        assert server.wait_finished(op_id)["status"] == "completed", server.operation(op_id)
    return ids


def test_list_shows_a_new_operation_within_a_second_without_polling(
    page: Any, server: Server
) -> None:
    list_reads: list[str] = []
    page.on(
        "request",
        lambda r: list_reads.append(r.url) if re.search(r"/api/v1/operations\?", r.url) else None,
    )
    page.goto(server.base + "/")
    page.wait_for_selector("#operations tbody")
    page.wait_for_selector("#page-info")
    page.wait_for_selector('main[data-live="ready"]')  # the list's event stream is open
    list_reads.clear()
    time.sleep(2.0)
    assert not list_reads, f"the list was re-read with nothing changing (polling?): {list_reads}"

    answer = server.http.post("/dummy/start", json={"iterations": 30, "interval_seconds": 0.1})
    started = time.monotonic()  # the API answered: the operation exists in the log
    op_id = answer.json()["data"]["operation_id"]
    page.wait_for_selector(f'#operations tr[data-id="{op_id}"]', timeout=15_000)
    seen_after = time.monotonic() - started
    assert seen_after <= LIST_LATENCY_S, f"the new operation appeared after {seen_after:.2f}s"

    # and its status follows, pushed: it ends completed on the page without a reload
    page.wait_for_selector(
        f'#operations tr[data-id="{op_id}"][data-status="completed"]', timeout=60_000
    )
    # sort by a column, server-side: the header marks it and the rows follow
    page.click('th[data-sort="status"]')
    page.wait_for_selector('th.sorted[data-sort="status"][data-order="desc"]')


def test_compare_overlays_two_finished_runs_with_their_config_diff(
    page: Any, server: Server, finished_runs: list[str]
) -> None:
    page.goto(server.base + "/")
    for op_id in finished_runs:
        page.check(f'#operations tr[data-id="{op_id}"] input[type="checkbox"]')
    page.click("#compare-selected")
    page.wait_for_selector("#config-diff")
    for chart in ("compare-batch-loss", "compare-epoch-val-loss", "compare-epoch-val-accuracy"):
        page.wait_for_selector(f'#{chart}[data-series="2"]')
        assert _chart_points(page, chart) > 0
    # the epoch axis spans the longer run: 3 epochs, one run with 2
    assert _chart_points(page, "compare-epoch-val-loss") == 3
    paths = page.eval_on_selector_all(
        "#config-diff tr[data-path]", "rows => rows.map(r => r.dataset.path)"
    )
    assert any("seed" in p for p in paths), paths
    assert any("epochs" in p for p in paths), paths
    headers = page.inner_text("#compare-metrics")
    assert "Best val accuracy" in headers
    shoot(page, "compare")


def test_operation_page_curves_grow_live_and_cancel_ends_it(page: Any, server: Server) -> None:
    op_id = server.train(epochs=200, seed=3)
    page.goto(f"{server.base}/#/operations/{op_id}")
    page.wait_for_selector("#chart-batch-loss[data-points]")
    page.wait_for_function(
        "() => Number(document.querySelector('#chart-batch-loss').dataset.points) > 0",
        timeout=120_000,
    )
    first = _chart_points(page, "chart-batch-loss")
    page.wait_for_function(
        f"() => Number(document.querySelector('#chart-batch-loss').dataset.points) > {first}",
        timeout=60_000,
    )
    page.wait_for_selector("#epochs tr.best", timeout=120_000)  # one epoch done, marked best
    page.wait_for_function(
        "() => Number(document.querySelector('#chart-epoch-loss').dataset.points) >= 2",
        timeout=120_000,
    )
    assert "epoch" in page.inner_text("#epoch-batch")
    shoot(page, "operation")

    page.click("#cancel")
    page.wait_for_selector('h1 .badge[data-status="cancelled"]', timeout=60_000)
    assert server.operation(op_id)["status"] == "cancelled"
    assert page.is_disabled("#cancel")
    page.wait_for_selector('#timeline li[data-type="operation_cancelled"]')

    page.click("#audit-button")
    page.wait_for_selector("#audit .ok")
    assert "identical" in page.inner_text("#audit")


def test_models_page_lists_the_models_and_the_runs_that_made_them(
    page: Any, server: Server, finished_runs: list[str]
) -> None:
    page.goto(f"{server.base}/#/models")
    for op_id in finished_runs:
        page.wait_for_selector(f'#models a[href="#/operations/{op_id}"]', timeout=30_000)
    shoot(page, "models")


def test_promote_changes_what_predict_serves(
    page: Any, server: Server, finished_runs: list[str]
) -> None:
    spec = server.http.get("/../../openapi.json").json()
    if not any(re.fullmatch(r"/api/v1/models/\{[^}]+\}/versions", p) for p in spec["paths"]):
        pytest.skip("this server has no model versions endpoint (GET /models/{name}/versions)")
    name = "eurusd_rsi_mlp"
    versions = server.http.get(f"/models/{name}/versions").json()["data"]
    # the version not served now (the runs may finish in either order: newest is served)
    older = next(v for v in versions if not v["served"] and v["operation_id"] in finished_runs)
    before = server.http.post("/models/predict", json={"model_name": name, "symbol": "EURUSD"})
    assert before.status_code == 200, before.text

    page.goto(f"{server.base}/#/models")
    row = f'section[data-model="{name}"] tr[data-version="{older["version"]}"]'
    page.wait_for_selector(row)
    page.click(f"{row} button.promote")
    page.wait_for_selector(f"{row}.best", timeout=30_000)
    shoot(page, "models")

    promoted = {v["version"]: v for v in server.http.get(f"/models/{name}/versions").json()["data"]}
    assert promoted[older["version"]]["promoted"] and promoted[older["version"]]["served"]
    after = server.http.post(
        "/models/predict", json={"model_name": name, "symbol": "EURUSD"}
    ).json()
    models = server.http.get("/models").json()["models"]
    served = next(m for m in models if m["model_id"] == after["model_id"])
    assert served["operation_id"] == older["operation_id"]
    assert after["model_id"] != before.json()["model_id"]


def test_runners_page_lists_the_live_runners(page: Any, server: Server) -> None:
    page.goto(f"{server.base}/#/runners")
    page.wait_for_selector("#runners tr[data-runner]")
    runners = server.http.get("/runners").json()["data"]
    shown = page.eval_on_selector_all(
        "#runners tr[data-runner]", "rows => rows.map(r => r.dataset.runner)"
    )
    assert sorted(shown) == sorted(r["runner_id"] for r in runners)
    assert "ago" in page.inner_text("#runners")
    shoot(page, "runners")


def _first_row_agrees(page: Any, server: Server, sort: str, order: str) -> list[dict[str, Any]]:
    """The server's page by `sort`, once the console's first row is the server's first row.
    The running operation's best accuracy rises while the page refreshes, so the order can
    change between two reads: the server is read again each time, not once."""
    params = {"sort": sort, "order": order, "limit": 100}
    deadline = time.monotonic() + 60
    while True:
        expected: list[dict[str, Any]] = server.http.get("/operations", params=params).json()[
            "data"
        ]
        shown = page.eval_on_selector("#operations tr[data-id]", "row => row.dataset.id")
        if shown == expected[0]["operation_id"]:
            return expected
        assert time.monotonic() < deadline, f"console shows {shown} first, server {expected[0]}"
        time.sleep(0.25)


def test_list_filters_and_sorts_on_the_server(
    page: Any, server: Server, finished_runs: list[str]
) -> None:
    # one still running, for the picture and for the status filter
    running = server.train(epochs=200, seed=5)
    page.goto(server.base + "/")
    page.wait_for_selector(
        f'#operations tr[data-id="{running}"][data-status="running"]', timeout=60_000
    )
    everything = server.http.get("/operations", params={"limit": 100}).json()["data"]
    assert len(page.query_selector_all("#operations tr[data-id]")) == len(everything)

    page.select_option('select[name="status"]', "completed")
    page.wait_for_selector(f'#operations tr[data-id="{running}"]', state="detached")
    statuses = page.eval_on_selector_all(
        "#operations tr[data-id]", "rows => rows.map(r => r.dataset.status)"
    )
    assert statuses and set(statuses) == {"completed"}
    page.select_option('select[name="status"]', "")

    page.click('th[data-sort="best_val_accuracy"]')
    page.wait_for_selector('th.sorted[data-sort="best_val_accuracy"][data-order="desc"]')
    expected = _first_row_agrees(page, server, sort="best_val_accuracy", order="desc")
    best = [op["best_val_accuracy"] for op in expected if op["best_val_accuracy"] is not None]
    assert best == sorted(best, reverse=True) and len(best) >= 2
    page.click('th[data-sort="created_at"]')
    page.wait_for_selector('th.sorted[data-sort="created_at"][data-order="desc"]')
    page.wait_for_selector("#operations tr[data-id] .bar")
    shoot(page, "operations")
    server.http.post(f"/operations/{running}/cancel", json={})


def test_docs_and_redoc_render_offline(page: Any, server: Server) -> None:
    page.goto(f"{server.base}/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert "trainjet" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector('.opblock-summary-path[data-path="/api/v1/operations"]')
    shoot(page, "docs", full_page=False)
    page.goto(f"{server.base}/redoc")
    page.wait_for_selector("h1", timeout=30_000)
    assert "trainjet" in page.inner_text("h1")
