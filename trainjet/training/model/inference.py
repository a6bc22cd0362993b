"""Inference: one batched, no-grad path used by validation, test evaluation, permutation
importance and predictions from a stored model (ktrdr's `/models/predict` was a stub).

Every path passes symbol indices to the model (ktrdr evaluated multi-symbol models as if every
sample were symbol 0) and moves the evaluated rows to the model's device in chunks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from trainjet.core.errors import InvalidRequest
from trainjet.training.artifacts.model_files import LoadedModel, load_model
from trainjet.training.artifacts.registry import ModelStorage
from trainjet.training.artifacts.results import CLASS_NAMES, classification_metrics
from trainjet.training.model.network import TradingMLP
from trainjet.training.protocol import DatasetSplit

EVAL_CHUNK = 8192  # rows per forward pass: bounds device memory on large validation sets


@dataclass
class SplitTensors:
    """A split as CPU tensors, converted once and reused every epoch."""

    X: torch.Tensor
    y: torch.Tensor
    symbol_idx: torch.Tensor

    @classmethod
    def of(cls, split: DatasetSplit) -> SplitTensors:
        return cls(
            torch.as_tensor(np.ascontiguousarray(split.X, dtype=np.float32)),
            torch.as_tensor(np.ascontiguousarray(split.y, dtype=np.int64)),
            torch.as_tensor(np.ascontiguousarray(split.symbol_idx, dtype=np.int64)),
        )

    def __len__(self) -> int:
        return int(self.X.shape[0])


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def logits_of(model: TradingMLP, X: torch.Tensor, symbol_idx: torch.Tensor) -> torch.Tensor:
    """Logits on the model's device, in eval mode (the caller's mode is restored)."""
    device = model_device(model)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            parts = [
                model(
                    X[i : i + EVAL_CHUNK].to(device, non_blocking=True),
                    symbol_idx[i : i + EVAL_CHUNK].to(device, non_blocking=True),
                )
                for i in range(0, int(X.shape[0]), EVAL_CHUNK)
            ]
    finally:
        model.train(was_training)
    return torch.cat(parts) if parts else torch.empty((0, 3), device=device)


def loss_and_accuracy(model: TradingMLP, data: SplitTensors) -> tuple[float, float, torch.Tensor]:
    """(mean cross-entropy, accuracy, CPU predictions), with a single device sync."""
    logits = logits_of(model, data.X, data.symbol_idx)
    y = data.y.to(logits.device, non_blocking=True)
    loss = F.cross_entropy(logits, y, reduction="sum")
    pred = logits.argmax(dim=1)
    loss_sum, correct = torch.stack((loss, (pred == y).sum().to(loss.dtype))).tolist()
    n = max(len(data), 1)
    return loss_sum / n, correct / n, pred.cpu()


def per_symbol_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, symbol_idx: np.ndarray, symbols: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """`{symbol: {accuracy, precision, recall, f1_score, sample_count}}` (zeros when empty)."""
    out: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(symbols):
        mask = symbol_idx == i
        m = classification_metrics(y_true[mask], y_pred[mask])
        out[name] = {
            k: m[k] for k in ("accuracy", "precision", "recall", "f1_score", "sample_count")
        }
    return out


def permutation_importance(
    model: TradingMLP,
    data: SplitTensors,
    feature_names: Sequence[str],
    *,
    seed: int = 0,
    max_rows: int = 5000,
) -> dict[str, float]:
    """Baseline accuracy minus accuracy with one feature column shuffled: how much the model leans on it."""
    n = len(data)
    if n == 0:
        return {}
    gen = torch.Generator().manual_seed(seed)
    rows = torch.randperm(n, generator=gen)[:max_rows]
    X, y, s = data.X[rows], data.y[rows], data.symbol_idx[rows]

    def accuracy(features: torch.Tensor) -> float:
        pred = logits_of(model, features, s).argmax(dim=1).cpu()
        return float((pred == y).float().mean())

    baseline = accuracy(X)
    scores: dict[str, float] = {}
    for j, name in enumerate(feature_names):
        shuffled = X.clone()
        shuffled[:, j] = X[torch.randperm(len(X), generator=gen), j]
        scores[name] = baseline - accuracy(shuffled)
    return scores


def _symbol_indices(stored: LoadedModel, symbol_idx: Any, n: int) -> torch.Tensor:
    symbols = list(stored.features.get("symbols") or stored.metadata.get("symbols") or [])
    if symbol_idx is None:
        if stored.model.uses_symbols:
            raise InvalidRequest(
                f"This model was trained on {symbols}; pass the symbol to predict for"
            )
        return torch.zeros(n, dtype=torch.int64)
    if isinstance(symbol_idx, str):
        if symbol_idx not in symbols:
            raise InvalidRequest(
                f"Symbol {symbol_idx!r} is not one of the model's symbols {symbols}"
            )
        return torch.full((n,), symbols.index(symbol_idx), dtype=torch.int64)
    idx = torch.as_tensor(np.asarray(symbol_idx, dtype=np.int64))
    idx = idx.expand(n).clone() if idx.ndim == 0 else idx
    n_symbols = max(len(symbols), int(stored.model.spec["n_symbols"]))
    if idx.shape != (n,) or (n and (int(idx.min()) < 0 or int(idx.max()) >= n_symbols)):
        raise InvalidRequest(f"symbol_idx must be one index in [0, {n_symbols}) or one per row")
    return idx


def predict_from_prepared(
    stored: LoadedModel, X: np.ndarray, symbol_idx: Any = None
) -> list[dict[str, Any]]:
    """One `{signal, confidence, probabilities{BUY,HOLD,SELL}}` per feature row, ktrdr's prediction shape."""
    rows = np.atleast_2d(np.asarray(X, dtype=np.float32))
    expected = int(stored.model.spec["input_size"])
    if rows.shape[1] != expected:
        raise InvalidRequest(f"Model expects {expected} features per row, got {rows.shape[1]}")
    idx = _symbol_indices(stored, symbol_idx, rows.shape[0])
    probs = torch.softmax(logits_of(stored.model, torch.from_numpy(rows), idx), dim=1).cpu()
    out = []
    for row in probs.tolist():
        best = max(range(len(row)), key=row.__getitem__)
        out.append(
            {
                "signal": CLASS_NAMES[best],
                "confidence": row[best],
                "probabilities": dict(zip(CLASS_NAMES, row, strict=True)),
            }
        )
    return out


def predict(
    model_dir_or_name: str | Path,
    features: np.ndarray,
    symbol_idx: Any = None,
    *,
    models_dir: str | Path = "models",
    version: int | None = None,
) -> list[dict[str, Any]]:
    """Load a stored model (directory path or registered name) and predict `features` rows."""
    stored = load_model(ModelStorage(models_dir), model_dir_or_name, version)
    return predict_from_prepared(stored, features, symbol_idx)
