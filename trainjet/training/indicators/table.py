# size: a data table of 30 indicators, each entry spanning several formatted lines
"""The table of indicators: for each ktrdr name its formula, parameter specs (defaults and
ranges), outputs (primary first), category and description. Data only; the lookup, checks and
catalogue built on it are in `registry.py`.

A formula is named (`"formulas.rsi"`: module and function in this package), not bound: the
formula modules import pandas and numpy (about 0.4 s), and everything that only names, lists
or validates indicators (the API's catalogue, strategy validation) must not pay that at
import. The first computation imports the module."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

from trainjet.training.indicators.params import SOURCE, ParamSpec, choice, factor, flag, period

if TYPE_CHECKING:
    from trainjet.training.indicators.formulas import Outputs

Category = Literal["momentum", "trend", "volatility", "volume"]


@dataclass(frozen=True)
class IndicatorDef:
    name: str  # canonical ktrdr name
    formula: str  # "<module>.<function>" in trainjet.training.indicators, bound on first use
    params: tuple[ParamSpec, ...]
    outputs: tuple[str, ...]
    category: Category
    description: str

    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    @property
    def func(self) -> Callable[..., Outputs]:
        """The formula (its module imported now if it was not yet)."""
        module, function = self.formula.rsplit(".", 1)
        found = getattr(importlib.import_module(f"{__package__}.{module}"), function)
        return cast("Callable[..., Outputs]", found)


_MULT = factor("multiplier", 2.0, "Band width in standard deviations", 0.1, 5.0)
_ATR_MULT = factor("multiplier", 2.0, "Band width in multiples of the ATR", 0.1, 10.0)
DEFS = [
    IndicatorDef(
        "RSI",
        "formulas.rsi",
        (period(14, low=2), SOURCE),
        ("rsi",),
        "momentum",
        "Relative Strength Index: Wilder-smoothed gains over gains plus losses, 0-100",
    ),
    IndicatorDef(
        "SMA", "formulas.sma", (period(20), SOURCE), ("sma",), "trend", "Simple moving average"
    ),
    IndicatorDef(
        "EMA",
        "formulas.ema",
        (
            period(20),
            SOURCE,
            flag(
                "adjust",
                False,
                "false: the reference EMA (alpha 2/(period+1), seeded with the first "
                "period's mean, as TA-Lib); true: ktrdr's pandas ewm(adjust=True) weighting",
            ),
        ),
        ("ema",),
        "trend",
        "Exponential moving average",
    ),
    IndicatorDef(
        "MACD",
        "formulas.macd",
        (
            period(12, "Period of the fast EMA", name="fast_period"),
            period(26, "Period of the slow EMA", low=2, name="slow_period"),
            period(9, "Period of the signal line's EMA", name="signal_period"),
            SOURCE,
        ),
        ("line", "signal", "histogram"),
        "momentum",
        "Moving Average Convergence Divergence: fast EMA minus slow EMA, its signal EMA and the "
        "difference (histogram)",
    ),
    IndicatorDef(
        "BollingerBands",
        "formulas.bbands",
        (period(20, low=2), _MULT, SOURCE),
        ("upper", "middle", "lower", "width", "percent_b"),
        "volatility",
        "Bollinger Bands: SMA +- multiplier x population standard deviation; width "
        "is (upper - lower) / middle, percent_b the price's place between the bands",
    ),
    IndicatorDef(
        "BollingerBandWidth",
        "formulas.bb_width",
        (period(20, low=2), _MULT, SOURCE),
        ("width",),
        "volatility",
        "Bollinger Band width: (upper - lower) / middle band",
    ),
    IndicatorDef(
        "ATR", "formulas.atr", (period(14),), ("atr",), "volatility", "Average True Range (Wilder)"
    ),
    IndicatorDef(
        "Stochastic",
        "formulas.stochastic",
        (
            period(14, "Look-back of the high-low range", name="k_period"),
            period(3, "SMA period of %D", high=50, name="d_period"),
            period(3, "SMA period smoothing %K (1: fast stochastic)", high=50, name="smooth_k"),
        ),
        ("k", "d"),
        "momentum",
        "Stochastic oscillator %K and %D, 0-100",
    ),
    IndicatorDef(
        "WilliamsR",
        "formulas.williams_r",
        (period(14),),
        ("williams_r",),
        "momentum",
        "Williams %R: the close's place in the high-low range, -100-0",
    ),
    IndicatorDef(
        "ROC",
        "formulas.roc",
        (period(10), SOURCE),
        ("roc",),
        "momentum",
        "Rate of change in percent over `period` bars",
    ),
    IndicatorDef(
        "Momentum",
        "formulas.momentum",
        (period(10), SOURCE),
        ("momentum",),
        "momentum",
        "Price difference over `period` bars",
    ),
    IndicatorDef(
        "CCI",
        "formulas.cci",
        (period(20, low=2),),
        ("cci",),
        "momentum",
        "Commodity Channel Index: typical price vs its SMA over 0.015 x mean deviation",
    ),
    IndicatorDef(
        "OBV",
        "formulas.obv",
        (),
        ("obv",),
        "volume",
        "On-Balance Volume: volume added on up closes, subtracted on down closes, "
        "starting at the first bar's volume",
    ),
    IndicatorDef(
        "ADX",
        "formulas.adx",
        (period(14, low=2),),
        ("adx", "plus_di", "minus_di"),
        "trend",
        "Average Directional Index with +DI and -DI (Wilder)",
    ),
    IndicatorDef(
        "MFI",
        "formulas.mfi",
        (period(14),),
        ("mfi",),
        "volume",
        "Money Flow Index: volume-weighted RSI of the typical price, 0-100",
    ),
    IndicatorDef(
        "VWAP",
        "formulas.vwap",
        (
            period(20, "Bars in the rolling window (0: cumulative from the first bar)", low=0),
            flag(
                "use_typical_price", True, "Weight the typical price (h+l+c)/3 instead of the close"
            ),
        ),
        ("vwap",),
        "volume",
        "Volume-weighted average price",
    ),
    IndicatorDef(
        "Aroon",
        "formulas.aroon",
        (
            period(14),
            flag(
                "include_oscillator",
                False,
                "Accepted for ktrdr strategies; the oscillator is always an output",
            ),
        ),
        ("up", "down", "oscillator"),
        "trend",
        "Aroon up/down: how recent the period's high and low are, 0-100; oscillator up-down",
    ),
    IndicatorDef(
        "DonchianChannels",
        "formulas.donchian",
        (
            period(20),
            flag(
                "include_middle",
                True,
                "Accepted for ktrdr strategies; the middle line is always an output",
            ),
        ),
        ("upper", "middle", "lower"),
        "volatility",
        "Donchian channel: highest high, lowest low and their middle",
    ),
    IndicatorDef(
        "KeltnerChannels",
        "formulas.keltner",
        (
            period(20, "Period of the middle EMA"),
            period(10, "Period of the ATR", name="atr_period"),
            _ATR_MULT,
        ),
        ("middle", "upper", "lower"),
        "volatility",
        "Keltner channel: EMA of the close +- multiplier x ATR",
    ),
    IndicatorDef(
        "ADLine",
        "formulas.ad_line",
        (),
        ("ad_line",),
        "volume",
        "Accumulation/Distribution line: cumulative close-location-weighted volume",
    ),
    IndicatorDef(
        "CMF",
        "formulas.cmf",
        (period(20),),
        ("cmf",),
        "volume",
        "Chaikin Money Flow: close-location-weighted volume over volume, -1-1",
    ),
    IndicatorDef(
        "VolumeRatio",
        "formulas.volume_ratio",
        (period(20, low=2),),
        ("volume_ratio",),
        "volume",
        "Volume over its simple moving average",
    ),
    IndicatorDef(
        "DistanceFromMA",
        "formulas.distance_from_ma",
        (
            period(20),
            choice("ma_type", "SMA", ("SMA", "EMA", "sma", "ema"), "Kind of moving average"),
            SOURCE,
        ),
        ("distance",),
        "trend",
        "(price - moving average) / moving average",
    ),
    IndicatorDef(
        "RVI",
        "formulas.rvi",
        (
            period(10, low=4),
            period(
                4,
                "Bars of the signal's simple mean (signal_smoothing sma)",
                high=50,
                name="signal_period",
            ),
            choice(
                "signal_smoothing",
                "swma",
                ("swma", "sma"),
                "swma: the published "
                "1-2-2-1 weighting of 4 bars; sma: a simple mean of signal_period bars "
                "(ktrdr)",
            ),
        ),
        ("rvi", "signal"),
        "momentum",
        "Relative Vigor Index: smoothed close-open over high-low, with its signal",
    ),
    IndicatorDef(
        "Ichimoku",
        "formulas.ichimoku",
        (
            period(9, "Period of the conversion line", name="tenkan_period"),
            period(26, "Period of the base line", name="kijun_period"),
            period(52, "Period of leading span B", name="senkou_b_period"),
            period(26, "Bars the leading spans are shifted forward", name="displacement"),
        ),
        ("tenkan", "kijun", "senkou_a", "senkou_b"),
        "trend",
        "Ichimoku cloud without the lagging span (it would put a later close in a row)",
    ),
    IndicatorDef(
        "ParabolicSAR",
        "stateful.parabolic_sar",
        (
            factor("initial_af", 0.02, "Acceleration factor at the start of a trend", 0.001, 1.0),
            factor("step_af", 0.02, "Acceleration added at each new extreme", 0.001, 1.0),
            factor("max_af", 0.2, "Largest acceleration factor", 0.001, 1.0),
        ),
        ("sar", "direction"),
        "trend",
        "Parabolic stop and reverse (Wilder); direction +1 long, -1 short",
    ),
    IndicatorDef(
        "SuperTrend",
        "stateful.supertrend",
        (
            period(10, "Period of the ATR"),
            factor("multiplier", 3.0, "Band distance in ATRs", 0.1, 10.0),
            choice(
                "atr_smoothing",
                "wilder",
                ("wilder", "sma"),
                "wilder: Wilder's ATR (the "
                "published definition); sma: a simple mean of the true range (ktrdr)",
            ),
        ),
        ("trend", "direction"),
        "trend",
        "SuperTrend: ATR bands around the median price that flip with the trend; direction "
        "+1 up, -1 down",
    ),
    IndicatorDef(
        "FisherTransform",
        "formulas.fisher_transform",
        (
            period(10, "Look-back of the high-low range", low=2),
            period(3, "EMA span smoothing the transform", high=50, name="smoothing"),
        ),
        ("fisher", "signal"),
        "momentum",
        "Fisher transform of the median price's place in the range; signal is the previous "
        "bar's value",
    ),
    IndicatorDef(
        "SqueezeIntensity",
        "formulas.squeeze_intensity",
        (
            period(20, "Period of the Bollinger Bands", low=2, name="bb_period"),
            factor("bb_multiplier", 2.0, "Bollinger width in standard deviations", 0.1, 5.0),
            period(20, "Period of the Keltner channel's EMA", low=2, name="kc_period"),
            factor("kc_multiplier", 2.0, "Keltner width in ATRs", 0.1, 5.0),
            SOURCE,
        ),
        ("squeeze_intensity",),
        "volatility",
        "How far the Bollinger Bands sit inside the Keltner channel: 0 no squeeze, towards 1 "
        "a tight squeeze",
    ),
    IndicatorDef(
        "ZigZag",
        "stateful.zigzag",
        (
            factor(
                "threshold",
                0.05,
                "Reversal that confirms a swing, as a fraction (0.05: 5%)",
                0.0001,
                0.99,
            ),
            SOURCE,
        ),
        ("pivot", "direction", "distance"),
        "trend",
        "Causal ZigZag: the latest swing confirmed by each bar (never a later one), the leg "
        "it started and the price's move since it",
    ),
]
