"""Normalise a parsed strategy mapping and collect every problem on the way.

One pass both validates and normalises, so what `validate_strategy` accepts is exactly what
`load_strategy` builds. Problems are collected, not raised, so a user sees all of them at once.
Messages quote ktrdr's where ktrdr has one, so its users recognise them. Deliberate differences from ktrdr:
`list:` is an alias of `symbols:`/`timeframes:` (strategy/data_section.py), flat indicator parameters are used,
unknown parameters/activations/optimizers are errors instead of silent fallbacks, and a
`data_split` written with S2's `test_size`/`validation_size` is converted with a warning rather than silently misread.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from trainjet.training.features.alignment import fuzzy_targets
from trainjet.training.features.fuzzy import parse_fuzzy_sets
from trainjet.training.indicators.registry import (
    IndicatorSpec,
    available_indicators,
    check_params,
    resolve_indicator,
    unsupported_reason,
)
from trainjet.training.strategy.data_section import read_data_section
from trainjet.training.strategy.defaults import (
    DEFAULT_DECISIONS,
    DEFAULT_MODEL,
    KNOWN_TOP_LEVEL,
    merge,
    normalise_model,
    normalise_training,
)
from trainjet.training.strategy.normal_form import Issues, Normalized, ValidationResult

_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_INDICATOR_META = ("name", "type", "feature_id", "params")

__all__ = ["is_v2", "normalise"]


def is_v2(raw: Mapping[str, Any]) -> bool:
    """ktrdr's detection rule, so a file is read as the version ktrdr would read it."""
    if any(k in raw for k in ("scope", "training_data", "deployment")):
        return True
    td = raw.get("training_data")
    return (
        isinstance(td, Mapping)
        and isinstance(td.get("symbols"), Mapping)
        and "mode" in td["symbols"]
    )


def normalise(
    raw: Mapping[str, Any], fallback_name: str | None = None
) -> tuple[Normalized, ValidationResult]:
    issues, out = Issues(), Normalized()
    out.format = "v2" if is_v2(raw) else "v1"
    _identity(raw, fallback_name, out, issues)
    read_data_section(raw, out, issues)
    _indicators(raw, out, issues)
    model = raw.get("model", {})
    if not isinstance(model, Mapping):
        issues.error("model", "Section 'model' must be of type dict")
        model = {}
    out.model, out.analytics, model_seed = normalise_model(merge(DEFAULT_MODEL, model), issues)
    seed = raw.get("seed", model_seed)
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        issues.error("structure", f"seed must be a non-negative integer, got {seed!r}")
    out.seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else None
    out.labels, out.data_split = normalise_training(raw.get("training", {}), issues)
    decisions = raw.get("decisions", {})
    out.decisions = merge(DEFAULT_DECISIONS, decisions if isinstance(decisions, Mapping) else {})
    for key in raw:
        close = difflib.get_close_matches(str(key), KNOWN_TOP_LEVEL, n=1, cutoff=0.8)
        if str(key) not in KNOWN_TOP_LEVEL and close:
            issues.suggestions.append(
                f"Top-level key '{key}' is ignored; did you mean '{close[0]}'?"
            )
    return out, issues.result()


def _identity(
    raw: Mapping[str, Any], fallback: str | None, out: Normalized, issues: Issues
) -> None:
    name = raw.get("name")
    if name is None:
        if fallback is None:
            issues.error("structure", "Missing required section: 'name'")
        else:
            issues.warn("structure", f"Missing 'name': using the file name '{fallback}'")
    elif not isinstance(name, str) or not name.strip():
        issues.error("structure", "Section 'name' must be of type str")
    elif fallback is not None and name != fallback:
        issues.warn(
            "structure",
            f"name '{name}' differs from the file name '{fallback}'; "
            "the API and CLI refer to the strategy by its file name",
        )
    out.name = name if isinstance(name, str) and name.strip() else (fallback or "")
    version = raw.get("version")
    if version is None and out.format == "v2":
        issues.warn("structure", "v2 strategy without 'version': using '1.0'")
    out.version = str(version) if version is not None else "1.0"
    out.description = str(raw.get("description") or "")
    scope = raw.get("scope")
    if scope is not None and scope not in ("universal", "symbol_group", "symbol_specific"):
        issues.error(
            "structure", f"scope must be universal, symbol_group or symbol_specific, got {scope!r}"
        )
    out.scope = str(scope) if scope is not None else None
    for section in ("indicators", "fuzzy_sets"):
        if section not in raw:
            issues.error("structure", f"Missing required section: '{section}'")


