"""Rebuild an operation's read models from its records, from scratch, as of any point.

The rebuild runs the very `OperationsView` the API's projector runs, so the positions it keeps
(`last_sequence`, `event_count`) come out the same; only the records differ (one operation's,
read straight from the log). `info_json` / `metrics_json` give the rebuilt models in the JSON
shapes `GET /operations/{id}` and `GET /operations/{id}/metrics` serve, ready to compare.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from trainjet.core.projections import OperationInfo, OperationMetrics
from trainjet.core.projections.trends import metrics_view
from trainjet.core.projections.view import OperationsView
from trainjet.core.store.port import Record, RejectedMessage, StoredEvent

At = int | datetime  # a stream sequence, or a moment (UTC)


@dataclass(frozen=True)
class Replay:
    """One operation rebuilt: the events folded and the read models they give."""

    operation_id: str
    events: list[StoredEvent]
    info: OperationInfo | None
    metrics: OperationMetrics | None
    rejected: list[RejectedMessage] = field(default_factory=list)

    @property
    def last_seq(self) -> int:
        return self.events[-1].seq if self.events else 0


def parse_at(text: str) -> At:
    """`--at` accepts a stream sequence (`42`) or an ISO time (`2026-01-02T10:00:05Z`).

    A time without a zone is UTC, like every `occurred_at` in the log.
    """
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(
            f"--at {text!r}: give a stream sequence (e.g. 42) or an ISO time "
            "(e.g. 2026-01-02T10:00:05Z)"
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cut(records: Iterable[Record], at: At | None) -> list[Record]:
    """The records written up to and including `at` (all of them when `at` is None)."""
    if at is None:
        return list(records)
    if isinstance(at, int):
        return [r for r in records if r.seq <= at]
    # Events carry the writer's clock; the log order is the truth, so stop at the first event
    # after `at` rather than filtering (a late writer's earlier stamp must not sneak back in).
    kept: list[Record] = []
    for record in records:
        if isinstance(record, StoredEvent) and record.event.occurred_at > at:
            break
        kept.append(record)
    return kept


def rebuild(records: Iterable[Record], operation_id: str, at: At | None = None) -> Replay:
    """Fold one operation's records (others are ignored) into fresh read models."""
    view = OperationsView()
    events: list[StoredEvent] = []
    rejected: list[RejectedMessage] = []
    for record in cut(records, at):
        if isinstance(record, RejectedMessage):
            rejected.append(record)
        elif record.event.operation_id == operation_id:
            events.append(record)
            view.apply(record)
    return Replay(
        operation_id=operation_id,
        events=events,
        info=view.operations.get(operation_id),
        metrics=view.metrics.get(operation_id),
        rejected=rejected,
    )


def rebuild_all(records: Sequence[Record]) -> dict[str, Replay]:
    """Every operation in `records`, each rebuilt on its own, in order of first appearance."""
    by_op: dict[str, list[Record]] = {}
    for record in records:
        if isinstance(record, StoredEvent):
            by_op.setdefault(record.event.operation_id, []).append(record)
    return {op_id: rebuild(recs, op_id) for op_id, recs in by_op.items()}


def info_json(info: OperationInfo) -> dict[str, Any]:
    """The rebuilt `OperationInfo` as JSON (datetimes as RFC 3339 text), like the API's."""
    data: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(info))
    return data


def metrics_json(info: OperationInfo, metrics: OperationMetrics | None) -> dict[str, Any]:
    """The `data` of `GET /operations/{id}/metrics` from the rebuilt models, as plain JSON
    values (the API builds it with the same `metrics_view`)."""
    data: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(metrics_view(info, metrics)))
    return data
