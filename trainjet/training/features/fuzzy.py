"""Fuzzy membership functions and the parsing/validation of a strategy's `fuzzy_sets`.

A fuzzy *variable* is keyed by an indicator target (`rsi`, `macd.histogram`, `bb_width`) and has
named sets (`oversold: {type: triangular, parameters: [0, 20, 35]}`); each set becomes one
feature column `<target>_<set>` with values in [0, 1]. NaN in (indicator warm-up) stays NaN out,
so the dataset drops those rows rather than training on made-up zeros.

An optional `input_transform: {type: price_ratio, reference: close}` (ktrdr S2) feeds
`reference / indicator` to the sets, which is how SMA/EMA fuzzy sets written around 1.0 work.
It is explicit: trainjet never transforms an indicator unasked, so an indicator's values mean what its name says.
"""

from __future__ import annotations

import difflib
import itertools
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

# numpy and pandas are imported by the functions that compute: strategy validation (the API's
# start-up imports it) only parses, and must not pay about 0.4 s of imports for that.
if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# type -> (parameter count, how the parameters read in messages)
MEMBERSHIP_TYPES: dict[str, tuple[int, str]] = {
    "triangular": (3, "[a, b, c] with a <= b <= c"),
    "trapezoidal": (4, "[a, b, c, d] with a <= b <= c <= d"),
    "gaussian": (2, "[mean, sigma] with sigma > 0"),
}
PRICE_REFERENCES = ("close", "open", "high", "low")


@dataclass(frozen=True)
class MembershipSpec:
    type: str
    parameters: tuple[float, ...]


