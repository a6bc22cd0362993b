"""The rows of `GET /operations` (and of the live list stream): one struct, encoded straight
from the read models, and each row's bytes kept while its operation does not change.

A list answer is mostly rows of operations that ended: their JSON never changes until the
fold replaces their `OperationInfo` (or their epoch history), so a page reuses the bytes it
encoded last time and only joins them. The fold never mutates a read model, it replaces it,
so "unchanged" is an identity test on the two objects a row was built from.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import msgspec

from trainjet.core.events import OperationStatus, OperationType
from trainjet.core.projections import OperationInfo, OperationMetrics
from trainjet.core.projections.compare import best_val_accuracy

# Enough for every row of the largest page many times over, small enough that a list of
# 1M operations paged through end to end holds a bounded amount (~600 bytes a row).
MAX_CACHED_ROWS = 20_000
# Whole pages: a few dozen of the default size (100 rows), a handful of the largest
MAX_CACHED_PAGE_BYTES = 4 * 1024 * 1024
MAX_CACHED_QUERY_BYTES = 1024  # a longer query string is a one-off


class OperationSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One operation in a list: every field `GET /operations` always had, plus the columns
    runs are compared by (what was trained, how well, where)."""

    operation_id: str
    operation_type: OperationType
    status: OperationStatus
    created_at: datetime
    progress_percentage: float
    current_step: str | None = None
    symbol: str | None = None
    duration_seconds: float | None = None
    strategy: str | None = None
    symbols: list[str] = msgspec.field(default_factory=list)
    timeframes: list[str] = msgspec.field(default_factory=list)
    best_val_accuracy: float | None = None
    epochs_completed: int = 0
    epochs_total: int | None = None
    runner_id: str | None = None
    pool: str = "local"
    started_at: datetime | None = None
    completed_at: datetime | None = None
    tags: list[str] = msgspec.field(default_factory=list)


def moves_with_clock(info: OperationInfo) -> bool:
    """Whether the operation's row changes with time alone: its duration, while it runs."""
    return info.started_at is not None and info.completed_at is None


def operation_summary(
    info: OperationInfo, now: datetime, metrics: OperationMetrics | None = None
) -> OperationSummary:
    params = info.metadata.parameters
    symbol = info.metadata.symbol
    timeframe = info.metadata.timeframe
    epochs = metrics.epochs if metrics is not None else ()
    return OperationSummary(
        operation_id=info.operation_id,
        operation_type=info.operation_type,
        status=info.status,
        created_at=info.created_at,
        progress_percentage=info.progress.percentage,
        current_step=info.progress.current_step,
        symbol=symbol,
        duration_seconds=info.duration_seconds(now),
        strategy=params.get("strategy_name"),
        symbols=params.get("symbols") or ([symbol] if symbol else []),
        timeframes=params.get("timeframes") or ([timeframe] if timeframe else []),
        best_val_accuracy=best_val_accuracy(epochs) if epochs else None,
        epochs_completed=len(epochs),
        epochs_total=params.get("epochs"),
        runner_id=info.runner_id,
        pool=info.pool,
        started_at=info.started_at,
        completed_at=info.completed_at,
        tags=info.tags,
    )


class RowCache:
    """Operation id -> (the OperationInfo and metrics a row was built from, its JSON)."""

    def __init__(self, max_rows: int = MAX_CACHED_ROWS) -> None:
        self._max = max_rows
        self._rows: dict[str, tuple[OperationInfo, OperationMetrics | None, bytes]] = {}
        self._encode = msgspec.json.Encoder().encode

    def __len__(self) -> int:
        return len(self._rows)

    def row(self, info: OperationInfo, now: datetime, metrics: OperationMetrics | None) -> bytes:
        """The row's JSON; built and kept unless its duration still grows with `now`."""
        key = info.operation_id
        cached = self._rows.get(key)
        if cached is not None and cached[0] is info and cached[1] is metrics:
            return cached[2]
        encoded = self._encode(operation_summary(info, now, metrics))
        if not moves_with_clock(info):
            rows = self._rows
            rows.pop(key, None)  # re-inserted last: eviction goes oldest-stored first
            if len(rows) >= self._max:
                del rows[next(iter(rows))]
            rows[key] = (info, metrics, encoded)
        return encoded

    def array(
        self, rows: Iterable[tuple[OperationInfo, OperationMetrics | None]], now: datetime
    ) -> bytes:
        """A JSON array of the rows (what msgspec writes for a list of summaries)."""
        row = self.row
        return b"[" + b",".join([row(info, now, metrics) for info, metrics in rows]) + b"]"

    def page(
        self,
        rows: Iterable[tuple[OperationInfo, OperationMetrics | None]],
        now: datetime,
        *,
        total_count: int,
        active_count: int,
    ) -> bytes:
        """The whole `GET /operations` answer, byte for byte what encoding the envelope dict
        `{"success", "data", "total_count", "active_count"}` writes."""
        return b'{"success":true,"data":%b,"total_count":%d,"active_count":%d}' % (
            self.array(rows, now),
            total_count,
            active_count,
        )


class PageCache:
    """Whole `GET /operations` answers per query string, kept while the read models stay at
    one version (`ReadModel.version`) and nothing on the page moves with the clock.

    A console or a script polls the same few pages, and between two polls nothing happened
    most of the time: each poll would walk the same operations and join the same rows again.
    A page holding a running operation (its duration grows), or sorted by duration (a running
    one may move into it), is built anew every time. Only the latest version's pages are kept.
    """

    def __init__(self, max_bytes: int = MAX_CACHED_PAGE_BYTES) -> None:
        self._max = max_bytes
        self._size = 0
        self._version: tuple[object, int] | None = None
        self._pages: dict[bytes, bytes] = {}

    def _current(self, version: tuple[object, int]) -> bool:
        kept = self._version
        return kept is not None and kept[0] is version[0] and kept[1] == version[1]

    def get(self, query: bytes, version: tuple[object, int]) -> bytes | None:
        return self._pages.get(query) if self._current(version) else None

    def put(
        self,
        query: bytes,
        version: tuple[object, int],
        body: bytes,
        rows: Iterable[tuple[OperationInfo, OperationMetrics | None]],
        *,
        sorted_by_clock: bool,
    ) -> None:
        if sorted_by_clock or len(query) > MAX_CACHED_QUERY_BYTES or len(body) > self._max:
            return
        if any(moves_with_clock(info) for info, _ in rows):
            return
        if not self._current(version):
            self._pages.clear()
            self._size = 0
            self._version = version
        pages = self._pages
        self._size -= len(pages.pop(query, b""))
        while pages and self._size + len(body) > self._max:
            self._size -= len(pages.pop(next(iter(pages))))
        pages[query] = body
        self._size += len(body)


# One per process: rows are checked against the very objects they were built from, and pages
# against the view they were read from, so projectors (one per app; several in a test run)
# cannot read each other's.
ROWS = RowCache()
PAGES = PageCache()
