"""The training loop: progress contract, cancellation, best restore, early stopping, seeding,
resume, schedulers — on small synthetic data so the whole file runs in a few seconds."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from tests.fakes import FakeReporter
from trainjet.core.cancellation import CancellationError
from trainjet.training.artifacts.results import TrainingCancelled, partial_result
from trainjet.training.errors import CheckpointError, TrainingConfigError
from trainjet.training.model import figures as figures_module
from trainjet.training.model.config import TrainingConfig
from trainjet.training.model.network import build_model
from trainjet.training.model.reproducibility import seed_everything
from trainjet.training.model.trainer import (
    TrainingDivergedError,
    load_checkpoint,
    train_model,
)
from trainjet.training.protocol import DatasetSplit, PreparedDataset

MODEL_CFG = {"type": "mlp", "architecture": {"hidden_layers": [16, 8], "dropout": 0.1}}


def make_dataset(
    n: int = 400, n_features: int = 6, n_symbols: int = 1, seed: int = 0, noise: float = 0.3
) -> PreparedDataset:
    """Labels = argmax of a fixed linear map of the features (plus noise): learnable."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(n_features, 3))

    def split(m: int) -> DatasetSplit:
        X = rng.random((m, n_features), dtype=np.float32)
        y = np.argmax((X - 0.5) @ weights + noise * rng.normal(size=(m, 3)), axis=1)
        return DatasetSplit(X, y.astype(np.int64), rng.integers(0, n_symbols, m).astype(np.int64))

    return PreparedDataset(
        split(n),
        split(n // 4),
        split(n // 4),
        [f"f{i}" for i in range(n_features)],
        [f"S{i}" for i in range(n_symbols)],
        ["1h"],
    )


def run(
    cfg: dict[str, Any],
    dataset: PreparedDataset | None = None,
    *,
    seed: int = 7,
    reporter: FakeReporter | None = None,
    model_cfg: dict[str, Any] | None = None,
    **kwargs: Any,
) -> tuple[torch.nn.Module, Any, FakeReporter]:
    ds = dataset or make_dataset()
    seed_everything(seed)
    model = build_model(model_cfg or MODEL_CFG, ds.train.X.shape[1], len(ds.symbols))
    rep = reporter or FakeReporter()
    config = TrainingConfig.resolve(cfg)
    outcome = train_model(model, ds, config, rep, device="cpu", seed=seed, **kwargs)
    return model, outcome, rep


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_reports_every_batch_and_epoch() -> None:
    _, outcome, rep = run({"epochs": 3, "batch_size": 32})
    bpe = -(-400 // 32)
    assert outcome.batches_per_epoch == bpe
    assert [(b[0], b[1]) for b in rep.batches] == [
        (e, b) for e in (1, 2, 3) for b in range(1, bpe + 1)
    ]
    assert all(b[2] == bpe and b[3] == 3 for b in rep.batches)
    assert all(np.isfinite(b[4]) and 0.0 <= b[5] <= 1.0 for b in rep.batches)
    assert [e[0] for e in rep.epochs] == [1, 2, 3]
    metrics = rep.epochs[-1][2]
    for key in (
        "train_loss",
        "train_accuracy",
        "val_loss",
        "val_accuracy",
        "learning_rate",
        "duration_seconds",
    ):
        assert metrics[key] is not None
    # every batch reports its own figures; weighted by batch size they make the epoch's
    last_epoch = [b for b in rep.batches if b[0] == rep.epochs[-1][0]]
    n, size = 400, 32  # the synthetic training split and batch size of this run
    sizes = [min(size, n - i * size) for i in range(len(last_epoch))]
    weighted = sum(b[4] * k for b, k in zip(last_epoch, sizes, strict=True)) / sum(sizes)
    assert weighted == pytest.approx(metrics["train_loss"])
    assert outcome.epochs_completed == 3
    assert outcome.stop_reason == "completed"
    assert outcome.history == [e[2] for e in rep.epochs]


def test_learns_the_synthetic_rule() -> None:
    _, outcome, _ = run({"epochs": 15, "batch_size": 32, "learning_rate": 0.01})
    assert outcome.history[-1]["val_accuracy"] > 0.6
    assert outcome.history[-1]["train_loss"] < outcome.history[0]["train_loss"]


def overfitting_setup() -> tuple[dict[str, Any], PreparedDataset, dict[str, Any]]:
    """Pure-noise labels and a big model: validation loss is best early, then rises."""
    ds = make_dataset(n=96, n_features=10, noise=100.0, seed=3)
    cfg = {"epochs": 12, "batch_size": 16, "learning_rate": 0.02, "weight_decay": 0.0}
    big = {"type": "mlp", "architecture": {"hidden_layers": [128, 128], "dropout": 0.0}}
    return cfg, ds, big


def test_best_restore_restores_the_best_epoch_weights_not_the_last() -> None:
    cfg, ds, big = overfitting_setup()
    snapshots: dict[int, bytes] = {}
    model, outcome, _ = run(cfg, ds, model_cfg=big, checkpoint_fn=snapshots.__setitem__)
    val_losses = [e["val_loss"] for e in outcome.history]
    best = int(np.argmin(val_losses)) + 1
    assert outcome.best_epoch == best
    assert best < outcome.epochs_completed, "setup must overfit for this test to mean anything"
    assert outcome.restored_best
    at = {e: load_checkpoint(b)["model"] for e, b in snapshots.items()}
    assert same(weights(model), at[best])
    assert not same(weights(model), at[outcome.epochs_completed])


def test_best_by_val_accuracy_when_monitored() -> None:
    cfg, ds, big = overfitting_setup()
    cfg["early_stopping"] = {"enabled": False, "monitor": "val_accuracy"}
    _, outcome, _ = run(cfg, ds, model_cfg=big)
    accs = [e["val_accuracy"] for e in outcome.history]
    assert outcome.monitor == "val_accuracy"
    assert outcome.best_epoch == int(np.argmax(accs)) + 1
    assert not outcome.early_stopped
    assert outcome.epochs_completed == 12


def expected_stop(val_losses: list[float], patience: int, min_delta: float) -> int:
    """The epoch early stopping must end at: the counter resets only on a gain > min_delta
    over the loss that last reset it (the Keras rule)."""
    ref, wait = val_losses[0], 0
    for epoch, loss in enumerate(val_losses[1:], start=2):
        ref, wait = (loss, 0) if loss < ref - min_delta else (ref, wait + 1)
        if wait >= patience:
            return epoch
    return len(val_losses)


def test_early_stopping_honours_min_delta() -> None:
    base = {"epochs": 10, "batch_size": 32, "learning_rate": 0.01}
    _, reference, _ = run(base)  # no early stopping: the val losses every variant will see
    losses = [e["val_loss"] for e in reference.history]
    stops = set()
    for min_delta, patience in ((0.0, 2), (0.04, 2), (0.2, 2), (10.0, 2), (0.0, 5)):
        stop = expected_stop(losses, patience, min_delta)
        stops.add(stop)
        _, out, _ = run({**base, "early_stopping": {"patience": patience, "min_delta": min_delta}})
        assert out.epochs_completed == stop, (min_delta, patience)
        assert out.early_stopped == (stop < 10)
        assert out.stop_reason == ("early_stopping" if stop < 10 else "completed")
        assert [e["val_loss"] for e in out.history] == losses[:stop]
    assert len(stops) >= 3, f"the data must make min_delta matter: stops {stops}"


def test_early_stopping_off_when_disabled_or_absent() -> None:
    cfg = {"epochs": 4, "early_stopping": {"enabled": False, "patience": 1, "min_delta": 10.0}}
    assert not TrainingConfig.resolve(cfg).early_stopping.enabled
    assert not TrainingConfig.resolve({"epochs": 4}).early_stopping.enabled
    assert TrainingConfig.resolve({"early_stopping": {"patience": 3}}).early_stopping.enabled
    _, outcome, _ = run(cfg)
    assert outcome.epochs_completed == 4


@pytest.mark.parametrize("k", [1, 5, 13 + 4])
def test_cancel_is_honoured_within_one_batch(k: int) -> None:
    rep = FakeReporter(cancel_after_batches=k)
    with pytest.raises(TrainingCancelled) as info:
        run({"epochs": 3, "batch_size": 32}, reporter=rep)
    assert len(rep.batches) == k
    exc = info.value
    assert isinstance(exc, CancellationError)
    assert exc.reason == FakeReporter.REASON
    assert exc.operation_id == FakeReporter.OPERATION_ID
    partial = partial_result(exc)
    assert partial is not None
    done = (k - 1) // 13  # epochs finished before the cancel (13 batches per epoch)
    assert partial["training_metrics"]["epochs_completed"] == len(partial["epochs"]) == done
    assert exc.outcome is not None
    assert exc.outcome.stop_reason == "cancelled"


def test_seeded_cpu_runs_are_identical() -> None:
    cfg = {"epochs": 3, "batch_size": 32, "gradient_clip": 1.0}
    m1, o1, r1 = run(cfg, seed=11)
    m2, o2, r2 = run(cfg, seed=11)
    m3, _o3, _ = run(cfg, seed=12)

    def strip(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in e.items() if k != "duration_seconds"} for e in history]

    assert strip(o1.history) == strip(o2.history)
    assert [b[4:] for b in r1.batches] == [b[4:] for b in r2.batches]
    assert same(weights(m1), weights(m2))
    assert not same(weights(m1), weights(m3))


@pytest.mark.parametrize(
    "sched",
    [None, {"type": "step", "step_size": 2, "gamma": 0.5}, {"type": "plateau", "patience": 0}],
)
def test_resume_from_checkpoint_equals_uninterrupted_run(sched: dict[str, Any] | None) -> None:
    cfg: dict[str, Any] = {"epochs": 6, "batch_size": 32, "early_stopping": {"patience": 50}}
    if sched:
        cfg["scheduler"] = sched
    ds = make_dataset(n_symbols=2)
    saved: dict[int, bytes] = {}
    full, o_full, _ = run(cfg, ds, checkpoint_fn=saved.__setitem__)
    # a fresh process: different initial weights, then the checkpoint of epoch 3
    resumed, o_res, rep = run(cfg, ds, seed=999, initial_state=saved[3], start_epoch=4)
    assert [e[0] for e in rep.epochs] == [4, 5, 6]
    assert rep.batches[0][:2] == (4, 1)
    assert same(weights(full), weights(resumed))
    assert o_res.best_epoch == o_full.best_epoch
    assert o_res.epochs_completed == 6
    assert [e["val_loss"] for e in o_res.history] == [e["val_loss"] for e in o_full.history]
    assert o_res.start_epoch == 4


def test_resume_after_a_cancel_continues_from_the_last_checkpoint() -> None:
    cfg = {"epochs": 4, "batch_size": 32}
    saved: dict[int, bytes] = {}
    full, _, _ = run(cfg, checkpoint_fn=saved.__setitem__)
    partial: dict[int, bytes] = {}
    with pytest.raises(TrainingCancelled):
        run(
            cfg,
            reporter=FakeReporter(cancel_after_batches=13 * 2 + 5),
            checkpoint_fn=partial.__setitem__,
        )
    assert sorted(partial) == [1, 2]
    resumed, _, _ = run(cfg, seed=5, initial_state=partial[2])
    assert same(weights(full), weights(resumed))


def test_start_epoch_must_match_checkpoint() -> None:
    saved: dict[int, bytes] = {}
    run({"epochs": 2}, checkpoint_fn=saved.__setitem__)
    with pytest.raises(CheckpointError, match="start_epoch"):
        run({"epochs": 2}, initial_state=saved[1], start_epoch=1)


def test_schedulers_change_the_learning_rate() -> None:
    _, step, _ = run(
        {
            "epochs": 4,
            "learning_rate": 0.1,
            "scheduler": {"type": "step", "step_size": 2, "gamma": 0.5},
        }
    )
    assert [e["learning_rate"] for e in step.history] == pytest.approx([0.1, 0.1, 0.05, 0.05])
    _, expo, _ = run(
        {"epochs": 3, "learning_rate": 0.1, "lr_scheduler": {"type": "exponential", "gamma": 0.5}}
    )
    assert [e["learning_rate"] for e in expo.history] == pytest.approx([0.1, 0.05, 0.025])
    _, plat, _ = run(
        {
            "epochs": 3,
            "learning_rate": 0.1,
            "scheduler": {"type": "reduce_on_plateau", "patience": 0, "factor": 0.1},
        }
    )
    assert plat.history[-1]["learning_rate"] <= 0.1


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
def test_optimizers(optimizer: str) -> None:
    _, outcome, _ = run({"epochs": 2, "optimizer": optimizer, "gradient_clip": 0.5})
    assert outcome.epochs_completed == 2
    assert outcome.history[-1]["grad_norm_avg"] > 0
    assert outcome.history[-1]["grad_norm_max"] >= 0


@pytest.mark.parametrize(
    ("cfg", "match"),
    [
        ({"optimizer": "lbfgs"}, "'lbfgs' - at `model.training.optimizer`"),
        ({"scheduler": {"type": "cosine"}}, "'cosine' - at `model.training.scheduler.type`"),
        ({"early_stopping": {"monitor": "loss"}}, "early_stopping.monitor"),
        ({"epochs": 0}, ">= 1 - at `model.training.epochs`"),
        ({"learning_rate": "fast"}, "Expected `float`, got `str`"),
    ],
)
def test_bad_settings_raise(cfg: dict[str, Any], match: str) -> None:
    with pytest.raises(TrainingConfigError, match=match):
        run(cfg)


def test_non_finite_loss_fails_the_run() -> None:
    ds = make_dataset()
    ds.train.X[0, 0] = np.nan
    with pytest.raises(TrainingDivergedError, match="epoch 1"):
        run({"epochs": 2, "batch_size": 400}, ds)


def test_multi_symbol_model_trains_with_symbol_indices() -> None:
    model, outcome, _ = run({"epochs": 2}, make_dataset(n_symbols=3))
    assert model.uses_symbols  # type: ignore[operator, truthy-function]
    assert outcome.history[-1]["val_accuracy"] is not None


def test_no_validation_split_monitors_training_loss() -> None:
    ds = make_dataset()
    ds.val = DatasetSplit(ds.val.X[:0], ds.val.y[:0], ds.val.symbol_idx[:0])
    _, outcome, _ = run({"epochs": 3}, ds)
    assert outcome.history[-1]["val_loss"] is None
    losses = [e["train_loss"] for e in outcome.history]
    assert outcome.best_epoch == int(np.argmin(losses)) + 1


def test_figures_are_read_off_the_device_once_per_read_not_per_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads: list[int] = []
    real_read = figures_module.read_device_figures

    def counting(pending: list[torch.Tensor]) -> list[list[float]]:
        reads.append(len(pending))
        return real_read(pending)

    cfg = {"epochs": 3, "batch_size": 32}
    _, _, every_batch = run(cfg, read_seconds=0)
    monkeypatch.setattr(figures_module, "read_device_figures", counting)
    _, _, deferred = run(cfg, read_seconds=3600)
    # one read per epoch (its last batch), each carrying the whole epoch's 13 batches ...
    assert reads == [13, 13, 13]
    # ... and still every batch's own figures, identical to reading after every batch
    assert deferred.batches == every_batch.batches
    assert len(deferred.batches) == 3 * 13


def test_a_cancel_lands_within_one_batch_and_logs_every_batch_that_ran() -> None:
    # checks: one before each batch and one after each epoch; 13 batches per epoch
    rep = FakeReporter(cancel_after_checks=14 + 5)  # epoch 1 (13 + 1), then batch 5 of epoch 2
    with pytest.raises(TrainingCancelled) as info:
        run({"epochs": 3, "batch_size": 32}, reporter=rep, read_seconds=3600)
    assert [(e, b) for e, b, *_ in rep.batches] == [(1, b) for b in range(1, 14)] + [
        (2, b) for b in range(1, 5)
    ]
    assert info.value.outcome is not None
    assert info.value.outcome.batches_done_in_epoch == 4
