"""The live display folds with the projection's functions: what `trainjet train` / `ops tail`
show is what the API serves, on a resumed run above all (a re-done epoch is shown once)."""

from __future__ import annotations

import io
import re

from rich.console import Console

from tests.unit.test_projection_fold import Clock, at, created
from trainjet.cli.live import TrainingView
from trainjet.core.events import (
    TERMINAL_STATUS,
    TERMINAL_TYPES,
    AnyEvent,
    BatchProgress,
    BatchRecord,
    EpochCompleted,
    OperationCompleted,
    OperationStarted,
    OperationStatus,
    RunnerLost,
    WarningRaised,
)
from trainjet.core.projections import evolve_metrics
from trainjet.replay import metrics_json, rebuild

EPOCHS = 4


def resumed_run() -> list[AnyEvent]:
    """Epochs 1, 2, 3 on runner r1, which is lost before epoch 3's checkpoint is kept; r2
    resumes from epoch 2's checkpoint and does epochs 3 and 4."""
    make = Clock()

    def epoch(n: int, loss: float) -> list[AnyEvent]:
        return [
            make(
                BatchProgress,
                batches=[BatchRecord(n, 1, loss + 0.1, 0.5), BatchRecord(n, 2, loss, 0.6)],
                total_epochs=EPOCHS,
                batches_per_epoch=2,
                items_processed=2 * n,
                items_total=2 * EPOCHS,
                percentage=100.0 * n / EPOCHS,
                eta_seconds=30.0,
            ),
            make(
                EpochCompleted,
                epoch=n,
                total_epochs=EPOCHS,
                train_loss=loss,
                train_accuracy=0.6,
                val_loss=loss + 0.05,
                percentage=100.0 * n / EPOCHS,
            ),
        ]

    return [
        created(make),
        make(OperationStarted, runner_id="r1", attempt=1),
        *epoch(1, 0.9),
        *epoch(2, 0.8),
        *epoch(3, 0.7),
        make(RunnerLost, runner_id="r1", attempt=1, reason="lease expired"),
        make(OperationStarted, runner_id="r2", attempt=2, resumed_from_epoch=2),
        *epoch(3, 0.65),
        *epoch(4, 0.6),
        make(OperationCompleted, result_summary={"training_metrics": {"epochs_completed": 4}}),
    ]


def render(view: TrainingView) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(view)
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue()


def test_the_shared_fold_counts_a_re_done_epoch_once() -> None:
    state = None
    for event in resumed_run():
        state = evolve_metrics(state, event)
    assert state is not None
    assert [e.epoch for e in state.epochs] == [1, 2, 3, 4]
    assert state.epochs[2].train_loss == 0.65  # the resumed attempt's epoch 3 replaced r1's


def test_the_live_view_and_the_projection_agree_on_a_resumed_run() -> None:
    events = resumed_run()
    view = TrainingView("op1")
    for event in events:
        view.apply(event)
    rebuilt = rebuild([at(i, e) for i, e in enumerate(events, 1)], "op1")
    assert rebuilt.info is not None
    # the epochs of GET /operations/{id}/metrics, built as the API builds them
    served = metrics_json(rebuilt.info, rebuilt.metrics)["metrics"]
    assert [e["epoch"] for e in served["epochs"]] == [1, 2, 3, 4]
    assert [e.epoch for e in view.epochs] == [1, 2, 3, 4]
    assert [e.train_loss for e in view.epochs] == [e["train_loss"] for e in served["epochs"]]
    assert view.status == OperationStatus.COMPLETED and view.percentage == 100.0
    # The screen: one table row per epoch, epoch 3 with the resumed attempt's figures.
    rows = re.findall(r"^\s*(\d)/4\s+(\S+)", render(view), flags=re.MULTILINE)
    assert rows == [("1", "0.9000"), ("2", "0.8000"), ("3", "0.6500"), ("4", "0.6000")]


def test_the_live_view_says_when_a_run_is_resumed_and_restarts_the_batch_mean() -> None:
    events = resumed_run()
    lost = next(i for i, e in enumerate(events) if isinstance(e, RunnerLost))
    view = TrainingView("op1")
    for event in events[: lost + 2]:  # up to the resumed attempt's start
        view.apply(event)
    assert view.step == "Resumed on r2 (attempt 2, from epoch 2)"
    assert any("Runner r1 lost" in w for w in view.warnings)
    view.apply(events[lost + 2])  # the resumed attempt's first batches of epoch 3
    assert view.step == "Epoch 3/4 · Batch 2/2"
    assert view.loss is not None and abs(view.loss - (0.75 + 0.65) / 2) < 1e-9


def test_nothing_after_the_terminal_event_changes_the_view() -> None:
    make = Clock()
    view = TrainingView("op1")
    for event in [created(make), make(OperationStarted, runner_id="r1")]:
        view.apply(event)
    view.apply(make(OperationCompleted))
    view.apply(make(WarningRaised, message="late"))
    assert view.finished and view.status == OperationStatus.COMPLETED
    assert view.warnings == []


def test_the_terminal_set_is_defined_once_and_matches_the_terminal_statuses() -> None:
    assert tuple(TERMINAL_STATUS) == TERMINAL_TYPES
    assert set(TERMINAL_STATUS.values()) == {s for s in OperationStatus if s.is_terminal}


def test_an_epoch_sent_in_one_burst_with_its_batches_still_shows_the_batch() -> None:
    """Short epochs reach the log as one burst: the projection's step then reads "Epoch k/N",
    and the terminal keeps the batch it saw (the user watches the loop move)."""
    events = resumed_run()
    first_epoch_end = next(i for i, e in enumerate(events) if isinstance(e, EpochCompleted))
    view = TrainingView("op1")
    for event in events[: first_epoch_end + 1]:
        view.apply(event)
    assert view.info is not None and view.info.progress.current_step == "Epoch 1/4"
    assert view.step == "Epoch 1/4 · Batch 2/2"
