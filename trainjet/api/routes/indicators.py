"""`/indicators`: ktrdr's indicator catalogue and calculation endpoints.

The catalogue is the registry's own parameter specs (the ones strategy validation checks), and
the calculation runs the training feature code (`services/indicators.py`), so what a user
inspects here is what a model trained on the same range saw. Loading a CSV and computing
indicators is blocking pandas work, so it runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from trainjet.api.encoding import json_response
from trainjet.api.schemas import ErrorBody
from trainjet.config import Settings
from trainjet.training.indicators.registry import indicator_catalogue

router = APIRouter(prefix="/indicators", tags=["Indicators"])


class ParameterInfo(BaseModel):
    name: str
    type: str
    description: str
    default: Any
    min_value: float | None
    max_value: float | None
    options: list[str] | None


class IndicatorInfo(BaseModel):
    id: str = Field(description="ktrdr's class name, e.g. RSIIndicator")
    name: str
    description: str
    type: str = Field(description="Category: momentum, trend, volatility or volume")
    category: str
    parameters: list[ParameterInfo]
    outputs: list[str] = Field(description="Output names; the first is the primary one")
    aliases: list[str] = Field(description="Other accepted spellings (any case, `_` ignored)")


class IndicatorListResponse(BaseModel):
    success: bool
    data: list[IndicatorInfo]


class IndicatorItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=100, examples=["RSIIndicator"])
    parameters: dict[str, Any] = Field(default_factory=dict, examples=[{"period": 14}])
    output_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        examples=["RSI_14"],
        description="Name of the primary output (default: the id); other outputs are "
        "`<output_name>.<output>`",
    )


class CalculateRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # ktrdr clients may send more; ignore it

    symbol: str = Field(min_length=1, max_length=20, examples=["EURUSD"])
    timeframe: str = Field(min_length=1, max_length=10, examples=["1h"])
    indicators: list[IndicatorItem] = Field(min_length=1, max_length=50)
    start_date: str | None = Field(default=None, max_length=40, examples=["2017-06-01"])
    end_date: str | None = Field(default=None, max_length=40, examples=["2017-06-30"])


class CalculateResponse(BaseModel):
    success: bool
    dates: list[str]
    indicators: dict[str, list[float | None]]
    metadata: dict[str, Any]


@router.get("/", response_model=IndicatorListResponse)
async def list_indicators() -> Response:
    """Every indicator with its parameters, defaults and ranges."""
    return json_response({"success": True, "data": indicator_catalogue()})


@router.post(
    "/calculate",
    response_model=CalculateResponse,
    responses={
        400: {
            "model": ErrorBody,
            "description": "Unknown indicator or data, bad parameter, "
            "empty range or a page past the last",
        },
        422: {"model": ErrorBody, "description": "Malformed body or query"},
    },
)
async def calculate_indicators(
    body: CalculateRequest,
    request: Request,
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Page, from 1")] = 1,
    page_size: Annotated[int, Query(ge=1, le=10_000, description="Bars per page")] = 1000,
) -> Response:
    """Several indicators over one symbol and timeframe, paged by bars (oldest first)."""
    # the calculation's pandas arrives with the first request, not with the API's start-up
    from trainjet.services.indicators import IndicatorRequest, Page, calculate

    settings: Settings = request.app.state.settings
    requests = [IndicatorRequest(i.id, i.parameters, i.output_name) for i in body.indicators]
    table = await asyncio.to_thread(
        calculate,
        settings.market_data_dir,
        body.symbol,
        body.timeframe,
        requests,
        body.start_date,
        body.end_date,
    )
    paging = Page(page, page_size, len(table.dates))
    paging.check()
    rows = paging.bounds
    return json_response(
        {
            "success": True,
            "dates": table.dates[rows],
            "indicators": {name: values[rows] for name, values in table.values.items()},
            "metadata": {
                **paging.metadata(),
                "symbol": body.symbol,
                "timeframe": body.timeframe,
                "start_date": table.dates[0],
                "end_date": table.dates[-1],
                "points": len(table.dates[rows]),
                "columns": {
                    c.name: {
                        "indicator": c.indicator,
                        "output": c.output,
                        "parameters": c.parameters,
                    }
                    for c in table.columns
                },
            },
        }
    )
