# size: one training end to end; each phase hands its results to the next and to the summary
"""One training, end to end: strategy -> dataset -> model -> loop -> evaluation -> storage.

Runs in a worker thread and talks to the outside only through the `TrainingReporter`. Phases
after the dataset: `training`, `evaluating`, `saving` (each `on_phase` also checks for a
cancel). A cancelled run never creates a model version; it raises `TrainingCancelled` whose
`partial` is a result summary of the same shape as a completed one, with
`session_info.cancellation_reason` set.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from trainjet.core.cancellation import CancellationError
from trainjet.core.events.inputs import TrainingInputs
from trainjet.training.artifacts.analytics import AnalyticsSettings, write_analytics
from trainjet.training.artifacts.model_files import save_model
from trainjet.training.artifacts.registry import ModelStorage
from trainjet.training.artifacts.results import (
    CLASS_NAMES,
    ResultAggregator,
    TrainingCancelled,
    TrainOutcome,
    classification_metrics,
    evaluation_section,
    training_section,
)
from trainjet.training.data.prepare import prepare_dataset
from trainjet.training.model.config import TrainingConfig
from trainjet.training.model.devices import (
    gpu_snapshot,
    peak_memory_mb,
    reset_peak_memory,
    select_device,
)
from trainjet.training.model.inference import (
    SplitTensors,
    loss_and_accuracy,
    per_symbol_metrics,
    permutation_importance,
)
from trainjet.training.model.network import build_model, model_info
from trainjet.training.model.reproducibility import run_record, seed_everything, strategy_dict
from trainjet.training.model.trainer import CheckpointFn, train_model
from trainjet.training.protocol import PreparedDataset, TrainingReporter
from trainjet.training.strategy.loader import StrategyConfig, load_strategy, parse_strategy


@dataclass(frozen=True)
class TrainingRun:
    """Who runs a training and from where: what the runner adds to the operation's inputs."""

    operation_id: str | None = None
    session_id: str | None = None
    training_mode: str | None = None  # None: the inputs' own
    resume_checkpoint: bytes | None = field(default=None, repr=False)
    device: str | None = None  # None: auto (CUDA, MPS, CPU) or $TRAINJET_DEVICE


def _data_summary(dataset: PreparedDataset, inputs: TrainingInputs) -> dict[str, Any]:
    splits = (dataset.train, dataset.val, dataset.test)
    sym = np.concatenate([s.symbol_idx for s in splits])
    labels = np.bincount(dataset.train.y.astype(np.int64), minlength=len(CLASS_NAMES))
    computed = {
        "symbols": list(dataset.symbols),
        "timeframes": list(dataset.timeframes),
        "start_date": inputs.start_date,
        "end_date": inputs.end_date,
        "total_samples": int(sum(len(s.y) for s in splits)),
        "train_samples": len(dataset.train.y),
        "val_samples": len(dataset.val.y),
        "test_samples": len(dataset.test.y),
        "feature_count": len(dataset.feature_names),
        "symbol_distribution": {
            name: int((sym == i).sum()) for i, name in enumerate(dataset.symbols)
        },
        "train_label_distribution": dict(zip(CLASS_NAMES, labels.tolist(), strict=False)),
    }
    return {**computed, **dataset.data_summary}  # the dataset's own figures win


def _resource_usage(device: Any, cpu0: float) -> dict[str, Any]:
    snap = gpu_snapshot(device, max_age_s=0.0)
    return {
        "device": snap["device"],
        "device_type": snap["device_type"],
        "gpu_used": snap["gpu_used"],
        "gpu_name": snap["name"] if snap["gpu_used"] else None,
        "gpu_memory_total_mb": snap["memory_total_mb"],
        "gpu_utilization_percent": snap["utilization_percent"],
        "peak_memory_mb": peak_memory_mb(device),
        "cpu_time_s": round(time.process_time() - cpu0, 3),  # whole process, all threads
    }


def run_training(
    inputs: TrainingInputs,
    reporter: TrainingReporter,
    *,
    models_dir: str | Path,
    data_dir: str | Path,
    strategies_dir: str | Path = "strategies",
    run: TrainingRun | None = None,
    checkpoint_fn: CheckpointFn | None = None,
) -> dict[str, Any]:
    """Train, evaluate and save one model; return the result summary.

    The recorded `strategy_yaml` is what runs when present (a retry reproduces the original
    run even if the file changed since); otherwise the file is read from `strategies_dir`.
    """
    run = run or TrainingRun()
    cpu0 = time.process_time()
    started = datetime.now(UTC)
    strategy = (
        parse_strategy(inputs.strategy_yaml, name=inputs.strategy_name)
        if inputs.strategy_yaml
        else load_strategy(inputs.strategy_name, strategies_dir)
    )
    symbols = list(inputs.symbols or strategy.symbols)
    timeframes = list(inputs.timeframes or strategy.timeframes)
    seed = inputs.seed if inputs.seed is not None else strategy.seed
    if seed is None:
        seed = secrets.randbelow(2**31)  # still recorded, so the run can be repeated
    agg = ResultAggregator(
        strategy_name=strategy.name,
        symbols=symbols,
        timeframes=timeframes,
        operation_id=run.operation_id,
        session_id=run.session_id,
        training_mode=run.training_mode or inputs.training_mode,
        start_date=inputs.start_date,
        end_date=inputs.end_date,
        seed=int(seed),
        started_at=started,
    )
    parts: dict[str, Any] = {}  # summary sections known so far (for a partial result)
    done: dict[str, TrainOutcome] = {}
    try:
        dataset = prepare_dataset(
            strategy,
            data_dir=data_dir,
            symbols=symbols,
            timeframes=timeframes,
            start_date=inputs.start_date,
            end_date=inputs.end_date,
            reporter=reporter,
        )
        # the dataset's order is canonical (timeframes by frequency): it names the model dir
        agg.symbols, agg.timeframes = list(dataset.symbols), list(dataset.timeframes)
        parts["data_summary"] = _data_summary(dataset, inputs)
        return _train_evaluate_save(
            inputs, run, reporter, strategy, dataset, agg, parts, done, models_dir,
            checkpoint_fn, cpu0,
        )  # fmt: skip
    except CancellationError as exc:
        # a cancel inside the loop carries its outcome; one at a later phase finds it in `done`
        outcome = exc.outcome if isinstance(exc, TrainingCancelled) else done.get("outcome")
        partial = agg.summary(outcome, cancellation_reason=exc.reason, **parts)
        raise TrainingCancelled(
            exc.reason, exc.operation_id, partial=partial, outcome=outcome
        ) from exc


