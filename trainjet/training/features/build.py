"""Bars to feature rows: the one path shared by training (`prepare_dataset`, which reports every
step) and inference (`/models/predict`, which must build exactly the rows the model was trained
on). Both call `build_features` with a `FeatureRecipe`; only the hook and the symbols differ.

Steps run phase by phase over every symbol (all indicators, then all memberships, then the
lagged and aligned rows), the order training reports its progress in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from trainjet.training.features.alignment import (
    combine_timeframes,
    fuzzy_targets,
    order_timeframes,
    target_series,
)
from trainjet.training.features.fuzzy import MembershipSpec, apply_transform, fuzzify
from trainjet.training.indicators.registry import IndicatorSpec, compute_indicator

# (step number from 1, number of steps, what the step works on): lets a caller report progress
# and check cancellation between steps.
StepHook = Callable[[int, int, str], None]
Outputs = dict[str, dict[str, pd.Series]]


class PhaseHook(Protocol):
    """Called before every step: the phase, which symbol (index and name), the timeframe (None
    for a step over all of them), what is done, and the step's number among `total`."""

    def __call__(
        self,
        phase: str,
        sym_index: int,
        symbol: str,
        tf: str | None,
        action: str,
        k: int = 1,
        total: int = 1,
    ) -> None: ...


@dataclass(frozen=True)
class FeatureRecipe:
    """The part of a strategy that turns bars into the model's inputs."""

    indicators: Sequence[IndicatorSpec]
    fuzzy_sets: Mapping[str, Mapping[str, Mapping[str, Any]]]
    fuzzy_transforms: Mapping[str, Any]
    lookback: int
    timeframes: list[str]  # finest first: the rows' grid is timeframes[0]

    @classmethod
    def from_stored(cls, strategy: Mapping[str, Any], timeframes: Sequence[str]) -> FeatureRecipe:
        """From a strategy as a model's `config.json` stores it (KeyError/TypeError/ValueError
        when the stored config lacks a part)."""
        return cls(
            indicators=[
                IndicatorSpec(i["id"], i["type"], dict(i.get("params") or {}))
                for i in strategy["indicators"]
            ],
            fuzzy_sets=dict(strategy["fuzzy_sets"]),
            fuzzy_transforms=dict(strategy.get("fuzzy_transforms") or {}),
            lookback=int(strategy["model"]["features"]["lookback_periods"]),
            timeframes=order_timeframes(list(timeframes)),
        )

    def unknown_targets(self) -> list[str]:
        """Fuzzy-set keys that no configured indicator provides (a strategy validation error,
        or a stored model from a trainjet version that knew more indicators)."""
        targets = fuzzy_targets(self.indicators)
        return [t for t in self.fuzzy_sets if t not in targets]


def build_features(
    recipe: FeatureRecipe,
    prices: Mapping[str, Mapping[str, pd.DataFrame]],
    on_step: PhaseHook | None = None,
) -> dict[str, pd.DataFrame]:
    """symbol -> feature rows on its base-timeframe bars, from symbol -> timeframe -> OHLCV.

    Rows in the indicators' warm-up are kept, NaN: training drops them, inference says how far
    the warm-up reaches.
    """
    hook: PhaseHook = on_step if on_step is not None else _no_hook
    tfs = recipe.timeframes
    targets, specs = used_indicators(recipe.indicators, recipe.fuzzy_sets)
    outputs: dict[tuple[str, str], Outputs] = {}
    for i, (symbol, frames) in enumerate(prices.items()):
        for tf in tfs:

            def indicator_step(k: int, n: int, what: str, i: int = i, s: str = symbol,
                               tf: str = tf) -> None:  # fmt: skip
                hook("indicators", i, s, tf, f"Computing {what}", k, n)

            outputs[symbol, tf] = compute_outputs(frames[tf], specs, indicator_step)
    fuzzy: dict[str, dict[str, pd.DataFrame]] = {symbol: {} for symbol in prices}
    for i, (symbol, frames) in enumerate(prices.items()):
        for tf in tfs:

            def fuzzy_step(k: int, n: int, what: str, i: int = i, s: str = symbol,
                           tf: str = tf) -> None:  # fmt: skip
                hook("fuzzy", i, s, tf, f"Fuzzifying {what}", k, n)

            computed = outputs.pop((symbol, tf))  # raw indicators are no longer needed
            fuzzy[symbol][tf] = fuzzy_frame(
                computed, frames[tf], recipe.fuzzy_sets, recipe.fuzzy_transforms, targets,
                fuzzy_step,
            )  # fmt: skip
    rows: dict[str, pd.DataFrame] = {}
    for i, symbol in enumerate(prices):
        action = f"Building features ({len(tfs)} timeframe(s), {recipe.lookback} lag(s))"
        hook("features", i, symbol, None, action)
        rows[symbol] = combine_timeframes(fuzzy.pop(symbol), tfs[0], recipe.lookback)
    return rows


def _no_hook(
    phase: str,
    sym_index: int,
    symbol: str,
    tf: str | None,
    action: str,
    k: int = 1,
    total: int = 1,
) -> None:
    return None


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
