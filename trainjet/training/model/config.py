"""`TrainingConfig`: the training loop's settings, and the one place their defaults live.

A strategy's `model.training` section (normalised by `strategy/defaults.py`, or as written) plus
the request's overrides resolve into one typed struct; the trainer reads nothing else, the
training service reads the epochs and the duration estimate from it, and the strategy
normaliser takes its default values from here. The defaults are ktrdr's loader-injected ones
(learning rate 0.001, batch 32, 100 epochs, Adam with weight decay 1e-4, momentum 0.9 for
SGD), so a strategy file trains as it did there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

import msgspec

from trainjet.core.metric_names import MONITORS as MONITORS  # early stopping's choices
from trainjet.training.errors import TrainingConfigError

Positive = Annotated[int, msgspec.Meta(ge=1)]
NonNegative = Annotated[float, msgspec.Meta(ge=0.0)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0.0)]
Optimizer = Literal["adam", "sgd", "rmsprop"]
Monitor = Literal["val_loss", "val_accuracy"]
OPTIMIZERS: tuple[str, ...] = get_args(Optimizer)


class EarlyStopping(msgspec.Struct, frozen=True, kw_only=True):
    """Stop after `patience` epochs without a gain over `min_delta` on `monitor`."""

    enabled: bool = False
    patience: Positive = 10
    monitor: Monitor = "val_loss"
    min_delta: NonNegative = 1e-4


class StepScheduler(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="step"):
    step_size: Positive = 30
    gamma: PositiveFloat = 0.1


class ExponentialScheduler(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="exponential"
):
    gamma: PositiveFloat = 0.95


class PlateauScheduler(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="reduce_on_plateau"
):
    factor: PositiveFloat = 0.5
    patience: Annotated[int, msgspec.Meta(ge=0)] = 5  # 0: reduce after any epoch without gain
    # Recorded as written (ktrdr has it); the loop always steps on a loss, so "min" is used.
    mode: str = "min"


Scheduler = StepScheduler | ExponentialScheduler | PlateauScheduler
SCHEDULER_TYPES: tuple[type[Scheduler], ...] = (
    StepScheduler,
    ExponentialScheduler,
    PlateauScheduler,
)


class ProgressSettings(msgspec.Struct, frozen=True, kw_only=True):
    batch_stride: Positive = 10  # ktrdr's progress throttle; kept in the resolved record


class TrainingConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the loop uses, resolved. Unknown keys of the section (ktrdr's
    `validation_split`, `data_mode`, ...) are not training settings and are left aside."""

    epochs: Positive = 100
    batch_size: Positive = 32
    learning_rate: PositiveFloat = 1e-3
    optimizer: Optimizer = "adam"
    weight_decay: NonNegative = 1e-4
    momentum: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.9
    gradient_clip: NonNegative = 0.0  # 0: no clipping
    early_stopping: EarlyStopping = EarlyStopping()
    scheduler: Scheduler | None = None
    restore_best: bool = True  # load the best epoch's weights at the end
    progress: ProgressSettings = ProgressSettings()
    estimated_duration_minutes: NonNegative = 30.0  # what the start answer tells the client

    @classmethod
    def resolve(
        cls, section: Mapping[str, Any] | None, *, epochs: int | None = None
    ) -> TrainingConfig:
        """The config of a `model.training` section, with the request's `epochs` if given.

        Raises `TrainingConfigError` naming the key and what it must be.
        """
        raw = dict(section or {})
        raw["early_stopping"] = _early_stopping(raw.get("early_stopping"))
        legacy = raw.pop("lr_scheduler", None)
        raw["scheduler"] = _scheduler(raw.get("scheduler", legacy))
        if raw.get("gradient_clip") is None:
            raw.pop("gradient_clip", None)  # ktrdr writes `gradient_clip: null` for none
        if isinstance(raw.get("optimizer"), str):
            raw["optimizer"] = raw["optimizer"].lower()
        if epochs is not None:
            raw["epochs"] = epochs
        try:
            return msgspec.convert(raw, cls)
        except msgspec.ValidationError as exc:
            message = str(exc).replace("`$.", "`model.training.")
            raise TrainingConfigError(
                f"Invalid training settings: {message}",
                [f"model: {message}"],
                context={"section": "model.training"},
            ) from exc

    def as_section(self) -> dict[str, Any]:
        """The config as a `model.training` mapping (what a saved model records)."""
        section = msgspec.to_builtins(self)
        assert isinstance(section, dict)
        return section


def _early_stopping(raw: Any) -> Any:
    """ktrdr's rule: a present block means on, unless it says `enabled: false`."""
    if raw is None or raw is False:
        return {"enabled": False}
    if raw is True:
        return {"enabled": True}
    if isinstance(raw, Mapping):
        return {"enabled": True, **raw}
    return raw  # not a mapping: the conversion names it


def _scheduler(raw: Any) -> Any:
    if raw is None or raw is False:
        return None
    if isinstance(raw, str):
        raw = {"type": raw}
    if not isinstance(raw, Mapping):
        return raw
    kind = str(raw.get("type")).lower()
    if kind in ("none", ""):
        return None
    return {**raw, "type": "reduce_on_plateau" if kind == "plateau" else kind}


def default_section() -> dict[str, Any]:
    """The defaults as the plain keys a normalised strategy's `model.training` starts from."""
    keys = ("epochs", "learning_rate", "batch_size", "optimizer", "weight_decay", "momentum",
            "gradient_clip", "progress")  # fmt: skip
    section = TrainingConfig().as_section()
    return {key: section[key] for key in keys}


def default_early_stopping() -> dict[str, Any]:
    """Early stopping's parameter defaults (without `enabled`, which the section decides)."""
    section = msgspec.to_builtins(EarlyStopping())
    return {k: v for k, v in section.items() if k != "enabled"}


def scheduler_defaults() -> dict[str, dict[str, Any]]:
    """Each scheduler type's parameter defaults, by type name."""
    out: dict[str, dict[str, Any]] = {}
    for kind in SCHEDULER_TYPES:
        params = msgspec.to_builtins(kind())
        out[params.pop("type")] = params
    return out
