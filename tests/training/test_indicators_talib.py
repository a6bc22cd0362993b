"""Every indicator TA-Lib has, against TA-Lib on the bundled EURUSD data (hourly and daily):
after TA-Lib's warm-up the values agree to a relative difference of 1e-9, and trainjet's
warm-up is no longer than TA-Lib's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from trainjet.training.data.ohlcv import load_ohlcv
from trainjet.training.indicators.registry import IndicatorSpec, compute_indicator

talib = pytest.importorskip("talib")

Arrays = dict[str, np.ndarray]
# (trainjet indicator, its parameters, trainjet output, TA-Lib's values from h/l/c/v arrays)
CASES: list[tuple[str, dict[str, Any], str, Callable[[Arrays], np.ndarray]]] = [
    ("RSI", {}, "rsi", lambda a: talib.RSI(a["c"], 14)),
    ("RSI", {"period": 5, "source": "high"}, "rsi", lambda a: talib.RSI(a["h"], 5)),
    ("SMA", {}, "sma", lambda a: talib.SMA(a["c"], 20)),
    ("EMA", {}, "ema", lambda a: talib.EMA(a["c"], 20)),
    ("EMA", {"period": 50}, "ema", lambda a: talib.EMA(a["c"], 50)),
    ("MACD", {}, "line", lambda a: talib.MACD(a["c"], 12, 26, 9)[0]),
    ("MACD", {}, "signal", lambda a: talib.MACD(a["c"], 12, 26, 9)[1]),
    ("MACD", {}, "histogram", lambda a: talib.MACD(a["c"], 12, 26, 9)[2]),
    (
        "MACD",
        {"fast_period": 5, "slow_period": 35, "signal_period": 5},
        "signal",
        lambda a: talib.MACD(a["c"], 5, 35, 5)[1],
    ),
    ("BollingerBands", {}, "upper", lambda a: talib.BBANDS(a["c"], 20, 2, 2, 0)[0]),
    ("BollingerBands", {}, "middle", lambda a: talib.BBANDS(a["c"], 20, 2, 2, 0)[1]),
    ("BollingerBands", {}, "lower", lambda a: talib.BBANDS(a["c"], 20, 2, 2, 0)[2]),
    (
        "BollingerBandWidth",
        {},
        "width",
        lambda a: (lambda u, m, lo: (u - lo) / m)(*talib.BBANDS(a["c"], 20, 2, 2, 0)),
    ),
    ("ATR", {}, "atr", lambda a: talib.ATR(a["h"], a["l"], a["c"], 14)),
    ("Stochastic", {}, "k", lambda a: talib.STOCH(a["h"], a["l"], a["c"], 14, 3, 0, 3, 0)[0]),
    ("Stochastic", {}, "d", lambda a: talib.STOCH(a["h"], a["l"], a["c"], 14, 3, 0, 3, 0)[1]),
    ("WilliamsR", {}, "williams_r", lambda a: talib.WILLR(a["h"], a["l"], a["c"], 14)),
    ("ROC", {}, "roc", lambda a: talib.ROC(a["c"], 10)),
    ("Momentum", {}, "momentum", lambda a: talib.MOM(a["c"], 10)),
    ("CCI", {}, "cci", lambda a: talib.CCI(a["h"], a["l"], a["c"], 20)),
    ("OBV", {}, "obv", lambda a: talib.OBV(a["c"], a["v"])),
    ("ADX", {}, "adx", lambda a: talib.ADX(a["h"], a["l"], a["c"], 14)),
    ("ADX", {}, "plus_di", lambda a: talib.PLUS_DI(a["h"], a["l"], a["c"], 14)),
    ("ADX", {}, "minus_di", lambda a: talib.MINUS_DI(a["h"], a["l"], a["c"], 14)),
    ("ADX", {"period": 7}, "adx", lambda a: talib.ADX(a["h"], a["l"], a["c"], 7)),
    ("MFI", {}, "mfi", lambda a: talib.MFI(a["h"], a["l"], a["c"], a["v"], 14)),
    ("Aroon", {}, "down", lambda a: talib.AROON(a["h"], a["l"], 14)[0]),
    ("Aroon", {}, "up", lambda a: talib.AROON(a["h"], a["l"], 14)[1]),
    ("Aroon", {"period": 25}, "oscillator", lambda a: talib.AROONOSC(a["h"], a["l"], 25)),
    ("ADLine", {}, "ad_line", lambda a: talib.AD(a["h"], a["l"], a["c"], a["v"])),
    ("ParabolicSAR", {}, "sar", lambda a: talib.SAR(a["h"], a["l"], 0.02, 0.2)),
    (
        "ParabolicSAR",
        {"initial_af": 0.01, "step_af": 0.03, "max_af": 0.3},
        "sar",
        lambda a: np.abs(talib.SAREXT(a["h"], a["l"], 0, 0, 0.01, 0.03, 0.3, 0.01, 0.03, 0.3)),
    ),
    ("DonchianChannels", {}, "upper", lambda a: talib.MAX(a["h"], 20)),
    ("DonchianChannels", {}, "lower", lambda a: talib.MIN(a["l"], 20)),
    ("DonchianChannels", {}, "middle", lambda a: talib.MIDPRICE(a["h"], a["l"], 20)),
    ("KeltnerChannels", {}, "middle", lambda a: talib.EMA(a["c"], 20)),
    (
        "KeltnerChannels",
        {},
        "upper",
        lambda a: talib.EMA(a["c"], 20) + 2 * talib.ATR(a["h"], a["l"], a["c"], 10),
    ),
    ("DistanceFromMA", {}, "distance", lambda a: a["c"] / talib.SMA(a["c"], 20) - 1),
    (
        "DistanceFromMA",
        {"ma_type": "EMA"},
        "distance",
        lambda a: a["c"] / talib.EMA(a["c"], 20) - 1,
    ),
]


DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture(scope="module", params=["1h", "1d"])
def prices(request: pytest.FixtureRequest) -> pd.DataFrame:
    return load_ohlcv("EURUSD", request.param, DATA)


def _agree(ours: np.ndarray, ref: np.ndarray) -> tuple[bool, str]:
    start = int(np.argmax(~np.isnan(ref)))
    if np.isnan(ours[start:]).any():
        return False, f"NaN after TA-Lib's warm-up (bar {start})"
    # relative difference; near a zero crossing, relative to the series' typical size
    scale = np.maximum(np.abs(ref[start:]), np.nanmedian(np.abs(ref[start:])))
    rel = np.abs(ours[start:] - ref[start:]) / scale
    worst = int(np.argmax(rel))
    return (
        bool(rel[worst] <= 1e-9),
        f"bar {start + worst}: {ours[start + worst]!r} vs "
        f"{ref[start + worst]!r} (relative {rel[worst]:.2e})",
    )


@pytest.mark.parametrize(
    ("name", "params", "output", "reference"),
    CASES,
    ids=[f"{c[0]}.{c[2]}{c[1] or ''}" for c in CASES],
)
def test_equals_talib(
    prices: pd.DataFrame,
    name: str,
    params: dict[str, Any],
    output: str,
    reference: Callable[[Arrays], np.ndarray],
) -> None:
    arrays = {k[0]: prices[k].to_numpy(dtype=float) for k in ("high", "low", "close", "volume")}
    arrays["c"], arrays["v"] = prices["close"].to_numpy(float), prices["volume"].to_numpy(float)
    ours = compute_indicator(prices, IndicatorSpec("x", name, params))[output].to_numpy()
    ok, where = _agree(ours, np.asarray(reference(arrays), dtype=float))
    assert ok, f"{name}.{output} {params} differs from TA-Lib at {where}"
