"""The indicators TA-Lib lacks, against a second implementation written plainly here (loops
over the bars, following each indicator's published definition), on the bundled EURUSD data;
ktrdr's names; and that no indicator looks ahead."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trainjet.training.data.ohlcv import load_ohlcv
from trainjet.training.features.labels import zigzag_pivots
from trainjet.training.indicators.registry import (
    REGISTRY,
    IndicatorSpec,
    compute_indicator,
    indicator_catalogue,
    resolve_indicator,
)

DATA = Path(__file__).resolve().parents[2] / "data"
NAN = math.nan
# ktrdr's registry: canonical name and the aliases its strategies use
KTRDR_NAMES = {
    "ADX": ["AverageDirectionalIndex"],
    "ATR": [],
    "Aroon": [],
    "BollingerBands": [],
    "BollingerBandWidth": [],
    "CCI": [],
    "CMF": ["ChaikinMoneyFlow"],
    "ADLine": ["AccumulationDistribution"],
    "DistanceFromMA": [],
    "DonchianChannels": [],
    "EMA": ["ExponentialMovingAverage"],
    "FisherTransform": [],
    "Ichimoku": [],
    "KeltnerChannels": [],
    "MACD": [],
    "MFI": [],
    "Momentum": [],
    "OBV": [],
    "ParabolicSAR": [],
    "ROC": [],
    "RSI": [],
    "RVI": [],
    "SMA": ["SimpleMovingAverage"],
    "SqueezeIntensity": [],
    "Stochastic": [],
    "SuperTrend": [],
    "VolumeRatio": [],
    "VWAP": [],
    "WilliamsR": [],
    "ZigZag": [],
}


@pytest.fixture(scope="module")
def hourly() -> pd.DataFrame:
    return load_ohlcv("EURUSD", "1h", DATA).iloc[:1500]


def _col(df: pd.DataFrame, name: str) -> list[float]:
    return [float(x) for x in df[name]]


def _out(df: pd.DataFrame, name: str, **params: object) -> dict[str, np.ndarray]:
    got = compute_indicator(df, IndicatorSpec("x", name, dict(params)))
    return {k: v.to_numpy() for k, v in got.items()}


def _same(ours: np.ndarray, expected: list[float], atol: float = 1e-12) -> None:
    exp = np.array(expected, dtype=float)
    assert np.array_equal(np.isnan(ours), np.isnan(exp)), "warm-up differs"
    assert np.allclose(ours, exp, rtol=1e-9, atol=atol, equal_nan=True)


def test_every_ktrdr_name_resolves_in_every_spelling() -> None:
    assert set(KTRDR_NAMES) == set(REGISTRY)
    for name, aliases in KTRDR_NAMES.items():
        for spelling in (name, *aliases):
            for variant in (
                spelling,
                f"{spelling}Indicator",
                spelling.lower(),
                f"{spelling}Indicator".lower(),
            ):
                resolved = resolve_indicator(variant)
                assert resolved is not None and resolved[0].name == name, variant


def test_catalogue_lists_every_indicator_with_its_specs() -> None:
    catalogue = {c["name"]: c for c in indicator_catalogue()}
    assert set(catalogue) == set(REGISTRY)
    rsi = catalogue["RSI"]
    assert rsi["id"] == "RSIIndicator" and rsi["type"] == "momentum"
    period = next(p for p in rsi["parameters"] if p["name"] == "period")
    assert period == {
        "name": "period",
        "type": "int",
        "description": period["description"],
        "default": 14,
        "min_value": 2,
        "max_value": 500,
        "options": None,
    }
    for entry in catalogue.values():
        assert entry["type"] in {"momentum", "trend", "volatility", "volume"}
        assert entry["description"] and entry["outputs"]
        defaults = {p["name"]: p["default"] for p in entry["parameters"]}
        assert defaults == REGISTRY[entry["name"]].defaults


def test_no_indicator_looks_ahead(hourly: pd.DataFrame) -> None:
    """A bar's value is the same whether or not later bars exist."""
    cut = 1000
    for name in REGISTRY:
        full = _out(hourly, name)
        head = _out(hourly.iloc[:cut], name)
        for output, values in head.items():
            assert np.allclose(values, full[output][:cut], rtol=1e-12, atol=0, equal_nan=True), (
                f"{name}.{output} uses later bars"
            )


def _wilder_atr(df: pd.DataFrame, period: int) -> list[float]:
    h, lo, c = _col(df, "high"), _col(df, "low"), _col(df, "close")
    tr = [NAN] + [
        max(h[i] - lo[i], abs(h[i] - c[i - 1]), abs(lo[i] - c[i - 1])) for i in range(1, len(c))
    ]
    atr = [NAN] * len(c)
    atr[period] = sum(tr[1 : period + 1]) / period
    for i in range(period + 1, len(c)):
        atr[i] = (atr[i - 1] * (period - 1) + tr[i]) / period
    return atr


