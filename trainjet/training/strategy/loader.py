# size: lookup, parsing and listing of strategy files share the name and path guards
"""Strategy files: safe lookup by name, parsing, validation and the frozen `StrategyConfig`.

A strategy is addressed by its *file stem* inside one strategies directory. Names are checked
against a strict pattern before touching the filesystem and the resolved file must lie inside
that directory (no `../`, absolute paths or symlink escapes), as ktrdr's guard does: a name in a request never reads a file elsewhere.
YAML is read with `yaml.safe_load` only. `raw_yaml` keeps the exact text so a remote runner can
rebuild the same config (ktrdr S2 sends `strategy_yaml`) and a run can record what it used.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trainjet.training.errors import (
    StrategyNotFoundError,
    StrategyValidationError,
    UnsupportedIndicatorError,
)
from trainjet.training.indicators.registry import IndicatorSpec, available_indicators
from trainjet.training.strategy.normal_form import Issues, ValidationIssue, ValidationResult
from trainjet.training.strategy.validation import normalise

log = logging.getLogger(__name__)

STRATEGY_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class StrategyConfig:
    """A validated strategy with every default filled in (see `defaults`).

    `timeframes` are ordered finest first, so `timeframes[0]` is the base grid of the features.
    `fuzzy_sets[target][set] = {"type", "parameters"}`; `fuzzy_transforms[target]` holds an
    explicit `input_transform`. `labels` = `{source, zigzag_threshold, label_lookahead}`;
    `data_split` = `{train, validation, test}` fractions summing to 1.
    """

    name: str
    version: str
    description: str
    symbols: list[str]
    timeframes: list[str]
    indicators: list[IndicatorSpec]
    fuzzy_sets: dict[str, dict[str, dict[str, Any]]]
    model: dict[str, Any]
    labels: dict[str, Any]
    data_split: dict[str, float]
    seed: int | None
    analytics: dict[str, Any]
    raw_yaml: str
    path: Path | None = None
    fuzzy_transforms: dict[str, dict[str, str]] = field(default_factory=dict)
    decisions: dict[str, Any] = field(default_factory=dict)
    history_required: int = 200
    start_date: str | None = None
    end_date: str | None = None
    format: str = "v1"
    scope: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def base_timeframe(self) -> str:
        return self.timeframes[0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe normal form (for `config.json`, events and the API), without `raw_yaml`."""
        out = asdict(self)
        out.pop("raw_yaml")
        out["path"] = str(self.path) if self.path else None
        return out


@dataclass(frozen=True)
class StrategySummary:
    """A catalogue row (ktrdr `StrategyInfo` minus the model-storage fields the API adds)."""

    name: str  # file stem: what the API and CLI address
    description: str
    version: str
    symbols: list[str]
    timeframes: list[str]
    indicators: list[dict[str, Any]]
    fuzzy_config: dict[str, Any]
    path: str
    is_valid: bool
    errors: list[str] = field(default_factory=list)

    @property
    def symbol(self) -> str | None:
        return self.symbols[0] if self.symbols else None

    @property
    def timeframe(self) -> str | None:
        return self.timeframes[0] if self.timeframes else None


_NAME_FIX = (
    "Name the strategy by its file stem: letters, digits, '-' and '_' only, "
    "no directory and no path."
)


def check_strategy_name(name: str) -> str:
    """The bare stem of a strategy name (`x` or `x.yaml`), or StrategyValidationError."""
    stem = name.strip()
    for suffix in _SUFFIXES:
        stem = stem.removesuffix(suffix)
    if "/" in stem or "\\" in stem or Path(stem).is_absolute() or stem in (".", ".."):
        raise StrategyValidationError(
            f"Invalid strategy name {name!r}: Strategy name must be a file name without "
            "directory components",
            error_code="CONFIG-InvalidStrategyName",
            context={"strategy_name": name},
            suggestion=_NAME_FIX,
        )
    if not STRATEGY_NAME_RE.match(stem):
        raise StrategyValidationError(
            f"Invalid strategy name {name!r}: Strategy name may only contain alphanumerics, "
            "dashes, or underscores",
            error_code="CONFIG-InvalidStrategyName",
            context={"strategy_name": name},
            suggestion=_NAME_FIX,
        )
    return stem


def resolve_strategy_path(name_or_path: str | Path, strategies_dir: str | Path) -> Path:
    """The strategy file, guaranteed to lie inside `strategies_dir`.

    A `str` is a *name* (checked strictly); a `Path` is trusted input from our own code (CLI,
    catalogue) but must still resolve inside the directory.
    """
    root = Path(strategies_dir).resolve()
    if isinstance(name_or_path, Path):
        candidates = (
            [name_or_path]
            if name_or_path.is_absolute()
            else [Path.cwd() / name_or_path, root / name_or_path]
        )
        shown = name_or_path.name
    else:
        stem = check_strategy_name(name_or_path)
        candidates, shown = [root / f"{stem}{s}" for s in _SUFFIXES], f"{stem}.yaml"
    for candidate in candidates:
        if candidate.is_file():
            resolved = candidate.resolve()
            if not resolved.is_relative_to(root) or resolved.suffix not in _SUFFIXES:
                raise StrategyValidationError(
                    f"Strategy file {shown} is not a YAML file inside the strategies "
                    f"directory {root}"
                )
            return resolved
    seen = ", ".join(p.name for p in _strategy_files(root)) or f"no strategy files in {root}"
    raise StrategyNotFoundError(
        f"Strategy file not found: {shown} (searched: {seen})",
        details={
            "strategies_dir": str(root),
            "available_strategies": [p.stem for p in _strategy_files(root)],
        },
        context={"strategy_name": str(name_or_path), "strategies_dir": str(root)},
    )


