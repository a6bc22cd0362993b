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
        if info.started_at is None or info.completed_at is not None:
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


# One per process: rows are checked against the very objects they were built from, so
# projectors (one per app; several in a test run) cannot read each other's rows.
ROWS = RowCache()
