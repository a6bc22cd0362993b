"""One result-summary shape for every way a training ends (ktrdr's summaries were mostly defaults).

ktrdr's aggregator read keys the trainer never wrote (`epochs_completed` vs `epochs_trained`,
minutes vs seconds), so its summaries were mostly defaults. Here the loop returns a
`TrainOutcome` and this module alone turns it into the summary; every section and key is
always present (None where there is nothing to say, e.g. no test set, or a cancelled run).

No torch here: the API and the host runners import this to read summaries and partial results.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from trainjet.core.cancellation import CancellationError

# numpy is imported by the two functions that compute metrics (a runner's, after training):
# the API imports this module for `performance_view` and must not pay numpy's import at start.
if TYPE_CHECKING:
    import numpy as np

CLASS_NAMES = ("BUY", "HOLD", "SELL")
SECTIONS = (
    "training_metrics",
    "validation_metrics",
    "test_metrics",
    "resource_usage",
    "artifacts",
    "session_info",
    "model_info",
    "data_summary",
)


@dataclass
class TrainOutcome:
    """What the loop did. Epochs are 1-based; `history[i]` is the `on_epoch` metrics dict."""

    history: list[dict[str, Any]]
    total_epochs: int
    batches_per_epoch: int
    epochs_completed: int = 0
    early_stopped: bool = False
    stop_reason: str = "completed"  # completed | early_stopping | cancelled
    monitor: str = "val_loss"
    best_epoch: int | None = None
    best_metric: float | None = None
    restored_best: bool = False
    training_time_s: float = 0.0
    device: str = "cpu"
    start_epoch: int = 1
    batches_done_in_epoch: int = 0  # for a cancelled run: where in the epoch it stopped

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TrainingCancelled(CancellationError):
    """A cancellation that carries what was done so far, for the `operation_cancelled` event."""

    def __init__(
        self,
        reason: str = "Training cancelled",
        operation_id: str | None = None,
        *,
        partial: dict[str, Any] | None = None,
        outcome: TrainOutcome | None = None,
    ) -> None:
        super().__init__(reason, operation_id)
        self.partial: dict[str, Any] = partial or {}
        self.outcome = outcome


def partial_result(exc: BaseException) -> dict[str, Any] | None:
    """The partial result attached to a cancellation, if any (runners call this)."""
    partial = getattr(exc, "partial", None)
    return partial if isinstance(partial, dict) and partial else None


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    # zero_division=0, as sklearn was called in ktrdr
    import numpy as np

    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = len(CLASS_NAMES)
) -> dict[str, Any]:
    """Accuracy, support-weighted precision/recall/F1, confusion matrix (rows = truth)."""
    import numpy as np

    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    cm = np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1).astype(np.float64)
    precision = _ratio(tp, cm.sum(axis=0).astype(np.float64))
    recall = _ratio(tp, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    total = float(support.sum())

    def weighted(values: np.ndarray) -> float:
        return float((values * support).sum() / total) if total else 0.0

    names = CLASS_NAMES if n_classes == len(CLASS_NAMES) else tuple(map(str, range(n_classes)))
    return {
        "accuracy": float(tp.sum() / total) if total else 0.0,
        "precision": weighted(precision),
        "recall": weighted(recall),
        "f1_score": weighted(f1),
        "confusion_matrix": cm.tolist(),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1_score": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(names)
        },
        "sample_count": int(total),
    }


def _last(history: list[dict[str, Any]], key: str) -> Any:
    return history[-1].get(key) if history else None


def training_section(outcome: TrainOutcome | None) -> dict[str, Any]:
    history = outcome.history if outcome else []
    best = next((e for e in history if outcome and e.get("epoch") == outcome.best_epoch), {})
    seconds = outcome.training_time_s if outcome else 0.0
    return {
        "epochs_completed": outcome.epochs_completed if outcome else 0,
        "total_epochs": outcome.total_epochs if outcome else 0,
        "training_time_minutes": round(seconds / 60.0, 4),
        "training_time_seconds": round(seconds, 3),
        "early_stopped": bool(outcome and outcome.early_stopped),
        "stop_reason": outcome.stop_reason if outcome else None,
        "monitor": outcome.monitor if outcome else None,
        "best_epoch": outcome.best_epoch if outcome else None,
        "best_restored": bool(outcome and outcome.restored_best),
        "best_val_loss": best.get("val_loss"),
        "best_val_accuracy": best.get("val_accuracy"),
        "final_train_loss": _last(history, "train_loss"),
        "final_val_loss": _last(history, "val_loss"),
        "final_train_accuracy": _last(history, "train_accuracy"),
        "final_val_accuracy": _last(history, "val_accuracy"),
        "final_learning_rate": _last(history, "learning_rate"),
        "batches_per_epoch": outcome.batches_per_epoch if outcome else 0,
    }


def evaluation_section(metrics: dict[str, Any] | None, loss: float | None = None) -> dict[str, Any]:
    """`test_metrics`; all None (and an empty confusion matrix) without a test set."""
    m = metrics or {}
    return {
        "test_loss": loss,
        "test_accuracy": m.get("accuracy"),
        "precision": m.get("precision"),
        "recall": m.get("recall"),
        "f1_score": m.get("f1_score"),
        "confusion_matrix": m.get("confusion_matrix"),
        "per_class": m.get("per_class"),
        "sample_count": m.get("sample_count", 0),
    }


@dataclass
class ResultAggregator:
    """Holds the run's identity; `summary` assembles the one shape from the parts."""

    strategy_name: str
    symbols: list[str]
    timeframes: list[str]
    operation_id: str | None = None
    session_id: str | None = None
    training_mode: str = "local"
    start_date: str | None = None
    end_date: str | None = None
    seed: int | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def summary(
        self,
        outcome: TrainOutcome | None,
        *,
        test_metrics: dict[str, Any] | None = None,
        test_loss: float | None = None,
        per_symbol_metrics: dict[str, Any] | None = None,
        feature_importance: dict[str, float] | None = None,
        resource_usage: dict[str, Any] | None = None,
        artifacts: dict[str, Any] | None = None,
        model_info: dict[str, Any] | None = None,
        data_summary: dict[str, Any] | None = None,
        completed_at: datetime | None = None,
        cancellation_reason: str | None = None,
    ) -> dict[str, Any]:
        training = training_section(outcome)
        art = {
            "model_path": None,
            "model_id": None,
            "model_version": None,
            "files": [],
            "model_size_bytes": None,
            "analytics_dir": None,
            "analytics_files": [],
            "checkpoints": [],
            "feature_importance": feature_importance,
            "per_symbol_metrics": per_symbol_metrics,
            **(artifacts or {}),
        }
        return {
            "training_metrics": training,
            "validation_metrics": {
                "val_loss": training["final_val_loss"],
                "val_accuracy": training["final_val_accuracy"],
                "best_val_loss": training["best_val_loss"],
                "best_val_accuracy": training["best_val_accuracy"],
                "per_symbol": per_symbol_metrics or {},
            },
            "test_metrics": evaluation_section(test_metrics, test_loss),
            "resource_usage": {
                "device": outcome.device if outcome else None,
                "training_mode": self.training_mode,
                "gpu_used": False,
                "gpu_name": None,
                "gpu_memory_total_mb": None,
                "gpu_utilization_percent": None,
                "peak_memory_mb": None,
                "cpu_time_s": None,
                **(resource_usage or {}),
            },
            "artifacts": art,
            "session_info": {
                "operation_id": self.operation_id,
                "session_id": self.session_id,
                "training_mode": self.training_mode,
                "strategy_name": self.strategy_name,
                "symbols": list(self.symbols),
                "timeframes": list(self.timeframes),
                "start_date": self.start_date,
                "end_date": self.end_date,
                "seed": self.seed,
                "started_at": self.started_at.isoformat(),
                "completed_at": (completed_at or datetime.now(UTC)).isoformat(),
                "cancellation_reason": cancellation_reason,
            },
            "model_info": model_info or {},
            "data_summary": data_summary or {},
        }


_PERF_TRAINING = (
    "final_train_loss",
    "final_val_loss",
    "final_train_accuracy",
    "final_val_accuracy",
    "epochs_completed",
    "early_stopped",
    "training_time_minutes",
)
_PERF_TEST = ("test_loss", "test_accuracy", "precision", "recall", "f1_score")
_PERF_MODEL = ("model_size_bytes", "parameters_count", "architecture")


def performance_view(result_summary: dict[str, Any] | None) -> dict[str, Any]:
    """The metric blocks of `GET /trainings/{id}/performance`; None for a missing block."""
    summary = result_summary or {}

    def pick(section: str, keys: tuple[str, ...]) -> dict[str, Any] | None:
        block = summary.get(section)
        return {k: block.get(k) for k in keys} if isinstance(block, dict) and block else None

    return {
        "training_metrics": pick("training_metrics", _PERF_TRAINING),
        "test_metrics": pick("test_metrics", _PERF_TEST),
        "model_info": pick("model_info", _PERF_MODEL),
    }
