# size: one change function per event type, kept side by side so the whole fold reads at once
"""The pure fold from events to `OperationInfo`: `evolve(state, event) -> state`.

No clock, ids or I/O here: everything arrives on the event, so folding the same history
always gives the same state (which is what replay audits rely on).

Rules worth knowing:
- The first terminal event wins; anything after it changes nothing but the position, except
  tags and notes, which people add to finished runs above all.
- Progress is only ever written by events of the runner, never by a reader (ktrdr had two
  writers racing), and progress context is replaced per event, not merged (ktrdr's merge kept stale batch keys on epoch updates).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from msgspec.structs import replace

from trainjet.core.events import (
    AnyEvent,
    BatchProgress,
    CancelRequested,
    EpochCompleted,
    NoteAdded,
    OperationCancelled,
    OperationCompleted,
    OperationCreated,
    OperationFailed,
    OperationStarted,
    OperationStatus,
    OperationTagged,
    PhaseChanged,
    ProgressUpdated,
    RunnerLost,
    WarningRaised,
)
from trainjet.core.projections.models import (
    OperationInfo,
    OperationMetadata,
    OperationNote,
    OperationProgress,
)


def create(event: OperationCreated) -> OperationInfo:
    meta = dict(event.metadata)
    metadata = OperationMetadata(
        symbol=meta.pop("symbol", None),
        timeframe=meta.pop("timeframe", None),
        mode=meta.pop("mode", None),
        start_date=_as_datetime(meta.pop("start_date", None)),
        end_date=_as_datetime(meta.pop("end_date", None)),
        parameters=dict(meta.pop("parameters", {}) or {}),
    )
    return OperationInfo(
        operation_id=event.operation_id,
        operation_type=event.operation_type,
        status=OperationStatus.PENDING,
        created_at=event.occurred_at,
        progress=OperationProgress(steps_total=event.total_steps),
        metadata=metadata,
        pool=event.pool,
        retry_of=event.retry_of,
    )


def _as_datetime(value: Any) -> datetime | None:
    """Dates arrive as ISO text in metadata; a date alone means midnight UTC."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None  # a fold never fails on a bad value written by someone else
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def evolve(state: OperationInfo | None, event: AnyEvent) -> OperationInfo | None:
    """Apply one event. Returns None only for events of an operation never created."""
    if state is None:
        return create(event) if isinstance(event, OperationCreated) else None
    changes = changes_of(state, event)
    return state if changes is None else replace(state, **changes)


Changes = dict[str, Any]


def changes_of(state: OperationInfo, event: AnyEvent) -> Changes | None:
    """The fields `event` changes on an existing operation, or None when it changes nothing.

    Separate from `evolve` so the projector can add its position fields and build one new
    `OperationInfo` per event rather than two (the fold runs for every event of the log).
    """
    # Annotations are about the run, not part of it: they apply whatever its status.
    if state.status.is_terminal and type(event) not in _ANNOTATIONS:
        return None
    change = _CHANGES.get(type(event))
    return None if change is None else change(state, event)


def _tagged(state: OperationInfo, event: OperationTagged) -> Changes:
    tags = (set(state.tags) - set(event.remove)) | set(event.add)
    return {"tags": sorted(tags)}


def _noted(state: OperationInfo, event: NoteAdded) -> Changes:
    added = OperationNote(text=event.text, at=event.occurred_at, by=event.by)
    return {"notes": [*state.notes, added]}


def _started(state: OperationInfo, event: OperationStarted) -> Changes:
    parameters = state.metadata.parameters
    if event.session_id is not None:
        parameters = {**parameters, "session_id": event.session_id}
    return {
        "status": OperationStatus.RUNNING,
        "started_at": state.started_at or event.occurred_at,
        "runner_id": event.runner_id,
        "attempt": event.attempt,
        "metadata": replace(state.metadata, parameters=parameters),
    }


def _phase(state: OperationInfo, event: PhaseChanged) -> Changes:
    progress = replace(
        state.progress,
        percentage=state.progress.percentage if event.percentage is None else event.percentage,
        current_step=event.message or event.phase.replace("_", " ").title(),
        context={"phase": event.phase, **event.context},
    )
    return {"progress": progress}


def _progress(state: OperationInfo, event: ProgressUpdated) -> Changes:
    return {"progress": _progress_from_update(state.progress, event)}


def _batches(state: OperationInfo, event: BatchProgress) -> Changes:
    return {"progress": _progress_from_batches(state.progress, event)}


def _epoch(state: OperationInfo, event: EpochCompleted) -> Changes:
    return {"progress": _progress_from_epoch(state.progress, event)}


def _warning(state: OperationInfo, event: WarningRaised) -> Changes:
    return {"warnings": [*state.warnings, event.message]}


def _runner_lost(state: OperationInfo, event: RunnerLost) -> Changes | None:
    # Still running as far as the user is concerned: the next runner of the pool resumes
    # it (or the monitor fails it). Say so instead of showing a dead runner.
    if event.attempt != state.attempt:
        return None  # a late duplicate about an attempt already superseded
    note = (
        f"Runner {event.runner_id} lost (attempt {event.attempt}): {event.reason}; "
        "waiting for another runner to resume from the last checkpoint"
    ).replace(": ;", ";")
    return {
        "warnings": [*state.warnings, note],
        "progress": replace(state.progress, current_step=note),
    }


