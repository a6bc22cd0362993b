"""What it takes to re-run a training exactly: recorded when every training starts.

The record holds the strategy as written (YAML text) and as resolved, the hashes of the exact
data slices, the seed, and the versions of everything that changes numerics. It is pure data
(JSON-ready), stored in the model's `metadata.json` and sent with the `training` phase event.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import random
import sys
from importlib import metadata
from typing import Any

import numpy as np

from trainjet import __version__
from trainjet.training.protocol import PreparedDataset


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and every GPU) before the model is built.

    torch's generator is process-global: two trainings in one process at once would share it,
    so exact reproducibility needs one training per process (what the runners do).
    """
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def strategy_dict(strategy: Any) -> dict[str, Any]:
    """A JSON-ready view of a loaded strategy, whatever its class (dataclass, pydantic, plain)."""
    if isinstance(strategy, dict):
        data: Any = strategy
    elif hasattr(strategy, "model_dump"):
        data = strategy.model_dump(mode="json")
    elif dataclasses.is_dataclass(strategy) and not isinstance(strategy, type):
        data = dataclasses.asdict(strategy)
    else:
        data = {k: v for k, v in vars(strategy).items() if not k.startswith("_")}
    return dict(json.loads(json.dumps(data, default=str)))


def _features_hash(dataset: PreparedDataset) -> str:
    return hashlib.sha256("\n".join(dataset.feature_names).encode()).hexdigest()


def run_record(strategy: Any, dataset: PreparedDataset, seed: int) -> dict[str, Any]:
    resolved = strategy_dict(strategy)
    resolved.pop("raw_yaml", None)  # kept once, below
    import torch

    return {
        "strategy_name": getattr(strategy, "name", resolved.get("name")),
        "strategy_yaml": getattr(strategy, "raw_yaml", None),
        "resolved_parameters": resolved,
        "symbols": list(dataset.symbols),
        "timeframes": list(dataset.timeframes),
        "data_hashes": dict(dataset.data_hashes),
        "feature_names_sha256": _features_hash(dataset),
        "feature_count": len(dataset.feature_names),
        "samples": {
            "train": len(dataset.train.y),
            "val": len(dataset.val.y),
            "test": len(dataset.test.y),
        },
        "seed": seed,
        "versions": {
            "trainjet": __version__,
            "torch": str(torch.__version__),  # TorchVersion is a str subclass JSON encoders refuse
            "numpy": np.__version__,
            "pandas": _version("pandas"),
            "python": sys.version.split()[0],
            "cuda": torch.version.cuda,
        },
        "platform": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
            "python_implementation": platform.python_implementation(),
            "torch_threads": torch.get_num_threads(),
        },
    }
