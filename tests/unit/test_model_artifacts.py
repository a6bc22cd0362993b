"""Models between machines: a runner publishes a trained model's files, an API imports them
into its own models dir, idempotently and without overwriting anything."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from trainjet.core.events import OperationCompleted, OperationCreated, OperationType
from trainjet.core.projections import OperationInfo, fold
from trainjet.core.projections.projector import Projector
from trainjet.core.store import MemoryBlobStore, MemoryEventStore
from trainjet.runners.artifacts import ModelImporter, install_package, publish_model

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MODEL_ID = "demo/EURUSD_1h_v1"


def fake_model(root: Path, op_id: str, model_id: str = MODEL_ID) -> Path:
    """What ModelStorage writes, minus torch: a version dir with its files and metadata."""
    path = root / model_id
    (path / "analytics").mkdir(parents=True)
    (path / "model.pt").write_bytes(b"weights of " + op_id.encode())
    (path / "analytics" / "history.csv").write_text("epoch,loss\n1,0.5\n")
    version = int(model_id.rsplit("_v", 1)[1])
    meta = {"model_id": model_id, "model_name": model_id, "version": version, "operation_id": op_id}
    (path / "metadata.json").write_text(json.dumps(meta))
    return path


def completed(op_id: str, artifacts: dict[str, Any]) -> OperationInfo:
    events = [
        OperationCreated(
            event_id="c", operation_id=op_id, occurred_at=T0, operation_type=OperationType.TRAINING
        ),
        OperationCompleted(
            event_id="d",
            operation_id=op_id,
            occurred_at=T0,
            result_summary={"artifacts": artifacts},
        ),
    ]
    info = fold(events)
    assert info is not None
    return info


async def published(tmp_path: Path, blobs: MemoryBlobStore, op_id: str) -> dict[str, Any]:
    model_dir = fake_model(tmp_path / "runner-models", op_id)
    return await publish_model(blobs, op_id, {"artifacts": {"model_path": str(model_dir),
                                                            "model_id": MODEL_ID}})  # fmt: skip


async def test_a_published_model_is_imported_once_with_its_files(tmp_path: Path) -> None:
    blobs = MemoryBlobStore("models")
    artifacts = await published(tmp_path, blobs, "op-a")
    assert artifacts["artifact_bucket"] == "models"
    assert artifacts["artifact_key"].startswith("op-a/")  # never the key of an earlier upload
    again = await published(tmp_path / "again", blobs, "op-a")
    assert again["artifact_key"] != artifacts["artifact_key"]
    assert artifacts["artifact_size_bytes"] > 0
    api_models = tmp_path / "api-models"
    importer = ModelImporter(blobs, api_models, Projector(MemoryEventStore()))
    target = await importer.import_operation(completed("op-a", artifacts))
    assert target == api_models / MODEL_ID
    assert (target / "model.pt").read_bytes() == b"weights of op-a"
    assert (target / "analytics" / "history.csv").is_file()
    assert (api_models / "demo" / "EURUSD_1h_latest").read_text().strip() == "EURUSD_1h_v1"
    assert await importer.import_operation(completed("op-a", artifacts)) is None  # present
    assert importer.imported == 1


async def test_a_taken_version_number_gets_the_next_one(tmp_path: Path) -> None:
    blobs = MemoryBlobStore("models")
    api_models = tmp_path / "api-models"
    fake_model(api_models, "op-local")  # a local training already made v1 here
    artifacts = await published(tmp_path, blobs, "op-host")
    importer = ModelImporter(blobs, api_models, Projector(MemoryEventStore()))
    target = await importer.import_operation(completed("op-host", artifacts))
    assert target == api_models / "demo" / "EURUSD_1h_v2"
    meta = json.loads((target / "metadata.json").read_text())
    assert (meta["model_id"], meta["version"], meta["operation_id"]) == (
        "demo/EURUSD_1h_v2", 2, "op-host")  # fmt: skip
    assert meta["imported_as"]["from_model_id"] == MODEL_ID
    assert (api_models / "demo" / "EURUSD_1h_latest").read_text().strip() == "EURUSD_1h_v2"
    assert (api_models / MODEL_ID / "model.pt").read_bytes() == b"weights of op-local"
    assert await importer.import_operation(completed("op-host", artifacts)) is None


async def test_the_same_models_dir_as_the_runner_imports_nothing(tmp_path: Path) -> None:
    blobs = MemoryBlobStore("models")
    shared = tmp_path / "runner-models"
    artifacts = await published(tmp_path, blobs, "op-a")
    importer = ModelImporter(blobs, shared, Projector(MemoryEventStore()))
    assert await importer.import_operation(completed("op-a", artifacts)) is None
    assert sorted(p.name for p in (shared / "demo").iterdir()) == ["EURUSD_1h_v1"]


@pytest.mark.parametrize(("member", "link"), [("../escape.txt", None), ("evil", "/etc/passwd")])
def test_a_package_cannot_write_outside_its_directory(
    tmp_path: Path, member: str, link: str | None
) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(member)
        if link is None:
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
        else:
            info.type, info.linkname = tarfile.SYMTYPE, link
            tar.addfile(info)
    with pytest.raises(tarfile.TarError):
        install_package(tmp_path / "models", MODEL_ID, "op", buffer.getvalue())
    assert not (tmp_path / "escape.txt").exists()
    assert not (tmp_path / "models" / "demo" / "EURUSD_1h_v1").exists()


def test_a_model_id_that_is_a_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a versioned model id"):
        install_package(tmp_path, "../etc/passwd_v1", "op", b"")
