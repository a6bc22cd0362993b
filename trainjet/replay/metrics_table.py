"""A tidy metrics table of one run: one row per batch and one per epoch, for pandas, DuckDB
or a spreadsheet, beside the event export.

Columns (the same in Parquet and JSON Lines):

| column | meaning |
| --- | --- |
| `operation_id` | the run |
| `level` | `batch` or `epoch` |
| `epoch`, `batch` | 1-based; `batch` is null on epoch rows |
| `step` | batches done at that point, across epochs (an x axis shared by both levels) |
| `occurred_at` | when the log recorded it (UTC timestamp; batches coalesced into one event share it) |
| `train_loss`, `train_accuracy` | the batch's own figures on batch rows; the epoch's on epoch rows |
| `val_loss`, `val_accuracy`, `learning_rate`, `duration_seconds` | epoch rows only |

Rows follow the same folds as `/metrics` and the batch curve: a batch or epoch re-done after a
resume replaces the earlier report, and nothing after the terminal event counts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from trainjet.core.events import TERMINAL_TYPES, BatchProgress, BatchRecord
from trainjet.core.metric_names import EPOCH_METRICS
from trainjet.core.projections import OperationMetrics, evolve_metrics
from trainjet.core.store.port import StoredEvent

COLUMNS = ("operation_id", "level", "epoch", "batch", "step", "occurred_at", *EPOCH_METRICS)


def metrics_path(events_path: Path) -> Path:
    """`run.parquet` -> `run.metrics.parquet`, `run.jsonl` -> `run.metrics.jsonl`."""
    return events_path.with_name(f"{events_path.stem}.metrics{events_path.suffix or '.jsonl'}")


def _batches(records: Sequence[StoredEvent]) -> tuple[list[tuple[BatchRecord, datetime]], int]:
    kept: dict[tuple[int, int], tuple[BatchRecord, datetime]] = {}
    per_epoch = 0
    for record in records:
        event = record.event
        if isinstance(event, TERMINAL_TYPES):
            break
        if not isinstance(event, BatchProgress):
            continue
        per_epoch = event.batches_per_epoch or per_epoch
        for batch in event.batches:
            key = (batch.epoch, batch.batch)
            if key in kept:  # a resumed attempt re-runs from its checkpoint
                kept = {k: v for k, v in kept.items() if k < key}
            kept[key] = (batch, event.occurred_at)
    return list(kept.values()), per_epoch


def metric_rows(records: Sequence[StoredEvent]) -> list[dict[str, Any]]:
    """Batch rows and epoch rows in the order of training (an epoch after its batches)."""
    if not records:
        return []
    operation_id = records[0].event.operation_id
    batches, per_epoch = _batches(records)
    state: OperationMetrics | None = None
    for record in records:
        state = evolve_metrics(state, record.event)
    empty = dict.fromkeys(COLUMNS)
    rows: list[tuple[tuple[int, int], dict[str, Any]]] = []
    for batch, at in batches:
        step = (batch.epoch - 1) * per_epoch + batch.batch if per_epoch else None
        row = {**empty, "operation_id": operation_id, "level": "batch", "epoch": batch.epoch,
               "batch": batch.batch, "step": step, "occurred_at": at,
               "train_loss": batch.loss, "train_accuracy": batch.accuracy}  # fmt: skip
        rows.append(((batch.epoch, batch.batch), row))
    for epoch in state.epochs if state else ():
        row = {**empty, "operation_id": operation_id, "level": "epoch", "epoch": epoch.epoch,
               "step": epoch.epoch * per_epoch if per_epoch else None,
               "occurred_at": epoch.timestamp, "train_loss": epoch.train_loss,
               "train_accuracy": epoch.train_accuracy, "val_loss": epoch.val_loss,
               "val_accuracy": epoch.val_accuracy, "learning_rate": epoch.learning_rate,
               "duration_seconds": epoch.duration_seconds}  # fmt: skip
        rows.append(((epoch.epoch, 1 << 62), row))  # after every batch of its epoch
    return [row for _, row in sorted(rows, key=lambda item: item[0])]


def write_metrics(path: Path, records: Sequence[StoredEvent]) -> int:
    """By the file name, like the events: `.parquet` is Parquet, anything else JSON Lines."""
    rows = metric_rows(records)
    if path.suffix.lower() == ".parquet":
        _write_parquet(path, rows)
    else:
        with path.open("w", encoding="utf-8") as out:
            for row in rows:
                at = row["occurred_at"]
                line = {**row, "occurred_at": at.isoformat().replace("+00:00", "Z") if at else None}
                out.write(json.dumps(line) + "\n")
    return len(rows)


def _write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    from trainjet.replay.export import PARQUET_HINT

    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise RuntimeError(PARQUET_HINT) from exc
    schema = pa.schema(
        [
            ("operation_id", pa.string()),
            ("level", pa.dictionary(pa.int8(), pa.string())),
            ("epoch", pa.int32()),
            ("batch", pa.int32()),
            ("step", pa.int64()),
            ("occurred_at", pa.timestamp("us", tz="UTC")),
            ("train_loss", pa.float64()),
            ("train_accuracy", pa.float64()),
            ("val_loss", pa.float64()),
            ("val_accuracy", pa.float64()),
            ("learning_rate", pa.float64()),
            ("duration_seconds", pa.float64()),
        ]
    )
    columns = {name: [row[name] for row in rows] for name in COLUMNS}
    pq.write_table(pa.table(columns, schema=schema), path)
