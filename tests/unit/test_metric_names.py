"""The epoch metric names are defined once (core/metric_names) and match the event model."""

from __future__ import annotations

import msgspec

from trainjet.core.events import EpochCompleted
from trainjet.core.metric_names import EPOCH_METRICS, MONITORS
from trainjet.core.projections.models import EpochRecord
from trainjet.replay.metrics_table import COLUMNS
from trainjet.training.artifacts.analytics import _FIRST_COLUMNS


def _fields(struct: type[msgspec.Struct]) -> list[str]:
    return [f.name for f in msgspec.structs.fields(struct)]


def test_epoch_metrics_are_the_fields_of_an_epoch_record() -> None:
    assert [f for f in _fields(EpochRecord) if f not in ("epoch", "timestamp")] == list(
        EPOCH_METRICS
    )


def test_every_epoch_metric_travels_in_the_event() -> None:
    assert set(EPOCH_METRICS) <= set(_fields(EpochCompleted))


def test_exports_lead_with_the_epoch_metrics_and_monitors_are_among_them() -> None:
    assert _FIRST_COLUMNS[1:] == EPOCH_METRICS
    assert COLUMNS[-len(EPOCH_METRICS) :] == EPOCH_METRICS
    assert set(MONITORS) <= set(EPOCH_METRICS)


def test_the_typed_training_config_accepts_exactly_the_monitors() -> None:
    from typing import get_args

    from trainjet.training.model.config import Monitor

    assert get_args(Monitor) == MONITORS
