"""The operations list as the console shows it: the columns a user compares runs by, and the
server-side sort over them, so a page of 10,000 operations costs one sort, not a transfer.

Rows keep every field `GET /operations` always had and add the console's columns, so older
clients read them unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from trainjet.api.encoding import operation_summary
from trainjet.core.projections import OperationInfo, OperationMetrics


class SortKey(StrEnum):
    """Columns `GET /operations?sort=` accepts (anything else is a 422 naming these)."""

    CREATED_AT = "created_at"
    STATUS = "status"
    OPERATION_TYPE = "operation_type"
    STRATEGY = "strategy"
    SYMBOL = "symbol"
    PROGRESS = "progress"
    BEST_VAL_ACCURACY = "best_val_accuracy"
    DURATION = "duration"
    RUNNER = "runner"


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


def best_val_accuracy(metrics: OperationMetrics | None) -> float | None:
    values = (
        [e.val_accuracy for e in metrics.epochs if e.val_accuracy is not None] if metrics else []
    )
    return max(values) if values else None


def console_row(
    info: OperationInfo, metrics: OperationMetrics | None, now: datetime
) -> dict[str, Any]:
    params = info.metadata.parameters
    row = operation_summary(info, now)
    row.update(
        strategy=params.get("strategy_name"),
        symbols=params.get("symbols") or ([info.metadata.symbol] if info.metadata.symbol else []),
        timeframes=params.get("timeframes")
        or ([info.metadata.timeframe] if info.metadata.timeframe else []),
        runner_id=info.runner_id,
        pool=info.pool,
        best_val_accuracy=best_val_accuracy(metrics),
        epochs_total=params.get("epochs"),
    )
    tags = getattr(info, "tags", None)  # tags arrive with the tagging events
    if tags is not None:
        row["tags"] = list(tags)
    return row


def _key(
    sort: SortKey, metrics: dict[str, OperationMetrics], now: datetime
) -> Callable[[OperationInfo], tuple[bool, Any]]:
    """A key whose first element puts missing values last in ascending order."""

    def value(op: OperationInfo) -> Any:
        match sort:
            case SortKey.CREATED_AT:
                return op.created_at
            case SortKey.STATUS:
                return op.status.value
            case SortKey.OPERATION_TYPE:
                return op.operation_type.value
            case SortKey.STRATEGY:
                return op.metadata.parameters.get("strategy_name")
            case SortKey.SYMBOL:
                return op.metadata.symbol
            case SortKey.PROGRESS:
                return op.progress.percentage
            case SortKey.BEST_VAL_ACCURACY:
                return best_val_accuracy(metrics.get(op.operation_id))
            case SortKey.DURATION:
                return op.duration_seconds(now)
            case SortKey.RUNNER:
                return op.runner_id
        return None  # pragma: no cover - every key is matched above

    def key(op: OperationInfo) -> tuple[bool, Any]:
        v = value(op)
        return (v is None, v if v is not None else 0)

    return key


def sorted_page(
    ops: Iterable[OperationInfo],
    metrics: dict[str, OperationMetrics],
    sort: SortKey,
    order: SortOrder,
    offset: int,
    limit: int,
    now: datetime,
) -> list[OperationInfo]:
    """One page of `ops` by `sort`; ties keep log order (newest first), so pages are stable.
    Operations without a value (no runner yet, no validation) come last either way."""
    newest_first = list(reversed(list(ops)))
    key = _key(sort, metrics, now)
    present = [op for op in newest_first if not key(op)[0]]
    missing = [op for op in newest_first if key(op)[0]]
    present.sort(key=key, reverse=order is SortOrder.DESC)
    return (present + missing)[offset : offset + limit]
