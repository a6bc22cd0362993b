"""Technical indicators by ktrdr name: registry, aliases, parameter specs, catalogue, computing.

Every indicator of ktrdr's registry is here, spelled as ktrdr spells it, by its aliases, with an
`Indicator` suffix (`RSIIndicator`) and in any case. The table of definitions is
`table`; the formulas are in `formulas` (vectorised) and `stateful` (loops); parameter
specs in `params`. Each indicator returns named outputs; the first
is the *primary* one (what a fuzzy set keyed by the indicator id reads, e.g. the MACD line, as
in ktrdr S1). Other outputs are addressed as `<id>.<output>` (`macd.histogram`).
Warm-up bars are NaN, never zero, so the dataset can drop them instead of learning from them.

Values are never rewritten: an SMA stays a price. ktrdr S1 silently fed `close / SMA` to fuzzy
sets; here that is an explicit, opt-in `input_transform` on the fuzzy set (`features/fuzzy.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trainjet.training.errors import StrategyValidationError
from trainjet.training.indicators.params import SOURCES
from trainjet.training.indicators.table import DEFS, IndicatorDef

if TYPE_CHECKING:  # pandas arrives with the first computation (see `table`), not the import
    import pandas as pd

    from trainjet.training.indicators.formulas import Outputs

__all__ = ["SOURCES", "IndicatorDef", "IndicatorSpec", "indicator_catalogue"]


@dataclass(frozen=True)
class IndicatorSpec:
    """One configured indicator. `id` is what fuzzy sets reference (ktrdr `feature_id`/`name`)."""

    id: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)


REGISTRY: dict[str, IndicatorDef] = {d.name: d for d in DEFS}
# ktrdr's snake_case spellings; a tuple also overrides a default (`volume_sma` averages volume).
_ALIASES: dict[str, str | tuple[str, dict[str, Any]]] = {
    "bbands": "BollingerBands",
    "bb": "BollingerBands",
    "bbwidth": "BollingerBandWidth",
    "stoch": "Stochastic",
    "willr": "WilliamsR",
    "rateofchange": "ROC",
    "mom": "Momentum",
    "accumulationdistribution": "ADLine",
    "adl": "ADLine",
    "chaikinmoneyflow": "CMF",
    "averagedirectionalindex": "ADX",
    "dmi": "ADX",
    "moneyflowindex": "MFI",
    "donchian": "DonchianChannels",
    "keltner": "KeltnerChannels",
    "ichimokucloud": "Ichimoku",
    "relativevigorindex": "RVI",
    "distancefromma": "DistanceFromMA",
    "exponentialmovingaverage": "EMA",
    "simplemovingaverage": "SMA",
    "psar": "ParabolicSAR",
    "sar": "ParabolicSAR",
    "fisher": "FisherTransform",
    "squeeze": "SqueezeIntensity",
    "volumesma": ("SMA", {"source": "volume"}),
}
# Known ktrdr names trainjet refuses, with the reason shown to the user (none today: the
# look-ahead ZigZag is served as a causal one).
UNSUPPORTED: dict[str, str] = {}


def _key(name: str) -> str:
    k = "".join(ch for ch in name.lower() if ch.isalnum())
    return k.removesuffix("indicator") or k


_BY_KEY: dict[str, tuple[str, dict[str, Any]]] = {_key(n): (n, {}) for n in REGISTRY} | {
    k: (v, {}) if isinstance(v, str) else v for k, v in _ALIASES.items()
}


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
    """Problems with user parameters: unknown names and wrong types/ranges, one line each.
    The ranges are the catalogue's (`ParamSpec`), so validation and `GET /indicators/` agree."""
    specs = {p.name: p for p in definition.params}
    problems = []
    for key, value in params.items():
        spec = specs.get(key)
        if spec is None:
            valid = ", ".join(specs) or "none"
            problems.append(f"unknown parameter '{key}' (valid: {valid})")
        elif (problem := spec.check(value)) is not None:
            problems.append(problem)
    fast, slow = params.get("fast_period", 12), params.get("slow_period", 26)
    if (
        definition.name == "MACD"
        and isinstance(fast, int)
        and isinstance(slow, int)
        and fast >= slow
    ):
        problems.append("fast_period must be smaller than slow_period")
    return problems


def aliases_of(name: str) -> list[str]:
    """The other spellings that resolve to the canonical `name` (lower-case, no `_`)."""
    return sorted(k for k, (n, _) in _BY_KEY.items() if n == name and k != _key(name))


def indicator_catalogue() -> list[dict[str, Any]]:
    """Every indicator as ktrdr's `GET /indicators/` lists it (`id`, `name`, `description`,
    `type` = category, `parameters`), plus trainjet's `category`, `outputs` (the first is
    the primary one) and `aliases`."""
    return [
        {
            "id": f"{d.name}Indicator",
            "name": d.name,
            "description": d.description,
            "type": d.category,
            "category": d.category,
            "parameters": [p.as_dict() for p in d.params],
            "outputs": list(d.outputs),
            "aliases": aliases_of(d.name),
        }
        for d in DEFS
    ]


def compute_indicator(df: pd.DataFrame, spec: IndicatorSpec) -> Outputs:
    """All outputs of one indicator over `df`, indexed like `df`, float64.

    `spec.type` may be any accepted spelling; an unknown one raises ktrdr's "Missing
    indicators" message.
    """
    resolved = resolve_indicator(spec.type)
    if resolved is None:
        raise StrategyValidationError(
            f"Missing indicators: {spec.type} referenced by the strategy. Available indicators "
            f"are: {', '.join(available_indicators())}"
        )
    definition, overrides = resolved
    params = {**definition.defaults, **overrides, **spec.params}
    return {k: v.astype("float64") for k, v in definition.func(df, **params).items()}
