"""What one validation pass produces: the strategy's normal form and every issue found."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trainjet.training.features.fuzzy import FuzzyParse
from trainjet.training.indicators.registry import IndicatorSpec

__all__ = ["Issues", "Normalized", "ValidationIssue", "ValidationResult"]


@dataclass(frozen=True)
class ValidationIssue:
    severity: str  # "error" | "warning"
    category: str  # "structure" | "data" | "indicators" | "fuzzy_sets" | "model" | "training"
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ValidationResult:
    is_valid: bool
    errors: list[str]
    warnings: list[str]
    suggestions: list[str]
    issues: list[ValidationIssue] = field(default_factory=list)

    def message(self, strategy_name: str) -> str:
        """The validate endpoint's sentence, worded as ktrdr's."""
        n_err, n_warn = len(self.errors), len(self.warnings)
        if n_err:
            extra = f" and {n_warn} warning(s)" if n_warn else ""
            return f"Strategy '{strategy_name}' has {n_err} error(s){extra}"
        if n_warn:
            return f"Strategy '{strategy_name}' is valid with {n_warn} warning(s)"
        return f"Strategy '{strategy_name}' is valid"

    def error_lines(self) -> list[str]:
        """`"<category>: <message>"` per error, as ktrdr's training start joins them."""
        return [f"{i.category}: {i.message}" for i in self.issues if i.severity == "error"]


@dataclass
class Normalized:
    """Best-effort normal form; only trustworthy when the result has no errors."""

    name: str = ""
    version: str = "1.0"
    description: str = ""
    format: str = "v1"
    scope: str | None = None
    symbols: list[str] = field(default_factory=list)
    timeframes: list[str] = field(default_factory=list)
    history_required: int = 200
    start_date: str | None = None
    end_date: str | None = None
    indicators: list[IndicatorSpec] = field(default_factory=list)
    fuzzy: FuzzyParse = field(default_factory=FuzzyParse)
    model: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)
    data_split: dict[str, float] = field(default_factory=dict)
    decisions: dict[str, Any] = field(default_factory=dict)
    analytics: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None


class Issues:
    """Collects problems instead of raising, so a user sees all of them at once."""

    def __init__(self) -> None:
        self.issues: list[ValidationIssue] = []
        self.suggestions: list[str] = []

    def error(self, category: str, message: str, **details: Any) -> None:
        self.issues.append(ValidationIssue("error", category, message, details))

    def warn(self, category: str, message: str, **details: Any) -> None:
        self.issues.append(ValidationIssue("warning", category, message, details))

    def result(self) -> ValidationResult:
        errors = [i.message for i in self.issues if i.severity == "error"]
        warnings = [i.message for i in self.issues if i.severity == "warning"]
        return ValidationResult(
            not errors, errors, warnings, list(self.suggestions), list(self.issues)
        )
