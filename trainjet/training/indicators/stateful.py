"""Indicators whose every bar depends on a state carried from the bar before (a trend, a stop,
an extreme), so they are written as one plain loop over numpy arrays: Parabolic SAR,
SuperTrend and a causal ZigZag. A few thousand bars take milliseconds.

Like `formulas`, each takes an OHLCV frame and its parameters and returns its outputs by
name, primary first, NaN during the warm-up.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainjet.training.indicators.formulas import Outputs, _true_range, _wilder


def parabolic_sar(df: pd.DataFrame, initial_af: float, step_af: float, max_af: float) -> Outputs:
    """Wilder's Parabolic SAR as TA-Lib computes it (`SAR`, or `SAREXT` when the initial and
    step factors differ): the first trend is short if the second bar's low fell more than its
    high rose; on a reversal the stop jumps to the previous extreme; the stop never enters the
    current or previous bar's range. `direction` is +1 while long, -1 while short."""
    high, low = df["high"].to_numpy(dtype=float), df["low"].to_numpy(dtype=float)
    n = len(high)
    sar_out, dir_out = np.full(n, np.nan), np.full(n, np.nan)
    if n < 2:
        return _series(df, sar=sar_out, direction=dir_out)
    down_move, up_move = low[0] - low[1], high[1] - high[0]
    long = not (down_move > 0 and up_move < down_move)
    af = initial_af
    ep, sar = (high[1], low[0]) if long else (low[1], high[0])
    new_high, new_low = high[1], low[1]
    for i in range(1, n):
        prev_high, prev_low = new_high, new_low
        new_high, new_low = high[i], low[i]
        if (long and new_low <= sar) or (not long and new_high >= sar):  # reversal
            long = not long
            sar = ep
            sar = max(sar, prev_high, new_high) if not long else min(sar, prev_low, new_low)
            sar_out[i] = sar
            af, ep = initial_af, (new_high if long else new_low)
        else:
            sar_out[i] = sar
            if (long and new_high > ep) or (not long and new_low < ep):
                ep, af = (new_high if long else new_low), min(af + step_af, max_af)
        sar = sar + af * (ep - sar)
        sar = min(sar, prev_low, new_low) if long else max(sar, prev_high, new_high)
        dir_out[i] = 1.0 if long else -1.0
    return _series(df, sar=sar_out, direction=dir_out)


def supertrend(df: pd.DataFrame, period: int, multiplier: float, atr_smoothing: str) -> Outputs:
    """SuperTrend: bands `multiplier` x ATR around the median price that only tighten while
    the trend lasts; the trend flips when the close crosses the active band. `trend` is the
    active band (below the price in an uptrend), `direction` +1 up / -1 down.

    The ATR is Wilder's (`atr_smoothing="wilder"`, the published definition); ktrdr used a
    simple mean of the true range, available as `atr_smoothing="sma"`.
    """
    tr = _true_range(df)
    atr = _wilder(tr, period) if atr_smoothing == "wilder" else tr.rolling(period).mean()
    mid = ((df["high"] + df["low"]) / 2).to_numpy(dtype=float)
    upper = mid + multiplier * atr.to_numpy(dtype=float)
    lower = mid - multiplier * atr.to_numpy(dtype=float)
    close = df["close"].to_numpy(dtype=float)
    n = len(close)
    trend, direction = np.full(n, np.nan), np.full(n, np.nan)
    valid = np.flatnonzero(~np.isnan(upper))
    if len(valid):
        first = int(valid[0])
        final_up, final_lo = upper[first], lower[first]
        up = close[first] > final_lo
        for i in range(first, n):
            if i > first:
                if upper[i] < final_up or close[i - 1] > final_up:
                    final_up = upper[i]
                if lower[i] > final_lo or close[i - 1] < final_lo:
                    final_lo = lower[i]
                up = close[i] > final_lo if up else close[i] >= final_up
            trend[i] = final_lo if up else final_up
            direction[i] = 1.0 if up else -1.0
    return _series(df, trend=trend, direction=direction)


def zigzag(df: pd.DataFrame, threshold: float, source: str) -> Outputs:
    """A ZigZag that never looks ahead, for use as a feature.

    A classic ZigZag (ktrdr's indicator, and the labels in `features/labels.py`) marks a swing high at
    the bar of the high itself, although it is only known to be a swing once the price has
    fallen `threshold` below it, maybe many bars later: as a feature that leaks the future.
    Here each bar sees only the swings confirmed by that bar: `pivot` is the price of the
    latest confirmed swing point, `direction` the leg that confirmation started (+1 up after a
    confirmed low, -1 down after a confirmed high), `distance` the price's move since that
    pivot as a fraction. NaN until the first swing is confirmed.
    """
    price = df[source].to_numpy(dtype=float)
    n = len(price)
    pivot, direction = np.full(n, np.nan), np.full(n, np.nan)
    up, down = 1.0 + threshold, 1.0 - threshold
    leg, last = 0, np.nan  # leg 0: no swing confirmed yet
    hi = lo = ext = price[0] if n else np.nan
    hi_at = lo_at = 0
    for i in range(n):
        p = price[i]
        if leg == 0:  # the first swing: whichever extreme came first, once they are apart
            hi, hi_at = (p, i) if p > hi else (hi, hi_at)
            lo, lo_at = (p, i) if p < lo else (lo, lo_at)
            if hi >= lo * up:
                leg, last, ext = (1, lo, hi) if lo_at < hi_at else (-1, hi, lo)
        elif (leg == 1 and p > ext) or (leg == -1 and p < ext):
            ext = p  # the current leg extends
        elif (leg == 1 and p <= ext * down) or (leg == -1 and p >= ext * up):
            leg, last, ext = -leg, ext, p  # the leg's extreme is now a confirmed swing
        if leg != 0:
            pivot[i], direction[i] = last, float(leg)
    out = _series(df, pivot=pivot, direction=direction)
    out["distance"] = (df[source] - out["pivot"]) / out["pivot"]
    return out


def _series(df: pd.DataFrame, **arrays: np.ndarray) -> Outputs:
    return {name: pd.Series(values, index=df.index) for name, values in arrays.items()}
