"""Local OHLCV loading: `<data_dir>/<SYMBOL>_<TIMEFRAME>.csv` (ktrdr `LocalDataLoader`'s layout).

Every bar is labelled by its *open* time (the bundled data are resampled that way: the 4h bar
`08:00` covers 08:00-12:00). `features/alignment.py` relies on this to decide when a bar may be seen.

Data problems are the caller's to fix, so each raises `DataError` naming the file and what is
wrong, instead of letting a pandas traceback through.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime
from pathlib import Path
from typing import TypeAlias

import numpy as np
import pandas as pd

from trainjet.training.data.names import SYMBOL_RE, TIMEFRAME_RE
from trainjet.training.errors import (
    DataError,
    DataNotFoundError,
    InsufficientDataError,
    NoBarsInRangeError,
)

OHLCV_COLUMNS = ("open", "high", "low", "close", "volume")
# ktrdr's `history_required` default: fewer bars cannot warm up indicators and still train.
DEFAULT_MIN_BARS = 200
_TIMESTAMP_NAMES = ("timestamp", "date", "datetime", "time")
_DATE_ONLY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# pd.Timestamp is a datetime, so it is accepted too.
DateLike: TypeAlias = str | date | datetime


def data_path(symbol: str, timeframe: str, data_dir: str | Path) -> Path:
    """The file for one series, after checking the names cannot escape `data_dir`."""
    if not SYMBOL_RE.match(symbol):
        raise DataError(f"Invalid symbol {symbol!r}: use letters, digits, '_', '-' or '.'")
    if not TIMEFRAME_RE.match(timeframe):
        raise DataError(
            f"Invalid timeframe {timeframe!r}: expected a number and a unit m, h, d, w or M "
            "(e.g. 1h, 4h, 1d)"
        )
    return Path(data_dir) / f"{symbol}_{timeframe}.csv"


def available_files(symbol: str, data_dir: str | Path) -> list[str]:
    """CSV files in `data_dir` for `symbol`, to tell the user what does exist."""
    root = Path(data_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.glob(f"{symbol}_*.csv"))


def load_ohlcv(
    symbol: str,
    timeframe: str,
    data_dir: str | Path,
    start_date: DateLike | None = None,
    end_date: DateLike | None = None,
    *,
    min_bars: int = DEFAULT_MIN_BARS,
) -> pd.DataFrame:
    """Bars with a sorted, de-duplicated UTC index and float columns open..volume.

    `start_date`/`end_date` are inclusive; a date without a time (`"2017-12-31"`) as end means
    the whole day. Naive times are read as UTC.
    """
    path = data_path(symbol, timeframe, data_dir)
    if not path.is_file():
        files = available_files(symbol, data_dir)
        seen = ", ".join(files) if files else f"none for {symbol}"
        raise DataNotFoundError(
            f"Data file not found: {path} (available files for {symbol}: {seen})",
            details={"path": str(path), "available": files},
            context={"symbol": symbol, "timeframe": timeframe, "data_dir": str(data_dir)},
        )
    df = _read_csv(path)
    start, end = _date_bounds(start_date, end_date)
    if start is not None or end is not None:
        first, last = df.index[0], df.index[-1]
        mask = np.ones(len(df), dtype=bool)
        if start is not None:
            mask &= df.index >= start
        if end is not None:
            mask &= df.index < end
        df = df.loc[mask]
        if df.empty:
            raise NoBarsInRangeError(
                f"No bars in {path.name} between {start_date} and {end_date} "
                f"(the file covers {first.isoformat()} .. {last.isoformat()})",
                details={"data_start": first.isoformat(), "data_end": last.isoformat()},
                context={
                    "symbol": symbol,
                    "timeframe": timeframe,
                    "start_date": _text(start_date),
                    "end_date": _text(end_date),
                },
                suggestion=f"Choose start_date and end_date between {first.date().isoformat()} "
                f"and {last.date().isoformat()}, the span {path.name} covers.",
            )
    if len(df) < min_bars:
        raise InsufficientDataError(
            f"Too few bars in {path.name}: {len(df)} bars in the requested range, "
            f"at least {min_bars} are required",
            details={"bars": len(df), "min_bars": min_bars},
            context={
                "symbol": symbol,
                "timeframe": timeframe,
                "start_date": _text(start_date),
                "end_date": _text(end_date),
            },
        )
    return df


def _text(value: DateLike | None) -> str | None:
    return None if value is None else str(value)


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        raw = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"Unable to read data file {path}: {exc}") from exc
    if raw.empty:
        raise DataError(f"Data file {path} has no rows")
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    ts_col = next((c for c in _TIMESTAMP_NAMES if c in raw.columns), raw.columns[0])
    missing = [c for c in OHLCV_COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(
            f"Data file {path} is missing column(s) {', '.join(missing)} "
            f"(found: {', '.join(raw.columns)})"
        )
    try:
        index = pd.to_datetime(raw[ts_col], utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise DataError(f"Data file {path}: unparseable timestamps in {ts_col!r}: {exc}") from exc
    try:
        values = raw.loc[:, list(OHLCV_COLUMNS)].apply(pd.to_numeric, errors="coerce")
    except (ValueError, TypeError) as exc:  # pragma: no cover - coerce makes this unlikely
        raise DataError(f"Data file {path}: non-numeric OHLCV values: {exc}") from exc
    df = pd.DataFrame(
        values.to_numpy(dtype=np.float64),
        index=pd.DatetimeIndex(index),
        columns=list(OHLCV_COLUMNS),
    )
    df.index.name = "timestamp"
    bad = df.isna().any(axis=1) | pd.Series(df.index.isna(), index=df.index)
    if bad.any():
        where = [str(t) for t in df.index[bad.to_numpy()][:3]]
        raise DataError(
            f"Data file {path} has {int(bad.sum())} row(s) with missing or non-numeric values "
            f"(first at {', '.join(where)}); clean the file or drop those rows",
            details={"nan_rows": int(bad.sum())},
        )
    return df[~df.index.duplicated(keep="last")].sort_index()


def _date_bounds(
    start_date: DateLike | None, end_date: DateLike | None
) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """Inclusive start and *exclusive* end as UTC timestamps."""
    start = _to_utc(start_date, "start_date") if start_date is not None else None
    end = None
    if end_date is not None:
        end = _to_utc(end_date, "end_date")
        whole_day = isinstance(end_date, date) and not isinstance(end_date, datetime)
        if whole_day or (isinstance(end_date, str) and _DATE_ONLY_RE.match(end_date.strip())):
            end = end + pd.Timedelta(days=1)
        else:
            end = end + pd.Timedelta(1, unit="ns")
    if start is not None and end is not None and start >= end:
        raise DataError(f"Bad date range: start_date {start_date} is after end_date {end_date}")
    return start, end


def _to_utc(value: DateLike, what: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise DataError(f"Bad {what} {value!r}: expected an ISO date such as 2017-06-01") from exc
    if ts is pd.NaT:
        raise DataError(f"Bad {what} {value!r}: expected an ISO date such as 2017-06-01")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def sha256_of(df: pd.DataFrame) -> str:
    """Content hash of the exact bars used: index (ns) and OHLCV as little-endian float64.

    Hashes bytes rather than a CSV rendering so float formatting can never change it.
    """
    h = hashlib.sha256()
    cols = [c for c in OHLCV_COLUMNS if c in df.columns]
    h.update(",".join(cols).encode())
    index = pd.DatetimeIndex(df.index)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    h.update(np.asarray(index.as_unit("ns").asi8, dtype="<i8").tobytes())
    h.update(np.ascontiguousarray(df[cols].to_numpy(dtype="<f8")).tobytes())
    return h.hexdigest()
