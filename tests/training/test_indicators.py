"""Indicators against hand-computed values on tiny series, plus registry behaviour."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trainjet.training.data.ohlcv import load_ohlcv
from trainjet.training.errors import StrategyValidationError
from trainjet.training.indicators.registry import (
    REGISTRY,
    IndicatorSpec,
    available_indicators,
    compute_indicator,
    resolve_indicator,
)

NAN = math.nan


def frame(
    close: list[float],
    high: list[float] | None = None,
    low: list[float] | None = None,
    open_: list[float] | None = None,
    volume: list[float] | None = None,
) -> pd.DataFrame:
    n = len(close)
    return pd.DataFrame(
        {
            "open": open_ or close,
            "high": high or close,
            "low": low or close,
            "close": close,
            "volume": volume or [1.0] * n,
        },
        index=pd.date_range("2020-01-01", periods=n, freq="h", tz="UTC"),
        dtype="float64",
    )


def run(kind: str, df: pd.DataFrame, **params: object) -> dict[str, list[float]]:
    out = compute_indicator(df, IndicatorSpec(kind.lower(), kind, dict(params)))
    return {k: v.tolist() for k, v in out.items()}


def close_to(actual: list[float], expected: list[float]) -> bool:
    return bool(np.allclose(actual, expected, rtol=1e-6, atol=1e-9, equal_nan=True))


def test_sma_ema() -> None:
    df = frame([1, 2, 3, 4, 5])
    assert close_to(run("SMA", df, period=3)["sma"], [NAN, NAN, 2, 3, 4])
    # the reference EMA (default): seeded with mean(1, 2, 3) = 2, then e += 0.5 (x - e)
    assert close_to(run("EMA", df, period=3)["ema"], [NAN, NAN, 2.0, 3.0, 4.0])
    assert close_to(run("EMA", df, period=3, adjust=False)["ema"], [NAN, NAN, 2.0, 3.0, 4.0])
    # adjust=True (ktrdr's convention): weights 1, 1/2, 1/4 ... normalised
    assert close_to(
        run("EMA", df, period=3, adjust=True)["ema"],
        [NAN, NAN, 4.25 / 1.75, 6.125 / 1.875, 8.0625 / 1.9375],
    )


def test_rsi_wilder() -> None:
    # diffs +1 -1 +1 +1; seed = mean of first 2 gains/losses (0.5/0.5), then Wilder smoothing
    assert close_to(
        run("RSI", frame([1, 2, 1, 2, 3]), period=2)["rsi"], [NAN, NAN, 50.0, 75.0, 87.5]
    )
    assert run("RSI", frame(list(range(1, 20))), period=14)["rsi"][-1] == 100.0
    assert run("RSI", frame([5.0] * 20), period=14)["rsi"][-1] == 50.0


def _ema_loop(xs: list[float], span: int, seed_end: int) -> list[float]:
    """EMA from bar `seed_end` on, seeded with the mean of the `span` values ending there."""
    alpha = 2 / (span + 1)
    out = [NAN] * seed_end + [sum(xs[seed_end - span + 1 : seed_end + 1]) / span]
    for x in xs[seed_end + 1 :]:
        out.append(out[-1] + alpha * (x - out[-1]))
    return out


def test_macd() -> None:
    closes = [1.0, 2, 3, 4, 5, 6, 5, 4]
    got = run("MACD", frame(closes), fast_period=2, slow_period=3, signal_period=2)
    # both EMAs start at bar 2: slow seeded with mean(1, 2, 3), fast with mean(2, 3)
    line = np.subtract(_ema_loop(closes, 2, 2), _ema_loop(closes, 3, 2)).tolist()
    assert line[2] == pytest.approx(0.5)
    assert close_to(got["line"], line)
    signal = _ema_loop(line[2:], 2, 1)
    assert close_to(got["signal"], [NAN, NAN, *signal])
    assert close_to(got["histogram"], [NAN, NAN, *(np.array(line[2:]) - signal)])


def test_bollinger_bands() -> None:
    got = run("BollingerBands", frame([1, 2, 3, 4, 5]), period=3, multiplier=2.0)
    std = math.sqrt(2 / 3)  # population std of (1, 2, 3)
    assert got["middle"][2] == pytest.approx(2.0)
    assert got["upper"][2] == pytest.approx(2 + 2 * std)
    assert got["lower"][2] == pytest.approx(2 - 2 * std)
    assert got["width"][2] == pytest.approx(4 * std / 2)
    assert got["percent_b"][2] == pytest.approx((3 - (2 - 2 * std)) / (4 * std))
    assert run("BollingerBandWidth", frame([1, 2, 3, 4, 5]), period=3)["width"][2] == pytest.approx(
        2 * std
    )


def test_atr() -> None:
    df = frame([9.5, 10.5, 11, 9.5], high=[10, 11, 12, 11], low=[9, 10, 10, 9])
    # true ranges -, 1.5, 2, 2 (none on the first bar) -> seed mean(1.5, 2), then Wilder
    assert close_to(run("ATR", df, period=2)["atr"], [NAN, NAN, 1.75, 1.875])


def test_stochastic_and_williams_r() -> None:
    df = frame([2, 3, 5, 3], high=[3, 4, 5, 6], low=[1, 2, 3, 2])
    got = run("Stochastic", df, k_period=3, d_period=2, smooth_k=1)
    assert close_to(got["k"], [NAN, NAN, 100.0, 25.0])
    assert close_to(got["d"], [NAN, NAN, NAN, 62.5])
    assert close_to(run("WilliamsR", df, period=3)["williams_r"], [NAN, NAN, 0.0, -75.0])


def test_roc_momentum() -> None:
    df = frame([100, 110, 99])
    assert close_to(run("ROC", df, period=1)["roc"], [NAN, 10.0, -10.0])
    assert close_to(run("Momentum", df, period=1)["momentum"], [NAN, 10.0, -11.0])


def test_cci() -> None:
    # typical prices 1, 2, 3, 3: (3 - 2) / (0.015 * 2/3) = 100; then (3 - 8/3) / (0.015 * 4/9)
    assert close_to(run("CCI", frame([1, 2, 3, 3]), period=3)["cci"], [NAN, NAN, 100.0, 50.0])


def test_obv_ad_line_cmf() -> None:
    df = frame([10, 11, 10, 10, 12], volume=[100, 200, 300, 400, 500])
    # starts at the first bar's volume, as TA-Lib
    assert close_to(run("OBV", df)["obv"], [100, 300, 0, 0, 500])
    df = frame([1.5, 1.5], high=[2, 2], low=[0, 0], volume=[10, 10])
    assert close_to(run("ADLine", df)["ad_line"], [5.0, 10.0])  # CLV 0.5 x volume 10
    assert close_to(run("CMF", df, period=2)["cmf"], [NAN, 0.5])


def test_adx_on_a_steady_uptrend() -> None:
    i = np.arange(12, dtype=float)
    got = run("ADX", frame(list(i + 0.5), high=list(i + 1), low=list(i)), period=3)
    # +DM 1, -DM 0, TR 1.5 every bar: +DI = 66.67, -DI = 0, DX = ADX = 100
    assert got["plus_di"][-1] == pytest.approx(200 / 3)
    assert got["minus_di"][-1] == 0.0
    assert got["adx"][-1] == pytest.approx(100.0)
    assert np.isnan(got["adx"][:5]).all()


def test_mfi_vwap() -> None:
    df = frame([1, 2, 1.5, 3])
    # positive flows 2 (then 3), negative 1.5: 100 - 100 / (1 + 2/1.5), 100 - 100 / (1 + 3/1.5)
    assert close_to(
        run("MFI", df, period=2)["mfi"], [NAN, NAN, 100 - 100 / (1 + 2 / 1.5), 100 - 100 / 3]
    )
    assert run("MFI", frame([1, 2, 3, 4]), period=2)["mfi"][-1] == 100.0
    assert run("MFI", frame([4, 3, 2, 1]), period=2)["mfi"][-1] == 0.0
    assert close_to(
        run("VWAP", frame([1, 2, 3], volume=[1, 1, 2]), period=2)["vwap"], [NAN, 1.5, 8 / 3]
    )


def test_aroon_donchian() -> None:
    df = frame([2, 2, 2, 2], high=[1, 3, 2, 4], low=[4, 2, 3, 1])
    got = run("Aroon", df, period=2)
    assert close_to(got["up"], [NAN, NAN, 50.0, 100.0])
    assert close_to(got["down"], [NAN, NAN, 50.0, 100.0])
    assert close_to(got["oscillator"], [NAN, NAN, 0.0, 0.0])
    got = run("DonchianChannels", df, period=2)
    assert close_to(got["upper"], [NAN, 3, 3, 4])
    assert close_to(got["lower"], [NAN, 2, 2, 1])


def test_keltner_volume_ratio_distance_rvi() -> None:
    df = frame([1, 2, 3, 4, 5], high=[2, 3, 4, 5, 6], low=[0, 1, 2, 3, 4])
    kc = run("KeltnerChannels", df, period=2, atr_period=2, multiplier=2.0)
    atr = run("ATR", df, period=2)["atr"]
    assert close_to(np.subtract(kc["upper"], kc["middle"]).tolist(), (2 * np.array(atr)).tolist())
    assert close_to(
        run("VolumeRatio", frame([1, 1], volume=[1, 3]), period=2)["volume_ratio"], [NAN, 1.5]
    )
    assert close_to(run("DistanceFromMA", frame([1, 3]), period=2)["distance"], [NAN, 0.5])
    flat = frame([2.0] * 8, high=[3.0] * 8, low=[0.0] * 8, open_=[1.0] * 8)
    assert run("RVI", flat, period=2)["rvi"][-1] == pytest.approx(1 / 3)


def test_ichimoku_has_no_future_span(data_dir: Path) -> None:
    df = load_ohlcv("EURUSD", "4h", data_dir)
    got = compute_indicator(df, IndicatorSpec("ichi", "Ichimoku", {}))
    assert set(got) == {"tenkan", "kijun", "senkou_a", "senkou_b"}  # no chikou (future close)
    expected = ((got["tenkan"] + got["kijun"]) / 2).shift(26)
    assert np.allclose(got["senkou_a"], expected, equal_nan=True)


def test_every_indicator_runs_and_warm_up_is_leading_nan_only(data_dir: Path) -> None:
    df = load_ohlcv("EURUSD", "1h", data_dir)
    for name in available_indicators():
        for output, series in compute_indicator(df, IndicatorSpec("x", name, {})).items():
            assert series.index.equals(df.index)
            valid = series.notna().to_numpy()
            first = int(valid.argmax())
            assert valid[first:].all(), f"{name}.{output} has NaN after its warm-up"
            assert first < 100 or name == "ZigZag"  # ZigZag: until the first swing
            assert np.isfinite(series.to_numpy()[first:]).all()


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("rsi", "RSI"),
        ("RSI", "RSI"),
        ("Rsi", "RSI"),
        ("bollinger_bands", "BollingerBands"),
        ("BollingerBandsIndicator", "BollingerBands"),
        ("williams_r", "WilliamsR"),
        ("stochastic", "Stochastic"),
        ("macd_12_26_9", "MACD"),
        ("rsi_14", "RSI"),
        ("average_directional_index", "ADX"),
        ("chaikin_money_flow", "CMF"),
        ("volume_sma", "SMA"),
        ("keltner_channels", "KeltnerChannels"),
        ("momentum", "Momentum"),
    ],
)
def test_resolve_names(name: str, canonical: str) -> None:
    resolved = resolve_indicator(name)
    assert resolved is not None
    assert resolved[0].name == canonical
    if name == "volume_sma":
        assert resolved[1] == {"source": "volume"}


def test_unknown_names() -> None:
    assert resolve_indicator("nosuch") is None
    with pytest.raises(StrategyValidationError, match="Missing indicators: nosuch referenced"):
        compute_indicator(frame([1.0, 2.0]), IndicatorSpec("x", "nosuch", {}))
    # any accepted spelling computes, with the alias's defaults
    got = compute_indicator(
        frame([1.0, 2.0], volume=[2.0, 4.0]), IndicatorSpec("v", "volume_sma", {"period": 2})
    )
    assert got["sma"].tolist()[1] == 3.0
    assert {
        "RSI",
        "SMA",
        "EMA",
        "MACD",
        "BollingerBands",
        "ATR",
        "Stochastic",
        "ROC",
        "Momentum",
        "WilliamsR",
        "CCI",
        "OBV",
        "ADX",
        "MFI",
        "VWAP",
    } <= set(REGISTRY)


def test_sma_is_never_turned_into_a_ratio(data_dir: Path) -> None:
    df = load_ohlcv("EURUSD", "1h", data_dir)
    sma = compute_indicator(df, IndicatorSpec("sma", "SMA", {"period": 20}))["sma"]
    assert sma.iloc[-1] == pytest.approx(df["close"].iloc[-20:].mean())
