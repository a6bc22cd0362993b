"""The data section of a strategy: symbols, timeframes, history and dates, in v1 or v2 form.

Both forms accept a bare value, a list, or a mapping with a `mode`; `list:` is an alias of
`symbols:`/`timeframes:` because ktrdr's shipped S2 files write it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainjet.training.data.names import SYMBOL_RE, TIMEFRAME_RE
from trainjet.training.features.alignment import order_timeframes
from trainjet.training.strategy.normal_form import Issues, Normalized

__all__ = ["read_data_section"]


def _pick_list(
    entry: Mapping[str, Any], plural: str, single: str, where: str, issues: Issues
) -> list[Any] | None:
    """The list under `plural` or its alias `list` (ktrdr's shipped files use `list:`)."""
    a, b = entry.get(plural), entry.get("list")
    if a is not None and b is not None and a != b:
        issues.error("data", f"{where}: both '{plural}' and 'list' given with different values")
    values = a if a is not None else b
    if values is None and entry.get(single) is not None:
        values = [entry[single]]
    if values is None:
        return None
    return values if isinstance(values, list) else [values]


def _axis(
    entry: Any, plural: str, single: str, multi_mode: str, where: str, issues: Issues
) -> list[str]:
    if entry is None:
        return []
    if not isinstance(entry, Mapping):
        values: list[Any] | None = entry if isinstance(entry, list) else [entry]
    else:
        mode = entry.get("mode")
        if mode not in (None, "single", multi_mode):
            issues.error("data", f"{where}.mode must be 'single' or '{multi_mode}', got {mode!r}")
        values = _pick_list(entry, plural, single, where, issues)
        if values is None and "selection_criteria" in entry:
            issues.warn(
                "data",
                f"{where}: selection_criteria cannot be resolved to a list; "
                "pass symbols with the training request",
            )
            return []
        if values is None:
            need = f"'{single}'" if mode == "single" else f"'{plural}' (or 'list')"
            issues.error("data", f"{where}: mode {mode or multi_mode!r} needs {need}")
            return []
        if mode == "single" and len(values) != 1:
            issues.error("data", f"{where}: mode 'single' needs exactly one {single}")
        if mode == multi_mode and plural == "timeframes" and len(values) < 2:
            issues.error("data", f"{where}: mode 'multi_timeframe' needs at least 2 timeframes")
    pattern = SYMBOL_RE if plural == "symbols" else TIMEFRAME_RE
    result = [str(v) for v in values or []]
    for bad in (v for v in result if not pattern.match(v)):
        issues.error("data", f"{where}: invalid {single} {bad!r}")
    if len(set(result)) != len(result):
        issues.error("data", f"{where}: duplicate {plural} in {result}")
    return result


def read_data_section(raw: Mapping[str, Any], out: Normalized, issues: Issues) -> None:
    """Symbols, timeframes, history and dates from `data` (v1) or `training_data` (v2)."""
    section = "training_data" if out.format == "v2" else "data"
    td = raw.get(section)
    if td is None and out.format == "v2":
        issues.error("structure", "Missing required section: 'training_data'")
    td = td if isinstance(td, Mapping) else {}
    out.symbols = _axis(
        td.get("symbols"), "symbols", "symbol", "multi_symbol", f"{section}.symbols", issues
    )
    tfs = td.get("timeframes")
    tf_list = _axis(
        tfs, "timeframes", "timeframe", "multi_timeframe", f"{section}.timeframes", issues
    )
    if out.format == "v1":  # v1 files get ktrdr's legacy defaults
        out.symbols = out.symbols if "symbols" in td else ["AAPL"]
        tf_list = tf_list if "timeframes" in td else ["1h"]
    if all(TIMEFRAME_RE.match(t) for t in tf_list):
        out.timeframes = order_timeframes(tf_list)
    base = tfs.get("base_timeframe") if isinstance(tfs, Mapping) else None
    if base is not None and base not in tf_list:
        issues.error("data", f"base_timeframe {base!r} is not in the timeframes {tf_list}")
    elif base is not None and out.timeframes and base != out.timeframes[0]:
        issues.warn(
            "data",
            f"base_timeframe {base!r} ignored: features are aligned on the "
            f"finest timeframe {out.timeframes[0]!r}",
        )
    history = td.get("history_required", 200)
    if not isinstance(history, int) or isinstance(history, bool) or history < 50:
        issues.error("data", "History required must be at least 50 bars")
    else:
        out.history_required = history
    out.start_date = str(td["start_date"]) if td.get("start_date") else None
    out.end_date = str(td["end_date"]) if td.get("end_date") else None
