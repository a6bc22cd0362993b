"""The per-timeframe steps from prices to fuzzy features, in one place for training
(`prepare_dataset`, which reports every step) and inference (`/models/predict`, which must
build exactly the rows the model was trained on)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from trainjet.training.features.alignment import fuzzy_targets, target_series
from trainjet.training.features.fuzzy import MembershipSpec, apply_transform, fuzzify
from trainjet.training.indicators.registry import IndicatorSpec, compute_indicator

# (step number from 1, number of steps, what the step works on): lets a caller report progress
# and check cancellation between steps.
StepHook = Callable[[int, int, str], None]
Outputs = dict[str, dict[str, pd.Series]]


def used_indicators(
    indicators: Sequence[IndicatorSpec], fuzzy_sets: Mapping[str, Any]
) -> tuple[dict[str, tuple[str, str]], list[IndicatorSpec]]:
    """The fuzzy targets (target -> indicator id, output) and the indicators they read;
    an indicator no fuzzy set reads is not computed."""
    targets = fuzzy_targets(indicators)
    used = {targets[t][0] for t in fuzzy_sets}
    return targets, [s for s in indicators if s.id in used]


def compute_outputs(
    prices: pd.DataFrame, specs: Sequence[IndicatorSpec], on_step: StepHook | None = None
) -> Outputs:
    outputs: Outputs = {}
    for k, spec in enumerate(specs, 1):
        if on_step is not None:
            on_step(k, len(specs), spec.type)
        outputs[spec.id] = compute_indicator(prices, spec)
    return outputs


def fuzzy_frame(
    outputs: Outputs,
    prices: pd.DataFrame,
    fuzzy_sets: Mapping[str, Mapping[str, Mapping[str, Any]]],
    transforms: Mapping[str, Any],
    targets: Mapping[str, tuple[str, str]],
    on_step: StepHook | None = None,
) -> pd.DataFrame:
    """One column per (target, fuzzy set): the membership of each bar's value."""
    frames = []
    for k, (target, sets) in enumerate(fuzzy_sets.items(), 1):
        if on_step is not None:
            on_step(k, len(fuzzy_sets), target)
        values = target_series(outputs, prices, targets[target])
        values = apply_transform(values, transforms.get(target), prices)
        members = {n: MembershipSpec(m["type"], tuple(m["parameters"])) for n, m in sets.items()}
        frames.append(fuzzify(values, members, target.replace(".", "_")))
    return pd.concat(frames, axis=1)
