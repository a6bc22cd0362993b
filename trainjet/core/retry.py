"""The rules of retry (`ServiceOrchestrator.retry` applies them): a new operation with the
inputs of a *failed* one, resuming where it stopped.

Only a failed operation can be retried, as ktrdr's server allows: a completed one has its
result, and a cancelled one was stopped on purpose (start it again as a new operation).

A failed training keeps its latest epoch checkpoint (the runner deletes checkpoints only of
operations that completed or were cancelled), so the retry names that operation in its inputs
(`resume_from`); the runner that takes the retry looks the checkpoint up there and announces
`resumed_from_epoch` in `operation_started`. The API reads the checkpoint's epoch only to tell
the client what will happen; if the checkpoint is gone by the time a runner starts, the runner
says so and trains from the first epoch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import msgspec

from trainjet.core.errors import InvalidRequest
from trainjet.core.events import (
    DummyInputs,
    OperationCreated,
    OperationStatus,
    TrainingInputs,
)
from trainjet.core.projections import OperationInfo
from trainjet.core.store.blobs import BlobStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Retried:
    operation: OperationInfo
    resume_from: str | None
    checkpoint_epoch: int | None
    message: str


def _refusal(info: OperationInfo) -> str:
    op, status = info.operation_id, info.status
    if status.is_active:
        return (
            f"Operation {op} is still {status.value}; only a failed operation can be retried: "
            "wait for it to end, or cancel it and start a new one"
        )
    why = (
        "it has its result" if status is OperationStatus.COMPLETED else "it was stopped on purpose"
    )
    return (
        f"Operation {op} is {status.value}; only a failed operation can be retried "
        f"({why}): start a new operation instead"
    )


async def checkpoint_epoch(store: BlobStore | None, operation_id: str) -> int | None:
    """The epoch of the operation's stored checkpoint, or None (none kept, or unreadable)."""
    if store is None:
        return None
    try:
        blob = await store.get(operation_id)
    except Exception as exc:  # the answer only informs; the runner decides for itself
        log.warning("cannot read the checkpoint of %s: %s", operation_id, exc)
        return None
    raw = blob.meta.get("epoch") if blob is not None else None
    return int(raw) if raw is not None and raw.isdigit() else None


def refuse_unless_failed(info: OperationInfo) -> None:
    if info.status is not OperationStatus.FAILED:
        raise InvalidRequest(_refusal(info), details={"status": info.status.value})


def retry_inputs(
    created: OperationCreated,
) -> tuple[TrainingInputs | DummyInputs | None, str | None]:
    """The inputs of the retry, and the operation a training resumes from (None: not one)."""
    inputs = created.inputs
    if not isinstance(inputs, TrainingInputs):
        return inputs, None
    return msgspec.structs.replace(inputs, resume_from=created.operation_id), created.operation_id


def retry_message(
    operation_id: str, new_id: str, resume_from: str | None, epoch: int | None
) -> str:
    if epoch is not None:
        return (
            f"Retrying {operation_id} as {new_id}: the training resumes from the "
            f"checkpoint of epoch {epoch}"
        )
    if resume_from is not None:
        return (
            f"Retrying {operation_id} as {new_id}: no checkpoint of {operation_id} is "
            "stored, so the training starts from the first epoch"
        )
    return f"Retrying {operation_id} as {new_id} with the same inputs"
