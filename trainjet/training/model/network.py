"""The trading MLP: fuzzy features in, 3 raw logits out (0 BUY, 1 HOLD, 2 SELL).

With more than one symbol a learned embedding of the symbol is concatenated to the inputs.
ktrdr silently used symbol 0's embedding whenever a caller forgot the indices, which made every
multi-symbol evaluation wrong; here a multi-symbol model refuses to run without them.

The architecture is described by a plain `spec` dict (`model_spec`) that is stored in
`config.json`, so a saved state dict can be rebuilt without pickling the module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from trainjet.training.errors import TrainingConfigError

N_CLASSES = 3
DEFAULT_EMBEDDING_DIM = 16
DEFAULT_DROPOUT = 0.2
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
}


class TradingMLP(nn.Module):
    """`Linear -> activation -> Dropout` per hidden layer, then `Linear(last, 3)`."""

    def __init__(
        self,
        input_size: int,
        hidden_layers: list[int],
        *,
        activation: str = "relu",
        dropout: float = DEFAULT_DROPOUT,
        n_symbols: int = 1,
        symbol_embedding_dim: int = DEFAULT_EMBEDDING_DIM,
        n_classes: int = N_CLASSES,
    ) -> None:
        super().__init__()
        if input_size < 1:
            raise TrainingConfigError(f"input_size must be >= 1, got {input_size}")
        if not hidden_layers or any(int(h) < 1 for h in hidden_layers):
            raise TrainingConfigError(
                f"hidden_layers must be a non-empty list of positive ints, got {hidden_layers!r}"
            )
        if activation not in ACTIVATIONS:
            raise TrainingConfigError(
                f"Unknown activation {activation!r}; use one of {sorted(ACTIVATIONS)}"
            )
        if not 0.0 <= dropout < 1.0:
            raise TrainingConfigError(f"dropout must be in [0, 1), got {dropout}")
        self.spec: dict[str, Any] = {
            "type": "mlp",
            "input_size": int(input_size),
            "hidden_layers": [int(h) for h in hidden_layers],
            "activation": activation,
            "dropout": float(dropout),
            "n_symbols": int(n_symbols),
            "symbol_embedding_dim": int(symbol_embedding_dim) if n_symbols > 1 else 0,
            "n_classes": int(n_classes),
        }
        # One symbol needs no embedding: it would be a constant input the first layer's bias
        # already covers, and it would make single-symbol models depend on an index.
        self.embedding: nn.Embedding | None = (
            nn.Embedding(n_symbols, symbol_embedding_dim) if n_symbols > 1 else None
        )
        width = input_size + (symbol_embedding_dim if self.embedding is not None else 0)
        layers: list[nn.Module] = []
        for size in self.spec["hidden_layers"]:
            layers += [nn.Linear(width, size), ACTIVATIONS[activation](), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, n_classes))
        self.net = nn.Sequential(*layers)

    @property
    def uses_symbols(self) -> bool:
        return self.embedding is not None

    def forward(self, x: torch.Tensor, symbol_idx: torch.Tensor | None = None) -> torch.Tensor:
        if self.embedding is not None:
            if symbol_idx is None:
                # the caller's bug, not the user's: predict and the loop always pass them
                raise ValueError("A multi-symbol model needs symbol indices for every sample")
            x = torch.cat((x, self.embedding(symbol_idx)), dim=1)
        out: torch.Tensor = self.net(x)
        return out


def build_model(model_cfg: Mapping[str, Any], n_features: int, n_symbols: int = 1) -> TradingMLP:
    """Build from the strategy's `model` section. Unknown values raise, never default."""
    model_type = str(model_cfg.get("type", "mlp")).lower()
    if model_type != "mlp":
        raise TrainingConfigError(f"Unknown model type {model_type!r}; only 'mlp' is supported")
    arch = model_cfg.get("architecture") or {}
    hidden = arch.get("hidden_layers")
    if not isinstance(hidden, list | tuple):
        raise TrainingConfigError("model.architecture.hidden_layers must be a list of layer sizes")
    dropout = arch.get("dropout")
    return TradingMLP(
        n_features,
        [int(h) for h in hidden],
        activation=str(arch.get("activation", "relu")).lower(),
        dropout=DEFAULT_DROPOUT if dropout is None else float(dropout),
        n_symbols=n_symbols,
        symbol_embedding_dim=int(model_cfg.get("symbol_embedding_dim", DEFAULT_EMBEDDING_DIM)),
    )


def model_from_spec(spec: Mapping[str, Any]) -> TradingMLP:
    """Rebuild the exact module a stored `spec` describes (weights are loaded separately)."""
    if spec.get("type", "mlp") != "mlp":
        raise TrainingConfigError(f"Unknown model type {spec.get('type')!r}")
    return TradingMLP(
        int(spec["input_size"]),
        [int(h) for h in spec["hidden_layers"]],
        activation=str(spec.get("activation", "relu")),
        dropout=float(spec.get("dropout", DEFAULT_DROPOUT)),
        n_symbols=int(spec.get("n_symbols", 1)),
        symbol_embedding_dim=int(spec.get("symbol_embedding_dim") or DEFAULT_EMBEDDING_DIM),
        n_classes=int(spec.get("n_classes", N_CLASSES)),
    )


def parameters_count(model: nn.Module, *, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def state_size_bytes(model: nn.Module) -> int:
    """Bytes the weights occupy (ktrdr assumed 4 per parameter; this reads the real dtypes)."""
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


def architecture_name(model: TradingMLP) -> str:
    """`mlp_64_32`, or `multi_symbol_mlp_3symbols_64_32` with a symbol embedding."""
    hidden = "_".join(str(h) for h in model.spec["hidden_layers"])
    if model.uses_symbols:
        return f"multi_symbol_mlp_{model.spec['n_symbols']}symbols_{hidden}"
    return f"mlp_{hidden}"


def model_info(model: TradingMLP) -> dict[str, Any]:
    """The `model_info` block of the result summary and of `/trainings/{id}/performance`."""
    return {
        "model_size_bytes": state_size_bytes(model),
        "parameters_count": parameters_count(model),
        "trainable_parameters": parameters_count(model, trainable_only=True),
        "architecture": architecture_name(model),
        "symbol_embedding_dim": model.spec["symbol_embedding_dim"],
        "input_size": model.spec["input_size"],
        "hidden_layers": list(model.spec["hidden_layers"]),
        "activation": model.spec["activation"],
        "dropout": model.spec["dropout"],
    }
