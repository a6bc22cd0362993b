# size: the write and read sides of one directory layout share its naming and version rules
"""Versioned model storage: layout, version numbering, real ids, names and named copies.

Layout under `models_dir`::

    <strategy>/<SYMBOLS>_<TIMEFRAMES>_v<N>/   model.pt config.json metrics.json features.json
                                              metadata.json [analytics/...]
    <strategy>/<SYMBOLS>_<TIMEFRAMES>_latest  a text file holding the newest version dir's name
    _named/<model_name>/                      a copy registered by `POST /models/save`

Symbols and timeframes are joined with `-` (`EURUSD-GBPUSD_1h-4h_v3`). `_latest` is a plain
file, not a symlink, because symlinks need privileges on Windows and break when a models
directory is copied or zipped. A version directory is written under a hidden temp name and
renamed into place, so a reader never sees a half-written model and a crash leaves no version.

This module never imports torch, so the API can list, resolve and copy models without it;
writing and reading `model.pt` itself is `model_files`.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trainjet import __version__
from trainjet.core.errors import Conflict, InvalidRequest
from trainjet.training.artifacts.json_files import files_and_size, read_json, write_json
from trainjet.training.errors import ModelNotFoundError

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
NAMED_DIR = "_named"
LATEST_SUFFIX = "_latest"
_VERSION_RE = re.compile(r"^(?P<family>.+)_v(?P<version>\d+)$")
_lock = threading.Lock()  # orders version numbering and `_latest` updates within a process


def safe_name(value: str, what: str = "name") -> str:
    if not SAFE_NAME.match(value):
        raise InvalidRequest(
            f"Invalid {what} {value!r}: use letters, digits, '_', '-' or '.', starting with a letter or digit"
        )
    return value


def family_name(symbols: Sequence[str], timeframes: Sequence[str]) -> str:
    return safe_name(f"{'-'.join(symbols)}_{'-'.join(timeframes)}", "symbols/timeframes")


@dataclass
class SavedModel:
    model_id: str  # path relative to models_dir, e.g. "rsi/EURUSD_1h_v3"
    path: Path
    version: int
    files: list[str]
    size_bytes: int


class ModelStorage:
    def __init__(self, models_dir: str | Path = "models") -> None:
        self.root = Path(models_dir)

    # --- writing -------------------------------------------------------------------------
    def add_version(
        self,
        write: Callable[[Path], None],
        *,
        strategy: str,
        symbols: Sequence[str],
        timeframes: Sequence[str],
        metadata: dict[str, Any],
    ) -> SavedModel:
        """Publish a new version of `<symbols>_<timeframes>` under `strategy`.

        `write(dir)` fills a hidden temp directory; this adds `metadata.json` (with the id and
        version it gets) and renames the directory into place, so no reader sees it half-made.
        """
        family = family_name(symbols, timeframes)
        base = self.root / safe_name(strategy, "strategy name")
        base.mkdir(parents=True, exist_ok=True)
        tmp = base / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            write(tmp)
            with _lock:
                version = self._next_version(base, family)
                while True:
                    target = base / f"{family}_v{version}"
                    write_json(
                        tmp / "metadata.json",
                        {
                            **metadata,
                            "model_id": f"{base.name}/{target.name}",
                            "model_name": f"{base.name}/{target.name}",
                            "strategy": strategy,
                            "symbols": list(symbols),
                            "timeframes": list(timeframes),
                            "version": version,
                            "created_at": datetime.now(UTC).isoformat(),
                            "trainjet_version": __version__,
                        },
                    )
                    try:
                        os.rename(tmp, target)  # fails if another process took this number
                        break
                    except OSError:
                        if not target.exists():
                            raise
                        version += 1
                self._point_latest(base, family, target.name, version)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        files, size = files_and_size(target)
        return SavedModel(f"{base.name}/{target.name}", target, version, files, size)

    @staticmethod
    def _versions(base: Path, family: str) -> list[int]:
        found = []
        for entry in base.glob(f"{family}_v*"):
            m = _VERSION_RE.match(entry.name)
            if m and m["family"] == family and entry.is_dir():
                found.append(int(m["version"]))
        return found

    def _next_version(self, base: Path, family: str) -> int:
        return max(self._versions(base, family), default=0) + 1

    def _point_latest(self, base: Path, family: str, dirname: str, version: int) -> None:
        pointer = base / f"{family}{LATEST_SUFFIX}"
        current = self._read_latest(base, family)
        if current is not None and current[1] > version:
            return  # a concurrent save already published a newer version
        tmp = base / f".{pointer.name}.{uuid.uuid4().hex}"
        tmp.write_text(dirname + "\n", encoding="utf-8")
        os.replace(tmp, pointer)

    @staticmethod
    def _read_latest(base: Path, family: str) -> tuple[Path, int] | None:
        try:
            name = (base / f"{family}{LATEST_SUFFIX}").read_text(encoding="utf-8").strip()
        except OSError:
            return None
        m = _VERSION_RE.match(name)
        if not SAFE_NAME.match(name) or not m or not (base / name).is_dir():
            return None
        return base / name, int(m["version"])

    def save_copy(
        self,
        result_summary: dict[str, Any],
        model_name: str,
        description: str = "",
        *,
        task_id: str | None = None,
    ) -> dict[str, Any]:
        """Register a named copy of a completed training's model (`POST /models/save`)."""
        safe_name(model_name, "model name")
        src_value = ((result_summary or {}).get("artifacts") or {}).get("model_path")
        src = self._inside_root(Path(src_value)) if src_value else None
        if src is None or not (src / "model.pt").is_file():
            raise InvalidRequest("Trained model file not found")
        named = self.root / NAMED_DIR
        named.mkdir(parents=True, exist_ok=True)
        target = named / model_name
        if target.exists():
            raise Conflict(f"A model named {model_name!r} already exists")
        tmp = named / f".tmp-{uuid.uuid4().hex}"
        saved_at = datetime.now(UTC)
        try:
            shutil.copytree(src, tmp)
            meta = read_json(tmp / "metadata.json")
            source_id = meta.get("model_id")
            meta.update(
                model_id=f"{NAMED_DIR}/{model_name}",
                model_name=model_name,
                description=description,
                saved_at=saved_at.isoformat(),
                source_model_id=source_id,
                task_id=task_id,
            )
            write_json(tmp / "metadata.json", meta)
            with _lock:
                if target.exists():
                    raise Conflict(f"A model named {model_name!r} already exists")
                os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _, size = files_and_size(target)
        return {
            "model_id": f"{NAMED_DIR}/{model_name}",
            "model_name": model_name,
            "model_path": str(target),
            "task_id": task_id,
            "saved_at": saved_at.isoformat().replace("+00:00", "Z"),
            "model_size_mb": round(size / (1024 * 1024), 4),
            "source_model_id": source_id,
        }

    # --- reading -------------------------------------------------------------------------
    def _inside_root(self, path: Path) -> Path | None:
        resolved = (path if path.is_absolute() else Path.cwd() / path).resolve()
        return resolved if resolved.is_relative_to(self.root.resolve()) else None

    def _entry(self, path: Path) -> dict[str, Any]:
        meta = read_json(path / "metadata.json")
        metrics = read_json(path / "metrics.json")
        rel = path.relative_to(self.root).as_posix()
        _, size = files_and_size(path)
        training = metrics.get("training_metrics") or {}
        test = metrics.get("test_metrics") or {}
        return {
            "model_id": rel,
            "model_name": meta.get("model_name") or rel,
            "strategy": meta.get("strategy"),
            "symbols": meta.get("symbols", []),
            "timeframes": meta.get("timeframes", []),
            "version": meta.get("version"),
            "path": str(path),
            "created_at": meta.get("saved_at") or meta.get("created_at"),
            "training_accuracy": training.get("final_train_accuracy"),
            "test_accuracy": test.get("test_accuracy"),
            "size_bytes": size,
            "description": meta.get("description", ""),
            "operation_id": meta.get("operation_id"),
        }

    def list_models(self, strategy: str | None = None) -> list[dict[str, Any]]:
        """Every stored model, newest first (named copies included)."""
        if not self.root.is_dir():
            return []
        dirs: list[Path] = []
        for base in self.root.iterdir():
            if not base.is_dir() or base.name.startswith("."):
                continue
            if base.name == NAMED_DIR:
                dirs += [d for d in base.iterdir() if SAFE_NAME.match(d.name) and d.is_dir()]
            elif SAFE_NAME.match(base.name):
                dirs += [d for d in base.iterdir() if _VERSION_RE.match(d.name) and d.is_dir()]
        entries = [self._entry(d) for d in dirs if (d / "model.pt").is_file()]
        if strategy is not None:
            entries = [e for e in entries if e["strategy"] == strategy]
        return sorted(entries, key=lambda e: str(e["created_at"] or ""), reverse=True)

    def resolve(self, name_or_path: str | Path, version: int | None = None) -> Path:
        """A model dir from a `Path`, a model id, a named copy, `strategy[/family]` (+version).

        Strings never leave `models_dir`: each segment must be a safe name, and a string that
        is a path must lie inside the directory.
        """
        if isinstance(name_or_path, Path):
            if (name_or_path / "model.pt").is_file():
                return name_or_path
            raise ModelNotFoundError(f"No model at {name_or_path}")
        text = name_or_path.strip()
        if os.path.isabs(text) or "\\" in text:
            inside = self._inside_root(Path(text))
            if inside is not None and (inside / "model.pt").is_file():
                return inside
            raise ModelNotFoundError(f"Model {text!r} not found")
        parts = text.strip("/").split("/")
        if len(parts) > 2 or not all(SAFE_NAME.match(p) or p == NAMED_DIR for p in parts):
            raise ModelNotFoundError(f"Model {text!r} not found")
        found = self._find(parts, version)
        if found is None or not (found / "model.pt").is_file():
            suffix = f" (version {version})" if version is not None else ""
            raise ModelNotFoundError(f"Model {text!r}{suffix} not found")
        return found

    def _find(self, parts: list[str], version: int | None) -> Path | None:
        if parts[0] == NAMED_DIR:
            return self.root / NAMED_DIR / parts[1] if len(parts) == 2 else None
        if len(parts) == 1 and (self.root / NAMED_DIR / parts[0]).is_dir():
            return self.root / NAMED_DIR / parts[0]
        base = self.root / parts[0]
        if not base.is_dir():
            return None
        if len(parts) == 2:
            if _VERSION_RE.match(parts[1]) and (base / parts[1]).is_dir():
                return base / parts[1]
            families = [parts[1]]
        else:
            families = sorted(
                p.name[: -len(LATEST_SUFFIX)] for p in base.glob(f"*{LATEST_SUFFIX}") if p.is_file()
            )
        candidates: list[Path] = []
        for family in families:
            if version is not None:
                if version in self._versions(base, family):
                    candidates.append(base / f"{family}_v{version}")
            elif (latest := self._read_latest(base, family)) is not None:
                candidates.append(latest[0])
        if not candidates:
            return None
        return max(
            candidates, key=lambda p: str(read_json(p / "metadata.json").get("created_at", ""))
        )
