"""Lags, timeframe ordering and look-ahead-free multi-timeframe alignment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trainjet.training.features.alignment import (
    add_lags,
    align_to_base,
    bar_close_times,
    combine_timeframes,
    fuzzy_targets,
    order_timeframes,
)
from trainjet.training.indicators.registry import IndicatorSpec

H1 = pd.date_range("2020-01-01", periods=72, freq="h", tz="UTC")
H4 = pd.date_range("2020-01-01", periods=18, freq="4h", tz="UTC")
D1 = pd.date_range("2020-01-01", periods=3, freq="D", tz="UTC")


def test_order_timeframes() -> None:
    assert order_timeframes(["1d", "1h", "4h", "15m", "1w", "1M"]) == [
        "15m",
        "1h",
        "4h",
        "1d",
        "1w",
        "1M",
    ]


def test_bar_close_times() -> None:
    assert bar_close_times(H4[:1], "4h")[0] == pd.Timestamp("2020-01-01 04:00", tz="UTC")
    month = pd.DatetimeIndex([pd.Timestamp("2020-01-01", tz="UTC")])
    assert bar_close_times(month, "1M")[0] == pd.Timestamp("2020-02-01", tz="UTC")


def test_lags_are_named_and_shifted() -> None:
    f = pd.DataFrame({"a": [1.0, 2, 3], "b": [4.0, 5, 6]})
    out = add_lags(f, 2)
    assert list(out.columns) == ["a", "b", "a_lag_1", "b_lag_1", "a_lag_2", "b_lag_2"]
    assert out["a_lag_2"].tolist()[2] == 1.0
    assert np.isnan(out["a_lag_1"].iloc[0])
    assert add_lags(f, 0) is f


def test_4h_bar_visible_only_after_it_closed() -> None:
    four = pd.DataFrame({"x": np.arange(len(H4), dtype=float)}, index=H4)
    out = align_to_base(four, "4h", H1, "1h")["x"]
    # 00:00-02:00 rows close before the first 4h bar does (04:00): nothing visible yet
    assert out.iloc[:3].isna().all()
    # the 1h row 03:00 closes at 04:00, with the 4h bar 00:00-04:00
    assert out[pd.Timestamp("2020-01-01 03:00", tz="UTC")] == 0
    assert out[pd.Timestamp("2020-01-01 06:00", tz="UTC")] == 0
    assert out[pd.Timestamp("2020-01-01 07:00", tz="UTC")] == 1


def test_changing_a_future_4h_bar_leaves_earlier_rows_unchanged() -> None:
    four = pd.DataFrame({"x": np.arange(len(H4), dtype=float)}, index=H4)
    before = align_to_base(four, "4h", H1, "1h")["x"]
    changed = four.copy()
    bar = pd.Timestamp("2020-01-02 08:00", tz="UTC")
    changed.loc[bar, "x"] = 999.0
    after = align_to_base(changed, "4h", H1, "1h")["x"]
    first_visible = bar + pd.Timedelta(hours=3)  # the row whose close is the bar's close
    assert before[before.index < first_visible].equals(after[after.index < first_visible])
    assert after[first_visible] == 999.0


def test_daily_bar_visible_from_the_last_hour_of_its_day() -> None:
    daily = pd.DataFrame({"x": [1.0, 2.0, 3.0]}, index=D1)
    out = align_to_base(daily, "1d", H1, "1h")["x"]
    assert (
        out[pd.Timestamp("2020-01-01 22:00", tz="UTC")]
        != out[pd.Timestamp("2020-01-01 22:00", tz="UTC")]
    )  # NaN
    assert out[pd.Timestamp("2020-01-01 23:00", tz="UTC")] == 1.0
    assert out[pd.Timestamp("2020-01-02 22:00", tz="UTC")] == 1.0
    assert out[pd.Timestamp("2020-01-02 23:00", tz="UTC")] == 2.0


def test_combine_prefixes_orders_and_lags_per_timeframe() -> None:
    per_tf = {
        "4h": pd.DataFrame({"rsi_low": np.arange(len(H4), dtype=float)}, index=H4),
        "1h": pd.DataFrame({"rsi_low": np.arange(len(H1), dtype=float)}, index=H1),
    }
    out = combine_timeframes(per_tf, "1h", lookback=1)
    assert list(out.columns) == ["1h_rsi_low", "1h_rsi_low_lag_1", "4h_rsi_low", "4h_rsi_low_lag_1"]
    assert out.index.equals(H1)
    row = out.loc[pd.Timestamp("2020-01-01 11:00", tz="UTC")]
    # the 4h lag is the previous 4h bar, not the previous hour
    assert (row["4h_rsi_low"], row["4h_rsi_low_lag_1"]) == (2.0, 1.0)
    assert (row["1h_rsi_low"], row["1h_rsi_low_lag_1"]) == (11.0, 10.0)
    single = combine_timeframes({"1h": per_tf["1h"]}, "1h", lookback=0)
    assert list(single.columns) == ["rsi_low"]  # no prefix with one timeframe


def test_fuzzy_targets() -> None:
    specs = [
        IndicatorSpec("rsi", "RSI", {}),
        IndicatorSpec("macd", "MACD", {}),
        IndicatorSpec("bb", "BollingerBands", {}),
        IndicatorSpec("vol", "SMA", {"source": "volume", "period": 20}),
    ]
    targets = fuzzy_targets(specs)
    assert targets["rsi"] == ("rsi", "rsi")
    assert targets["macd"] == ("macd", "line")  # primary output, as ktrdr S1
    assert targets["macd.histogram"] == ("macd", "histogram")
    assert targets["bb_width"] == ("bb", "width")
    assert targets["volume_ratio"] == ("vol", "volume_ratio")


@pytest.mark.parametrize("tf", ["4h", "1d"])
def test_alignment_never_uses_an_unclosed_bar(tf: str) -> None:
    index = H4 if tf == "4h" else D1
    hours = 4 if tf == "4h" else 24
    frame = pd.DataFrame({"opened": index.as_unit("s").asi8.astype(float)}, index=index)
    out = align_to_base(frame, tf, H1, "1h")["opened"].dropna()
    assert len(out) > 0
    opened = pd.to_datetime(out.to_numpy().astype("int64"), unit="s", utc=True)
    assert opened.min() >= index[0]
    row_close = out.index + pd.Timedelta(hours=1)
    assert (opened + pd.Timedelta(hours=hours) <= row_close).all()
