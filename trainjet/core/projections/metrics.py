"""Pure folds for training figures: the per-epoch history and the per-batch loss curve."""

from __future__ import annotations

from collections.abc import Iterable

from msgspec.structs import replace

from trainjet.core.events import (
    TERMINAL_TYPES,
    AnyEvent,
    BatchProgress,
    BatchRecord,
    EpochCompleted,
    OperationCreated,
)
from trainjet.core.projections.models import EpochRecord, OperationMetrics


def evolve_metrics(state: OperationMetrics | None, event: AnyEvent) -> OperationMetrics | None:
    """Fold one event into the epoch history.

    An epoch number seen again (a resumed run re-doing an epoch whose checkpoint was lost)
    replaces the earlier record and drops any later ones, so no epoch is counted twice; the
    batch count rewinds the same way.
    """
    if state is None:
        if isinstance(event, OperationCreated):
            return OperationMetrics(operation_id=event.operation_id)
        return None
    match event:
        case EpochCompleted():
            record = EpochRecord(
                epoch=event.epoch,
                train_loss=event.train_loss,
                train_accuracy=event.train_accuracy,
                val_loss=event.val_loss,
                val_accuracy=event.val_accuracy,
                learning_rate=event.learning_rate,
                duration_seconds=event.duration_seconds,
                timestamp=event.occurred_at,
            )
            kept = tuple(e for e in state.epochs if e.epoch < event.epoch)
            return replace(state, epochs=(*kept, record), total_epochs=event.total_epochs)
        case BatchProgress():
            return replace(
                state,
                batches_recorded=batches_recorded_after(state.batches_recorded, event),
                total_epochs=event.total_epochs,
            )
    return state


def batches_recorded_after(recorded: int, event: BatchProgress) -> int:
    """The batch count after `event`, `recorded` before it (also what `OperationsView.apply_all`
    keeps over a run of batch events before it writes the metrics once)."""
    if event.batches and event.batches_per_epoch:
        # A resumed attempt re-reports from its checkpoint's epoch: count from where its first
        # batch sits, so a batch reported twice is counted once.
        first = event.batches[0]
        start = (first.epoch - 1) * event.batches_per_epoch + first.batch - 1
        recorded = min(recorded, max(start, 0))
    return recorded + len(event.batches)


def batch_curve(events: Iterable[AnyEvent]) -> list[BatchRecord]:
    """Every batch's (epoch, batch, loss, accuracy) in order, as the log recorded them.

    Stops at the first terminal event, like the operation fold. A batch reported again after
    a resume replaces the earlier report of the same (epoch, batch).
    """
    curve: dict[tuple[int, int], BatchRecord] = {}
    for event in events:
        if isinstance(event, BatchProgress):
            for record in event.batches:
                key = (record.epoch, record.batch)
                if key in curve:
                    # a resumed attempt re-runs from its checkpoint: drop what it supersedes
                    curve = {k: v for k, v in curve.items() if k < key}
                curve[key] = record
        elif isinstance(event, TERMINAL_TYPES):
            break
    return list(curve.values())
