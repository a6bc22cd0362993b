"""Side-by-side view of 2-5 runs: summaries, per-epoch curves and the diff of their configs.

Pure: it takes what the read side already holds (`OperationInfo`, the epoch history) and the
reproducibility record each run carried on `operation_created` (strategy YAML text, inputs,
seed, data hashes, versions), so the same call serves the API, the CLI and a replay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import yaml

from trainjet.core.events import OperationCreated
from trainjet.core.projections.models import EpochRecord, OperationInfo, OperationMetrics
from trainjet.core.projections.trends import epoch_trends

MIN_RUNS, MAX_RUNS = 2, 5
_MISSING = object()


@dataclass(frozen=True)
class RunRecord:
    info: OperationInfo
    metrics: OperationMetrics | None
    created: OperationCreated | None


def best_val_accuracy(epochs: Sequence[EpochRecord]) -> float | None:
    """The highest validation accuracy of any epoch (what a list ranks runs by)."""
    values = [e.val_accuracy for e in epochs if e.val_accuracy is not None]
    return max(values) if values else None


def run_summary(run: RunRecord, now: datetime) -> dict[str, Any]:
    info = run.info
    epochs = run.metrics.epochs if run.metrics else ()
    last = epochs[-1] if epochs else None
    params = info.metadata.parameters
    result = info.result_summary or {}
    test = result.get("test_metrics") if isinstance(result.get("test_metrics"), dict) else None
    trends = epoch_trends(epochs)
    return {
        "operation_id": info.operation_id,
        "operation_type": info.operation_type,
        "status": info.status,
        "strategy": params.get("strategy_name"),
        "symbols": params.get("symbols")
        or ([info.metadata.symbol] if info.metadata.symbol else []),
        "timeframes": params.get("timeframes") or [],
        "tags": info.tags,
        "created_at": info.created_at,
        "started_at": info.started_at,
        "completed_at": info.completed_at,
        "duration_seconds": info.duration_seconds(now),
        "epochs": len(epochs),
        "total_epochs": run.metrics.total_epochs if run.metrics else 0,
        "best_epoch": trends["best_epoch"],
        "best_val_loss": trends.get("best_val_loss"),
        "best_val_accuracy": best_val_accuracy(epochs),
        "final": {
            "train_loss": last.train_loss if last else None,
            "train_accuracy": last.train_accuracy if last else None,
            "val_loss": last.val_loss if last else None,
            "val_accuracy": last.val_accuracy if last else None,
        },
        "test_metrics": test,
    }


def epoch_series(metrics: OperationMetrics | None) -> dict[str, list[Any]]:
    """Columns, one value per epoch, ready to plot on shared axes."""
    epochs = metrics.epochs if metrics else ()
    return {
        "epoch": [e.epoch for e in epochs],
        "train_loss": [e.train_loss for e in epochs],
        "train_accuracy": [e.train_accuracy for e in epochs],
        "val_loss": [e.val_loss for e in epochs],
        "val_accuracy": [e.val_accuracy for e in epochs],
    }


def config_record(created: OperationCreated | None) -> dict[str, Any]:
    """What made a run what it is, flattened to dotted paths.

    The strategy YAML is parsed and diffed key by key (`strategy.model.training.epochs`), not
    as text, so a re-indented file is no difference. `inputs.resolved` is left out: it is
    derived from the YAML and would only repeat its differences.
    """
    if created is None:
        return {}
    inputs: dict[str, Any] = msgspec.to_builtins(created.inputs) if created.inputs else {}
    inputs.pop("kind", None)  # the operation type, not a choice of the run
    flat: dict[str, Any] = {}
    text = inputs.pop("strategy_yaml", None)
    if isinstance(text, str):
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError:
            parsed = None
        if isinstance(parsed, dict):
            _flatten("strategy", parsed, flat)
        else:
            flat["strategy"] = text
    inputs.pop("resolved", None)
    _flatten("inputs", inputs, flat)
    flat["pool"] = created.pool
    return flat


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            _flatten(f"{prefix}.{key}", item, out)
    else:
        out[prefix] = value  # lists are compared whole: [EURUSD, GBPUSD] is one choice


def config_diff(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Only the paths whose values differ between runs (None where a run lacks the path)."""
    paths = sorted({path for record in records for path in record})
    diff = []
    for path in paths:
        values = [record.get(path, _MISSING) for record in records]
        if any(v != values[0] for v in values[1:]):
            diff.append({"path": path, "values": [None if v is _MISSING else v for v in values]})
    return diff


def compare_runs(runs: Sequence[RunRecord], now: datetime) -> dict[str, Any]:
    """The `data` of `GET /operations/compare`."""
    return {
        "operations": [run_summary(run, now) for run in runs],
        "metrics": {run.info.operation_id: epoch_series(run.metrics) for run in runs},
        "config_diff": config_diff([config_record(run.created) for run in runs]),
    }
