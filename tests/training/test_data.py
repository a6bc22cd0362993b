"""CSV loading: index, slicing, hashing and every data error."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from trainjet.api.errors import http_error
from trainjet.training.data.ohlcv import load_ohlcv, sha256_of
from trainjet.training.errors import DataError


def test_bundled_files_load(data_dir: Path) -> None:
    df = load_ohlcv("EURUSD", "1h", data_dir)
    assert len(df) == 5000
    assert list(df.columns) == ["open", "high", "low", "close", "volume"]
    assert str(df.index.tz) == "UTC"
    assert df.index.is_monotonic_increasing
    assert df.index.is_unique
    assert df.index[0] == pd.Timestamp("2017-04-19 09:00", tz="UTC")
    assert (df.dtypes == "float64").all()


def test_date_range_is_inclusive(data_dir: Path) -> None:
    df = load_ohlcv("EURUSD", "1h", data_dir, "2017-06-01", "2017-06-30")
    assert df.index[0] == pd.Timestamp("2017-06-01 00:00", tz="UTC")
    assert df.index[-1].date() == date(2017, 6, 30)  # a date-only end covers the whole day
    df2 = load_ohlcv(
        "EURUSD",
        "1h",
        data_dir,
        start_date=pd.Timestamp("2017-06-01"),
        end_date="2017-06-30T12:00:00Z",
        min_bars=1,
    )
    assert df2.index[-1] == pd.Timestamp("2017-06-30 12:00", tz="UTC")


def test_hash_is_stable_and_slice_specific(data_dir: Path) -> None:
    a = load_ohlcv("EURUSD", "1d", data_dir)
    b = load_ohlcv("EURUSD", "1d", data_dir)
    assert sha256_of(a) == sha256_of(b)
    assert len(sha256_of(a)) == 64
    c = load_ohlcv("EURUSD", "1d", data_dir, end_date="2018-01-31", min_bars=50)
    assert sha256_of(c) != sha256_of(a)
    tweaked = a.copy()
    tweaked.iloc[10, 3] += 1e-9
    assert sha256_of(tweaked) != sha256_of(a)


def test_missing_file_names_path_and_alternatives(data_dir: Path) -> None:
    with pytest.raises(DataError) as err:
        load_ohlcv("EURUSD", "5m", data_dir)
    msg = err.value.message
    assert str(data_dir / "EURUSD_5m.csv") in msg
    assert "EURUSD_1h.csv" in msg
    assert "EURUSD_4h.csv" in msg
    assert "EURUSD_1d.csv" in msg
    assert http_error(err.value).status == 400
    with pytest.raises(DataError, match="none for XYZ"):
        load_ohlcv("XYZ", "1h", data_dir)


def test_too_few_bars(data_dir: Path) -> None:
    with pytest.raises(DataError) as err:
        load_ohlcv("BTCUSD", "1M", data_dir)
    assert "156 bars" in err.value.message
    assert "at least 200" in err.value.message
    assert err.value.details == {"bars": 156, "min_bars": 200}


@pytest.mark.parametrize(("symbol", "timeframe"), [("../data/EURUSD", "1h"), ("EURUSD", "1h/..")])
def test_names_cannot_escape(symbol: str, timeframe: str, data_dir: Path) -> None:
    with pytest.raises(DataError, match="Invalid"):
        load_ohlcv(symbol, timeframe, data_dir)


def test_bad_date_ranges(data_dir: Path) -> None:
    with pytest.raises(DataError, match="Bad date range"):
        load_ohlcv("EURUSD", "1h", data_dir, "2018-01-01", "2017-06-01")
    with pytest.raises(DataError, match="Bad start_date 'yesterday'"):
        load_ohlcv("EURUSD", "1h", data_dir, "yesterday")
    with pytest.raises(DataError, match=r"No bars in EURUSD_1h.csv .* file covers 2017-04-19"):
        load_ohlcv("EURUSD", "1h", data_dir, "2020-01-01", "2020-02-01")
    with pytest.raises(DataError, match="Too few bars"):
        load_ohlcv("EURUSD", "1d", data_dir, "2017-06-01", "2017-06-30")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / name).write_text(text)
    return tmp_path


def test_nan_rows_are_reported(tmp_path: Path) -> None:
    rows = "\n".join(f"2020-01-{d:02d},1,2,0.5,1.5,10" for d in range(1, 29))
    text = (
        "timestamp,Open,High,Low,Close,Volume\n" + rows + "\n2020-01-29,1,,0.5,1.5,10\n"
        "2020-01-30,1,2,0.5,abc,10\n"
    )
    root = _write(tmp_path, "TEST_1d.csv", text)
    with pytest.raises(DataError) as err:
        load_ohlcv("TEST", "1d", root, min_bars=1)
    assert "2 row(s) with missing or non-numeric values" in err.value.message
    assert "2020-01-29" in err.value.message


def test_missing_columns_and_bad_timestamps(tmp_path: Path) -> None:
    root = _write(tmp_path, "TEST_1d.csv", "timestamp,Open,High,Low,Close\n2020-01-01,1,2,0,1\n")
    with pytest.raises(DataError, match=r"missing column\(s\) volume"):
        load_ohlcv("TEST", "1d", root, min_bars=1)
    _write(tmp_path, "TEST_1h.csv", "timestamp,open,high,low,close,volume\nnot-a-date,1,2,0,1,1\n")
    with pytest.raises(DataError, match="unparseable timestamps"):
        load_ohlcv("TEST", "1h", root, min_bars=1)


def test_unsorted_and_duplicated_rows_are_fixed(tmp_path: Path) -> None:
    text = (
        "Date,OPEN,high,low,close,volume\n2020-01-03,3,3,3,3,3\n2020-01-01,1,1,1,1,1\n"
        "2020-01-02,2,2,2,2,2\n2020-01-02,9,9,9,9,9\n"
    )
    df = load_ohlcv("TEST", "1d", _write(tmp_path, "TEST_1d.csv", text), min_bars=1)
    assert list(df["close"]) == [1.0, 9.0, 3.0]  # sorted; the later duplicate wins
