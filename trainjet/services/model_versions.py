"""Model versions and promotion: which stored version `predict` serves, and why.

A model *name* is the strategy it was trained from (`eurusd_rsi_mlp`); its *versions* are the
version directories under it (`EURUSD_1h_v3`, one family per symbols/timeframes choice). A new
training adds a version but never changes what is served once someone promoted one: `predict`
serves the promoted version, and the newest only while none is promoted.

The promotion itself is an event (`model_promoted`) on the subject of the operation that
produced the version, so the run's history records it and the API's projector rebuilds the
served versions from the log after a restart. Everything is checked before anything is
appended: an unknown name or version is a 404 and leaves no event.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainjet.core.errors import InvalidRequest
from trainjet.core.events import EventFactory, ModelPromoted, is_valid_operation_id
from trainjet.core.projections.projector import Projector
from trainjet.core.projections.promotions import Promotion
from trainjet.core.store.port import EventStore
from trainjet.runners.artifacts import pack_model_dir
from trainjet.training.artifacts.json_files import read_json
from trainjet.training.artifacts.registry import (
    _VERSION_RE,
    NAMED_DIR,
    SAFE_NAME,
    ModelStorage,
)
from trainjet.training.errors import ModelNotFoundError

_SHORT_VERSION = re.compile(r"^v?(\d+)$")


def check_name(name: str) -> str:
    if not SAFE_NAME.match(name) or name == NAMED_DIR:
        raise InvalidRequest(
            f"Invalid model name {name!r}: use the strategy name the model was trained from "
            "(`trainjet models list` shows them)"
        )
    return name


class ModelVersions:
    """Reads the versions of one model name from the models directory, with the promotions
    folded from the log, and decides which one is served."""

    def __init__(self, storage: ModelStorage, promotions: Mapping[str, Promotion]) -> None:
        self.storage = storage
        self.promotions = promotions

    def _dirs(self, name: str) -> list[Path]:
        base = self.storage.root / check_name(name)
        if not base.is_dir():
            return []
        return [
            d
            for d in base.iterdir()
            if _VERSION_RE.match(d.name) and d.is_dir() and (d / "model.pt").is_file()
        ]

    def _dirs_or_404(self, name: str) -> list[Path]:
        dirs = self._dirs(name)
        if not dirs:
            raise ModelNotFoundError(
                f"Model {name!r} not found: no stored version under that name "
                "(`trainjet models list` shows the models)"
            )
        return dirs

    def path_of(self, name: str, version: str) -> Path:
        """The directory of `version` (`EURUSD_1h_v3`, or `v3`/`3` when only one family has
        that number); 404 naming the versions there are."""
        dirs = self._dirs_or_404(name)
        wanted = version.strip()
        exact = [d for d in dirs if d.name == wanted]
        if not exact and (short := _SHORT_VERSION.match(wanted)):
            exact = [
                d
                for d in dirs
                if (m := _VERSION_RE.match(d.name)) and int(m["version"]) == int(short[1])
            ]
        if len(exact) == 1:
            return exact[0]
        known = ", ".join(sorted(d.name for d in dirs))
        if len(exact) > 1:
            raise ModelNotFoundError(
                f"Version {version!r} of {name!r} is ambiguous: give one of {known}"
            )
        raise ModelNotFoundError(f"Model {name!r} has no version {version!r} (versions: {known})")

    def served(self, name: str) -> Path | None:
        """The promoted version, or the newest one where none is promoted (None: no model)."""
        dirs = self._dirs(name)
        promotion = self.promotions.get(name)
        if promotion is not None:
            match = [d for d in dirs if d.name == promotion.version]
            if match:
                return match[0]
        if not dirs:
            return None
        return max(dirs, key=_created_key)

    def served_in_family(self, name: str, family: str) -> Path | None:
        """`strategy/FAMILY` names one family: its promoted version if the promotion is in
        it, else its newest."""
        dirs = [
            d
            for d in self._dirs(name)
            if (m := _VERSION_RE.match(d.name)) and m["family"] == family
        ]
        promotion = self.promotions.get(name)
        if promotion is not None:
            match = [d for d in dirs if d.name == promotion.version]
            if match:
                return match[0]
        return max(dirs, key=_created_key) if dirs else None

    def list(self, name: str) -> list[dict[str, Any]]:
        """Every version of `name`, newest first, with what the API's callers compare."""
        dirs = self._dirs_or_404(name)
        served = self.served(name)
        promotion = self.promotions.get(name)
        rows = [self.describe(name, d, served, promotion) for d in dirs]
        return sorted(rows, key=lambda r: str(r["created_at"] or ""), reverse=True)

    def describe(
        self, name: str, path: Path, served: Path | None, promotion: Promotion | None
    ) -> dict[str, Any]:
        meta = read_json(path / "metadata.json")
        metrics = read_json(path / "metrics.json")
        promoted = promotion is not None and promotion.version == path.name
        return {
            "version": path.name,
            "model_name": name,
            "model_id": f"{name}/{path.name}",
            "number": meta.get("version"),
            "operation_id": meta.get("operation_id"),
            "created_at": meta.get("created_at"),
            "symbols": meta.get("symbols", []),
            "timeframes": meta.get("timeframes", []),
            "test_metrics": metrics.get("test_metrics"),
            "training_metrics": metrics.get("training_metrics"),
            "promoted": promoted,
            "promoted_at": promotion.promoted_at if promoted and promotion else None,
            "promoted_by": promotion.by if promoted and promotion else None,
            "served": served is not None and served == path,
        }

    def archive(self, name: str, version: str) -> tuple[str, bytes]:
        """(file name, a gzipped tar of the version directory)."""
        path = self.path_of(name, version)
        return f"{name}_{path.name}.tar.gz", pack_model_dir(path)


