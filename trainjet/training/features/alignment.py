"""Feature assembly: fuzzy memberships, `_lag_k` copies and multi-timeframe alignment.

**No look-ahead across timeframes.** Bars are labelled by their open time (`data/ohlcv.py`). A row of
the base (finest) timeframe labelled `t` is a decision made when that bar closes, at
`t + base`. A higher-timeframe bar opening at `T` is only complete at `T + D`, so it may appear
in row `t` only if `T + D <= t + base`. We therefore re-label every higher-timeframe row with
`T + D - base` and forward-fill onto the base grid: the 4h bar 08:00-12:00 first shows in the 1h
row 11:00 (which closes at 12:00), never in rows 08:00-10:00 where it was still forming. ktrdr
forward-filled on the open time, letting a row see the close of a bar up to D - base later.
Were a file labelled by close time instead, this rule would only be one bar late, never early.

Lags are taken per timeframe *before* alignment, so `4h_rsi_low_lag_1` is the previous 4h bar
(as ktrdr does), not the previous 1h row. Warm-up rows (indicator NaN, missing lags, higher
timeframe not yet closed) stay NaN here and are dropped by the dataset, not zero-filled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from trainjet.training.indicators.registry import IndicatorSpec, resolve_indicator

# pandas is imported by the functions that compute: strategy validation (the API's start-up
# imports it) only orders timeframes and resolves targets, and must not pay about 0.4 s for it.
if TYPE_CHECKING:
    import pandas as pd

_UNIT_MINUTES = {"m": 1, "h": 60, "d": 1440, "w": 10080, "M": 43200}
# ktrdr's derived metrics, which its strategies use: fuzzy-set keys that are not indicator ids themselves.
DERIVED_TARGETS = {"bb_width": ("BollingerBands", "width"), "volume_ratio": ("SMA", "volume_ratio")}


def timeframe_minutes(tf: str) -> int:
    """Nominal length in minutes (a month counts as 30 days); used for ordering only."""
    return int(tf[:-1]) * _UNIT_MINUTES[tf[-1]]


def order_timeframes(timeframes: Sequence[str]) -> list[str]:
    """Finest first (ktrdr's base-timeframe rule); ties keep the given order."""
    return sorted(timeframes, key=timeframe_minutes)


def bar_close_times(index: pd.DatetimeIndex, tf: str) -> pd.DatetimeIndex:
    """When each bar (labelled by its open time) is complete."""
    import pandas as pd

    n, unit = int(tf[:-1]), tf[-1]
    if unit == "M":
        return pd.DatetimeIndex(index + pd.DateOffset(months=n))
    return pd.DatetimeIndex(index + pd.Timedelta(minutes=n * _UNIT_MINUTES[unit]))


def fuzzy_targets(specs: Sequence[IndicatorSpec]) -> dict[str, tuple[str, str]]:
    """Every valid fuzzy-set key -> (indicator id, output name).

    `<id>` reads the primary output, `<id>.<output>` any other, plus ktrdr's derived metrics
    `bb_width` (of the first Bollinger indicator) and `volume_ratio` (volume / its SMA).
    """
    targets: dict[str, tuple[str, str]] = {}
    for spec in specs:
        resolved = resolve_indicator(spec.type)
        if resolved is None:
            continue
        outputs = resolved[0].outputs
        targets[spec.id] = (spec.id, outputs[0])
        for out in outputs[1:]:
            targets[f"{spec.id}.{out}"] = (spec.id, out)
    for key, (kind, output) in DERIVED_TARGETS.items():
        host = next(
            (
                s
                for s in specs
                if s.type == kind and (kind != "SMA" or s.params.get("source") == "volume")
            ),
            None,
        )
        if host is not None and key not in targets:
            targets[key] = (host.id, output)
    return targets


def target_series(
    outputs: Mapping[str, Mapping[str, pd.Series]], prices: pd.DataFrame, target: tuple[str, str]
) -> pd.Series:
    """The values a fuzzy variable reads, from computed outputs by indicator id."""
    indicator_id, output = target
    computed = outputs[indicator_id]
    if output == "volume_ratio":
        sma = next(iter(computed.values()))
        return (prices["volume"] / sma.where(sma != 0)).astype("float64")
    return computed[output]


def add_lags(frame: pd.DataFrame, lookback: int) -> pd.DataFrame:
    """Append `<col>_lag_<k>` for k = 1..lookback, grouped by lag as ktrdr orders them."""
    import pandas as pd

    if lookback <= 0:
        return frame
    lagged = [frame.shift(k).add_suffix(f"_lag_{k}") for k in range(1, lookback + 1)]
    return pd.concat([frame, *lagged], axis=1)


def align_to_base(
    frame: pd.DataFrame, tf: str, base_index: pd.DatetimeIndex, base_tf: str
) -> pd.DataFrame:
    """Re-index a higher-timeframe frame onto the base grid without look-ahead (module doc)."""
    import pandas as pd

    if tf == base_tf:
        return frame.reindex(base_index)
    visible = bar_close_times(pd.DatetimeIndex(frame.index), tf) - pd.Timedelta(
        minutes=timeframe_minutes(base_tf)
    )
    shifted = frame.set_axis(visible, axis=0)
    shifted = shifted[~shifted.index.duplicated(keep="last")]
    return shifted.reindex(base_index, method="ffill")


def combine_timeframes(
    per_tf: Mapping[str, pd.DataFrame], base_tf: str, lookback: int
) -> pd.DataFrame:
    """Lag, prefix (`<tf>_` when more than one timeframe) and align every timeframe's fuzzy
    frame onto the base timeframe's rows; columns in finest-first timeframe order."""
    import pandas as pd

    base_index = pd.DatetimeIndex(per_tf[base_tf].index)
    multi = len(per_tf) > 1
    parts = []
    for tf in order_timeframes(list(per_tf)):
        frame = add_lags(per_tf[tf], lookback)
        if multi:
            frame = frame.add_prefix(f"{tf}_")
        parts.append(align_to_base(frame, tf, base_index, base_tf))
    return pd.concat(parts, axis=1)
