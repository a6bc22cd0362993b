"""`/dummy/start`: the reference operation, for checking the orchestration alone."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Response

from trainjet.api.deps import get_backend, require_token
from trainjet.api.encoding import json_response
from trainjet.api.schemas import DummyOperationResponse, DummyStartRequest
from trainjet.core.events import DummyInputs, OperationType
from trainjet.system import ApiSystem

router = APIRouter(prefix="/dummy", tags=["Dummy"])


@router.post("/start", response_model=DummyOperationResponse, dependencies=[Depends(require_token)])
async def start_dummy(
    backend: Annotated[ApiSystem, Depends(get_backend)],
    body: Annotated[DummyStartRequest | None, Body()] = None,
) -> Response:
    body = body or DummyStartRequest()
    info, _ = await backend.orchestrator.start_managed_operation(
        OperationType.DUMMY,
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