def _train_evaluate_save(
    inputs: TrainingInputs,
    run: TrainingRun,
    reporter: TrainingReporter,
    strategy: StrategyConfig,
    dataset: PreparedDataset,
    agg: ResultAggregator,
    parts: dict[str, Any],
    done: dict[str, TrainOutcome],
    models_dir: str | Path,
    checkpoint_fn: CheckpointFn | None,
    cpu0: float,
) -> dict[str, Any]:
    seed = int(agg.seed or 0)
    model_cfg: dict[str, Any] = dict(strategy.model)
    section: dict[str, Any] = dict(model_cfg.get("training") or {})
    config = TrainingConfig.resolve(section, epochs=inputs.epochs)
    device = select_device(run.device)
    record = run_record(strategy, dataset, seed)
    seed_everything(seed)  # before the model is built: its initial weights depend on it
    model = build_model(model_cfg, len(dataset.feature_names), len(dataset.symbols))
    parts["model_info"] = model_info(model)
    reporter.on_phase(
        "training",
        f"Training {parts['model_info']['architecture']} on {device}",
        device=str(device),
        parameters_count=parts["model_info"]["parameters_count"],
        run_record=record,
    )
    reset_peak_memory(device)
    outcome: TrainOutcome = train_model(
        model,
        dataset,
        config,
        reporter,
        device=device,
        seed=seed,
        initial_state=run.resume_checkpoint,
        checkpoint_fn=checkpoint_fn,
    )
    done["outcome"] = outcome
    parts["resource_usage"] = _resource_usage(device, cpu0)

    reporter.on_phase("evaluating", "Evaluating the best model on the test set")
    test, val = SplitTensors.of(dataset.test), SplitTensors.of(dataset.val)
    test_metrics: dict[str, Any] | None = None
    test_loss: float | None = None
    if len(test):
        test_loss, _, pred = loss_and_accuracy(model, test)
        test_metrics = classification_metrics(test.y.numpy(), pred.numpy())
    per_symbol: dict[str, Any] = {}
    if len(val):
        val_pred = loss_and_accuracy(model, val)[2].numpy()
        per_symbol = per_symbol_metrics(
            val.y.numpy(), val_pred, val.symbol_idx.numpy(), dataset.symbols
        )
    importance = permutation_importance(model, val, dataset.feature_names, seed=seed)

    reporter.on_phase("saving", "Saving the model")
    analytics = AnalyticsSettings.resolve(
        strategy.analytics,
        section.get("analytics"),
        detailed_analytics=inputs.detailed_analytics,
    )
    analytics_files: list[str] = []
    final = {"stop_reason": outcome.stop_reason, "best_epoch_restored": outcome.restored_best}

    def extras(model_dir: Path) -> None:  # runs inside the not-yet-published version dir
        analytics_files.extend(
            write_analytics(
                model_dir, outcome.history, settings=analytics, run_info=record, final=final
            )
        )

    saved = save_model(
        ModelStorage(models_dir),
        model,
        strategy=strategy.name,
        symbols=agg.symbols,
        timeframes=agg.timeframes,
        strategy_config={**strategy_dict(strategy), "resolved_training": config.as_section()},
        metrics={
            "training_metrics": training_section(outcome),
            "test_metrics": evaluation_section(test_metrics, test_loss),
            "per_symbol_metrics": per_symbol,
            "feature_importance": importance,
            "history": outcome.history,
        },
        features={
            "feature_names": list(dataset.feature_names),
            "feature_count": len(dataset.feature_names),
            "timeframes": agg.timeframes,
            "scaling_info": {
                "requires_scaling": False,
                "reason": "fuzzy_values_already_normalized",
            },
        },
        metadata={
            "operation_id": run.operation_id,
            "session_id": run.session_id,
            "training_mode": agg.training_mode,
            "seed": seed,
            "data_hashes": dict(dataset.data_hashes),
            "run_record": record,
            "description": "",
        },
        extras=extras if analytics.enabled else None,
    )
    return agg.summary(
        outcome,
        test_metrics=test_metrics,
        test_loss=test_loss,
        per_symbol_metrics=per_symbol,
        feature_importance=importance,
        artifacts={
            "model_path": str(saved.path),
            "model_id": saved.model_id,
            "model_version": saved.version,
            "files": saved.files,
            "model_size_bytes": (saved.path / "model.pt").stat().st_size,
            "analytics_dir": str(saved.path / "analytics") if analytics_files else None,
            "analytics_files": analytics_files,
        },
        completed_at=datetime.now(UTC),
        **parts,
    )
