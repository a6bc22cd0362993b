"""`/trainings`: start a training, read its performance (ktrdr S1 shapes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from trainjet.api.deps import backend_of, get_backend, require_token
from trainjet.api.encoding import json_response
from trainjet.api.schemas import TrainingStartRequest, TrainingStartResponse
from trainjet.api.schemas_views import PerformanceResponse
from trainjet.core.errors import NotFound
from trainjet.core.events import OperationStatus, OperationType
from trainjet.services.training import TrainingService
from trainjet.system import ApiSystem
from trainjet.training.artifacts.results import performance_view

router = APIRouter(prefix="/trainings", tags=["Training"])


async def get_training_service(request: Request) -> TrainingService:
    backend = backend_of(request)
    return TrainingService(backend.orchestrator, backend.registry, backend.settings)


@router.post("/start", response_model=TrainingStartResponse, dependencies=[Depends(require_token)])
async def start_training(
    body: TrainingStartRequest,
    service: Annotated[TrainingService, Depends(get_training_service)],
) -> Response:
    info, _, strategy = await service.start_training(body)
    params = info.metadata.parameters
    symbols = list(params.get("symbols", []))
    return json_response(
        {
            "success": True,
            "task_id": info.operation_id,
            "operation_id": info.operation_id,
            "status": "training_started",
            "message": f"Neural network training started for {', '.join(symbols)} using "
            f"{strategy.name} strategy",
            "symbols": symbols,
            "timeframes": list(params.get("timeframes", [])),
            "strategy_name": strategy.name,
            "estimated_duration_minutes": service.estimated_minutes(strategy),
            "training_mode": params.get("training_mode", info.pool),
            "warnings": list(info.warnings),
        }
    )


@router.get("/{task_id}/performance", response_model=PerformanceResponse)
async def get_performance(
    task_id: str, backend: Annotated[ApiSystem, Depends(get_backend)]
) -> Response:
    info = backend.projector.query.get(task_id)
    if info is None or info.operation_type is not OperationType.TRAINING:
        raise NotFound(f"Training task {task_id} not found")
    if info.status is not OperationStatus.COMPLETED:
        raise NotFound(f"Training task {task_id} is not completed (status: {info.status.value})")
    return json_response(
        {
            "success": True,
            "task_id": task_id,
            "status": "completed",
            **performance_view(info.result_summary),
        }
    )