def test_supertrend(hourly: pd.DataFrame) -> None:
    h, lo, c = _col(hourly, "high"), _col(hourly, "low"), _col(hourly, "close")
    for smoothing in ("wilder", "sma"):
        if smoothing == "wilder":
            atr = _wilder_atr(hourly, 10)
        else:
            tr = [
                max(h[i] - lo[i], abs(h[i] - c[i - 1]), abs(lo[i] - c[i - 1])) if i else NAN
                for i in range(len(c))
            ]
            atr = [sum(tr[i - 9 : i + 1]) / 10 if i >= 10 else NAN for i in range(len(c))]
        trend, direction = [NAN] * len(c), [NAN] * len(c)
        final_up = final_lo = NAN
        for i in range(len(c)):
            if math.isnan(atr[i]):
                continue
            up_band = (h[i] + lo[i]) / 2 + 3 * atr[i]
            lo_band = (h[i] + lo[i]) / 2 - 3 * atr[i]
            if math.isnan(final_up):  # first bar with an ATR
                final_up, final_lo = up_band, lo_band
                rising = c[i] > final_lo
            else:
                final_up = up_band if up_band < final_up or c[i - 1] > final_up else final_up
                final_lo = lo_band if lo_band > final_lo or c[i - 1] < final_lo else final_lo
                if rising and c[i] <= final_lo:
                    rising = False
                elif not rising and c[i] >= final_up:
                    rising = True
            trend[i] = final_lo if rising else final_up
            direction[i] = 1.0 if rising else -1.0
        got = _out(hourly, "SuperTrend", atr_smoothing=smoothing)
        _same(got["trend"], trend)
        _same(got["direction"], direction)
        assert {-1.0, 1.0} <= set(direction)


def test_fisher_transform(hourly: pd.DataFrame) -> None:
    h, lo = _col(hourly, "high"), _col(hourly, "low")
    fisher: list[float] = []
    alpha = 2 / (3 + 1)
    for i in range(len(h)):
        if i < 9:
            fisher.append(NAN)
            continue
        hh, ll = max(h[i - 9 : i + 1]), min(lo[i - 9 : i + 1])
        x = 2 * (((h[i] + lo[i]) / 2 - ll) / (hh - ll)) - 1 if hh != ll else 0.0
        x = min(max(x, -0.999), 0.999)
        raw = 0.5 * math.log((1 + x) / (1 - x))
        fisher.append(raw if math.isnan(fisher[-1]) else fisher[-1] + alpha * (raw - fisher[-1]))
    got = _out(hourly, "FisherTransform")
    _same(got["fisher"], fisher)
    _same(got["signal"], [NAN, *fisher[:-1]])


def test_squeeze_intensity_from_talib_bands(hourly: pd.DataFrame) -> None:
    talib = pytest.importorskip("talib")
    h, lo, c = (hourly[k].to_numpy(float) for k in ("high", "low", "close"))
    bb_up, _, bb_lo = talib.BBANDS(c, 20, 2, 2, 0)
    mid, atr = talib.EMA(c, 20), talib.ATR(h, lo, c, 10)
    kc_up, kc_lo = mid + 2 * atr, mid - 2 * atr
    expected = [
        max(0.0, min(ku - bu, bl - kl) / (ku - kl)) if not np.isnan(ku + bu) else NAN
        for bu, bl, ku, kl in zip(bb_up, bb_lo, kc_up, kc_lo, strict=True)
    ]
    got = _out(hourly, "SqueezeIntensity")["squeeze_intensity"]
    start = int(np.argmax(~np.isnan(expected)))
    # a 0-1 measure made of differences of nearly equal prices: compared absolutely
    _same(got[start:], expected[start:], atol=1e-9)
    assert (got[start:] > 0).any() and (got[start:] == 0).any()


def test_percent_b_from_talib_bands(hourly: pd.DataFrame) -> None:
    talib = pytest.importorskip("talib")
    c = hourly["close"].to_numpy(float)
    upper, _, lower = talib.BBANDS(c, 20, 2, 2, 0)
    got = _out(hourly, "BollingerBands")["percent_b"]
    # a ratio of differences of nearly equal prices: compared absolutely (it is ~0-1)
    _same(got, ((c - lower) / (upper - lower)).tolist(), atol=1e-8)


