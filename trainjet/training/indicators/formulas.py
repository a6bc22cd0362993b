# size: one short vectorised function per indicator (about 25), compared with TA-Lib as a set
"""The indicator formulas: vectorised pandas/numpy, one function per indicator.

Each takes an OHLCV frame with lower-case columns plus its parameters, and returns its outputs
by name, primary output first (the registry and the ktrdr names live in `registry.py`).
Warm-up bars are NaN, never zero.

TA-Lib is the reference definition wherever it has the indicator: the tests compare every such
output with TA-Lib on the bundled data (relative difference <= 1e-9 after the warm-up). That
decides the details that are easy to get subtly wrong: exponential averages (EMA, MACD, RSI,
ATR, ADX) are seeded with the simple mean of their first `period` values, and MACD seeds its
fast average on the bars that end where the slow one starts; ADX smooths the first
`period - 1` directional movements as a sum; OBV starts at the first bar's volume; MFI does not
count rounding noise of the typical price as money flow. Own code instead of calling TA-Lib
keeps a native library out of the runtime dependencies of every API and runner host; TA-Lib is
only a test dependency. (The module passes 300 lines because it holds 26 small formulas.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

Outputs = dict[str, pd.Series]


def _src(df: pd.DataFrame, source: str) -> pd.Series:
    s = source.lower()
    h, lo, c = df["high"], df["low"], df["close"]
    derived = {
        "hl2": lambda: (h + lo) / 2,
        "hlc3": lambda: (h + lo + c) / 3,
        "ohlc4": lambda: (df["open"] + h + lo + c) / 4,
    }
    return derived[s]() if s in derived else df[s]


def _seeded(x: pd.Series, period: int, alpha: float, offset: int = 0) -> pd.Series:
    """Exponential smoothing seeded with the mean of `period` values (TA-Lib's seeding).

    The seed is the mean of the `period` values ending `offset + period - 1` values after the
    first valid one; the recursion `e = e_prev + alpha (x - e_prev)` runs from there.
    """
    out = pd.Series(np.nan, index=x.index)
    pos = np.flatnonzero(x.notna().to_numpy())
    start_at = offset + period - 1
    if len(pos) <= start_at:
        return out
    start = int(pos[start_at])
    tail = x.iloc[start:].copy()
    tail.iloc[0] = x.iloc[pos[start_at - period + 1 : start_at + 1]].mean()
    out.iloc[start:] = tail.ewm(alpha=alpha, adjust=False).mean().to_numpy()
    return out


def _wilder(x: pd.Series, period: int) -> pd.Series:
    """Wilder's smoothing (alpha 1/period), seeded with a simple mean."""
    return _seeded(x, period, 1.0 / period)


def ema_series(x: pd.Series, period: int, offset: int = 0) -> pd.Series:
    """The EMA as TA-Lib defines it: alpha 2/(period+1), seeded with a simple mean."""
    return _seeded(x, period, 2.0 / (period + 1), offset)


def _ratio(num: pd.Series, den: pd.Series, scale: float = 1.0, flat: float = np.nan) -> pd.Series:
    """num/den, with `flat` where den is 0 (a flat range) instead of inf."""
    den_ok = den.where(den != 0)
    return (scale * num / den_ok).where(den != 0, flat).where(den.notna() & num.notna())


def _true_range(df: pd.DataFrame) -> pd.Series:
    """True range; NaN on the first bar, which has no previous close (as TA-Lib)."""
    prev = df["close"].shift(1)
    tr = pd.concat(
        [df["high"] - df["low"], (df["high"] - prev).abs(), (df["low"] - prev).abs()], axis=1
    ).max(axis=1)
    return tr.where(prev.notna())


def _roll(s: pd.Series, n: int) -> Any:
    return s.rolling(n, min_periods=n)


def rsi(df: pd.DataFrame, period: int, source: str) -> Outputs:
    delta = _src(df, source).diff()
    gain, loss = _wilder(delta.clip(lower=0), period), _wilder(-delta.clip(upper=0), period)
    rsi = 100 - 100 / (1 + gain / loss.where(loss != 0))
    rsi = rsi.where(loss != 0, np.where(gain > 0, 100.0, 50.0)).where(gain.notna())
    return {"rsi": rsi}


def sma(df: pd.DataFrame, period: int, source: str) -> Outputs:
    return {"sma": _roll(_src(df, source), period).mean()}


def ema(df: pd.DataFrame, period: int, source: str, adjust: bool) -> Outputs:
    """`adjust=True` is ktrdr's convention (pandas' bias-corrected weights over all bars);
    the default, False, is the reference EMA seeded with the first period's mean."""
    s = _src(df, source)
    if adjust:
        return {"ema": s.ewm(span=period, adjust=True, min_periods=period).mean()}
    return {"ema": ema_series(s, period)}


def macd(
    df: pd.DataFrame, fast_period: int, slow_period: int, signal_period: int, source: str
) -> Outputs:
    s = _src(df, source)
    # Both averages start on the same bar: the fast one is seeded on the `fast_period` bars
    # that end where the slow one's seed ends.
    line = ema_series(s, fast_period, slow_period - fast_period) - ema_series(s, slow_period)
    signal = ema_series(line, signal_period)
    return {"line": line, "signal": signal, "histogram": line - signal}


def bbands(df: pd.DataFrame, period: int, multiplier: float, source: str) -> Outputs:
    s = _src(df, source)
    mid, std = _roll(s, period).mean(), _roll(s, period).std(ddof=0)
    upper, lower = mid + multiplier * std, mid - multiplier * std
    return {
        "upper": upper,
        "middle": mid,
        "lower": lower,
        "width": _ratio(upper - lower, mid),
        "percent_b": _ratio(s - lower, upper - lower, flat=0.5),
    }


def bb_width(df: pd.DataFrame, period: int, multiplier: float, source: str) -> Outputs:
    return {"width": bbands(df, period, multiplier, source)["width"]}


def atr(df: pd.DataFrame, period: int) -> Outputs:
    return {"atr": _wilder(_true_range(df), period)}


def stochastic(df: pd.DataFrame, k_period: int, d_period: int, smooth_k: int) -> Outputs:
    lo, hi = _roll(df["low"], k_period).min(), _roll(df["high"], k_period).max()
    k = _roll(_ratio(df["close"] - lo, hi - lo, 100.0, flat=50.0), smooth_k).mean()
    return {"k": k, "d": _roll(k, d_period).mean()}


def williams_r(df: pd.DataFrame, period: int) -> Outputs:
    lo, hi = _roll(df["low"], period).min(), _roll(df["high"], period).max()
    return {"williams_r": _ratio(hi - df["close"], hi - lo, -100.0, flat=-50.0)}


def roc(df: pd.DataFrame, period: int, source: str) -> Outputs:
    s = _src(df, source)
    return {"roc": _ratio(s - s.shift(period), s.shift(period), 100.0)}


def momentum(df: pd.DataFrame, period: int, source: str) -> Outputs:
    s = _src(df, source)
    return {"momentum": s - s.shift(period)}


def cci(df: pd.DataFrame, period: int) -> Outputs:
    tp = (df["high"] + df["low"] + df["close"]) / 3
    mad = np.full(len(tp), np.nan)
    if len(tp) >= period:
        win = sliding_window_view(tp.to_numpy(dtype=float), period)
        mad[period - 1 :] = np.abs(win - win.mean(axis=1, keepdims=True)).mean(axis=1)
    dev = pd.Series(mad, index=tp.index)
    return {"cci": _ratio(tp - _roll(tp, period).mean(), 0.015 * dev, flat=0.0)}


def obv(df: pd.DataFrame) -> Outputs:
    # The first bar counts its whole volume (there is no earlier close to compare with).
    direction = np.sign(df["close"].diff().fillna(1.0))
    return {"obv": (direction * df["volume"]).cumsum()}


def adx(df: pd.DataFrame, period: int) -> Outputs:
    up, down = df["high"].diff(), -df["low"].diff()
    plus_dm = up.where((up > down) & (up > 0), 0.0).where(up.notna())
    minus_dm = down.where((down > up) & (down > 0), 0.0).where(down.notna())

    def smooth(x: pd.Series) -> pd.Series:
        # Wilder's sum form, seeded with the sum of the first period-1 values: the first DI
        # is the `period`-th bar with a previous bar, as in Wilder's book and TA-Lib.
        seed = x.copy()
        seed.iloc[period - 1] = x.iloc[1:period].sum() / period
        out = seed.iloc[period - 1 :].ewm(alpha=1.0 / period, adjust=False).mean()
        return out.reindex(x.index).where(np.arange(len(x)) >= period)

    if len(df) <= period:
        nan = pd.Series(np.nan, index=df.index)
        return {"adx": nan, "plus_di": nan, "minus_di": nan.copy()}
    atr = smooth(_true_range(df))
    plus_di = _ratio(smooth(plus_dm), atr, 100.0, flat=0.0)
    minus_di = _ratio(smooth(minus_dm), atr, 100.0, flat=0.0)
    dx = _ratio((plus_di - minus_di).abs(), plus_di + minus_di, 100.0, flat=0.0)
    return {"adx": _wilder(dx, period), "plus_di": plus_di, "minus_di": minus_di}


def mfi(df: pd.DataFrame, period: int) -> Outputs:
    tp = (df["high"] + df["low"] + df["close"]) / 3
    flow, change = tp * df["volume"], tp.diff()
    # (h + l + c) / 3 of two bars with the same prices in another order can differ by one
    # rounding step (~2e-16); that is no price change, so it is no money flow.
    change = change.where(change.abs() > 1e-12 * tp.abs(), 0.0).where(change.notna())
    pos = _roll(flow.where(change > 0, 0.0).where(change.notna()), period).sum()
    neg = _roll(flow.where(change < 0, 0.0).where(change.notna()), period).sum()
    mfi = (100 - 100 / (1 + pos / neg.where(neg != 0))).where(neg != 0, 100.0)
    return {"mfi": mfi.where(pos.notna())}


def vwap(df: pd.DataFrame, period: int, use_typical_price: bool) -> Outputs:
    """Volume-weighted price over the last `period` bars; period 0 accumulates from the first
    bar (ktrdr's cumulative VWAP)."""
    price = (df["high"] + df["low"] + df["close"]) / 3 if use_typical_price else df["close"]
    pv, vol = price * df["volume"], df["volume"]
    if period == 0:
        return {"vwap": _ratio(pv.cumsum(), vol.cumsum())}
    return {"vwap": _ratio(_roll(pv, period).sum(), _roll(vol, period).sum())}


def aroon(df: pd.DataFrame, period: int, include_oscillator: bool) -> Outputs:
    # `include_oscillator` is accepted for ktrdr strategies; the oscillator is always an output.
    n = len(df)
    up, down = np.full(n, np.nan), np.full(n, np.nan)
    if n > period:  # window of period+1 bars; position `period` is the current bar
        hi = sliding_window_view(df["high"].to_numpy(dtype=float), period + 1)
        lo = sliding_window_view(df["low"].to_numpy(dtype=float), period + 1)
        # last occurrence of the extreme: argmax on the reversed window
        up[period:] = 100.0 * (period - np.argmax(hi[:, ::-1], axis=1)) / period
        down[period:] = 100.0 * (period - np.argmin(lo[:, ::-1], axis=1)) / period
    u, d = pd.Series(up, index=df.index), pd.Series(down, index=df.index)
    return {"up": u, "down": d, "oscillator": u - d}


def donchian(df: pd.DataFrame, period: int, include_middle: bool) -> Outputs:
    # `include_middle` is accepted for ktrdr strategies; the middle line is always an output.
    upper, lower = _roll(df["high"], period).max(), _roll(df["low"], period).min()
    return {"upper": upper, "middle": (upper + lower) / 2, "lower": lower}


def keltner(df: pd.DataFrame, period: int, atr_period: int, multiplier: float) -> Outputs:
    mid = ema_series(df["close"], period)
    atr = _wilder(_true_range(df), atr_period)
    return {"middle": mid, "upper": mid + multiplier * atr, "lower": mid - multiplier * atr}


def _clv_volume(df: pd.DataFrame) -> pd.Series:
    h, lo, c = df["high"], df["low"], df["close"]
    return _ratio((c - lo) - (h - c), h - lo, flat=0.0) * df["volume"]


def ad_line(df: pd.DataFrame) -> Outputs:
    return {"ad_line": _clv_volume(df).cumsum()}


def cmf(df: pd.DataFrame, period: int) -> Outputs:
    return {
        "cmf": _ratio(
            _roll(_clv_volume(df), period).sum(), _roll(df["volume"], period).sum(), flat=0.0
        )
    }


def volume_ratio(df: pd.DataFrame, period: int) -> Outputs:
    return {"volume_ratio": _ratio(df["volume"], _roll(df["volume"], period).mean(), flat=1.0)}


def distance_from_ma(df: pd.DataFrame, period: int, ma_type: str, source: str) -> Outputs:
    s = _src(df, source)
    ma = _roll(s, period).mean() if ma_type.lower() == "sma" else ema_series(s, period)
    return {"distance": _ratio(s - ma, ma)}


def rvi(df: pd.DataFrame, period: int, signal_period: int, signal_smoothing: str) -> Outputs:
    """Dorsey's RVI. The signal is the published 1-2-2-1 weighting of the last 4 RVI values
    (`signal_smoothing="swma"`, which ignores `signal_period`), or ktrdr's simple mean of the
    last `signal_period` values (`"sma"`)."""

    def swma(x: pd.Series) -> pd.Series:  # symmetric 1-2-2-1 weighting over 4 bars
        return (x + 2 * x.shift(1) + 2 * x.shift(2) + x.shift(3)) / 6

    rvi = _ratio(
        _roll(swma(df["close"] - df["open"]), period).sum(),
        _roll(swma(df["high"] - df["low"]), period).sum(),
        flat=0.0,
    )
    signal = swma(rvi) if signal_smoothing == "swma" else _roll(rvi, signal_period).mean()
    return {"rvi": rvi, "signal": signal}


def ichimoku(
    df: pd.DataFrame, tenkan_period: int, kijun_period: int, senkou_b_period: int, displacement: int
) -> Outputs:
    # No chikou span: it is the close shifted *back*, i.e. tomorrow's data in today's row.
    def mid(n: int) -> pd.Series:
        return (_roll(df["high"], n).max() + _roll(df["low"], n).min()) / 2

    tenkan, kijun = mid(tenkan_period), mid(kijun_period)
    return {
        "tenkan": tenkan,
        "kijun": kijun,
        "senkou_a": ((tenkan + kijun) / 2).shift(displacement),
        "senkou_b": mid(senkou_b_period).shift(displacement),
    }


def squeeze_intensity(
    df: pd.DataFrame,
    bb_period: int,
    bb_multiplier: float,
    kc_period: int,
    kc_multiplier: float,
    source: str,
) -> Outputs:
    """How far the Bollinger Bands sit inside the Keltner Channel: the smaller of the two
    gaps (KC upper - BB upper, BB lower - KC lower) over the channel's width, floored at 0.
    1 would be bands of zero width, 0 means no squeeze (ktrdr's definition; the channel uses
    its default ATR period of 10)."""
    bb = bbands(df, bb_period, bb_multiplier, source)
    kc = keltner(df, kc_period, 10, kc_multiplier)
    width = kc["upper"] - kc["lower"]
    gap = np.minimum(kc["upper"] - bb["upper"], bb["lower"] - kc["lower"])
    return {"squeeze_intensity": _ratio(gap, width, flat=0.0).clip(lower=0.0)}


def fisher_transform(df: pd.DataFrame, period: int, smoothing: int) -> Outputs:
    """ktrdr's Fisher Transform: the median price placed in the `period` high-low range as
    x in [-1, 1] (clipped to +-0.999), 0.5 ln((1 + x) / (1 - x)), then an EMA of span
    `smoothing` started at the first value; `signal` is the previous bar's value."""
    hi, lo = _roll(df["high"], period).max(), _roll(df["low"], period).min()
    x = (2 * _ratio((df["high"] + df["low"]) / 2 - lo, hi - lo, flat=0.5) - 1).clip(-0.999, 0.999)
    fisher = (0.5 * np.log((1 + x) / (1 - x))).ewm(span=smoothing, adjust=False).mean()
    return {"fisher": fisher, "signal": fisher.shift(1)}
