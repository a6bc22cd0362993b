"""`/health` and `/runners`: what a person on call needs to see first."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Response

from trainjet import __version__
from trainjet.api.deps import get_backend
from trainjet.api.encoding import json_response
from trainjet.wiring import Backend

router = APIRouter(tags=["Health"])
BackendDep = Annotated[Backend, Depends(get_backend)]


@router.get("/health")
async def health(backend: BackendDep) -> Response:
    projector = backend.projector
    problems: list[str] = []
    details: dict[str, Any] = {}
    if backend.describe is not None:
        try:
            details = await backend.describe()
        except Exception as exc:
            problems.append(f"NATS: {exc}")
    try:
        lag = await projector.lag()
    except Exception as exc:
        lag = None
        problems.append(f"event store: {exc}")
    if projector.error is not None:
        problems.append(f"projector stopped: {projector.error!r}")
    runners = await _runners(backend, problems)
    by_pool: dict[str, int] = {}
    for runner in runners:
        by_pool[runner["pool"]] = by_pool.get(runner["pool"], 0) + 1
    settings = backend.settings
    ops = projector.view.operations.values()
    body = {
        "status": "ok" if not problems else "degraded",
        "version": __version__,
        "problems": problems,
        "nats": {"url": backend.nats_url, **details.get("nats", {})},
        "streams": details.get("streams", {}),
        "projector": {
            "last_sequence": projector.view.last_seq,
            "lag": lag,
            "operations": len(projector.view.operations),
            "active_operations": sum(1 for op in ops if op.status.is_active),
            "events_applied": projector.view.applied,
            # what the fold refused (malformed, forged, duplicate, orphan...): counts per
            # reason since start and the latest few examples, both bounded
            "rejected_messages": len(projector.view.rejected),
            "rejected_by_reason": dict(projector.view.rejected.counts),
            "last_rejected": [msgspec.to_builtins(r) for r in projector.view.rejected[-10:]],
            "running": projector.error is None and projector.caught_up.is_set(),
            # restart cost: the snapshot start-up began from, and what was folded after it
            "snapshot": {
                "enabled": projector.snapshots is not None,
                "covered_sequence": projector.snapshot_seq,
                "loaded_at_start": projector.loaded_snapshot_seq,
                "records_folded_at_start": projector.tail_folded,
            },
        },
        "runners": {"count": len(runners), "by_pool": by_pool},
        "orchestrator": {
            "service": "ServiceOrchestrator",
            "default_training_mode": settings.default_training_mode,
            "lease_seconds": settings.lease_seconds,
            "runner_ttl_seconds": settings.runner_ttl_seconds,
            "cancel_wait_seconds": settings.cancel_wait_seconds,
            "runners_lost_total": backend.leases.failed_total,
            "auth_required_for_writes": bool(settings.api_token),
            "auth_required_for_reads": bool(settings.api_token) and settings.api_protect_reads,
            "cors_origins": list(settings.api_cors_origins),
            "max_body_bytes": settings.api_max_body_bytes,
        },
    }
    return json_response(body, 200 if not problems else 503)


async def _runners(backend: Backend, problems: list[str]) -> list[dict[str, Any]]:
    try:
        return [msgspec.to_builtins(r) for r in await backend.registry.list()]
    except Exception as exc:
        problems.append(f"runner registry: {exc}")
        return []


@router.get("/runners")
async def runners(backend: BackendDep) -> Response:
    problems: list[str] = []
    data = await _runners(backend, problems)
    data.sort(key=lambda r: (r["pool"], r["runner_id"]))
    return json_response({"success": not problems, "data": data, "count": len(data)})
