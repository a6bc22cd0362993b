"""Trained models between machines: a runner publishes a model's files, an API imports them.

A host runner saves a model into its own `TRAINJET_MODELS_DIR`, on its own machine. To make
that model listed, loadable and predictable from an API elsewhere, the runner packs the
version directory (a gzipped tar) into the models bucket, under a key of its own
(`<operation id>/<random>`), before it appends `operation_completed`, and names the key in the
result's `artifacts`. A fresh key per upload means a retried or handed-over upload never
replaces an object: replacing purges the old chunks, and runners may not purge that bucket. The API's
`ModelImporter` (started in its lifespan) unpacks each completed training's package into its
own models dir: on the completion event, and once at start-up for anything it missed.

Importing is idempotent and never overwrites: a model whose operation is already present
(the runner shares the API's models dir, or it was imported before) is left alone; a version
number already taken by another model gets the next free one (`metadata.json` says so).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import shutil
import tarfile
import uuid
from pathlib import Path
from typing import Any

from trainjet.core.events import AnyEvent, OperationCompleted, OperationStatus
from trainjet.core.projections import OperationInfo
from trainjet.core.projections.projector import Projector
from trainjet.core.store.blobs import BlobStore
from trainjet.training.artifacts.registry import _VERSION_RE, SAFE_NAME, ModelStorage

log = logging.getLogger(__name__)


def pack_model_dir(model_dir: Path) -> bytes:
    """The version directory's files as a gzipped tar, paths relative to the directory."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
            tar.add(path, arcname=path.relative_to(model_dir).as_posix())
    return buffer.getvalue()


async def publish_model(
    blobs: BlobStore, operation_id: str, result: dict[str, Any]
) -> dict[str, Any]:
    """Upload the model a training saved; return its `artifacts` naming the package."""
    artifacts = dict(result.get("artifacts") or {})
    model_path = artifacts.get("model_path")
    if not model_path or not (Path(model_path) / "model.pt").is_file():
        return artifacts
    package = await asyncio.to_thread(pack_model_dir, Path(model_path))
    meta = {"model_id": str(artifacts.get("model_id") or ""), "operation_id": operation_id}
    key = f"{operation_id}/{uuid.uuid4().hex[:12]}"
    await blobs.put(key, package, meta)
    artifacts.update(
        artifact_bucket=blobs.bucket, artifact_key=key, artifact_size_bytes=len(package)
    )
    return artifacts


def _operation_of(model_dir: Path) -> str | None:
    try:
        meta = json.loads((model_dir / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = meta.get("operation_id") if isinstance(meta, dict) else None
    return str(value) if value else None


def install_package(models_dir: Path, model_id: str, operation_id: str, package: bytes) -> Path:
    """Unpack a model package under `models_dir` (blocking; run it in a thread)."""
    strategy, _, dirname = model_id.partition("/")
    match = _VERSION_RE.match(dirname)
    if not (SAFE_NAME.match(strategy) and SAFE_NAME.match(dirname) and match):
        raise ValueError(f"refusing to import model {model_id!r}: not a versioned model id")
    family, version = match["family"], int(match["version"])
    storage = ModelStorage(models_dir)
    base = storage.root / strategy
    base.mkdir(parents=True, exist_ok=True)
    tmp = base / f".import-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        with tarfile.open(fileobj=io.BytesIO(package), mode="r:gz") as tar:
            tar.extractall(tmp, filter="data")  # no absolute paths, links out, devices
        while True:
            target = base / f"{family}_v{version}"
            if target != base / dirname:
                _renumber(tmp, f"{strategy}/{target.name}", version)
            try:
                os.rename(tmp, target)  # fails if the number is taken (a local save, say)
                break
            except OSError:
                if not target.exists():
                    raise
                version = max(storage._versions(base, family), default=version) + 1
        storage._point_latest(base, family, target.name, version)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("imported model %s of %s as %s", model_id, operation_id, target)
    return target


def _renumber(model_dir: Path, model_id: str, version: int) -> None:
    path = model_dir / "metadata.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta["imported_as"] = {"from_model_id": meta.get("model_id"), "version": version}
    meta.update(model_id=model_id, model_name=model_id, version=version)
    path.write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")


class ModelImporter:
    """Keeps an API's models dir in step with the models runners published."""

    def __init__(self, blobs: BlobStore, models_dir: Path, projector: Projector) -> None:
        self.blobs = blobs
        self.models_dir = Path(models_dir)
        self.projector = projector
        self.imported = 0
        self.failed = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._running: set[str] = set()

    def start(self) -> None:
        self.projector.add_listener(self._on_event)
        self._spawn(self._catch_up(), "catch-up")

    async def close(self) -> None:
        self.projector.remove_listener(self._on_event)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=f"model-import-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_event(self, info: OperationInfo, event: AnyEvent) -> None:
        if isinstance(event, OperationCompleted) and info.status is OperationStatus.COMPLETED:
            self._spawn(self.import_operation(info), info.operation_id)

    async def _catch_up(self) -> None:
        await self.projector.caught_up.wait()
        for info in self.projector.query.operations():
            if info.status is OperationStatus.COMPLETED:
                await self.import_operation(info)

    async def import_operation(self, info: OperationInfo) -> Path | None:
        """Import the model of one completed operation if it names a package we lack."""
        artifacts = (info.result_summary or {}).get("artifacts") or {}
        key, model_id = artifacts.get("artifact_key"), artifacts.get("model_id")
        if not key or not model_id or artifacts.get("artifact_bucket") != self.blobs.bucket:
            return None
        if info.operation_id in self._running or self._present(str(model_id), info.operation_id):
            return None
        self._running.add(info.operation_id)
        try:
            blob = await self.blobs.get(str(key))
            if blob is None:
                log.warning("model package %s of %s is gone", key, info.operation_id)
                return None
            target = await asyncio.to_thread(
                install_package, self.models_dir, str(model_id), info.operation_id, blob.data
            )
            self.imported += 1
            return target
        except Exception:
            self.failed += 1
            log.exception("importing the model of %s failed", info.operation_id)
            return None
        finally:
            self._running.discard(info.operation_id)

    def _present(self, model_id: str, operation_id: str) -> bool:
        strategy, _, dirname = model_id.partition("/")
        match = _VERSION_RE.match(dirname)
        if not SAFE_NAME.match(strategy) or match is None:
            return False
        base = self.models_dir / strategy
        if _operation_of(base / dirname) == operation_id:
            return True
        with contextlib.suppress(OSError):
            for entry in base.glob(f"{match['family']}_v*"):
                if _operation_of(entry) == operation_id:
                    return True
        return False
