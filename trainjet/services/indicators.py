"""What `POST /indicators/calculate` computes: indicator values over one symbol's bars, through
the very functions that build training features, so a user inspects what a model saw.

Training loads `SYMBOL_TIMEFRAME.csv` for its date range (`load_ohlcv`), then computes every
indicator on exactly those bars (`features/build.py` `compute_outputs`). This does the same, with the
indicator specs normalised as a strategy's are (registry defaults, then alias overrides, then
the user's parameters). The first bars of the range are therefore the warm-up (null), as
they are for a training over the same range.

Column names: an indicator's primary output is called by its `output_name` (default: the id as
given), every other output `<output_name>.<output>` (`MACD_12_26_9.signal`), the same dot
notation a strategy's fuzzy sets use for secondary outputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainjet.core.errors import InvalidRequest
from trainjet.training.data.ohlcv import load_ohlcv
from trainjet.training.features.build import compute_outputs
from trainjet.training.indicators.registry import (
    IndicatorSpec,
    available_indicators,
    check_params,
    resolve_indicator,
)


@dataclass(frozen=True)
class IndicatorRequest:
    id: str
    parameters: Mapping[str, Any]
    output_name: str | None = None


@dataclass(frozen=True)
class Column:
    """One returned series: which indicator output it is and with which parameters."""

    name: str
    indicator: str
    output: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class IndicatorTable:
    dates: list[str]
    columns: list[Column]
    values: dict[str, list[float | None]]


def indicator_specs(requests: Sequence[IndicatorRequest]) -> list[IndicatorSpec]:
    """Specs as training builds them; every problem of every request in one InvalidRequest."""
    problems: list[str] = []
    specs: list[IndicatorSpec] = []
    seen: set[str] = set()
    for i, req in enumerate(requests):
        resolved = resolve_indicator(req.id)
        where = f"indicators[{i}] ({req.id!r})"
        if resolved is None:
            problems.append(
                f"{where}: unknown indicator; use one of GET /api/v1/indicators/ "
                f"({', '.join(available_indicators())})"
            )
            continue
        definition, overrides = resolved
        problems += [f"{where}: {p}" for p in check_params(definition, req.parameters)]
        name = req.output_name or req.id
        if name in seen:
            problems.append(
                f"{where}: output_name {name!r} is used twice; give each "
                "indicator its own output_name"
            )
        seen.add(name)
        specs.append(
            IndicatorSpec(
                name, definition.name, {**definition.defaults, **overrides, **req.parameters}
            )
        )
    if problems:
        raise InvalidRequest(
            "Invalid indicator request: " + "; ".join(problems), details={"problems": problems}
        )
    return specs


def calculate(
    market_data_dir: Path,
    symbol: str,
    timeframe: str,
    requests: Sequence[IndicatorRequest],
    start_date: str | None = None,
    end_date: str | None = None,
) -> IndicatorTable:
    """Every requested indicator over the bars of the range (blocking: pandas work)."""
    specs = indicator_specs(requests)
    prices = load_ohlcv(symbol, timeframe, market_data_dir, start_date, end_date, min_bars=1)
    outputs = compute_outputs(prices, specs)
    columns: list[Column] = []
    values: dict[str, list[float | None]] = {}
    for spec in specs:
        for k, (output, series) in enumerate(outputs[spec.id].items()):
            name = spec.id if k == 0 else f"{spec.id}.{output}"
            columns.append(Column(name, spec.type, output, spec.params))
            values[name] = [x if math.isfinite(x) else None for x in series.tolist()]
    dates = [ts.isoformat() for ts in prices.index]
    return IndicatorTable(dates, columns, values)


@dataclass(frozen=True)
class Page:
    number: int
    size: int
    total_items: int

    @property
    def total_pages(self) -> int:
        return max(1, math.ceil(self.total_items / self.size))

    @property
    def bounds(self) -> slice:
        return slice((self.number - 1) * self.size, self.number * self.size)

    def check(self) -> None:
        if self.number > self.total_pages:
            raise InvalidRequest(
                f"page {self.number} is past the last page ({self.total_pages} page(s) of "
                f"{self.size} bars for {self.total_items} bars); ask for page 1 to "
                f"{self.total_pages} or a larger page_size",
                details={"total_pages": self.total_pages, "total_items": self.total_items},
            )

    def metadata(self) -> dict[str, Any]:
        return {
            "total_items": self.total_items,
            "total_pages": self.total_pages,
            "current_page": self.number,
            "page_size": self.size,
            "has_next": self.number < self.total_pages,
            "has_prev": self.number > 1,
        }
