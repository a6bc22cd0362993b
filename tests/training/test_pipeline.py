"""End to end on the bundled strategies and data: train -> evaluate -> save, cancellation that
leaves no model, seeded repeatability and resume at the pipeline level."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.fakes import FakeReporter
from trainjet.core.events import TrainingInputs
from trainjet.training.artifacts.registry import ModelStorage
from trainjet.training.artifacts.results import SECTIONS, TrainingCancelled, partial_result
from trainjet.training.model.inference import predict
from trainjet.training.pipeline import TrainingRun, run_training

REPO = Path(__file__).resolve().parents[2]
DATA, STRATEGIES = REPO / "data", REPO / "strategies"


def train(
    tmp_path: Path, reporter: FakeReporter | None = None, **spec: Any
) -> tuple[dict[str, Any], FakeReporter]:
    rep = reporter or FakeReporter()
    run_fields = {k: spec.pop(k) for k in ("operation_id", "session_id", "resume_checkpoint")
                  if k in spec}  # fmt: skip
    inputs = TrainingInputs(**{"strategy_name": "eurusd_rsi_mlp", "epochs": 2, **spec})
    summary = run_training(inputs, rep, models_dir=tmp_path / "models", data_dir=DATA,
                           strategies_dir=STRATEGIES, run=TrainingRun(**run_fields))  # fmt: skip
    return summary, rep


def version_dirs(models: Path) -> list[Path]:
    return [p for p in models.rglob("*_v*") if p.is_dir()] if models.exists() else []


def test_end_to_end_trains_evaluates_and_saves(tmp_path: Path) -> None:
    summary, rep = train(
        tmp_path, detailed_analytics=True, operation_id="op_e2e", seed=5, session_id="s1"
    )
    assert set(summary) == set(SECTIONS)
    assert rep.phase_names[-3:] == ["training", "evaluating", "saving"]
    t = summary["training_metrics"]
    assert t["epochs_completed"] == 2 == len(rep.epochs)
    assert t["training_time_minutes"] > 0
    assert len(rep.batches) == 2 * t["batches_per_epoch"]
    assert 0.0 <= summary["test_metrics"]["test_accuracy"] <= 1.0
    assert summary["test_metrics"]["sample_count"] == summary["data_summary"]["test_samples"] > 0
    assert set(summary["validation_metrics"]["per_symbol"]) == {"EURUSD"}
    assert summary["session_info"]["operation_id"] == "op_e2e"
    assert summary["session_info"]["seed"] == 5
    assert summary["model_info"]["architecture"] == "mlp_32_16"
    # the model version on disk, with analytics because the request asked for them
    art = summary["artifacts"]
    path = Path(art["model_path"])
    assert path == tmp_path / "models" / "eurusd_rsi_mlp" / "EURUSD_1h_v1"
    assert art["model_version"] == 1
    assert {"model.pt", "config.json", "metrics.json", "features.json", "metadata.json"} <= set(
        art["files"]
    )
    assert art["analytics_files"]
    assert all((path / f).is_file() for f in art["analytics_files"])
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["operation_id"] == "op_e2e"
    assert meta["seed"] == 5
    assert meta["data_hashes"]
    record = meta["run_record"]
    assert record["strategy_yaml"].startswith("#")
    assert record["seed"] == 5
    assert record["data_hashes"] == meta["data_hashes"]
    assert record["versions"]["torch"]
    training_ctx = next(ctx for p, _, ctx in rep.phases if p == "training")
    assert training_ctx["run_record"] == record
    # the stored model is listed and predicts
    listed = ModelStorage(tmp_path / "models").list_models()
    assert [e["model_id"] for e in listed] == ["eurusd_rsi_mlp/EURUSD_1h_v1"]
    assert listed[0]["test_accuracy"] == summary["test_metrics"]["test_accuracy"]
    n_features = summary["data_summary"]["feature_count"]
    out = predict(
        "eurusd_rsi_mlp",
        np.full((2, n_features), 0.5, dtype=np.float32),
        models_dir=tmp_path / "models",
    )
    assert sum(out[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)


def test_analytics_off_by_default(tmp_path: Path) -> None:
    summary, _ = train(tmp_path, epochs=1)
    assert summary["artifacts"]["analytics_files"] == []
    assert summary["artifacts"]["analytics_dir"] is None


@pytest.mark.parametrize(
    "where",
    [{"cancel_after_batches": 3}, {"cancel_at_phase": "evaluating"}, {"cancel_at_phase": "saving"}],
)
def test_cancelled_training_saves_no_model(tmp_path: Path, where: dict[str, Any]) -> None:
    rep = FakeReporter(**where)
    with pytest.raises(TrainingCancelled) as info:
        train(tmp_path, rep, operation_id="op_c")
    assert version_dirs(tmp_path / "models") == []
    partial = partial_result(info.value)
    assert partial is not None
    assert set(partial) == set(SECTIONS)
    assert partial["session_info"]["cancellation_reason"] == FakeReporter.REASON
    assert partial["artifacts"]["model_path"] is None
    assert partial["data_summary"]["total_samples"] > 0
    if "cancel_after_batches" in where:
        assert len(rep.batches) == 3
        assert partial["training_metrics"]["epochs_completed"] == 0
    else:
        assert partial["training_metrics"]["epochs_completed"] == 2


def test_seeded_runs_repeat_and_resume_matches(tmp_path: Path) -> None:
    checkpoints: dict[int, bytes] = {}

    def keep(epoch: int, state: bytes) -> None:
        checkpoints[epoch] = state

    request: dict[str, Any] = {"epochs": 3, "seed": 3}
    first = run_training(TrainingInputs(strategy_name="eurusd_rsi_mlp", **request), FakeReporter(),
                         models_dir=tmp_path / "a", data_dir=DATA, strategies_dir=STRATEGIES,
                         checkpoint_fn=keep)  # fmt: skip
    again, _ = train(tmp_path / "b", **request)
    resumed, rep = train(tmp_path / "c", resume_checkpoint=checkpoints[2], **request)
    assert sorted(checkpoints) == [1, 2, 3]
    assert [m["epoch"] for m in rep.epoch_metrics] == [3]
    for other in (again, resumed):
        assert (
            other["test_metrics"]["confusion_matrix"] == first["test_metrics"]["confusion_matrix"]
        )
        assert other["test_metrics"]["test_loss"] == first["test_metrics"]["test_loss"]
        assert (
            other["training_metrics"]["final_val_loss"]
            == first["training_metrics"]["final_val_loss"]
        )


def test_multi_symbol_strategy_uses_the_embedding(tmp_path: Path) -> None:
    summary, _ = train(tmp_path, strategy_name="multi_symbol_daily", epochs=2, seed=1)
    assert summary["model_info"]["architecture"].startswith("multi_symbol_mlp_2symbols")
    assert summary["model_info"]["symbol_embedding_dim"] == 4
    assert set(summary["validation_metrics"]["per_symbol"]) == {"EURUSD", "GOOG"}
    assert Path(summary["artifacts"]["model_path"]).name == "EURUSD-GOOG_1d_v1"


def test_inputs_refuse_unknown_keys_instead_of_dropping_them() -> None:
    """What from_mapping used to drop silently is a TypeError now."""
    with pytest.raises(TypeError, match="use_host_service"):
        TrainingInputs(strategy_name="x", epochs=3, use_host_service=True)  # type: ignore[call-arg]
