"""`/models`: stored models, named copies, loading and predictions (real, not ktrdr's stubs).

Reads need only the settings, not NATS, so models can be listed and used while the event
store is down; only `save` needs the operations view. File and torch work runs in a worker
thread so one prediction never stalls the event loop (and with it every live stream).
torch is imported by the service when a model is first loaded, never when this module is.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from trainjet.api.deps import get_backend, require_token
from trainjet.api.encoding import json_response
from trainjet.api.schemas_models import (
    ModelListResponse,
    ModelLoadResponse,
    ModelSaveResponse,
    PredictRequest,
    PredictResponse,
    SaveModelRequest,
)
from trainjet.api.schemas_views import ModelDetailResponse
from trainjet.services.model_cache import ModelCache
from trainjet.services.models import ModelService, first_of
from trainjet.services.prediction import PredictionQuery
from trainjet.system import ApiSystem

if TYPE_CHECKING:
    from trainjet.training.artifacts.model_files import LoadedModel

router = APIRouter(prefix="/models", tags=["Models"])


async def get_model_service(request: Request) -> ModelService:
    """A service around this app's model cache (created on first use; async, so no race)."""
    cache: ModelCache | None = getattr(request.app.state, "model_cache", None)
    if cache is None:
        cache = request.app.state.model_cache = ModelCache()
    # the served versions come from the log; before the backend is up (NATS not reached yet)
    # no promotion is known and a name serves its newest version
    backend: ApiSystem | None = getattr(request.app.state, "backend", None)
    promotions = backend.projector.query.promotions() if backend is not None else {}
    return ModelService(request.app.state.settings, cache, promotions)


ServiceDep = Annotated[ModelService, Depends(get_model_service)]


def _model_info(stored: LoadedModel) -> dict[str, Any]:
    """ktrdr's `model_info` block, plus the lists and sizes a multi-symbol model needs."""
    from trainjet.training.model.network import architecture_name, parameters_count

    meta, metrics = stored.metadata, stored.metrics
    return {
        "model_id": stored.model_id,
        "created_at": meta.get("saved_at") or meta.get("created_at"),
        **first_of(meta),
        "symbols": list(meta.get("symbols") or []),
        "timeframes": list(meta.get("timeframes") or []),
        "architecture": architecture_name(stored.model),
        "parameters_count": parameters_count(stored.model),
        "input_size": stored.model.spec["input_size"],
        "training_accuracy": (metrics.get("training_metrics") or {}).get("final_train_accuracy"),
        "test_accuracy": (metrics.get("test_metrics") or {}).get("test_accuracy"),
    }


@router.get("", response_model=ModelListResponse)
async def list_models(
    service: ServiceDep,
    strategy: Annotated[str | None, Query(max_length=128, description="Only this strategy")] = None,
) -> Response:
    models = await asyncio.to_thread(service.list_models, strategy)
    return json_response({"success": True, "models": models})


@router.post("/save", response_model=ModelSaveResponse, dependencies=[Depends(require_token)])
async def save_model(
    body: SaveModelRequest,
    service: ServiceDep,
    backend: Annotated[ApiSystem, Depends(get_backend)],
) -> Response:
    """Register a named copy of a completed training's model; 409 if the name is taken."""
    info = backend.orchestrator.get(body.task_id)  # 404 "Operation not found: <id>"
    saved = await asyncio.to_thread(service.save, info, body.model_name, body.description)
    return json_response({"success": True, **saved})


@router.post("/predict", response_model=PredictResponse)
async def predict(body: PredictRequest, service: ServiceDep) -> Response:
    """BUY/HOLD/SELL for one bar of `symbol`; the model is loaded on first use."""
    ignored = sorted(body.model_extra or {})
    query = PredictionQuery(**body.model_dump(exclude=set(ignored)))
    result = await asyncio.to_thread(service.predict, query)
    return json_response({"success": True, **result, "ignored_fields": ignored})


@router.post(
    "/{model_name:path}/load",
    response_model=ModelLoadResponse,
    dependencies=[Depends(require_token)],
)
async def load_model(model_name: str, service: ServiceDep) -> Response:
    """Load into this API's cache (predict also loads on demand; this warms it up)."""

    def load() -> tuple[dict[str, Any], bool]:
        stored, cached = service.load(model_name)
        return _model_info(stored), cached

    info, cached = await asyncio.to_thread(load)
    return json_response(
        {
            "success": True,
            "model_name": model_name,
            "model_loaded": True,
            "already_loaded": cached,
            "model_info": info,
        }
    )


@router.get("/{model_name:path}", response_model=ModelDetailResponse)
async def get_model(model_name: str, service: ServiceDep) -> Response:
    """One model's catalogue entry with its metrics, architecture and input features."""
    model = await asyncio.to_thread(service.describe, model_name)
    return json_response({"success": True, "model": model})