@dataclass
class FuzzyParse:
    """`sets[target][set_name]`, transforms by target, and what was wrong with the input."""

    sets: dict[str, dict[str, MembershipSpec]] = field(default_factory=dict)
    transforms: dict[str, dict[str, str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)


def check_membership(mf_type: str, parameters: Any) -> list[str]:
    """What is wrong with one membership function's parameters (empty list if fine)."""
    if mf_type not in MEMBERSHIP_TYPES:
        return [f"unknown type '{mf_type}' (valid: {', '.join(MEMBERSHIP_TYPES)})"]
    count, shape = MEMBERSHIP_TYPES[mf_type]
    if not isinstance(parameters, list | tuple) or not all(
        isinstance(p, int | float) and not isinstance(p, bool) and math.isfinite(p)
        for p in parameters
    ):
        return [
            f"{mf_type} parameters must be a list of {count} numbers {shape}, got {parameters!r}"
        ]
    if len(parameters) != count:
        return [f"{mf_type} needs exactly {count} parameters {shape}, got {len(parameters)}"]
    if mf_type == "gaussian":
        return [] if parameters[1] > 0 else [f"gaussian sigma must be > 0, got {parameters[1]}"]
    if any(x > y for x, y in itertools.pairwise(parameters)):
        return [f"{mf_type} parameters must be ordered {shape}, got {list(parameters)}"]
    if parameters[0] == parameters[-1]:
        return [f"{mf_type} parameters must span a range (first < last), got {list(parameters)}"]
    return []


def _ramp_up(x: np.ndarray, a: float, b: float) -> np.ndarray:
    """0 below a, rising to 1 at b; a vertical edge (1 from a on) when a == b."""
    import numpy as np

    return (x - a) / (b - a) if b > a else np.where(x >= a, 1.0, 0.0)


def _ramp_down(x: np.ndarray, c: float, d: float) -> np.ndarray:
    import numpy as np

    return (d - x) / (d - c) if d > c else np.where(x <= d, 1.0, 0.0)


def membership(values: np.ndarray | pd.Series, spec: MembershipSpec) -> np.ndarray:
    """Degree of membership of each value, vectorised; NaN in gives NaN out."""
    import numpy as np

    x = np.asarray(values, dtype=np.float64)
    p = spec.parameters
    if spec.type == "gaussian":
        out = np.exp(-0.5 * ((x - p[0]) / p[1]) ** 2)
    else:
        a, b, c, d = (p[0], p[1], p[1], p[2]) if spec.type == "triangular" else p
        out = np.minimum(_ramp_up(x, a, b), _ramp_down(x, c, d))
        out = np.clip(out, 0.0, 1.0)
    return np.where(np.isnan(x), np.nan, out)


def fuzzify(values: pd.Series, sets: Mapping[str, MembershipSpec], prefix: str) -> pd.DataFrame:
    """One column `<prefix>_<set>` per set, in declaration order."""
    import pandas as pd

    cols = {f"{prefix}_{name}": membership(values, spec) for name, spec in sets.items()}
    return pd.DataFrame(cols, index=values.index)


def apply_transform(
    values: pd.Series, transform: Mapping[str, str] | None, prices: pd.DataFrame
) -> pd.Series:
    """`price_ratio`: reference price / indicator (ktrdr S2 `input_transform`)."""
    if not transform:
        return values
    ref = prices[transform.get("reference", "close")]
    return (ref / values.where(values != 0)).astype("float64")


def parse_fuzzy_sets(
    raw: Any, valid_targets: Collection[str], tolerated: Collection[str] = ()
) -> FuzzyParse:
    """Normalise `fuzzy_sets` and collect every problem instead of stopping at the first.

    Accepts ktrdr's `{type, parameters}` mappings and the v3 shorthand of a bare list
    (`[a, b, c]` triangular, `[a, b, c, d]` trapezoidal). Keys in `tolerated` (indicators
    already reported as unknown) are checked but neither flagged nor kept.
    """
    out = FuzzyParse()
    if not isinstance(raw, Mapping):
        out.errors.append("'fuzzy_sets' section must be a mapping of indicator -> sets")
        return out
    unknown = [str(t) for t in raw if str(t) not in valid_targets and str(t) not in tolerated]
    if unknown:
        out.errors.append(
            f"Fuzzy sets reference invalid indicators/metrics: {', '.join(unknown)}. "
            f"Valid targets are: {', '.join(sorted(valid_targets)) or 'none'}"
        )
        for name in unknown:
            close = difflib.get_close_matches(name, list(valid_targets), n=1)
            if close:
                out.suggestions.append(f"Fuzzy set '{name}': did you mean '{close[0]}'?")
    for target, entry in raw.items():
        target = str(target)
        if not isinstance(entry, Mapping):
            out.errors.append(f"Fuzzy set '{target}' must be a dictionary of membership functions")
            continue
        sets = _parse_variable(target, entry, out)
        if not sets:
            out.warnings.append(f"Fuzzy set '{target}' is empty")
        elif target not in unknown and target not in tolerated:
            out.sets[target] = sets
    return out


def _parse_variable(
    target: str, entry: Mapping[str, Any], out: FuzzyParse
) -> dict[str, MembershipSpec]:
    sets: dict[str, MembershipSpec] = {}
    for set_name, mf in entry.items():
        set_name = str(set_name)
        where = f"Fuzzy set '{target}' membership '{set_name}'"
        if set_name == "input_transform":
            _parse_transform(target, mf, out)
            continue
        if isinstance(mf, list):
            mf = {"type": {3: "triangular", 4: "trapezoidal"}.get(len(mf), "?"), "parameters": mf}
        if not isinstance(mf, Mapping):
            out.errors.append(f"{where} must be a dictionary with 'type' and 'parameters'")
            continue
        if "type" not in mf:
            out.errors.append(f"{where} missing 'type' field")
        if "parameters" not in mf:
            out.errors.append(f"{where} missing 'parameters' field")
        if "type" not in mf or "parameters" not in mf:
            continue
        mf_type = str(mf["type"]).lower()
        problems = check_membership(mf_type, mf["parameters"])
        out.errors.extend(f"{where}: {p}" for p in problems)
        if not problems:
            sets[set_name] = MembershipSpec(mf_type, tuple(float(v) for v in mf["parameters"]))
    return sets


def _parse_transform(target: str, raw: Any, out: FuzzyParse) -> None:
    ok = (
        isinstance(raw, Mapping)
        and raw.get("type") == "price_ratio"
        and raw.get("reference", "close") in PRICE_REFERENCES
    )
    if not ok:
        out.errors.append(
            f"Fuzzy set '{target}' input_transform must be {{type: price_ratio, reference: "
            f"{'|'.join(PRICE_REFERENCES)}}}, got {raw!r}"
        )
        return
    assert isinstance(raw, Mapping)
    out.transforms[target] = {
        "type": "price_ratio",
        "reference": str(raw.get("reference", "close")),
    }