def _indicators(raw: Mapping[str, Any], out: Normalized, issues: Issues) -> None:
    items = raw.get("indicators", [])
    if not isinstance(items, list):
        issues.error("indicators", "'indicators' section must be a list")
        items = []
    missing: list[str] = []
    placeholder_ids: list[str] = []  # unresolved ids: keep their fuzzy sets from piling on
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            issues.error("indicators", f"Indicator at index {i} must be a dictionary")
            continue
        if not item.get("name"):
            issues.error("indicators", f"Indicator at index {i} missing 'name' field")
            continue
        name = str(item["name"])
        ind_id = str(item.get("feature_id") or name)
        type_name = str(item.get("type") or name)
        if not _ID_RE.match(ind_id):
            issues.error(
                "indicators",
                f"Indicator id '{ind_id}' may only contain letters, "
                "digits and '_' (and must start with a letter)",
            )
        if ind_id in seen:
            issues.error(
                "indicators",
                f"Duplicate indicator id '{ind_id}' (indices "
                f"{seen[ind_id]} and {i}); give one a 'feature_id'",
            )
        seen[ind_id] = i
        resolved = resolve_indicator(type_name)
        if resolved is None:
            placeholder_ids.append(ind_id)
            reason = unsupported_reason(type_name)
            if reason:
                issues.error(
                    "indicators", f"Indicator '{name}': {reason}", unsupported_indicator=type_name
                )
            else:
                missing.append(name)
            continue
        definition, overrides = resolved
        nested = item.get("params") or {}
        flat = {k: v for k, v in item.items() if k not in _INDICATOR_META}
        if not isinstance(nested, Mapping):
            issues.error("indicators", f"Indicator '{name}': 'params' must be a mapping")
            nested = {}
        for key in set(flat) & set(nested):
            if flat[key] != nested[key]:
                issues.error(
                    "indicators",
                    f"Indicator '{name}': '{key}' given twice with "
                    "different values (flat and under 'params')",
                )
        params = {**overrides, **nested, **flat}
        for problem in check_params(definition, params):
            issues.error("indicators", f"Indicator '{name}' ({definition.name}): {problem}")
        out.indicators.append(
            IndicatorSpec(ind_id, definition.name, {**definition.defaults, **params})
        )
    if missing:
        available = available_indicators()
        issues.error(
            "indicators",
            f"Missing indicators: {', '.join(missing)} referenced by the "
            f"strategy. Available indicators are: {', '.join(available)}",
            missing_indicators=missing,
            available_indicators=available,
            strategy_indicators=[str(i.get("name")) for i in items if isinstance(i, Mapping)],
        )
        for name in missing:
            close = difflib.get_close_matches(name.lower(), [a.lower() for a in available], n=1)
            if close:
                issues.suggestions.append(f"Indicator '{name}': did you mean '{close[0]}'?")
    _fuzzy(raw, out, issues, placeholder_ids)


def _fuzzy(
    raw: Mapping[str, Any], out: Normalized, issues: Issues, placeholder_ids: list[str]
) -> None:
    targets = fuzzy_targets(out.indicators)
    if "fuzzy_sets" not in raw:
        return
    out.fuzzy = parse_fuzzy_sets(raw["fuzzy_sets"], set(targets), placeholder_ids)
    for message in out.fuzzy.errors:
        issues.error("fuzzy_sets", message)
    for message in out.fuzzy.warnings:
        issues.warn("fuzzy_sets", message)
    issues.suggestions.extend(out.fuzzy.suggestions)
    used = {targets[t][0] for t in out.fuzzy.sets if t in targets}
    for spec in out.indicators:
        if spec.id not in used:
            issues.warn(
                "indicators",
                f"Indicator '{spec.id}' has no fuzzy set, so it "
                "contributes no features (it is not computed)",
            )
    if not out.fuzzy.sets and not out.fuzzy.errors and isinstance(raw["fuzzy_sets"], Mapping):
        issues.error("fuzzy_sets", "No features: fuzzy_sets define no membership functions")
