"""Technical indicators by ktrdr name (§1.3): registry, aliases, parameter checks, computing.

The formulas live in `indicator_math`. Each returns named outputs; the first output is the
*primary* one (what a fuzzy set keyed by the indicator id reads, e.g. the MACD
line, as in ktrdr S1). Other outputs are addressed as `<id>.<output>` (`macd.histogram`).
Warm-up bars are NaN, never zero, so the dataset can drop them instead of learning from them.

Values are never rewritten: an SMA stays a price. ktrdr S1 silently fed `close / SMA` to fuzzy
sets (§8.18); here that is an explicit, opt-in `input_transform` on the fuzzy set (`fuzzy.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from trainjet.training import indicator_math as m
from trainjet.training.errors import StrategyValidationError
from trainjet.training.indicator_math import Outputs

SOURCES = ("close", "open", "high", "low", "volume", "hl2", "hlc3", "ohlc4")


@dataclass(frozen=True)
class IndicatorDef:
    name: str  # canonical ktrdr name
    func: Callable[..., Outputs]
    defaults: Mapping[str, Any]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class IndicatorSpec:
    """One configured indicator. `id` is what fuzzy sets reference (ktrdr `feature_id`/`name`)."""

    id: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)


_C = {"source": "close"}
_DEFS = [
    IndicatorDef("RSI", m.rsi, {"period": 14, **_C}, ("rsi",)),
    IndicatorDef("SMA", m.sma, {"period": 20, **_C}, ("sma",)),
    IndicatorDef("EMA", m.ema, {"period": 20, **_C, "adjust": True}, ("ema",)),
    IndicatorDef("MACD", m.macd, {"fast_period": 12, "slow_period": 26, "signal_period": 9, **_C},
                 ("line", "signal", "histogram")),
    IndicatorDef("BollingerBands", m.bbands, {"period": 20, "multiplier": 2.0, **_C},
                 ("upper", "middle", "lower", "width", "percent_b")),
    IndicatorDef("BollingerBandWidth", m.bb_width, {"period": 20, "multiplier": 2.0, **_C},
                 ("width",)),
    IndicatorDef("ATR", m.atr, {"period": 14}, ("atr",)),
    IndicatorDef("Stochastic", m.stochastic, {"k_period": 14, "d_period": 3, "smooth_k": 3},
                 ("k", "d")),
    IndicatorDef("WilliamsR", m.williams_r, {"period": 14}, ("williams_r",)),
    IndicatorDef("ROC", m.roc, {"period": 10, **_C}, ("roc",)),
    IndicatorDef("Momentum", m.momentum, {"period": 10, **_C}, ("momentum",)),
    IndicatorDef("CCI", m.cci, {"period": 20}, ("cci",)),
    IndicatorDef("OBV", m.obv, {}, ("obv",)),
    IndicatorDef("ADX", m.adx, {"period": 14}, ("adx", "plus_di", "minus_di")),
    IndicatorDef("MFI", m.mfi, {"period": 14}, ("mfi",)),
    IndicatorDef("VWAP", m.vwap, {"period": 20}, ("vwap",)),
    IndicatorDef("Aroon", m.aroon, {"period": 25}, ("up", "down", "oscillator")),
    IndicatorDef("DonchianChannels", m.donchian, {"period": 20}, ("upper", "middle", "lower")),
    IndicatorDef("KeltnerChannels", m.keltner, {"period": 20, "atr_period": 10,
                                               "multiplier": 2.0}, ("middle", "upper", "lower")),
    IndicatorDef("ADLine", m.ad_line, {}, ("ad_line",)),
    IndicatorDef("CMF", m.cmf, {"period": 20}, ("cmf",)),
    IndicatorDef("VolumeRatio", m.volume_ratio, {"period": 20}, ("volume_ratio",)),
    IndicatorDef("DistanceFromMA", m.distance_from_ma, {"period": 20, "ma_type": "SMA", **_C},
                 ("distance",)),
    IndicatorDef("RVI", m.rvi, {"period": 10}, ("rvi", "signal")),
    IndicatorDef("Ichimoku", m.ichimoku, {"tenkan_period": 9, "kijun_period": 26,
                                         "senkou_b_period": 52, "displacement": 26},
                 ("tenkan", "kijun", "senkou_a", "senkou_b")),
]
REGISTRY: dict[str, IndicatorDef] = {d.name: d for d in _DEFS}
# ktrdr's snake_case spellings; a tuple also overrides a default (`volume_sma` averages volume).
_ALIASES: dict[str, str | tuple[str, dict[str, Any]]] = {
    "bbands": "BollingerBands", "bb": "BollingerBands", "bbwidth": "BollingerBandWidth",
    "stoch": "Stochastic", "willr": "WilliamsR", "rateofchange": "ROC", "mom": "Momentum",
    "accumulationdistribution": "ADLine", "adl": "ADLine", "chaikinmoneyflow": "CMF",
    "averagedirectionalindex": "ADX", "dmi": "ADX", "moneyflowindex": "MFI",
    "donchian": "DonchianChannels", "keltner": "KeltnerChannels", "ichimokucloud": "Ichimoku",
    "relativevigorindex": "RVI", "distancefromma": "DistanceFromMA",
    "volumesma": ("SMA", {"source": "volume"}),
}
# Known ktrdr names trainjet refuses, with the reason shown to the user.
UNSUPPORTED: dict[str, str] = {
    "zigzag": "ZigZag confirms its pivots with future bars; as a feature it leaks the label",
    "parabolicsar": "ParabolicSAR is not implemented in trainjet yet",
    "supertrend": "SuperTrend is not implemented in trainjet yet",
    "fishertransform": "FisherTransform is not implemented in trainjet yet",
    "squeezeintensity": "SqueezeIntensity is not implemented in trainjet yet",
}


def _key(name: str) -> str:
    k = "".join(ch for ch in name.lower() if ch.isalnum())
    return k.removesuffix("indicator") or k


_BY_KEY: dict[str, tuple[str, dict[str, Any]]] = {_key(n): (n, {}) for n in REGISTRY} | {
    k: (v, {}) if isinstance(v, str) else v for k, v in _ALIASES.items()}


def unsupported_reason(name: str) -> str | None:
    """Why a known ktrdr indicator is refused (None if it is not one of those)."""
    return UNSUPPORTED.get(_key(name))


def available_indicators() -> list[str]:
    return sorted(REGISTRY)


def resolve_indicator(name: str) -> tuple[IndicatorDef, dict[str, Any]] | None:
    """Registry entry for a ktrdr name/alias (case- and `_`-insensitive), with default overrides.

    `rsi_14` and `macd_12_26_9` resolve too (S2 writes the parameters into the name).
    """
    key = _key(name)
    hit = _BY_KEY.get(key)
    if hit is None:
        stem = name.lower()
        while hit is None and "_" in stem and stem.rsplit("_", 1)[1].replace(".", "").isdigit():
            stem = stem.rsplit("_", 1)[0]
            hit = _BY_KEY.get(_key(stem))
    if hit is None:
        return None
    canonical, overrides = hit
    return REGISTRY[canonical], dict(overrides)


def check_params(definition: IndicatorDef, params: Mapping[str, Any]) -> list[str]:
    """Problems with user parameters: unknown names and wrong types/ranges, one line each."""
    problems = []
    for key, value in params.items():
        if key not in definition.defaults:
            valid = ", ".join(definition.defaults) or "none"
            problems.append(f"unknown parameter '{key}' (valid: {valid})")
            continue
        default = definition.defaults[key]
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        elif isinstance(default, float):
            ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
        else:
            allowed = SOURCES if key == "source" else ("SMA", "EMA", "sma", "ema")
            ok = isinstance(value, str) and value in allowed
        if not ok:
            problems.append(f"parameter '{key}' has invalid value {value!r} "
                            f"(expected {_expectation(key, default)})")
    fast, slow = params.get("fast_period", 12), params.get("slow_period", 26)
    if definition.name == "MACD" and isinstance(fast, int) and isinstance(slow, int) \
            and fast >= slow:
        problems.append("fast_period must be smaller than slow_period")
    return problems


def _expectation(key: str, default: Any) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "an integer >= 1"
    if isinstance(default, float):
        return "a number > 0"
    return "one of " + ", ".join(SOURCES if key == "source" else ("SMA", "EMA"))


def compute_indicator(df: pd.DataFrame, spec: IndicatorSpec) -> Outputs:
    """All outputs of one indicator over `df`, indexed like `df`, float64.

    `spec.type` may be any accepted spelling; an unknown one raises the §1.11 message.
    """
    resolved = resolve_indicator(spec.type)
    if resolved is None:
        raise StrategyValidationError(
            f"Missing indicators: {spec.type} referenced by the strategy. Available indicators "
            f"are: {', '.join(available_indicators())}")
    definition, overrides = resolved
    params = {**definition.defaults, **overrides, **spec.params}
    return {k: v.astype("float64") for k, v in definition.func(df, **params).items()}
