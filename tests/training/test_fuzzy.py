"""Membership shapes and fuzzy-set validation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from trainjet.training.features.fuzzy import (
    MembershipSpec,
    apply_transform,
    check_membership,
    fuzzify,
    membership,
    parse_fuzzy_sets,
)


def mu(kind: str, params: list[float], xs: list[float]) -> list[float]:
    return membership(np.array(xs, dtype=float), MembershipSpec(kind, tuple(params))).tolist()


def test_triangular() -> None:
    assert mu("triangular", [0, 20, 40], [-5, 0, 10, 20, 30, 40, 50]) == [0, 0, 0.5, 1, 0.5, 0, 0]


def test_triangular_shoulders() -> None:
    assert mu("triangular", [0, 0, 30], [-1, 0, 15, 30]) == [0, 1, 0.5, 0]
    assert mu("triangular", [70, 100, 100], [70, 85, 100, 101]) == [0, 0.5, 1, 0]


def test_trapezoidal() -> None:
    assert mu("trapezoidal", [0, 10, 20, 40], [-1, 5, 10, 15, 20, 30, 40, 41]) == [
        0,
        0.5,
        1,
        1,
        1,
        0.5,
        0,
        0,
    ]
    assert mu("trapezoidal", [-2, -2, 0, 0.2], [-2, -1, 0, 0.1, 0.2]) == pytest.approx(
        [1, 1, 1, 0.5, 0]
    )


def test_gaussian() -> None:
    got = mu("gaussian", [50, 10], [50, 60, 40, 70])
    assert got == pytest.approx([1, math.exp(-0.5), math.exp(-0.5), math.exp(-2)])


@pytest.mark.parametrize("kind", ["triangular", "trapezoidal", "gaussian"])
def test_nan_in_nan_out_and_range(kind: str) -> None:
    params = {"triangular": [0, 1, 2], "trapezoidal": [0, 1, 2, 3], "gaussian": [1, 1]}[kind]
    xs = np.linspace(-5, 5, 101)
    got = membership(np.append(xs, np.nan), MembershipSpec(kind, tuple(params)))
    assert np.isnan(got[-1])
    assert ((got[:-1] >= 0) & (got[:-1] <= 1)).all()


@pytest.mark.parametrize(
    ("kind", "params", "fragment"),
    [
        ("triangular", [1, 2], "needs exactly 3 parameters [a, b, c] with a <= b <= c, got 2"),
        ("triangular", [3, 2, 4], "must be ordered"),
        ("triangular", [2, 2, 2], "must span a range"),
        ("trapezoidal", [0, 3, 2, 4], "must be ordered [a, b, c, d]"),
        ("trapezoidal", [0, 1, 2, 3, 4], "needs exactly 4 parameters"),
        ("gaussian", [0, 0], "sigma must be > 0, got 0"),
        ("gaussian", [0, -1], "sigma must be > 0"),
        ("gaussian", [0, math.nan], "must be a list of 2 numbers"),
        ("gaussian", "0, 1", "must be a list of 2 numbers"),
        ("triangular", [0, True, 2], "must be a list of 3 numbers"),
        ("bell", [0, 1], "unknown type 'bell' (valid: triangular, trapezoidal, gaussian)"),
    ],
)
def test_malformed(kind: str, params: object, fragment: str) -> None:
    problems = check_membership(kind, params)
    assert len(problems) == 1
    assert fragment in problems[0]


def test_fuzzify_names_and_values() -> None:
    values = pd.Series([10.0, 50.0, np.nan], index=pd.RangeIndex(3))
    sets = {
        "low": MembershipSpec("triangular", (0, 0, 50)),
        "high": MembershipSpec("triangular", (50, 100, 100)),
    }
    out = fuzzify(values, sets, "rsi")
    assert list(out.columns) == ["rsi_low", "rsi_high"]
    assert out["rsi_low"].tolist()[:2] == [0.8, 0.0]
    assert out.iloc[2].isna().all()


def test_price_ratio_transform() -> None:
    prices = pd.DataFrame({"close": [2.0, 3.0], "open": [1.0, 1.0]})
    sma = pd.Series([1.0, 2.0])
    assert apply_transform(sma, {"type": "price_ratio", "reference": "close"}, prices).tolist() == [
        2.0,
        1.5,
    ]
    assert apply_transform(sma, None, prices) is sma


def test_parse_shorthand_and_errors() -> None:
    parsed = parse_fuzzy_sets(
        {
            "rsi": {
                "low": [0, 0, 30],
                "band": [0, 1, 2, 3],
                "mid": {"type": "Gaussian", "parameters": [50, 5]},
            },
            "x": {},
        },
        {"rsi", "x"},
    )
    assert parsed.sets["rsi"]["low"] == MembershipSpec("triangular", (0.0, 0.0, 30.0))
    assert parsed.sets["rsi"]["band"].type == "trapezoidal"
    assert parsed.sets["rsi"]["mid"].type == "gaussian"  # type names are case-insensitive
    assert parsed.warnings == ["Fuzzy set 'x' is empty"]
    assert not parsed.errors
    bad = parse_fuzzy_sets({"rsi": {"two": [1, 2]}}, {"rsi"})
    assert "unknown type '?'" in bad.errors[0]
