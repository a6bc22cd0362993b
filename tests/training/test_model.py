"""The MLP, its spec round trip, and device selection / GPU snapshots."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from trainjet.training.errors import DeviceUnavailableError, TrainingConfigError
from trainjet.training.model import devices
from trainjet.training.model.network import (
    ACTIVATIONS,
    TradingMLP,
    architecture_name,
    build_model,
    model_from_spec,
    model_info,
    parameters_count,
)


def cfg(**arch: Any) -> dict[str, Any]:
    return {"type": "mlp", "architecture": {"hidden_layers": [64, 32], **arch}}


def test_layers_and_parameter_count() -> None:
    model = build_model(cfg(), n_features=36, n_symbols=1)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(36, 64), (64, 32), (32, 3)]
    assert parameters_count(model) == 36 * 64 + 64 + 64 * 32 + 32 + 32 * 3 + 3
    assert model.embedding is None
    assert not model.uses_symbols
    assert model(torch.zeros(5, 36)).shape == (5, 3)
    assert architecture_name(model) == "mlp_64_32"
    info = model_info(model)
    assert info["parameters_count"] == parameters_count(model)
    assert info["model_size_bytes"] == parameters_count(model) * 4
    assert info["symbol_embedding_dim"] == 0


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_activations_and_dropout(activation: str) -> None:
    model = build_model(cfg(activation=activation, dropout=0.3), 4)
    kinds = [type(m) for m in model.net]
    assert kinds.count(ACTIVATIONS[activation]) == 2
    drops = [m for m in model.net if isinstance(m, nn.Dropout)]
    assert [d.p for d in drops] == [0.3, 0.3]


def test_defaults() -> None:
    model = build_model({"architecture": {"hidden_layers": [8]}}, 3)
    assert model.spec["activation"] == "relu"
    assert model.spec["dropout"] == 0.2


@pytest.mark.parametrize(
    ("model_cfg", "match"),
    [
        ({"type": "lstm", "architecture": {"hidden_layers": [8]}}, "model type"),
        (cfg(activation="swish"), "activation"),
        ({"architecture": {}}, "hidden_layers"),
        ({"architecture": {"hidden_layers": [0]}}, "hidden_layers"),
        (cfg(dropout=1.0), "dropout"),
    ],
)
def test_invalid_configs_raise(model_cfg: dict[str, Any], match: str) -> None:
    with pytest.raises(TrainingConfigError, match=match):
        build_model(model_cfg, 4)


def test_multi_symbol_embedding_is_used_and_required() -> None:
    torch.manual_seed(0)
    model = build_model({**cfg(), "symbol_embedding_dim": 5}, 6, n_symbols=3).eval()
    assert model.uses_symbols
    assert model.embedding is not None
    assert model.embedding.embedding_dim == 5
    first = next(m for m in model.net if isinstance(m, nn.Linear))
    assert first.in_features == 6 + 5
    x = torch.rand(2, 6)
    a = model(x, torch.tensor([0, 0]))
    b = model(x, torch.tensor([2, 2]))
    assert not torch.allclose(a, b)  # the symbol changes the answer
    with pytest.raises(ValueError, match="symbol indices"):
        model(x)
    assert architecture_name(model) == "multi_symbol_mlp_3symbols_64_32"
    assert build_model(cfg(), 6, n_symbols=3).embedding.embedding_dim == 16  # type: ignore[union-attr]


def test_spec_round_trip_rebuilds_the_same_module() -> None:
    model = build_model(cfg(activation="gelu", dropout=0.1), 7, n_symbols=2)
    clone = model_from_spec(model.spec)
    clone.load_state_dict(model.state_dict())
    assert clone.spec == model.spec
    x, s = torch.rand(3, 7), torch.tensor([0, 1, 1])
    assert torch.equal(model.eval()(x, s), clone.eval()(x, s))
    assert isinstance(clone, TradingMLP)


def test_select_device() -> None:
    assert devices.select_device("cpu") == torch.device("cpu")
    auto = devices.select_device()
    expected = "cuda" if torch.cuda.is_available() else "mps" if devices._mps_available() else "cpu"
    assert auto.type == expected
    with pytest.raises(DeviceUnavailableError, match="Unsupported"):
        devices.select_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceUnavailableError, match="CUDA is not available"):
            devices.select_device("cuda")


def test_select_device_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(devices.DEVICE_ENV, "cpu")
    assert devices.select_device() == torch.device("cpu")


def test_gpu_snapshot_is_cheap_and_rate_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = devices._snapshot
    monkeypatch.setattr(devices, "_snapshot", lambda d: calls.append(d) or real(d))
    monkeypatch.setattr(devices, "_cache", {})
    snap = devices.gpu_snapshot("cpu", max_age_s=60)
    again = devices.gpu_snapshot("cpu", max_age_s=60)
    assert len(calls) == 1
    assert snap == again
    for key in (
        "device",
        "name",
        "memory_used_mb",
        "memory_total_mb",
        "utilization_percent",
        "gpu_used",
    ):
        assert key in snap
    assert snap["device_type"] == "cpu"
    assert snap["gpu_used"] is False
    devices.gpu_snapshot("cpu", max_age_s=0)
    assert len(calls) == 2
    peak = devices.peak_memory_mb(torch.device("cpu"))
    assert peak is None or peak > 0
