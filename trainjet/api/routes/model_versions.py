"""`/models/{name}/versions`, `/models/{name}/promote` and a version's archive.

Included before the `/models` router, whose `/{model_name:path}` catch-all would otherwise
read `x/versions` as a model reference. Promotion is a write (an event in the log) and needs
the token like every other mutating endpoint; listing and downloading are reads.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import Field

from trainjet.api.deps import get_backend, require_token
from trainjet.api.encoding import json_response
from trainjet.api.schemas import StrictModel
from trainjet.api.schemas_views import ModelVersionResponse, ModelVersionsResponse, raw_body
from trainjet.services.model_versions import ModelPromotion
from trainjet.system import ApiSystem
from trainjet.training.artifacts.registry import ModelStorage

router = APIRouter(prefix="/models", tags=["Models"])


async def get_promotion(backend: Annotated[ApiSystem, Depends(get_backend)]) -> ModelPromotion:
    return ModelPromotion(
        backend.store, backend.projector, ModelStorage(backend.settings.models_dir)
    )


PromotionDep = Annotated[ModelPromotion, Depends(get_promotion)]


class PromoteRequest(StrictModel):
    version: str = Field(
        ..., min_length=1, max_length=200, description="A version such as EURUSD_1h_v3 (or v3)"
    )
    by: str | None = Field(None, max_length=64, description="Who promotes (shown in the log)")


@router.get("/{name}/versions", response_model=ModelVersionsResponse)
async def list_versions(name: str, promotion: PromotionDep) -> Response:
    """Every version of a model name, newest first; `served` marks what `predict` uses."""
    rows = await asyncio.to_thread(promotion.versions().list, name)
    return json_response({"success": True, "data": rows})


@router.post(
    "/{name}/promote",
    response_model=ModelVersionResponse,
    dependencies=[Depends(require_token)],
)
async def promote_version(name: str, body: PromoteRequest, promotion: PromotionDep) -> Response:
    """Make `version` the one `predict` serves for `name` (recorded as `model_promoted`)."""
    row = await promotion.promote(name, body.version, body.by)
    return json_response({"success": True, "data": row})


@router.get(
    "/{name}/versions/{version}/archive",
    response_class=Response,
    responses=raw_body("application/gzip", "The version's directory as a .tar.gz"),
)
async def download_version(name: str, version: str, promotion: PromotionDep) -> Response:
    """The version's directory (weights, config, metrics, features) as a `.tar.gz`."""
    filename, data = await asyncio.to_thread(promotion.versions().archive, name, version)
    return Response(
        content=data,
        media_type="application/gzip",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
