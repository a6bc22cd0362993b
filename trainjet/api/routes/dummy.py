"""`/dummy/start`: the reference operation, for checking the orchestration alone.
`/dummy/start/batch` starts many in one request (load tests: one start per request tops out
near a hundred a second, most of it HTTP and per-request NATS round trips)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Response

from trainjet.api.deps import get_backend, require_token
from trainjet.api.encoding import json_response
from trainjet.api.schemas import (
    DummyBatchStartRequest,
    DummyBatchStartResponse,
    DummyOperationResponse,
    DummyStartRequest,
)
from trainjet.core.events import DummyInputs, OperationType
from trainjet.core.operation_spec import OperationSpec
from trainjet.system import ApiSystem

router = APIRouter(prefix="/dummy", tags=["Dummy"])


@router.post("/start", response_model=DummyOperationResponse, dependencies=[Depends(require_token)])
async def start_dummy(
    backend: Annotated[ApiSystem, Depends(get_backend)],
    body: Annotated[DummyStartRequest | None, Body()] = None,
) -> Response:
    spec = _spec(body or DummyStartRequest())
    info, _ = await backend.orchestrator.start_managed_operation(
        OperationType.DUMMY,
        metadata=spec.metadata,
        inputs=spec.inputs,
        total_steps=spec.total_steps,
        operation_id=spec.operation_id,
    )
    return json_response(
        {
            "success": True,
            "data": {
                "operation_id": info.operation_id,
                "status": "started",
                "message": "Started dummy_task operation",
            },
            "error": None,
        }
    )


@router.post(
    "/start/batch",
    response_model=DummyBatchStartResponse,
    dependencies=[Depends(require_token)],
)
async def start_dummy_batch(
    backend: Annotated[ApiSystem, Depends(get_backend)],
    body: DummyBatchStartRequest,
) -> Response:
    """Start up to 1,000 dummy operations; one bad item refuses the whole batch (4xx) and
    nothing is created. An item whose task_id exists already answers that operation."""
    answers = await backend.orchestrator.start_operations(
        OperationType.DUMMY, [_spec(item) for item in body.operations]
    )
    return json_response(
        {
            "success": True,
            "data": {
                "operations": [
                    {
                        "operation_id": info.operation_id,
                        "status": "started" if created else info.status.value,
                        "message": "Started dummy_task operation"
                        if created
                        else "Operation exists already (same task_id)",
                    }
                    for info, created in answers
                ],
                "created": sum(created for _, created in answers),
            },
        }
    )


def _spec(body: DummyStartRequest) -> OperationSpec:
    return OperationSpec(
        metadata={
            "mode": "dummy",
            "parameters": {
                "operation_name": "dummy_task",
                "service_name": "DummyService",
                "iterations": body.iterations,
                "interval_seconds": body.interval_seconds,
            },
        },
        inputs=DummyInputs(iterations=body.iterations, interval_seconds=body.interval_seconds),
        total_steps=body.iterations,
        operation_id=body.task_id,
    )
