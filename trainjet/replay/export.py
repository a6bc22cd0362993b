"""Events to files and back: JSON Lines always, Parquet when pyarrow is installed.

One row per event in the shape every trainjet reader already uses (`ops events --json`,
`GET /operations/{id}/events`, `train --json`): `seq` and `subject` from the log, then the
event's own fields. Importing decodes each row with the event codec (upcasters included), so
an exported file folds to exactly the state its events gave in the stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec

from trainjet.core.events import CODEC, MalformedEvent, to_builtins
from trainjet.core.store.port import StoredEvent

PARQUET_HINT = "writing Parquet needs pyarrow: pip install 'trainjet[parquet]'"


def event_row(record: StoredEvent) -> dict[str, Any]:
    return {"seq": record.seq, "subject": record.subject, **to_builtins(record.event)}


def from_row(row: dict[str, Any]) -> StoredEvent:
    """A row back into a record; `MalformedEvent` names the row that does not decode."""
    payload = {k: v for k, v in row.items() if k not in ("seq", "subject")}
    try:
        event = CODEC.decode(msgspec.json.encode(payload))
        return StoredEvent(seq=int(row["seq"]), subject=str(row["subject"]), event=event)
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedEvent(f"row seq={row.get('seq')!r}: {exc}") from exc


def write_jsonl(path: Path, records: Iterable[StoredEvent]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(event_row(record), ensure_ascii=False) + "\n")
            count += 1
    return count


def read_jsonl(path: Path) -> list[StoredEvent]:
    records = []
    with path.open(encoding="utf-8") as source:
        for number, line in enumerate(source, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise MalformedEvent(f"{path}:{number}: not JSON ({exc})") from exc
            records.append(from_row(row))
    return records


def write_parquet(path: Path, records: Iterable[StoredEvent]) -> int:
    """Columns for querying (`seq`, `subject`, `type`, `operation_id`, `occurred_at`) plus
    the whole event as JSON text in `event`, which is what makes the file round-trip: event
    types have different fields, and one wide sparse table would lose which were set."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise RuntimeError(PARQUET_HINT) from exc
    rows = [event_row(r) for r in records]
    table = pa.table(
        {
            "seq": pa.array([r["seq"] for r in rows], pa.int64()),
            "subject": pa.array([r["subject"] for r in rows], pa.string()),
            "type": pa.array([r["type"] for r in rows], pa.string()),
            "operation_id": pa.array([r["operation_id"] for r in rows], pa.string()),
            "occurred_at": pa.array([r["occurred_at"] for r in rows], pa.string()),
            "event": pa.array([json.dumps(r, ensure_ascii=False) for r in rows], pa.string()),
        }
    )
    pq.write_table(table, path)
    return len(rows)


def read_parquet(path: Path) -> list[StoredEvent]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise RuntimeError(PARQUET_HINT.replace("writing", "reading")) from exc
    column = pq.read_table(path, columns=["event"]).column("event").to_pylist()
    return [from_row(json.loads(text)) for text in column]


def write_events(path: str | Path, records: list[StoredEvent]) -> int:
    """By the file name: `.parquet` is Parquet, anything else JSON Lines."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        return write_parquet(path, records)
    return write_jsonl(path, records)


def read_events(path: str | Path) -> list[StoredEvent]:
    """The records of an exported file (`str` or `Path`), Parquet or JSON Lines by its name."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        return read_parquet(path)
    return read_jsonl(path)
