"""The loaded models an API process keeps: a small LRU shared by one app's requests."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from trainjet.training.artifacts.registry import ModelStorage

if TYPE_CHECKING:
    from trainjet.training.artifacts.model_files import LoadedModel

MODEL_CACHE_SIZE = 8  # loaded models kept per API process (each is small, but not free)


class ModelCache:
    """A small LRU of loaded models keyed by model directory, shared by one app's requests.

    An entry remembers its `model.pt` modification time and is reloaded if the file changed,
    so a replaced model is never served stale. Loading happens outside the lock: two first
    requests for one model may both load it, which is harmless and never blocks other models.
    """

    def __init__(self, capacity: int = MODEL_CACHE_SIZE) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[Path, tuple[int, LoadedModel]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get_or_load(self, storage: ModelStorage, path: Path) -> tuple[LoadedModel, bool]:
        """(model, whether it was already loaded)."""
        stamp = (path / "model.pt").stat().st_mtime_ns
        with self._lock:
            hit = self._entries.get(path)
            if hit is not None and hit[0] == stamp:
                self._entries.move_to_end(path)
                return hit[1], True
        from trainjet.training.artifacts.model_files import load_model  # imports torch

        loaded = load_model(storage, path)  # weights_only: a model file cannot run code
        with self._lock:
            self._entries[path] = (stamp, loaded)
            self._entries.move_to_end(path)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return loaded, False