def _created_key(path: Path) -> str:
    return str(read_json(path / "metadata.json").get("created_at", ""))


class ModelPromotion:
    """`promote`: check, append `model_promoted`, wait for the projector, answer the version."""

    def __init__(self, store: EventStore, projector: Projector, storage: ModelStorage) -> None:
        self.store = store
        self.projector = projector
        self.storage = storage

    def versions(self) -> ModelVersions:
        return ModelVersions(self.storage, self.projector.query.promotions())

    async def promote(self, name: str, version: str, by: str | None = None) -> dict[str, Any]:
        versions = self.versions()
        path = await asyncio.to_thread(versions.path_of, name, version)  # 404 before any write
        author = (by or "api").strip()[:64] or "api"
        current = self.projector.query.promotion(name)
        if current is None or current.version != path.name:
            served = await asyncio.to_thread(versions.served, name)
            meta = read_json(path / "metadata.json")
            operation_id = str(meta.get("operation_id") or "")
            if not is_valid_operation_id(operation_id):
                raise InvalidRequest(
                    f"Version {path.name} of {name!r} does not record the operation that "
                    "produced it, so its promotion has no run to be logged on; retrain it"
                )
            event = EventFactory(operation_id).make(
                ModelPromoted,
                model_name=name,
                version=path.name,
                previous_version=served.name if served is not None else None,
                model_id=f"{name}/{path.name}",
                by=author,
            )
            await self.projector.wait_until(await self.store.append(event))
        after = self.versions()
        return await asyncio.to_thread(
            after.describe, name, path, after.served(name), after.promotions.get(name)
        )


def served_path(
    storage: ModelStorage, promotions: Mapping[str, Promotion], reference: str
) -> Path | None:
    """Where a promotion decides what `reference` (as `predict` takes it) means, that
    version's directory; None where no promotion applies (the caller resolves as before).

    A named copy and an exact model id are never redirected: they name one model already.
    """
    parts = reference.strip().strip("/").split("/")
    name = parts[0]
    if name not in promotions or ((storage.root / NAMED_DIR / name).is_dir() and len(parts) == 1):
        return None
    versions = ModelVersions(storage, promotions)
    if len(parts) == 1:
        return versions.served(name)
    if len(parts) == 2 and not _VERSION_RE.match(parts[1]):
        return versions.served_in_family(name, parts[1])
    return None
