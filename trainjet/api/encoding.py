"""Fast JSON for read paths: msgspec encodes the read models straight to bytes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from fastapi import Response

from trainjet.core.events import utcnow
from trainjet.core.projections import OperationInfo, OperationMetrics
from trainjet.core.projections.compare import best_val_accuracy

_encoder = msgspec.json.Encoder()


class JSONBytes(Response):
    media_type = "application/json"


def json_response(content: Any, status_code: int = 200) -> Response:
    return JSONBytes(content=_encoder.encode(content), status_code=status_code)


def operation_dict(info: OperationInfo, now: datetime | None = None) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(info, builtin_types=(datetime,))
    data["duration_seconds"] = info.duration_seconds(now or utcnow())
    return data


def operation_summary(
    info: OperationInfo, now: datetime, metrics: OperationMetrics | None = None
) -> dict[str, Any]:
    params = info.metadata.parameters
    return {
        "operation_id": info.operation_id,
        "operation_type": info.operation_type,
        "status": info.status,
        "created_at": info.created_at,
        "progress_percentage": info.progress.percentage,
        "current_step": info.progress.current_step,
        "symbol": info.metadata.symbol,
        "duration_seconds": info.duration_seconds(now),
        # what a list of runs is read for: what was trained, how well, where
        "strategy": params.get("strategy_name"),
        "symbols": params.get("symbols")
        or ([info.metadata.symbol] if info.metadata.symbol else []),
        "timeframes": params.get("timeframes")
        or ([info.metadata.timeframe] if info.metadata.timeframe else []),
        "best_val_accuracy": best_val_accuracy(metrics.epochs) if metrics else None,
        "epochs_completed": len(metrics.epochs) if metrics else 0,
        "epochs_total": params.get("epochs"),
        "runner_id": info.runner_id,
        "pool": info.pool,
        "started_at": info.started_at,
        "completed_at": info.completed_at,
        "tags": info.tags,
    }
