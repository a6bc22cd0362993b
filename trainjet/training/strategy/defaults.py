# size: ktrdr's default values and the normal form of each model/training key, side by side
"""Strategy defaults (ktrdr's, for v1 and v2 files) and the normal form of `model` and `training`.

Defaults are merged key by key (a section that sets only `epochs` keeps the default learning
rate), using ktrdr's loader-injected values. The `model` section comes out in one fixed shape so
the trainer reads `model["training"]["early_stopping"]["enabled"]` without guessing:

* `early_stopping` always exists, with `enabled` (true when the key was written, as in ktrdr, unless
  `enabled: false`), `patience`, `monitor`, `min_delta` (honoured, unlike ktrdr);
* ktrdr's `lr_scheduler` is read as `scheduler` (either spelling), `None` when absent, else a
  mapping with its type's defaults filled in;
* `analytics` and `seed` move out of `model.training` into their own strategy fields.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from trainjet.training.model.config import (
    MONITORS,
    OPTIMIZERS,
    TrainingConfig,
    default_early_stopping,
    default_section,
    scheduler_defaults,
)

SUPPORTED_MODEL_TYPES = ("mlp",)
# Kept in step with model/network.ACTIVATIONS (that module imports torch, so it is not imported here).
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "gelu")
# The training defaults are TrainingConfig's (training/model/config.py), the one place they live.
SCHEDULERS: dict[str, dict[str, Any]] = scheduler_defaults()
DEFAULT_MODEL: dict[str, Any] = {
    "type": "mlp",
    "architecture": {"hidden_layers": [50, 25], "activation": "relu", "dropout": 0.2},
    "training": default_section(),
    "features": {
        "lookback_periods": 2,
        "include_price_context": False,
        "include_volume_context": False,
        "include_raw_indicators": False,
        "scale_features": False,
    },
    "symbol_embedding_dim": 16,
}
DEFAULT_EARLY_STOPPING = default_early_stopping()
DEFAULT_ANALYTICS = {
    "enabled": False,
    "export_csv": True,
    "export_json": True,
    "export_alerts": True,
}
DEFAULT_LABELS: dict[str, Any] = {
    "source": "zigzag",
    "zigzag_threshold": 0.03,
    "label_lookahead": 20,
}
DEFAULT_SPLIT: dict[str, float] = {"train": 0.7, "validation": 0.15, "test": 0.15}
DEFAULT_DECISIONS: dict[str, Any] = {
    "output_format": "classification",
    "confidence_threshold": 0.6,
    "position_awareness": True,
    "filters": {"min_signal_separation": 4, "volume_filter": False},
}
KNOWN_TOP_LEVEL = (
    "name",
    "description",
    "version",
    "scope",
    "training_data",
    "deployment",
    "data",
    "indicators",
    "fuzzy_sets",
    "model",
    "decisions",
    "training",
    "orchestrator",
    "risk_management",
    "backtesting",
    "seed",
    "hypothesis",
)


class IssueSink(Protocol):
    def error(self, category: str, message: str, **details: Any) -> None: ...
    def warn(self, category: str, message: str, **details: Any) -> None: ...


def merge(defaults: Mapping[str, Any], user: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge: user values win; nested mappings merge; the inputs are not modified."""
    out = copy.deepcopy(dict(defaults))
    for key, value in user.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _is_int(v: Any, lo: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= lo


def _is_num(v: Any, lo: float, hi: float = float("inf"), lo_open: bool = False) -> bool:
    if not isinstance(v, int | float) or isinstance(v, bool):
        return False
    return (v > lo if lo_open else v >= lo) and v <= hi


def _fallback(
    section: dict[str, Any],
    key: str,
    allowed: tuple[str, ...],
    default: str,
    where: str,
    issues: IssueSink,
    bad: Callable[[str, str], None],
) -> None:
    """An unknown activation or optimizer name: ktrdr trains with its default instead, so a
    strategy file ktrdr accepts is accepted here too, with a warning naming the fix."""
    value = section.get(key)
    if value in allowed:
        return
    if not isinstance(value, str):
        bad(f"{where}.{key}", f"one of {', '.join(allowed)}")
        return
    issues.warn(
        "model",
        f"model.{where}.{key} {value!r} is not one of {', '.join(allowed)}: "
        f"training uses {default!r} (as ktrdr does); set one of those to choose",
    )
    section[key] = default


def normalise_model(
    model: dict[str, Any], issues: IssueSink
) -> tuple[dict[str, Any], dict[str, Any], int | None]:
    """(model, analytics, seed) from a `model` mapping already merged with DEFAULT_MODEL."""

    def bad(path: str, expected: str) -> None:
        issues.error("model", f"model.{path} must be {expected}, got {_get(model, path)!r}")

    for section in ("architecture", "training", "features"):
        if not isinstance(model.get(section), dict):
            issues.error("model", f"model.{section} must be a mapping")
            model[section] = copy.deepcopy(DEFAULT_MODEL[section])
    if model.get("type") not in SUPPORTED_MODEL_TYPES:
        issues.error(
            "model",
            f"Unknown model type {model.get('type')!r} (supported: "
            f"{', '.join(SUPPORTED_MODEL_TYPES)})",
        )
    arch = model["architecture"]
    layers = arch.get("hidden_layers")
    if not isinstance(layers, list) or not layers or not all(_is_int(n, 1) for n in layers):
        bad("architecture.hidden_layers", "a non-empty list of positive integers")
    _fallback(arch, "activation", ACTIVATIONS, "relu", "architecture", issues, bad)
    if not _is_num(arch.get("dropout"), 0.0, 0.999):
        bad("architecture.dropout", "a number in [0, 1)")
    tr = model["training"]
    for key, lo in (("epochs", 1), ("batch_size", 1)):
        if not _is_int(tr.get(key), lo):
            bad(f"training.{key}", "a positive integer")
    if not _is_num(tr.get("learning_rate"), 0.0, lo_open=True):
        bad("training.learning_rate", "a number > 0")
    _fallback(tr, "optimizer", OPTIMIZERS, TrainingConfig().optimizer, "training", issues, bad)
    for key in ("weight_decay", "gradient_clip"):
        if not _is_num(tr.get(key), 0.0):
            bad(f"training.{key}", "a number >= 0")
    if not _is_num(tr.get("momentum"), 0.0, 1.0):
        bad("training.momentum", "a number in [0, 1]")
    tr["early_stopping"] = _early_stopping(tr.get("early_stopping"), issues)
    tr["scheduler"] = _scheduler(tr.pop("lr_scheduler", None), tr.get("scheduler"), issues)
    analytics_raw = tr.pop("analytics", None) or {}
    analytics = merge(
        DEFAULT_ANALYTICS,
        analytics_raw if isinstance(analytics_raw, Mapping) else {"enabled": bool(analytics_raw)},
    )
    seed = tr.pop("seed", None)
    feats = model["features"]
    if not _is_int(feats.get("lookback_periods"), 0):
        bad("features.lookback_periods", "an integer >= 0")
    for key in (
        "include_price_context",
        "include_volume_context",
        "include_raw_indicators",
        "scale_features",
    ):
        if feats.get(key):
            issues.warn(
                "model",
                f"model.features.{key} is accepted but not used: features are "
                "fuzzy memberships only (as in ktrdr)",
            )
    if not _is_int(model.get("symbol_embedding_dim"), 1):
        bad("symbol_embedding_dim", "a positive integer")
    return model, analytics, seed if _is_int(seed, 0) else None


def _early_stopping(raw: Any, issues: IssueSink) -> dict[str, Any]:
    if raw is None or raw is False:
        return {"enabled": False, **DEFAULT_EARLY_STOPPING}
    if raw is True:
        raw = {}
    if not isinstance(raw, Mapping):
        issues.error("model", f"model.training.early_stopping must be a mapping, got {raw!r}")
        return {"enabled": False, **DEFAULT_EARLY_STOPPING}
    es = merge({"enabled": True, **DEFAULT_EARLY_STOPPING}, raw)
    if not isinstance(es["enabled"], bool):
        issues.error("model", "model.training.early_stopping.enabled must be true or false")
    if not _is_int(es["patience"], 1):
        issues.error("model", "model.training.early_stopping.patience must be a positive integer")
    if es["monitor"] not in MONITORS:
        issues.error(
            "model",
            f"model.training.early_stopping.monitor must be one of "
            f"{', '.join(MONITORS)}, got {es['monitor']!r}",
        )
    if not _is_num(es["min_delta"], 0.0):
        issues.error("model", "model.training.early_stopping.min_delta must be a number >= 0")
    return es


def _scheduler(legacy: Any, current: Any, issues: IssueSink) -> dict[str, Any] | None:
    if legacy is not None and current is not None and legacy != current:
        issues.error("model", "model.training has both lr_scheduler and scheduler; keep one")
    raw = current if current is not None else legacy
    if raw is None or raw is False:
        return None
    if isinstance(raw, str):
        raw = {"type": raw}
    kind = raw.get("type") if isinstance(raw, Mapping) else None
    if kind not in SCHEDULERS:
        issues.error(
            "model",
            f"model.training.scheduler type must be one of {', '.join(SCHEDULERS)}, got {kind!r}",
        )
        return None
    assert isinstance(raw, Mapping)
    sched = merge({"type": kind, **SCHEDULERS[str(kind)]}, raw)
    for key, value in sched.items():
        if key not in ("type", "mode") and not _is_num(value, 0.0, lo_open=True):
            issues.error(
                "model", f"model.training.scheduler.{key} must be a number > 0, got {value!r}"
            )
    return sched


def normalise_training(training: Any, issues: IssueSink) -> tuple[dict[str, Any], dict[str, float]]:
    """(labels, data_split) from the top-level `training` section."""
    if not isinstance(training, Mapping):
        issues.error("training", "Section 'training' must be of type dict")
        training = {}
    method = training.get("method", "supervised")
    if method != "supervised":
        issues.error(
            "training", f"training.method {method!r} is not supported (supported: supervised)"
        )
    labels_raw, split_raw = training.get("labels") or {}, training.get("data_split") or {}
    for key, value in (("labels", labels_raw), ("data_split", split_raw)):
        if not isinstance(value, Mapping):
            issues.error("training", f"training.{key} must be a mapping, got {value!r}")
    labels = merge(DEFAULT_LABELS, labels_raw if isinstance(labels_raw, Mapping) else {})
    if labels.get("source") != "zigzag":
        issues.error(
            "training",
            f"Label source {labels.get('source')!r} is not supported (supported: zigzag)",
        )
    threshold = labels.get("zigzag_threshold")
    if (
        not isinstance(threshold, int | float)
        or isinstance(threshold, bool)
        or not 0 < threshold < 1
    ):
        issues.error(
            "training",
            "labels.zigzag_threshold must be a fraction in (0, 1), e.g. "
            f"0.03 for 3 %, got {threshold!r}",
        )
    return labels, _data_split(split_raw if isinstance(split_raw, Mapping) else {}, issues)


def _data_split(raw: Mapping[str, Any], issues: IssueSink) -> dict[str, float]:
    split = dict(raw)
    if {"test_size", "validation_size"} & set(split):
        if {"train", "validation", "test"} & set(split):
            issues.error(
                "training",
                "data_split mixes train/validation/test with "
                "test_size/validation_size; use one style",
            )
            return dict(DEFAULT_SPLIT)
        test = split.pop("test_size", 0.1)
        val = split.pop("validation_size", 0.2)
        if all(isinstance(v, int | float) for v in (test, val)):
            split = {"test": float(test), "validation": float(val) * (1 - float(test))}
            split["train"] = 1.0 - split["test"] - split["validation"]
            issues.warn(
                "training",
                "data_split uses ktrdr S2 keys test_size/validation_size; "
                "converted to train {train:.3g} / validation {validation:.3g} / "
                "test {test:.3g}".format(**split),
            )
    for key in set(split) - set(DEFAULT_SPLIT):
        issues.warn("training", f"data_split key '{key}' is ignored")
    merged = {k: split.get(k, v) for k, v in DEFAULT_SPLIT.items()}
    if (
        not all(
            isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1
            for v in merged.values()
        )
        or merged["train"] <= 0
    ):
        issues.error(
            "training",
            f"data_split fractions must be numbers in [0, 1] with train > 0, got {merged}",
        )
        return dict(DEFAULT_SPLIT)
    total = sum(merged.values())
    if abs(total - 1.0) > 1e-6:
        issues.error(
            "training",
            f"data_split fractions must sum to 1 (train {merged['train']} + "
            f"validation {merged['validation']} + test {merged['test']} = {total:g})",
        )
    return {k: float(v) for k, v in merged.items()}


def _get(model: Mapping[str, Any], path: str) -> Any:
    node: Any = model
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node
