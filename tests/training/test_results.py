"""Result summaries: hand-checked metrics, one shape for every ending, the performance view."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from trainjet.core.cancellation import CancellationError
from trainjet.training.artifacts.results import (
    SECTIONS,
    ResultAggregator,
    TrainingCancelled,
    TrainOutcome,
    classification_metrics,
    partial_result,
    performance_view,
)

# rows = truth, columns = prediction:
#   BUY  [1, 1, 0]     HOLD [0, 2, 0]     SELL [1, 0, 2]
Y_TRUE = np.array([0, 0, 1, 1, 2, 2, 2])
Y_PRED = np.array([0, 1, 1, 1, 2, 0, 2])


def test_metrics_match_hand_computation() -> None:
    m = classification_metrics(Y_TRUE, Y_PRED)
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 2]]
    # per class: precision 1/2, 2/3, 2/2; recall 1/2, 2/2, 2/3; F1 1/2, 4/5, 4/5; support 2, 2, 3
    assert m["per_class"]["BUY"] == {"precision": 0.5, "recall": 0.5, "f1_score": 0.5, "support": 2}
    assert m["per_class"]["HOLD"]["precision"] == pytest.approx(2 / 3)
    assert m["per_class"]["HOLD"]["f1_score"] == pytest.approx(0.8)
    assert m["per_class"]["SELL"]["recall"] == pytest.approx(2 / 3)
    assert m["accuracy"] == pytest.approx(5 / 7)
    assert m["precision"] == pytest.approx((0.5 * 2 + 2 / 3 * 2 + 1.0 * 3) / 7)
    assert m["recall"] == pytest.approx(5 / 7)
    assert m["f1_score"] == pytest.approx((0.5 * 2 + 0.8 * 2 + 0.8 * 3) / 7)
    assert m["sample_count"] == 7


def test_zero_division_is_zero_and_empty_input_is_safe() -> None:
    m = classification_metrics(np.array([0, 1, 2]), np.array([0, 0, 0]))
    assert m["per_class"]["HOLD"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f1_score": 0.0,
        "support": 1,
    }
    assert m["per_class"]["BUY"]["precision"] == pytest.approx(1 / 3)
    empty = classification_metrics(np.array([], dtype=np.int64), np.array([], dtype=np.int64))
    assert empty["accuracy"] == 0.0
    assert empty["f1_score"] == 0.0
    assert empty["sample_count"] == 0


def outcome(early: bool = False) -> TrainOutcome:
    history = [
        {"epoch": 1, "train_loss": 1.0, "train_accuracy": 0.4, "val_loss": 0.9, "val_accuracy": 0.5, "learning_rate": 1e-3},
        {"epoch": 2, "train_loss": 0.8, "train_accuracy": 0.6, "val_loss": 1.1, "val_accuracy": 0.45, "learning_rate": 5e-4},
    ]  # fmt: skip
    return TrainOutcome(
        history, total_epochs=5, batches_per_epoch=10, epochs_completed=2, early_stopped=early,
        stop_reason="early_stopping" if early else "completed", best_epoch=1, best_metric=0.9,
        restored_best=True, training_time_s=90.0, device="cpu",
    )  # fmt: skip


REQUIRED = {
    "training_metrics": {
        "epochs_completed", "training_time_minutes", "early_stopped", "best_epoch", "final_train_loss",
        "final_val_loss", "final_train_accuracy", "final_val_accuracy",
    },
    "validation_metrics": {"val_loss", "val_accuracy"},
    "test_metrics": {"test_loss", "test_accuracy", "precision", "recall", "f1_score", "confusion_matrix", "per_class"},
    "resource_usage": {"device", "gpu_used", "peak_memory_mb", "cpu_time_s"},
    "artifacts": {"model_path", "model_version", "files", "model_size_bytes", "analytics_files"},
    "session_info": {"started_at", "completed_at", "cancellation_reason", "session_id", "training_mode"},
}  # fmt: skip


def test_summary_has_every_key_for_every_ending() -> None:
    agg = ResultAggregator(
        "rsi", ["EURUSD"], ["1h"], operation_id="op_1", training_mode="host", session_id="s1"
    )
    done = agg.summary(
        outcome(early=True),
        test_metrics=classification_metrics(Y_TRUE, Y_PRED),
        test_loss=0.7,
        artifacts={"model_path": "/m/rsi/EURUSD_1h_v1", "model_version": 1},
        model_info={"parameters_count": 10, "model_size_bytes": 40, "architecture": "mlp_8"},
        data_summary={"total_samples": 7},
    )
    cancelled = agg.summary(outcome(), cancellation_reason="user asked")
    nothing = agg.summary(None, cancellation_reason="before training")
    for summary in (done, cancelled, nothing):
        assert set(summary) == set(SECTIONS)
        for section, keys in REQUIRED.items():
            assert keys <= set(summary[section]), (section, keys - set(summary[section]))
        assert {k: set(v) for k, v in summary.items() if isinstance(v, dict) and k not in ("model_info", "data_summary")} == {
            k: set(v) for k, v in done.items() if isinstance(v, dict) and k not in ("model_info", "data_summary")
        }  # fmt: skip
    t = done["training_metrics"]
    assert t["epochs_completed"] == 2
    assert t["early_stopped"] is True
    assert t["best_epoch"] == 1
    assert t["training_time_minutes"] == 1.5
    assert t["final_val_loss"] == 1.1
    assert t["best_val_loss"] == 0.9
    assert t["final_learning_rate"] == 5e-4
    assert done["validation_metrics"]["val_accuracy"] == 0.45
    assert done["test_metrics"]["f1_score"] == pytest.approx(5 / 7)
    assert done["test_metrics"]["test_loss"] == 0.7
    assert done["session_info"]["training_mode"] == "host"
    assert done["session_info"]["session_id"] == "s1"
    assert done["session_info"]["cancellation_reason"] is None
    assert cancelled["session_info"]["cancellation_reason"] == "user asked"
    assert cancelled["artifacts"]["model_path"] is None
    assert cancelled["test_metrics"]["test_accuracy"] is None
    assert nothing["training_metrics"]["epochs_completed"] == 0


def test_performance_view_has_the_ktrdr_fields() -> None:
    agg = ResultAggregator("rsi", ["EURUSD"], ["1h"])
    summary = agg.summary(
        outcome(),
        test_metrics=classification_metrics(Y_TRUE, Y_PRED),
        test_loss=0.7,
        model_info={
            "parameters_count": 10,
            "model_size_bytes": 40,
            "architecture": "mlp_8",
            "extra": 1,
        },
    )
    view = performance_view(summary)
    assert set(view["training_metrics"]) == {
        "final_train_loss", "final_val_loss", "final_train_accuracy", "final_val_accuracy",
        "epochs_completed", "early_stopped", "training_time_minutes",
    }  # fmt: skip
    assert set(view["test_metrics"]) == {
        "test_loss",
        "test_accuracy",
        "precision",
        "recall",
        "f1_score",
    }
    assert view["model_info"] == {
        "model_size_bytes": 40,
        "parameters_count": 10,
        "architecture": "mlp_8",
    }
    assert performance_view(None) == {
        "training_metrics": None,
        "test_metrics": None,
        "model_info": None,
    }


def test_training_cancelled_is_a_cancellation_with_partial_results() -> None:
    exc = TrainingCancelled("stop", "op_1", partial={"training_metrics": {"epochs_completed": 1}})
    assert isinstance(exc, CancellationError)
    assert exc.operation_id == "op_1"
    assert partial_result(exc) == {"training_metrics": {"epochs_completed": 1}}
    assert partial_result(CancellationError("plain")) is None


def test_summary_side_modules_do_not_import_torch() -> None:
    """The API reads summaries, analytics and the model list without paying for torch."""
    code = (
        "import sys, trainjet.training.artifacts.results, trainjet.training.artifacts.analytics, "
        "trainjet.training.artifacts.registry; sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
