"""`GET /indicators/` and `POST /indicators/calculate` in ktrdr's shapes, over the app's real
routing and error handlers (ASGI, no NATS needed: these routes read only the market data).

The values must be those the training pipeline computes for the same strategy indicator, so the
reference here is the strategy normaliser plus the training's own loading and indicator step.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import httpx
import pytest

from trainjet.api.app import create_app
from trainjet.config import Settings
from trainjet.training.data.ohlcv import load_ohlcv
from trainjet.training.features.build import compute_outputs
from trainjet.training.indicators.registry import REGISTRY
from trainjet.training.strategy.validation import normalise

DATA = Path(__file__).resolve().parents[2] / "data"
PARAM_KEYS = {"name", "type", "description", "default", "min_value", "max_value", "options"}


async def _backend(_: Settings) -> Any:
    raise AssertionError("the indicator routes must not need the backend")


@pytest.fixture
async def http() -> Any:
    app = create_app(Settings(market_data_dir=DATA), backend_factory=_backend)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as client:
        yield client


def rsi_body(**changes: Any) -> dict[str, Any]:
    return {
        "symbol": "EURUSD",
        "timeframe": "1h",
        "start_date": "2017-05-01",
        "end_date": "2017-05-31",
        "indicators": [
            {"id": "RSIIndicator", "parameters": {"period": 14}, "output_name": "RSI_14"}
        ],
        **changes,
    }


async def test_catalogue_shape(http: httpx.AsyncClient) -> None:
    response = await http.get("/indicators/")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert {d["name"] for d in body["data"]} == set(REGISTRY)
    for entry in body["data"]:
        assert {"id", "name", "description", "type", "parameters"} <= set(entry)
        assert entry["id"] == entry["name"] + "Indicator"
        assert entry["type"] in {"momentum", "trend", "volatility", "volume"}
        for param in entry["parameters"]:
            assert set(param) == PARAM_KEYS
    sar = next(d for d in body["data"] if d["name"] == "ParabolicSAR")
    assert [p["name"] for p in sar["parameters"]] == ["initial_af", "step_af", "max_af"]
    source = next(p for p in body["data"][0]["parameters"] if p["name"] == "source")
    assert source["options"][:4] == ["close", "open", "high", "low"]


async def test_calculate_equals_what_training_computes(http: httpx.AsyncClient) -> None:
    body = rsi_body(
        indicators=[
            {"id": "RSIIndicator", "parameters": {"period": 7}, "output_name": "RSI_7"},
            {"id": "macd", "parameters": {"fast_period": 5}, "output_name": "MACD_5"},
            {"id": "zigzag", "parameters": {"threshold": 0.004}},
        ]
    )
    response = await http.post("/indicators/calculate", json=body)
    assert response.status_code == 200, response.text
    got = response.json()
    assert set(got) == {"success", "dates", "indicators", "metadata"}
    assert set(got["indicators"]) == {
        "RSI_7",
        "MACD_5",
        "MACD_5.signal",
        "MACD_5.histogram",
        "zigzag",
        "zigzag.direction",
        "zigzag.distance",
    }
    # the same indicators as a strategy declares them, through the training's own steps
    strategy = {
        "name": "s",
        "indicators": [
            {"name": "rsi", "feature_id": "RSI_7", "period": 7},
            {"name": "macd", "feature_id": "MACD_5", "fast_period": 5},
            {"name": "zigzag", "threshold": 0.004},
        ],
        "fuzzy_sets": {},
    }
    specs = normalise(strategy)[0].indicators
    prices = load_ohlcv("EURUSD", "1h", DATA, "2017-05-01", "2017-05-31")
    expected = compute_outputs(prices, specs)
    assert got["dates"] == [ts.isoformat() for ts in prices.index]
    for name, values in got["indicators"].items():
        spec_id, _, output = name.partition(".")
        series = expected[spec_id][output or next(iter(expected[spec_id]))]
        assert [None if math.isnan(x) else x for x in series.tolist()] == values, name
    assert got["indicators"]["RSI_7"][:7] == [None] * 7 and got["indicators"]["RSI_7"][7] > 0
    meta = got["metadata"]
    assert meta["total_items"] == len(prices) and meta["total_pages"] == 1
    assert meta["columns"]["MACD_5.signal"]["parameters"]["fast_period"] == 5


async def test_paging(http: httpx.AsyncClient) -> None:
    whole = (await http.post("/indicators/calculate?page_size=10000", json=rsi_body())).json()
    n = whole["metadata"]["total_items"]
    assert n == len(whole["dates"]) > 200
    pages = []
    for page in (1, 2, 3):
        response = await http.post(
            f"/indicators/calculate?page={page}&page_size=100", json=rsi_body()
        )
        assert response.status_code == 200
        pages.append(response.json())
    last = math.ceil(n / 100)
    assert [p["metadata"]["current_page"] for p in pages] == [1, 2, 3]
    assert all(p["metadata"]["total_pages"] == last for p in pages)
    assert (pages[0]["metadata"]["has_prev"], pages[0]["metadata"]["has_next"]) == (False, True)
    assert pages[1]["metadata"]["has_prev"] is True
    assert pages[1]["dates"] == whole["dates"][100:200]
    assert pages[1]["indicators"]["RSI_14"] == whole["indicators"]["RSI_14"][100:200]
    tail = (
        await http.post(f"/indicators/calculate?page={last}&page_size=100", json=rsi_body())
    ).json()
    assert tail["metadata"]["has_next"] is False
    assert len(tail["dates"]) == tail["metadata"]["points"] == n - 100 * (last - 1)


@pytest.mark.parametrize(
    ("query", "changes", "status", "says"),
    [
        ("", {"indicators": [{"id": "NoSuch"}]}, 400, "unknown indicator; use one of"),
        (
            "",
            {"indicators": [{"id": "RSI", "parameters": {"period": 0}}]},
            400,
            "parameter 'period' has invalid value 0 (expected an integer from 2 to 500)",
        ),
        (
            "",
            {"indicators": [{"id": "RSI", "parameters": {"perod": 3}}]},
            400,
            "unknown parameter 'perod' (valid: period, source)",
        ),
        (
            "",
            {"indicators": [{"id": "RSI"}, {"id": "rsi", "output_name": "RSI"}]},
            400,
            "output_name 'RSI' is used twice",
        ),
        ("", {"indicators": []}, 422, "indicators"),
        ("", {"symbol": "NOPE"}, 400, "Data file not found"),
        ("", {"symbol": "../etc"}, 400, "Invalid symbol"),
        ("", {"timeframe": "7x"}, 400, "Invalid timeframe"),
        ("", {"start_date": "2030-01-01", "end_date": "2030-02-01"}, 400, "No bars in"),
        ("", {"start_date": "yesterday-ish"}, 400, "Bad start_date"),
        ("?page=0", {}, 422, "page"),
        ("?page_size=10001", {}, 422, "page_size"),
        ("?page=99&page_size=1000", {}, 400, "page 99 is past the last page (1 page(s)"),
    ],
)
async def test_bad_input_is_a_clear_4xx(
    http: httpx.AsyncClient, query: str, changes: dict[str, Any], status: int, says: str
) -> None:
    response = await http.post(f"/indicators/calculate{query}", json=rsi_body(**changes))
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert says in body["error"]["message"]  # `detail` is ktrdr's object for data errors
