"""`/operations/compare`, `/operations/{id}/tags` and `/operations/{id}/notes`: looking at
runs side by side and labelling them.

A router of its own, included before the operations router: `/operations/compare` must be
matched before `/operations/{operation_id}` would take "compare" for an id. The use cases live
on the write side (`trainjet.core.annotations`); these routes only translate HTTP.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import Field

from trainjet.api.deps import get_backend, require_token
from trainjet.api.encoding import json_response, operation_dict
from trainjet.api.schemas import OperationStatusResponse, StrictModel
from trainjet.api.schemas_views import CompareResponse
from trainjet.core.annotations import MAX_TAGS
from trainjet.core.errors import Unprocessable
from trainjet.core.events import OperationCreated, utcnow
from trainjet.core.projections.compare import MAX_RUNS, MIN_RUNS, RunRecord, compare_runs
from trainjet.core.store.port import StoredEvent
from trainjet.system import ApiSystem

router = APIRouter(prefix="/operations", tags=["Operations"])
BackendDep = Annotated[ApiSystem, Depends(get_backend)]


class TagRequest(StrictModel):
    add: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    remove: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    by: str | None = Field(None, max_length=64, description="Who labels (shown in the log)")


class NoteRequest(StrictModel):
    # generous here; the use case says the real limit in words
    text: str = Field(..., max_length=20_000)
    by: str | None = Field(None, max_length=64, description="Who writes (shown in the log)")


@router.get("/compare", response_model=CompareResponse)
async def compare_operations(
    backend: BackendDep,
    ids: Annotated[
        list[str] | None,
        Query(description=f"{MIN_RUNS} to {MAX_RUNS} operation ids (repeat ids=)"),
    ] = None,
) -> Response:
    """Summaries, per-epoch curves and the configuration diff of 2-5 runs."""
    ids = ids or []
    wanted = list(dict.fromkeys(i.strip() for i in ids if i.strip()))
    if len(wanted) != len(ids):
        raise Unprocessable("Each run may appear once in ids, and no id may be empty")
    if not MIN_RUNS <= len(wanted) <= MAX_RUNS:
        raise Unprocessable(
            f"Compare needs {MIN_RUNS} to {MAX_RUNS} runs (got {len(wanted)}): pass ?ids=A&ids=B"
        )
    infos = [backend.orchestrator.get(op_id) for op_id in wanted]  # 404 on an unknown id
    runs = []
    for info in infos:
        records = await backend.store.read_operation(info.operation_id)
        created = next(
            (
                r.event
                for r in records
                if isinstance(r, StoredEvent) and isinstance(r.event, OperationCreated)
            ),
            None,
        )
        metrics = backend.projector.query.metrics(info.operation_id)
        runs.append(RunRecord(info=info, metrics=metrics, created=created))
    return json_response({"success": True, "data": compare_runs(runs, utcnow())})


@router.post(
    "/{operation_id}/tags",
    response_model=OperationStatusResponse,
    dependencies=[Depends(require_token)],
)
async def tag_operation(operation_id: str, body: TagRequest, backend: BackendDep) -> Response:
    """Add and/or remove tags; answers with the operation as it now reads."""
    info = await backend.annotations.tag(operation_id, body.add, body.remove, body.by)
    return json_response({"success": True, "data": operation_dict(info)})


@router.post(
    "/{operation_id}/notes",
    response_model=OperationStatusResponse,
    dependencies=[Depends(require_token)],
)
async def add_note(operation_id: str, body: NoteRequest, backend: BackendDep) -> Response:
    """Append a note; answers with the operation as it now reads."""
    info = await backend.annotations.note(operation_id, body.text, body.by)
    return json_response({"success": True, "data": operation_dict(info)})
