"""`/strategies`: the strategy catalogue joined with model storage, and validation, in ktrdr's answer shapes.

A missing strategy is a 404 here (the resource is absent), while training start answers 400
for the same file (its *input* is wrong), so this module answers `StrategyNotFoundError` as 404.
Unsafe names (`../x`) are a 400 before the filesystem is touched; the path converter lets such
names reach the guard instead of being turned into an unrelated router 404.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from trainjet.api.encoding import json_response
from trainjet.api.errors import RespondAs
from trainjet.api.schemas_models import StrategyListResponse, StrategyValidationResponse
from trainjet.api.schemas_views import StrategyDetailResponse
from trainjet.config import Settings
from trainjet.core.errors import NotFound
from trainjet.training.artifacts.registry import NAMED_DIR, ModelStorage
from trainjet.training.errors import StrategyNotFoundError
from trainjet.training.indicators.registry import available_indicators
from trainjet.training.strategy.loader import (
    StrategySummary,
    list_strategies,
    resolve_strategy_path,
    validate_strategy,
)

log = logging.getLogger(__name__)
router = APIRouter(prefix="/strategies", tags=["Strategies"])


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _resolve(name: str, strategies_dir: Path) -> Path:
    try:
        return resolve_strategy_path(name, strategies_dir)
    except StrategyNotFoundError as exc:
        raise RespondAs(exc, 404) from exc


def _metrics(model_dir: Path) -> dict[str, float | None]:
    """`latest_metrics` as ktrdr shapes it, from the stored `metrics.json` test metrics."""
    try:
        test = json.loads((model_dir / "metrics.json").read_text("utf-8")).get("test_metrics")
    except (OSError, ValueError, AttributeError):
        test = None
    test = test if isinstance(test, dict) else {}
    return {
        "accuracy": test.get("test_accuracy"),
        "precision": test.get("precision"),
        "recall": test.get("recall"),
        "f1_score": test.get("f1_score"),
    }


def _info(
    s: StrategySummary, models: list[dict[str, Any]], version: int | None = None
) -> dict[str, Any]:
    """One `StrategyInfo`: the strategy file plus what model storage holds for it.

    Named copies repeat a version that is already listed, so versions come from the
    versioned directories only. `latest_*` describe the newest training (or `version`).
    """
    own = [
        m
        for m in models
        if m["strategy"] == s.name
        and not m["model_id"].startswith(f"{NAMED_DIR}/")
        and m["version"] is not None
    ]
    if version is not None:
        own = [m for m in own if m["version"] == version]
        if not own:
            raise NotFound(f"Strategy {s.name!r} has no trained model version {version}")
    latest = own[0] if own else None  # list_models is newest first
    return {
        "name": s.name,
        "description": s.description,
        "version": s.version,
        "symbol": s.symbol,
        "timeframe": s.timeframe,
        "symbols": s.symbols,
        "timeframes": s.timeframes,
        "indicators": s.indicators,
        "fuzzy_config": s.fuzzy_config,
        "training_status": "trained" if own else "untrained",
        "available_versions": sorted({int(m["version"]) for m in own}),
        "latest_version": latest["version"] if latest else None,
        "latest_model_id": latest["model_id"] if latest else None,
        "latest_training_date": latest["created_at"] if latest else None,
        "latest_metrics": _metrics(Path(latest["path"])) if latest else None,
        "is_valid": s.is_valid,
        "errors": s.errors,
    }


def _unreadable(path: Path, reason: str) -> StrategySummary:
    return StrategySummary(
        name=path.stem,
        description="",
        version="",
        symbols=[],
        timeframes=[],
        indicators=[],
        fuzzy_config={},
        path=str(path),
        is_valid=False,
        errors=[reason],
    )


def _catalogue(
    settings: Settings, only: Path | None = None, version: int | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """(StrategyInfo rows, files that could not be read at all) — blocking file work."""
    skipped: dict[Path, str] = {}
    summaries = list_strategies(
        settings.strategies_dir, on_skip=lambda p, why: skipped.__setitem__(p, why)
    )
    if only is not None:
        summaries = [s for s in summaries if Path(s.path).resolve() == only]
        summaries = summaries or [_unreadable(only, skipped.get(only, "unreadable"))]
    models = ModelStorage(settings.models_dir).list_models()
    rows = [_info(s, models, version) for s in summaries]
    return rows, [{"file": p.name, "reason": why} for p, why in skipped.items()]


@router.get("", response_model=StrategyListResponse)
@router.get("/", include_in_schema=False)  # ktrdr's path; no redirect for clients to follow
async def list_all(request: Request) -> Response:
    rows, skipped = await asyncio.to_thread(_catalogue, _settings(request))
    return json_response({"success": True, "strategies": rows, "skipped": skipped})


@router.post("/validate/{strategy_name:path}", response_model=StrategyValidationResponse)
async def validate(strategy_name: str, request: Request) -> Response:
    """All problems of one strategy file (200 with `valid: false` when it has errors)."""
    settings = _settings(request)
    path = _resolve(strategy_name, settings.strategies_dir)  # 400 bad name, 404 missing
    try:
        result = await asyncio.to_thread(validate_strategy, path, settings.strategies_dir)
    except Exception as exc:  # ktrdr's contract: an internal failure is a `system` issue
        log.exception("validating strategy %s failed", path)
        message = f"Validation failed unexpectedly: {exc}"
        return json_response(
            {
                "success": False,
                "valid": False,
                "strategy_name": path.stem,
                "message": message,
                "issues": [
                    {"severity": "error", "category": "system", "message": message, "details": {}}
                ],
                "errors": [message],
                "warnings": [],
                "suggestions": [],
                "available_indicators": available_indicators(),
            }
        )
    return json_response(
        {
            "success": True,
            "valid": result.is_valid,
            "strategy_name": path.stem,
            "message": result.message(path.stem),
            "issues": [asdict(issue) for issue in result.issues],
            "errors": result.errors,
            "warnings": result.warnings,
            "suggestions": result.suggestions,
            "available_indicators": available_indicators(),
        }
    )


@router.get("/{strategy_name:path}", response_model=StrategyDetailResponse)
async def get_one(
    strategy_name: str,
    request: Request,
    version: Annotated[int | None, Query(ge=1, description="Metrics of this model version")] = None,
) -> Response:
    settings = _settings(request)
    path = _resolve(strategy_name, settings.strategies_dir)
    rows, _ = await asyncio.to_thread(_catalogue, settings, path, version)
    return json_response({"success": True, **rows[0]})
