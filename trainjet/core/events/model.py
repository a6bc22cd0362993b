"""The operation event catalogue: frozen, tagged msgspec Structs forming one union.

Every event carries the envelope (`type`, `schema_version`, `event_id`, `operation_id`,
`occurred_at`). Ids and times are minted by the writer and arrive on the event, so folds stay
pure and a replay is exact.

Schema evolution (see docs/events.md): new fields always get a default; a field is never
renamed or retyped. A breaking change bumps that type's `schema_version` and registers an
upcaster in `codec.UPCASTERS` that rewrites the old JSON before it is decoded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from trainjet.core.events.enums import OperationStatus, OperationType
from trainjet.core.events.inputs import OperationInputs, inputs_kind


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Envelope shared by every event. Subclasses set `tag` to their wire `type`."""

    event_id: str
    operation_id: str
    occurred_at: datetime
    schema_version: int = 1


class OperationCreated(Event, frozen=True, kw_only=True, tag="operation_created"):
    """An operation was accepted; `pool` names the runner pool that must execute it.

    `inputs` is everything needed to run (and re-run) the work, typed by `kind` (the
    operation type); the runner reads it from the log. Version 2: version 1 stored `inputs`
    as an untagged object, which the codec's upcaster tags from `operation_type`.
    """

    schema_version: int = 2
    operation_type: OperationType
    pool: str = "local"
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    total_steps: int = 0
    inputs: OperationInputs | None = None
    idempotency_key: str | None = None
    retry_of: str | None = None

    def __post_init__(self) -> None:
        if self.inputs is not None and inputs_kind(self.inputs) != self.operation_type.value:
            raise ValueError(
                f"{inputs_kind(self.inputs)} inputs on a {self.operation_type.value} operation"
            )


class OperationStarted(Event, frozen=True, kw_only=True, tag="operation_started"):
    """A runner took the operation (again, when `attempt` > 1)."""

    runner_id: str
    pool: str = "local"
    host: str = ""
    attempt: int = 1
    session_id: str | None = None
    device: str | None = None
    resumed_from_epoch: int | None = None


class PhaseChanged(Event, frozen=True, kw_only=True, tag="phase_changed"):
    """A named step before or around the main loop (loading, indicators, saving, ...)."""

    phase: str
    message: str = ""
    percentage: float | None = None
    context: dict[str, Any] = msgspec.field(default_factory=dict)


class ProgressUpdated(Event, frozen=True, kw_only=True, tag="progress_updated"):
    """Generic step progress (the dummy operation's iterations, for example)."""

    percentage: float
    message: str = ""
    steps_completed: int = 0
    steps_total: int = 0
    items_processed: int = 0
    items_total: int | None = None
    current_item: str | None = None
    context: dict[str, Any] = msgspec.field(default_factory=dict)


class BatchRecord(msgspec.Struct, frozen=True, array_like=True):
    """One training batch: compact on the wire as `[epoch, batch, loss, accuracy]`."""

    epoch: int
    batch: int
    loss: float
    accuracy: float


class BatchProgress(Event, frozen=True, kw_only=True, tag="batch_progress"):
    """Several consecutive batches, coalesced so the message rate stays bounded.

    `epoch`/`batch` are 1-based; `items_processed` counts global batches done.
    """

    batches: list[BatchRecord]
    total_epochs: int
    batches_per_epoch: int
    items_processed: int
    items_total: int
    percentage: float
    eta_seconds: float | None = None
    context: dict[str, Any] = msgspec.field(default_factory=dict)


class EpochCompleted(Event, frozen=True, kw_only=True, tag="epoch_completed"):
    """One epoch's figures; `epoch` is 1-based."""

    epoch: int
    total_epochs: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None = None
    val_accuracy: float | None = None
    learning_rate: float | None = None
    duration_seconds: float = 0.0
    items_processed: int = 0
    items_total: int | None = None
    percentage: float = 0.0
    eta_seconds: float | None = None
    extra: dict[str, Any] = msgspec.field(default_factory=dict)