def _cancel_requested(state: OperationInfo, event: CancelRequested) -> Changes | None:
    if state.cancel_requested_at is not None:
        return None
    return {"cancel_requested_at": event.occurred_at, "cancellation_reason": event.reason}


def _completed(state: OperationInfo, event: OperationCompleted) -> Changes:
    progress = replace(
        state.progress,
        percentage=100.0,
        steps_completed=state.progress.steps_total or state.progress.steps_completed,
        items_processed=state.progress.items_total or state.progress.items_processed,
    )
    return {
        "status": OperationStatus.COMPLETED,
        "completed_at": event.occurred_at,
        "result_summary": event.result_summary,
        "progress": progress,
    }


def _cancelled(state: OperationInfo, event: OperationCancelled) -> Changes:
    return {
        "status": OperationStatus.CANCELLED,
        "completed_at": event.occurred_at,
        "error_message": event.reason,
        "cancellation_reason": event.reason,
        "result_summary": event.partial_result,
    }


def _failed(state: OperationInfo, event: OperationFailed) -> Changes:
    return {
        "status": OperationStatus.FAILED,
        "completed_at": event.occurred_at,
        "error_message": event.error,
        "errors": [*state.errors, event.error],
        "result_summary": event.partial_result,
    }


_ANNOTATIONS = frozenset({OperationTagged, NoteAdded})
# One lookup by the event's type instead of a chain of isinstance tests: the fold runs for
# every event of the log. A type missing here (a duplicate create, events of other folds)
# changes nothing.
_CHANGES: dict[type[Any], Callable[[OperationInfo, Any], Changes | None]] = {
    OperationTagged: _tagged,
    NoteAdded: _noted,
    OperationStarted: _started,
    PhaseChanged: _phase,
    ProgressUpdated: _progress,
    BatchProgress: _batches,
    EpochCompleted: _epoch,
    WarningRaised: _warning,
    RunnerLost: _runner_lost,
    CancelRequested: _cancel_requested,
    OperationCompleted: _completed,
    OperationCancelled: _cancelled,
    OperationFailed: _failed,
}


def fold(events: Iterable[AnyEvent]) -> OperationInfo | None:
    """The state after a whole history (what replay and audits compare against)."""
    state: OperationInfo | None = None
    for event in events:
        state = evolve(state, event)
    return state


def _progress_from_update(_: OperationProgress, event: ProgressUpdated) -> OperationProgress:
    return OperationProgress(
        percentage=event.percentage,
        current_step=event.message or None,
        steps_completed=event.steps_completed,
        steps_total=event.steps_total,
        items_processed=event.items_processed,
        items_total=event.items_total,
        current_item=event.current_item,
        context=dict(event.context),
    )


def epoch_batch_message(
    epoch: int, total_epochs: int, batch: int | None = None, per_epoch: int = 0
) -> str:
    """ktrdr's rendered step, kept verbatim: "Epoch 3/50 · Batch 120/640"."""
    text = f"Epoch {epoch}/{total_epochs}"
    if batch is not None and per_epoch:
        text += f" · Batch {batch}/{per_epoch}"
    return text


def _progress_from_batches(progress: OperationProgress, event: BatchProgress) -> OperationProgress:
    last = event.batches[-1] if event.batches else None
    context: dict[str, Any]
    if last is None:
        context = {"phase": "training", **event.context}
    else:  # one literal rather than a copy then an update: this runs for most events
        context = {
            "phase": "training",
            **event.context,
            "epoch_index": last.epoch,
            "total_epochs": event.total_epochs,
            "batch_number": last.batch,
            "batch_total_per_epoch": event.batches_per_epoch,
            "batch_metrics": {"loss": last.loss, "accuracy": last.accuracy},
        }
    if event.eta_seconds is not None:
        context["eta_seconds"] = event.eta_seconds
    step = (
        epoch_batch_message(last.epoch, event.total_epochs, last.batch, event.batches_per_epoch)
        if last
        else progress.current_step
    )
    return OperationProgress(
        percentage=event.percentage,
        current_step=step,
        steps_completed=progress.steps_completed,
        steps_total=event.total_epochs,
        items_processed=event.items_processed,
        items_total=event.items_total,
        current_item=(
            f"Epoch {last.epoch} · Batch {last.batch}/{event.batches_per_epoch}" if last else None
        ),
        context=context,
    )


def _progress_from_epoch(progress: OperationProgress, event: EpochCompleted) -> OperationProgress:
    metrics = {
        "train_loss": event.train_loss,
        "train_accuracy": event.train_accuracy,
        "val_loss": event.val_loss,
        "val_accuracy": event.val_accuracy,
        "learning_rate": event.learning_rate,
        "duration_seconds": event.duration_seconds,
        **event.extra,
    }
    context: dict[str, Any] = {
        "phase": "training",
        "epoch_index": event.epoch,
        "total_epochs": event.total_epochs,
        "epoch_metrics": metrics,
    }
    if event.eta_seconds is not None:
        context["eta_seconds"] = event.eta_seconds
    return OperationProgress(
        percentage=event.percentage,
        current_step=epoch_batch_message(event.epoch, event.total_epochs),
        steps_completed=event.epoch,
        steps_total=event.total_epochs,
        items_processed=event.items_processed or progress.items_processed,
        items_total=event.items_total if event.items_total is not None else progress.items_total,
        current_item=progress.current_item,
        context=context,
    )