def _strategy_files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.suffix in _SUFFIXES and p.is_file())


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StrategyValidationError(f"Unable to read strategy file {path.name}: {exc}") from exc


def _parse_yaml(text: str, source: str) -> Mapping[str, Any]:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StrategyValidationError(f"Failed to parse strategy YAML {source}: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise StrategyValidationError(
            f"Strategy configuration must be a mapping ({source} holds {type(raw).__name__})"
        )
    return raw


def parse_strategy(
    text: str, *, name: str | None = None, path: Path | None = None
) -> StrategyConfig:
    """Build a StrategyConfig from YAML text (e.g. `strategy_yaml` sent to a remote runner).

    `name` is the file stem when known; it names the strategy if the YAML has no `name:`.
    """
    source = path.name if path else (f"{name}.yaml" if name else "<strategy>")
    raw = _parse_yaml(text, source)
    norm, result = normalise(raw, name or (path.stem if path else None))
    if not result.is_valid:
        lines = result.error_lines()
        errors = [i for i in result.issues if i.severity == "error"]
        # An unknown indicator is its own error code: ktrdr's clients tell it apart.
        unsupported = [
            i
            for i in errors
            if "missing_indicators" in i.details or "unsupported_indicator" in i.details
        ]
        kind = UnsupportedIndicatorError if unsupported else StrategyValidationError
        details: dict[str, Any] = {"errors": lines, "issues": [asdict(i) for i in result.issues]}
        if unsupported:
            details["available_indicators"] = available_indicators()
        raise kind(
            "Strategy validation failed:\n" + "\n".join(lines),
            lines,
            details=details,
            context={"strategy_name": norm.name or source},
        )
    return StrategyConfig(
        name=norm.name,
        version=norm.version,
        description=norm.description,
        symbols=norm.symbols,
        timeframes=norm.timeframes,
        indicators=norm.indicators,
        fuzzy_sets={
            t: {s: {"type": m.type, "parameters": list(m.parameters)} for s, m in sets.items()}
            for t, sets in norm.fuzzy.sets.items()
        },
        model=norm.model,
        labels=norm.labels,
        data_split=norm.data_split,
        seed=norm.seed,
        analytics=norm.analytics,
        raw_yaml=text,
        path=path,
        fuzzy_transforms=norm.fuzzy.transforms,
        decisions=norm.decisions,
        history_required=norm.history_required,
        start_date=norm.start_date,
        end_date=norm.end_date,
        format=norm.format,
        scope=norm.scope,
        warnings=result.warnings,
    )


def load_strategy(name_or_path: str | Path, strategies_dir: str | Path) -> StrategyConfig:
    """Find, read, validate and normalise a strategy; StrategyValidationError on any problem."""
    path = resolve_strategy_path(name_or_path, strategies_dir)
    return parse_strategy(_read(path), name=path.stem, path=path)


def validate_strategy(name_or_path: str | Path, strategies_dir: str | Path) -> ValidationResult:
    """All problems of a strategy file, without raising for content problems.

    A bad name or a missing file still raises (the endpoint answers 400 / 404 for those);
    unreadable or unparseable YAML comes back as an invalid result with one structure error.
    """
    path = resolve_strategy_path(name_or_path, strategies_dir)
    try:
        raw = _parse_yaml(_read(path), path.name)
    except StrategyValidationError as exc:
        issues = Issues()
        issues.error("structure", exc.message)
        return issues.result()
    return normalise(raw, path.stem)[1]


def list_strategies(
    strategies_dir: str | Path,
    *,
    on_skip: Callable[[Path, str], None] | None = None,
) -> list[StrategySummary]:
    """Every strategy file in the directory, sorted by name.

    Files that fail validation are listed with `is_valid=False` and their errors; files that
    cannot be read or parsed at all (or have an unsafe name) are skipped, logged, and passed to
    `on_skip(path, reason)`, so one broken file never hides the catalogue.
    """
    out = []
    for path in _strategy_files(Path(strategies_dir).resolve()):
        try:
            check_strategy_name(path.name)
            raw = _parse_yaml(_read(path), path.name)
        except StrategyValidationError as exc:
            log.warning("Skipping strategy file %s: %s", path, exc.message)
            if on_skip is not None:
                on_skip(path, exc.message)
            continue
        norm, result = normalise(raw, path.stem)
        out.append(
            StrategySummary(
                name=path.stem,
                description=norm.description,
                version=norm.version,
                symbols=norm.symbols,
                timeframes=norm.timeframes,
                indicators=[{"id": s.id, "type": s.type, **s.params} for s in norm.indicators],
                fuzzy_config=dict(raw.get("fuzzy_sets") or {})
                if isinstance(raw.get("fuzzy_sets"), Mapping)
                else {},
                path=str(path),
                is_valid=result.is_valid,
                errors=result.errors,
            )
        )
    return out


__all__ = [
    "StrategyConfig",
    "StrategySummary",
    "ValidationIssue",
    "ValidationResult",
    "check_strategy_name",
    "list_strategies",
    "load_strategy",
    "parse_strategy",
    "resolve_strategy_path",
    "validate_strategy",
]
