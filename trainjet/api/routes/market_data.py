"""`/symbols` and `/timeframes` in ktrdr's shapes, listed from the market-data directory.

ktrdr's CLI calls `GET /symbols` as its "is the server up?" check before every operations and
dummy command, so this must stay cheap: the answer comes from file *names* only
(`SYMBOL_TIMEFRAME.csv`, no CSV is opened), and it is cached until the directory's mtime changes
(adding, removing or renaming a file changes it; rewriting a file's content does not, and the
content is not part of the answer).

What ktrdr read from a market-data provider (exchange, trading hours) trainjet does not know
from a CSV file; those fields are filled honestly ("local", null) rather than invented.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from trainjet.api.encoding import json_response
from trainjet.training.data.names import SYMBOL_RE, TIMEFRAME_RE

router = APIRouter(tags=["Market data"])

_UNITS = {
    "m": ("Minute", 60),
    "h": ("Hour", 3600),
    "d": ("Day", 86400),
    "w": ("Week", 604800),
    "M": ("Month", 2_592_000),
}
# ISO 4217 codes a six-letter forex pair is made of; enough to tell EURUSD from GOOGLE.
_CURRENCIES = frozenset(
    [
        "USD",
        "EUR",
        "GBP",
        "JPY",
        "CHF",
        "AUD",
        "CAD",
        "NZD",
        "SEK",
        "NOK",
        "DKK",
        "PLN",
        "CZK",
        "HUF",
        "TRY",
        "ZAR",
        "MXN",
        "SGD",
        "HKD",
        "CNH",
        "CNY",
    ]
)
_CRYPTO = frozenset(["BTC", "ETH", "XRP", "LTC", "SOL", "ADA", "DOGE"])
_TF_SPLIT = re.compile(r"^(\d+)([mhdwM])$")


class SymbolInfo(BaseModel):
    symbol: str
    name: str
    type: str
    exchange: str
    currency: str | None
    available_timeframes: list[str]
    trading_hours: dict[str, Any] | None = None


class SymbolsResponse(BaseModel):
    success: bool
    data: list[SymbolInfo]
    error: None = None


class TimeframeInfo(BaseModel):
    id: str
    name: str
    description: str


class TimeframesResponse(BaseModel):
    success: bool
    data: list[TimeframeInfo]
    error: None = None


def timeframe_seconds(timeframe: str) -> int:
    match = _TF_SPLIT.match(timeframe)
    if match is None:
        return 0
    return int(match.group(1)) * _UNITS[match.group(2)][1]


def _timeframe_info(timeframe: str) -> dict[str, str]:
    match = _TF_SPLIT.match(timeframe)
    count, unit = (int(match.group(1)), _UNITS[match.group(2)][0]) if match else (0, timeframe)
    name = f"{count} {unit}{'s' if count != 1 else ''}"
    return {"id": timeframe, "name": name, "description": f"{name} bars"}


def _symbol_info(symbol: str, timeframes: list[str]) -> dict[str, Any]:
    """What a file name tells about a symbol: a pair of currency codes is forex (quoted in
    the second), a crypto code against a currency is crypto, anything else a stock."""
    base, quote = symbol[:3].upper(), symbol[3:].upper()
    if len(symbol) == 6 and base in _CURRENCIES and quote in _CURRENCIES:
        kind, currency = "forex", quote
    elif base in _CRYPTO and quote in _CURRENCIES:
        kind, currency = "crypto", quote
    else:
        kind, currency = "stock", None
    return {
        "symbol": symbol,
        "name": symbol,
        "type": kind,
        "exchange": "local",
        "currency": currency,
        "available_timeframes": timeframes,
        "trading_hours": None,
    }


def scan_market_data(directory: Path) -> dict[str, list[str]]:
    """symbol -> its timeframes (shortest first), from `SYMBOL_TIMEFRAME.csv` names alone.

    The symbol is everything before the *last* `_`, since symbols may contain `_` themselves.
    Names that would not load as data (odd characters, unknown units) are left out, so every
    pair listed here is one a training request can actually use.
    """
    found: dict[str, set[str]] = {}
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return {}
    for entry in entries:
        stem, dot, ext = entry.name.rpartition(".")
        if not dot or ext != "csv":
            continue
        symbol, sep, timeframe = stem.rpartition("_")
        if sep and SYMBOL_RE.match(symbol) and TIMEFRAME_RE.match(timeframe):
            found.setdefault(symbol, set()).add(timeframe)
    return {s: sorted(tfs, key=timeframe_seconds) for s, tfs in sorted(found.items())}


@dataclass
class MarketDataCatalogue:
    """The scan of one directory, redone only when the directory's mtime moves."""

    directory: Path
    _stamp: int | None = None
    _symbols: dict[str, list[str]] = field(default_factory=dict)

    def symbols(self) -> dict[str, list[str]]:
        try:
            stamp = os.stat(self.directory).st_mtime_ns
        except OSError:
            stamp = None
        if stamp is None or stamp != self._stamp:
            self._symbols = scan_market_data(self.directory) if stamp is not None else {}
            self._stamp = stamp
        return self._symbols


def _catalogue(request: Request) -> MarketDataCatalogue:
    directory = Path(request.app.state.settings.market_data_dir)
    cat: MarketDataCatalogue | None = getattr(request.app.state, "market_data", None)
    if cat is None or cat.directory != directory:
        cat = MarketDataCatalogue(directory)
        request.app.state.market_data = cat
    return cat


@router.get("/symbols", response_model=SymbolsResponse)
async def list_symbols(request: Request) -> Response:
    """Every symbol with a data file, and the timeframes it has files for."""
    symbols = _catalogue(request).symbols()
    data = [_symbol_info(s, tfs) for s, tfs in symbols.items()]
    return json_response({"success": True, "data": data, "error": None})


@router.get("/timeframes", response_model=TimeframesResponse)
async def list_timeframes(request: Request) -> Response:
    """Every timeframe some symbol has a data file for, shortest first."""
    symbols = _catalogue(request).symbols()
    timeframes = sorted({tf for tfs in symbols.values() for tf in tfs}, key=timeframe_seconds)
    return json_response(
        {"success": True, "data": [_timeframe_info(t) for t in timeframes], "error": None}
    )