def test_volume_indicators(hourly: pd.DataFrame) -> None:
    h, lo, c, v = (_col(hourly, k) for k in ("high", "low", "close", "volume"))
    n = len(c)
    tp = [(h[i] + lo[i] + c[i]) / 3 for i in range(n)]
    rolling = [
        sum(tp[j] * v[j] for j in range(i - 19, i + 1)) / sum(v[i - 19 : i + 1]) if i >= 19 else NAN
        for i in range(n)
    ]
    _same(_out(hourly, "VWAP")["vwap"], rolling)
    cumulative, pv, vol = [], 0.0, 0.0
    for i in range(n):
        pv, vol = pv + c[i] * v[i], vol + v[i]
        cumulative.append(pv / vol)
    _same(_out(hourly, "VWAP", period=0, use_typical_price=False)["vwap"], cumulative)
    mfv = [
        ((c[i] - lo[i]) - (h[i] - c[i])) / (h[i] - lo[i]) * v[i] if h[i] != lo[i] else 0.0
        for i in range(n)
    ]
    cmf = [sum(mfv[i - 19 : i + 1]) / sum(v[i - 19 : i + 1]) if i >= 19 else NAN for i in range(n)]
    _same(_out(hourly, "CMF")["cmf"], cmf)
    ratio = [v[i] / (sum(v[i - 19 : i + 1]) / 20) if i >= 19 else NAN for i in range(n)]
    _same(_out(hourly, "VolumeRatio")["volume_ratio"], ratio)


def test_rvi_and_ichimoku(hourly: pd.DataFrame) -> None:
    o, h, lo, c = (_col(hourly, k) for k in ("open", "high", "low", "close"))
    n = len(c)

    def swma(x: list[float], i: int) -> float:
        return (x[i] + 2 * x[i - 1] + 2 * x[i - 2] + x[i - 3]) / 6 if i >= 3 else NAN

    num = [swma([c[j] - o[j] for j in range(n)], i) for i in range(n)]
    den = [swma([h[j] - lo[j] for j in range(n)], i) for i in range(n)]
    rvi = [sum(num[i - 9 : i + 1]) / sum(den[i - 9 : i + 1]) if i >= 12 else NAN for i in range(n)]
    got = _out(hourly, "RVI")
    _same(got["rvi"], rvi)
    _same(got["signal"], [swma(rvi, i) if i >= 15 else NAN for i in range(n)])
    ktrdr = _out(hourly, "RVI", signal_smoothing="sma", signal_period=3)["signal"]
    _same(ktrdr, [sum(rvi[i - 2 : i + 1]) / 3 if i >= 14 else NAN for i in range(n)])

    def mid(i: int, p: int) -> float:
        return (max(h[i - p + 1 : i + 1]) + min(lo[i - p + 1 : i + 1])) / 2 if i >= p - 1 else NAN

    ichi = _out(hourly, "Ichimoku")
    _same(ichi["tenkan"], [mid(i, 9) for i in range(n)])
    _same(ichi["kijun"], [mid(i, 26) for i in range(n)])
    # the leading spans of bar i were computed 26 bars earlier: nothing from after bar i
    _same(ichi["senkou_b"], [mid(i - 26, 52) if i >= 26 else NAN for i in range(n)])
    _same(
        ichi["senkou_a"],
        [(mid(i - 26, 9) + mid(i - 26, 26)) / 2 if i >= 26 else NAN for i in range(n)],
    )


@pytest.mark.parametrize("threshold", [0.003, 0.01])
def test_zigzag_shows_each_swing_only_once_confirmed(
    hourly: pd.DataFrame, threshold: float
) -> None:
    """Against the look-ahead ZigZag of the labels: the same swing points, each visible from
    the bar that confirms it (the price has reversed by `threshold`), never before."""
    close = hourly["close"].to_numpy(float)
    swings = zigzag_pivots(close, threshold)[:-1]  # the last extreme is never confirmed
    got = _out(hourly, "ZigZag", threshold=threshold)
    changes = np.flatnonzero(np.diff(got["direction"], prepend=NAN) != 0)
    changes = changes[~np.isnan(got["direction"][changes])]
    assert len(swings) >= 5
    assert got["pivot"][changes].tolist() == close[swings].tolist()
    for at, swing in zip(changes, swings, strict=True):
        assert at > swing  # confirmed strictly after the extreme bar
        moved = abs(close[at] - close[swing]) / close[swing]
        assert moved >= threshold * (1 - 1e-12)
        between = abs(close[swing + 1 : at] - close[swing]) / close[swing]
        assert (between < threshold).all()  # and not a bar later than needed
    _same(got["distance"], ((close - got["pivot"]) / got["pivot"]).tolist())


def test_docs_page_lists_every_indicator_and_its_defaults() -> None:
    text = (DATA.parent / "docs" / "indicators.md").read_text()
    for entry in indicator_catalogue():
        row = next(
            (line for line in text.splitlines() if line.startswith(f"| {entry['name']} |")), None
        )
        assert row is not None, f"docs/indicators.md lacks {entry['name']}"
        for param in entry["parameters"]:
            assert f"`{param['name']}` ({param['default']})" in row, (entry["name"], param)