class RunnerLost(Event, frozen=True, kw_only=True, tag="runner_lost"):
    """The runner of `attempt` stopped renewing its lease (died, or was cut off): the
    operation is handed over. Not terminal: the next runner of the pool resumes it from its
    latest checkpoint with `operation_started` (`attempt` + 1, `resumed_from_epoch`); with no
    live runner of the pool left, `operation_failed` (code `runner_lost`) follows instead.
    The runner of `attempt` stops at once when it reads this and writes nothing more."""

    runner_id: str = ""
    attempt: int = 0
    reason: str = ""
    # "lease-monitor" or the id of the runner that took the redelivered command
    detected_by: str = ""


class WarningRaised(Event, frozen=True, kw_only=True, tag="warning_raised"):
    message: str


class CancelRequested(Event, frozen=True, kw_only=True, tag="cancel_requested"):
    reason: str = "Operation cancelled by user"
    requested_by: str = "api"


class OperationCancelled(Event, frozen=True, kw_only=True, tag="operation_cancelled"):
    """Terminal. The work stopped at the runner's request-check, keeping partial results."""

    reason: str
    partial_result: dict[str, Any] | None = None
    runner_id: str | None = None


class OperationCompleted(Event, frozen=True, kw_only=True, tag="operation_completed"):
    """Terminal."""

    result_summary: dict[str, Any] = msgspec.field(default_factory=dict)
    runner_id: str | None = None


class OperationFailed(Event, frozen=True, kw_only=True, tag="operation_failed"):
    """Terminal. `error_code` lets clients tell a lost runner from a crash in the work."""

    error: str
    error_code: str = "error"
    runner_id: str | None = None
    partial_result: dict[str, Any] | None = None


class OperationTagged(Event, frozen=True, kw_only=True, tag="operation_tagged"):
    """Labels added to or removed from an operation by a person or a script. Not terminal,
    and applied even after the terminal event: labelling a finished run is the usual case."""

    add: list[str] = msgspec.field(default_factory=list)
    remove: list[str] = msgspec.field(default_factory=list)
    by: str = "api"


class NoteAdded(Event, frozen=True, kw_only=True, tag="note_added"):
    """A free-text note on an operation. Not terminal; applied after the terminal event too."""

    text: str
    by: str = "api"


class ModelPromoted(Event, frozen=True, kw_only=True, tag="model_promoted"):
    """`version` of model `model_name` is now the one `predict` serves for that name.

    Written on the subject of the operation that produced the version, so the run's history
    says it was promoted. Not terminal; it changes no operation, only which version is served.
    """

    model_name: str
    version: str
    previous_version: str | None = None
    model_id: str = ""
    by: str = "api"


AnyEvent = (
    OperationCreated
    | OperationStarted
    | PhaseChanged
    | ProgressUpdated
    | BatchProgress
    | EpochCompleted
    | RunnerLost
    | WarningRaised
    | CancelRequested
    | OperationCancelled
    | OperationCompleted
    | OperationFailed
    | OperationTagged
    | NoteAdded
    | ModelPromoted
)

EVENT_TYPES: tuple[type[Event], ...] = (
    OperationCreated,
    OperationStarted,
    PhaseChanged,
    ProgressUpdated,
    BatchProgress,
    EpochCompleted,
    RunnerLost,
    WarningRaised,
    CancelRequested,
    OperationCancelled,
    OperationCompleted,
    OperationFailed,
    OperationTagged,
    NoteAdded,
    ModelPromoted,
)

# The events that end an operation, and the status each leaves it in: the one definition every
# reader (folds, runners, the CLI, tests) takes its terminal set from.
TERMINAL_STATUS: dict[type[Event], OperationStatus] = {
    OperationCancelled: OperationStatus.CANCELLED,
    OperationCompleted: OperationStatus.COMPLETED,
    OperationFailed: OperationStatus.FAILED,
}
TERMINAL_TYPES: tuple[type[Event], ...] = tuple(TERMINAL_STATUS)


def type_name(event_type: type[Event]) -> str:
    """The wire `type` of an event class (its msgspec tag)."""
    tag = event_type.__struct_config__.tag
    assert isinstance(tag, str)
    return tag
