"""ModelStorage: versioned atomic saves, the `_latest` pointer, safe lookups, weights-only
loading, listing with real ids, and named copies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from trainjet.core.errors import Conflict, InvalidRequest
from trainjet.training.artifacts import registry as storage_mod
from trainjet.training.artifacts.model_files import load_model, save_model
from trainjet.training.artifacts.registry import ModelStorage
from trainjet.training.errors import ModelNotFoundError
from trainjet.training.model.network import TradingMLP, build_model

CFG = {"type": "mlp", "architecture": {"hidden_layers": [8], "dropout": 0.0}}


def make_model(seed: int, n_symbols: int = 1) -> TradingMLP:
    torch.manual_seed(seed)
    return build_model(CFG, 4, n_symbols)


def save(
    store: ModelStorage,
    model: TradingMLP,
    strategy: str = "rsi",
    symbols: tuple[str, ...] = ("EURUSD",),
    timeframes: tuple[str, ...] = ("1h",),
    **kw: Any,
) -> storage_mod.SavedModel:
    return save_model(
        store,
        model,
        strategy=strategy,
        symbols=list(symbols),
        timeframes=list(timeframes),
        strategy_config={"name": strategy, "model": CFG},
        metrics={
            "training_metrics": {"final_train_accuracy": 0.61},
            "test_metrics": {"test_accuracy": 0.55},
        },
        features={"feature_names": ["a", "b", "c", "d"], "feature_count": 4},
        metadata={"operation_id": "op_1", "seed": 3, "data_hashes": {"EURUSD_1h": "abc"}},
        **kw,
    )


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


def test_versions_latest_and_files(tmp_path: Path) -> None:
    store = ModelStorage(tmp_path)
    first = save(store, make_model(1))
    second = save(store, make_model(2))
    base = tmp_path / "rsi"
    assert (first.path, first.version) == (base / "EURUSD_1h_v1", 1)
    assert (second.path, second.version) == (base / "EURUSD_1h_v2", 2)
    assert second.model_id == "rsi/EURUSD_1h_v2"
    assert (base / "EURUSD_1h_latest").read_text().strip() == "EURUSD_1h_v2"
    assert set(second.files) == {
        "model.pt",
        "config.json",
        "metrics.json",
        "features.json",
        "metadata.json",
    }
    assert not [p for p in base.iterdir() if p.name.startswith(".")]  # no temp leftovers
    meta = load_model(store, "rsi").metadata
    assert meta["version"] == 2
    assert meta["operation_id"] == "op_1"
    assert meta["seed"] == 3
    assert meta["torch_version"] == torch.__version__
    assert meta["trainjet_version"]
    assert meta["symbols"] == ["EURUSD"]
    assert meta["created_at"]


def test_multi_symbol_names_join_with_dashes(tmp_path: Path) -> None:
    saved = save(
        ModelStorage(tmp_path),
        make_model(1, 2),
        symbols=("EURUSD", "GBPUSD"),
        timeframes=("1h", "4h"),
    )
    assert saved.path.name == "EURUSD-GBPUSD_1h-4h_v1"
    loaded = load_model(ModelStorage(tmp_path), saved.model_id)
    assert loaded.model.uses_symbols
    assert loaded.features["symbols"] == ["EURUSD", "GBPUSD"]


def test_load_uses_weights_only_and_rebuilds_from_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ModelStorage(tmp_path)
    model = make_model(5)
    save(store, model)
    seen: list[dict[str, Any]] = []
    real_load = torch.load

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    loaded = load_model(store, "rsi/EURUSD_1h_v1")
    assert seen
    assert all(k.get("weights_only") is True for k in seen)
    assert same_weights(loaded.model, model)
    assert not loaded.model.training
    assert loaded.config["model"] == model.spec
    assert loaded.config["strategy"]["name"] == "rsi"
    assert loaded.features["feature_names"] == ["a", "b", "c", "d"]
    assert loaded.version == 1
    assert loaded.model_id == "rsi/EURUSD_1h_v1"


def test_lookup_forms(tmp_path: Path) -> None:
    store = ModelStorage(tmp_path)
    m1, m2 = make_model(1), make_model(2)
    v1, v2 = save(store, m1), save(store, m2)
    assert store.resolve("rsi") == v2.path
    assert store.resolve("rsi", version=1) == v1.path
    assert store.resolve("rsi/EURUSD_1h") == v2.path
    assert store.resolve("rsi/EURUSD_1h", 1) == v1.path
    assert store.resolve("rsi/EURUSD_1h_v1") == v1.path
    assert store.resolve(v1.path) == v1.path
    assert store.resolve(str(v1.path)) == v1.path
    assert same_weights(load_model(store, "rsi", 1).model, m1)
    with pytest.raises(ModelNotFoundError):
        store.resolve("rsi", version=9)
    with pytest.raises(ModelNotFoundError):
        store.resolve("nope")


@pytest.mark.parametrize(
    "name", ["../x", "rsi/../../etc", "/etc/passwd", "a/b/c", "..", "rsi\\..\\x", ""]
)
def test_lookups_never_leave_the_models_dir(tmp_path: Path, name: str) -> None:
    store = ModelStorage(tmp_path / "models")
    save(store, make_model(1))
    with pytest.raises(ModelNotFoundError):
        store.resolve(name)


@pytest.mark.parametrize("strategy", ["../evil", "a/b", ".hidden", ""])
def test_unsafe_names_are_refused_on_save(tmp_path: Path, strategy: str) -> None:
    with pytest.raises(InvalidRequest):
        save(ModelStorage(tmp_path), make_model(1), strategy=strategy)
    with pytest.raises(InvalidRequest):
        save(ModelStorage(tmp_path), make_model(1), symbols=("../x",))


def test_failed_save_leaves_nothing(tmp_path: Path) -> None:
    store = ModelStorage(tmp_path)

    def boom(_: Path) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        save(store, make_model(1), extras=boom)
    assert list((tmp_path / "rsi").iterdir()) == []
    assert store.list_models() == []


def test_extras_are_written_inside_the_version(tmp_path: Path) -> None:
    def extras(d: Path) -> None:
        (d / "analytics").mkdir()
        (d / "analytics" / "metrics.csv").write_text("epoch\n1\n")

    saved = save(ModelStorage(tmp_path), make_model(1), extras=extras)
    assert "analytics/metrics.csv" in saved.files


def test_version_numbers_skip_taken_dirs(tmp_path: Path) -> None:
    store = ModelStorage(tmp_path)
    save(store, make_model(1))
    (tmp_path / "rsi" / "EURUSD_1h_v2").mkdir()
    (tmp_path / "rsi" / "EURUSD_1h_v2" / "x").write_text("someone else's")
    assert save(store, make_model(2)).version == 3


def test_list_models_has_real_ids_and_figures(tmp_path: Path) -> None:
    store = ModelStorage(tmp_path)
    save(store, make_model(1))
    save(store, make_model(2))
    save(store, make_model(3), strategy="macd", timeframes=("4h",))
    entries = store.list_models()
    assert [e["model_id"] for e in entries] == [
        "macd/EURUSD_4h_v1",
        "rsi/EURUSD_1h_v2",
        "rsi/EURUSD_1h_v1",
    ]
    e = entries[1]
    assert set(e) == {
        "model_id", "model_name", "strategy", "symbols", "timeframes", "version", "path",
        "created_at", "training_accuracy", "test_accuracy", "size_bytes", "description", "operation_id",
    }  # fmt: skip
    assert e["model_name"] == "rsi/EURUSD_1h_v2"
    assert e["strategy"] == "rsi"
    assert e["version"] == 2
    assert e["training_accuracy"] == 0.61
    assert e["test_accuracy"] == 0.55
    assert e["size_bytes"] > 0
    assert e["timeframes"] == ["1h"]
    assert [x["model_id"] for x in store.list_models("macd")] == ["macd/EURUSD_4h_v1"]
    assert ModelStorage(tmp_path / "missing").list_models() == []


def test_save_copy_registers_a_named_model(tmp_path: Path) -> None:
    store = ModelStorage(tmp_path)
    model = make_model(4)
    saved = save(store, model)
    summary = {"artifacts": {"model_path": str(saved.path)}}
    out = store.save_copy(summary, "my_eurusd", "first good one", task_id="op_1")
    assert out["model_name"] == "my_eurusd"
    assert out["model_id"] == "_named/my_eurusd"
    assert out["task_id"] == "op_1"
    assert out["saved_at"].endswith("Z")
    assert out["model_size_mb"] > 0
    assert out["source_model_id"] == "rsi/EURUSD_1h_v1"
    named = [e for e in store.list_models() if e["model_name"] == "my_eurusd"]
    assert len(named) == 1
    assert named[0]["description"] == "first good one"
    assert same_weights(load_model(store, "my_eurusd").model, model)
    with pytest.raises(Conflict):
        store.save_copy(summary, "my_eurusd")
    with pytest.raises(InvalidRequest, match="not found"):
        store.save_copy({"artifacts": {"model_path": None}}, "other")
    with pytest.raises(InvalidRequest, match="not found"):
        store.save_copy({"artifacts": {"model_path": str(tmp_path.parent)}}, "other")
    with pytest.raises(InvalidRequest):
        store.save_copy(summary, "../escape")
