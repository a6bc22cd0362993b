"""Parameter specifications of the indicators: one `ParamSpec` per parameter drives both the
strategy validation (`check`) and the catalogue that `GET /indicators/` serves, so what the API
advertises and what training accepts cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ParamType = Literal["int", "float", "bool", "str"]
SOURCES = ("close", "open", "high", "low", "volume", "hl2", "hlc3", "ohlc4")


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: ParamType
    description: str
    default: Any
    min_value: float | None = None
    max_value: float | None = None
    options: tuple[str, ...] | None = None

    def check(self, value: Any) -> str | None:
        """Why `value` is not acceptable (None if it is)."""
        if self.type == "bool":
            ok = isinstance(value, bool)
        elif self.type == "int":
            ok = isinstance(value, int) and not isinstance(value, bool) and self._in_range(value)
        elif self.type == "float":
            ok = (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and value == value
                and self._in_range(value)
            )  # value == value: not NaN
        else:
            ok = isinstance(value, str) and (self.options is None or value in self.options)
        if ok:
            return None
        return f"parameter '{self.name}' has invalid value {value!r} (expected {self.expected()})"

    def _in_range(self, value: float) -> bool:
        return (self.min_value is None or value >= self.min_value) and (
            self.max_value is None or value <= self.max_value
        )

    def expected(self) -> str:
        if self.type == "bool":
            return "true or false"
        if self.type == "str":
            return "one of " + ", ".join(self.options or ())
        kind = "an integer" if self.type == "int" else "a number"
        return f"{kind} from {_num(self.min_value)} to {_num(self.max_value)}"

    def as_dict(self) -> dict[str, Any]:
        """The ktrdr catalogue shape of one parameter."""
        return {
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "default": self.default,
            "min_value": self.min_value,
            "max_value": self.max_value,
            "options": list(self.options) if self.options is not None else None,
        }


def _num(value: float | None) -> str:
    return "any" if value is None else f"{value:g}"


def period(
    default: int,
    what: str = "Number of bars in the window",
    low: int = 1,
    high: int = 500,
    name: str = "period",
) -> ParamSpec:
    return ParamSpec(name, "int", what, default, low, high)


def factor(
    name: str, default: float, what: str, low: float = 0.01, high: float = 10.0
) -> ParamSpec:
    return ParamSpec(name, "float", what, default, low, high)


def flag(name: str, default: bool, what: str) -> ParamSpec:
    return ParamSpec(name, "bool", what, default)


def choice(name: str, default: str, options: tuple[str, ...], what: str) -> ParamSpec:
    return ParamSpec(name, "str", what, default, options=options)


SOURCE = choice(
    "source",
    "close",
    SOURCES,
    "Price series to compute on (hl2, hlc3 and ohlc4 "
    "are the usual averages of high, low, close and open)",
)
