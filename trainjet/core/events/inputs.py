"""What an operation needs to run, as `operation_created` records it (its `inputs`).

The runner reads these from the log, never from the request, so a retry or a runner that
takes over re-runs exactly what was accepted. Each kind is tagged on the wire by `kind` (the
operation type it belongs to); version 1 of `operation_created` stored the same fields as an
untagged object, which the codec's upcaster tags from `operation_type`. These structs follow
the event rules: a new field gets a default, no field is renamed or retyped.
"""

from __future__ import annotations

from typing import Any

import msgspec

DEFAULT_DUMMY_ITERATIONS = 100
DEFAULT_DUMMY_INTERVAL_SECONDS = 2.0


class ResolvedStrategy(msgspec.Struct, frozen=True, kw_only=True):
    """The strategy's sections after defaults and normalisation, as the run used them."""

    model: dict[str, Any] = msgspec.field(default_factory=dict)
    labels: dict[str, Any] = msgspec.field(default_factory=dict)
    data_split: dict[str, float] = msgspec.field(default_factory=dict)


class TrainingInputs(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind", tag="training"):
    """One training, with its reproducibility record (strategy text, data hashes, versions)."""

    strategy_name: str
    # The YAML text at creation. When present it is what runs, so a retry reproduces the
    # original run even if the file changed since; None: the file is read by name.
    strategy_yaml: str | None = None
    symbols: list[str] = msgspec.field(default_factory=list)  # empty: the strategy's own
    timeframes: list[str] = msgspec.field(default_factory=list)
    start_date: str | None = None
    end_date: str | None = None
    epochs: int | None = None  # None: the strategy's model.training.epochs
    seed: int | None = None  # None: the strategy's seed, else a fresh one (recorded)
    detailed_analytics: bool = False
    training_mode: str = "local"
    data_hashes: dict[str, str] = msgspec.field(default_factory=dict)  # "SYMBOL_TF" -> sha256
    data_bars: dict[str, int] = msgspec.field(default_factory=dict)
    resolved: ResolvedStrategy | None = None
    versions: dict[str, str | None] = msgspec.field(default_factory=dict)
    warnings: list[str] = msgspec.field(default_factory=list)
    # A retry of a failed training names it: the runner resumes from its last checkpoint.
    resume_from: str | None = None


class DummyInputs(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind", tag="dummy"):
    """The reference operation: `iterations` waits of `interval_seconds` each."""

    iterations: int = DEFAULT_DUMMY_ITERATIONS
    interval_seconds: float = DEFAULT_DUMMY_INTERVAL_SECONDS


OperationInputs = TrainingInputs | DummyInputs

INPUT_TYPES: tuple[type[TrainingInputs] | type[DummyInputs], ...] = (TrainingInputs, DummyInputs)


def inputs_kind(inputs: OperationInputs) -> str:
    """The wire `kind` of an inputs struct (the operation type it belongs to)."""
    tag = type(inputs).__struct_config__.tag
    assert isinstance(tag, str)
    return tag
