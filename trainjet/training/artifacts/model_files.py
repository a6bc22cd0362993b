"""A trained network to and from its version directory: `model.pt`, `config.json` and friends.

`model.pt` holds the state dict only; loading rebuilds the module from `config.json` and reads
the weights with `torch.load(weights_only=True)`, so a model file cannot run code. This is the
only module of `artifacts` that imports torch; naming, versioning and listing stay torch-free in
`registry`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from trainjet.training.artifacts.json_files import read_json, write_json
from trainjet.training.artifacts.registry import ModelStorage, SavedModel
from trainjet.training.errors import ModelNotFoundError
from trainjet.training.model.network import TradingMLP, model_from_spec


@dataclass
class LoadedModel:
    model: TradingMLP  # on CPU, in eval mode
    config: dict[str, Any]
    metrics: dict[str, Any]
    features: dict[str, Any]
    metadata: dict[str, Any]
    path: Path
    model_id: str
    version: int | None


def save_model(
    storage: ModelStorage,
    model: TradingMLP,
    *,
    strategy: str,
    symbols: Sequence[str],
    timeframes: Sequence[str],
    strategy_config: dict[str, Any],
    metrics: dict[str, Any],
    features: dict[str, Any],
    metadata: dict[str, Any] | None = None,
    extras: Callable[[Path], None] | None = None,
) -> SavedModel:
    """Write a new version; `extras(dir)` may add files (analytics) before it appears."""

    def write(directory: Path) -> None:
        state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        torch.save(state, directory / "model.pt")
        write_json(directory / "config.json", {"strategy": strategy_config, "model": model.spec})
        write_json(directory / "metrics.json", metrics)
        write_json(directory / "features.json", {**features, "symbols": list(symbols)})
        if extras is not None:
            extras(directory)

    return storage.add_version(
        write,
        strategy=strategy,
        symbols=symbols,
        timeframes=timeframes,
        metadata={**(metadata or {}), "torch_version": str(torch.__version__)},
    )


def load_model(
    storage: ModelStorage, name_or_path: str | Path, version: int | None = None
) -> LoadedModel:
    """The model `name_or_path` (and `version`) resolves to, on CPU in eval mode."""
    path = storage.resolve(name_or_path, version)
    config = read_json(path / "config.json")
    if "model" not in config:
        raise ModelNotFoundError(f"Model at {path} has no usable config.json")
    model = model_from_spec(config["model"])
    state = torch.load(path / "model.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.eval()
    metadata = read_json(path / "metadata.json")
    return LoadedModel(
        model=model,
        config=config,
        metrics=read_json(path / "metrics.json"),
        features=read_json(path / "features.json"),
        metadata=metadata,
        path=path,
        model_id=str(metadata.get("model_id") or path.name),
        version=metadata.get("version"),
    )
