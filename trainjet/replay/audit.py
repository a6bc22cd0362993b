"""Compare rebuilt read models with what a server serves, field by field.

The audit is only meaningful if both sides are the same kind of value, so both are JSON
(`rebuild.info_json` / `metrics_json` against the API's response bodies) and the comparison
is exact: same keys, same values, floats included (both sides went through the same JSON
encoder, which writes the shortest round-tripping form).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Fields a server computes from its own clock at the moment it answers: they differ between
# two reads of the same state, so comparing them would report the time, not a defect.
CLOCK_FIELDS: frozenset[str] = frozenset({"duration_seconds"})


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Difference:
    path: str
    rebuilt: Any
    served: Any

    def __str__(self) -> str:
        return f"{self.path}: rebuilt {self.rebuilt!r} != served {self.served!r}"


def diff(
    rebuilt: Any, served: Any, path: str = "", ignore: frozenset[str] = CLOCK_FIELDS
) -> list[Difference]:
    """Every place where `served` differs from `rebuilt` (keys named in `ignore` are skipped
    at any depth). Lists are compared item by item, so one bad epoch is one difference."""
    if isinstance(rebuilt, Mapping) and isinstance(served, Mapping):
        found: list[Difference] = []
        for key in sorted(set(rebuilt) | set(served), key=str):
            if key in ignore:
                continue
            found += diff(
                rebuilt.get(key, MISSING), served.get(key, MISSING), _join(path, key), ignore
            )
        return found
    if isinstance(rebuilt, list) and isinstance(served, list):
        found = []
        for index in range(max(len(rebuilt), len(served))):
            left = rebuilt[index] if index < len(rebuilt) else MISSING
            right = served[index] if index < len(served) else MISSING
            found += diff(left, right, f"{path}[{index}]", ignore)
        return found
    if type(rebuilt) is not type(served) and not _both_numbers(rebuilt, served):
        return [Difference(path or "$", rebuilt, served)]
    return [] if rebuilt == served else [Difference(path or "$", rebuilt, served)]


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _both_numbers(a: Any, b: Any) -> bool:
    # JSON has one number type: 1 and 1.0 are the same value on the wire.
    return all(isinstance(x, int | float) and not isinstance(x, bool) for x in (a, b))
