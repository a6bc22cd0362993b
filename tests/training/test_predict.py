"""Predictions from stored models, evaluation helpers, permutation importance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from trainjet.core.errors import InvalidRequest
from trainjet.training.artifacts.model_files import load_model, save_model
from trainjet.training.artifacts.registry import ModelStorage
from trainjet.training.model.inference import (
    SplitTensors,
    logits_of,
    loss_and_accuracy,
    per_symbol_metrics,
    permutation_importance,
    predict,
    predict_from_prepared,
)
from trainjet.training.model.network import TradingMLP, build_model
from trainjet.training.protocol import DatasetSplit

CFG = {"type": "mlp", "architecture": {"hidden_layers": [16], "dropout": 0.5}}


def stored(tmp_path: Path, n_symbols: int = 1) -> tuple[ModelStorage, TradingMLP]:
    torch.manual_seed(0)
    model = build_model(CFG, 5, n_symbols)
    store = ModelStorage(tmp_path)
    symbols = ["EURUSD", "GBPUSD", "USDJPY"][:n_symbols]
    save_model(
        store,
        model, strategy="demo", symbols=symbols, timeframes=["1h"], strategy_config={},
        metrics={}, features={"feature_names": list("abcde"), "feature_count": 5},
    )  # fmt: skip
    return store, model


def test_predict_returns_valid_probabilities(tmp_path: Path) -> None:
    store, model = stored(tmp_path)
    X = np.random.default_rng(1).random((4, 5), dtype=np.float32)
    out = predict("demo", X, models_dir=tmp_path)
    assert len(out) == 4
    expected = torch.softmax(model.eval()(torch.from_numpy(X)), dim=1)
    for row, probs in zip(out, expected.tolist(), strict=True):
        assert set(row) == {"signal", "confidence", "probabilities"}
        p = row["probabilities"]
        assert list(p) == ["BUY", "HOLD", "SELL"]
        assert sum(p.values()) == pytest.approx(1.0, abs=1e-6)
        assert all(0.0 <= v <= 1.0 for v in p.values())
        assert row["confidence"] == max(p.values())
        assert p[row["signal"]] == row["confidence"]
        assert list(p.values()) == pytest.approx(probs, abs=1e-6)
    # eval mode: dropout is off, so predictions repeat exactly
    assert predict("demo", X, models_dir=tmp_path) == out
    # a single row and a directory path work too
    # (a batch of one may take another matmul kernel: equal to float32 rounding, not bit for bit)
    one = predict(store.resolve("demo"), X[0], models_dir=tmp_path)
    assert one[0]["signal"] == out[0]["signal"]
    assert one[0]["probabilities"] == pytest.approx(out[0]["probabilities"], abs=1e-6)


def test_wrong_feature_count_is_refused(tmp_path: Path) -> None:
    store, _ = stored(tmp_path)
    with pytest.raises(InvalidRequest, match="expects 5 features"):
        predict_from_prepared(load_model(store, "demo"), np.zeros((2, 4)))


def test_multi_symbol_prediction_needs_and_uses_the_symbol(tmp_path: Path) -> None:
    store, _ = stored(tmp_path, n_symbols=3)
    loaded = load_model(store, "demo")
    X = np.random.default_rng(2).random((3, 5), dtype=np.float32)
    with pytest.raises(InvalidRequest, match="pass the symbol"):
        predict_from_prepared(loaded, X)
    by_name = predict_from_prepared(loaded, X, "GBPUSD")
    assert by_name == predict_from_prepared(loaded, X, 1)
    assert by_name == predict_from_prepared(loaded, X, np.array([1, 1, 1]))
    assert by_name != predict_from_prepared(loaded, X, 2)
    with pytest.raises(InvalidRequest, match="not one of"):
        predict_from_prepared(loaded, X, "AAPL")
    with pytest.raises(InvalidRequest, match="symbol_idx"):
        predict_from_prepared(loaded, X, 7)


def test_evaluation_helpers_restore_training_mode_and_agree() -> None:
    torch.manual_seed(0)
    model = build_model(CFG, 5, 2)
    rng = np.random.default_rng(0)
    data = SplitTensors.of(
        DatasetSplit(
            rng.random((50, 5), dtype=np.float32), rng.integers(0, 3, 50), rng.integers(0, 2, 50)
        )
    )
    model.train()
    loss, acc, pred = loss_and_accuracy(model, data)
    assert model.training
    logits = logits_of(model, data.X, data.symbol_idx)
    assert loss == pytest.approx(float(torch.nn.functional.cross_entropy(logits, data.y)), rel=1e-5)
    assert acc == pytest.approx(float((logits.argmax(1) == data.y).float().mean()))
    assert torch.equal(pred, logits.argmax(1))
    per = per_symbol_metrics(data.y.numpy(), pred.numpy(), data.symbol_idx.numpy(), ["A", "B"])
    assert set(per) == {"A", "B"}
    assert per["A"]["sample_count"] + per["B"]["sample_count"] == 50


def test_permutation_importance_finds_the_feature_that_matters() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((400, 3), dtype=np.float32)
    y = (X[:, 0] > 0.5).astype(np.int64) * 2  # only feature 0 decides BUY vs SELL
    data = SplitTensors.of(DatasetSplit(X, y, np.zeros(400, dtype=np.int64)))
    torch.manual_seed(0)
    model = build_model({"architecture": {"hidden_layers": [16], "dropout": 0.0}}, 3)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(40):
        opt.zero_grad()
        torch.autograd.backward(torch.nn.functional.cross_entropy(model(data.X), data.y))
        opt.step()
    scores = permutation_importance(model, data, ["signal", "noise1", "noise2"], seed=1)
    assert scores["signal"] > 0.3
    assert abs(scores["noise1"]) < 0.05
    assert abs(scores["noise2"]) < 0.05
