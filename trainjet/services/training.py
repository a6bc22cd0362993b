"""`TrainingService`: the training facade the endpoints call.

Everything a client can get wrong is checked here, before anything is written: the strategy
(name, file, content), the symbols and timeframes, the dates, the data files and their length.
Only then is `operation_created` appended, carrying the reproducibility record (strategy YAML
text, resolved parameters, a sha256 of each data slice, the seed, the versions), so the run
can be repeated exactly (`POST /operations/{id}/retry`) whatever happens to the files later.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import platform
import random
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from trainjet import __version__
from trainjet.config import Settings
from trainjet.core.errors import InvalidRequest, ServiceUnavailable
from trainjet.core.events import OperationType, ResolvedStrategy, TrainingInputs
from trainjet.core.orchestrator import ServiceOrchestrator
from trainjet.core.projections import OperationInfo
from trainjet.core.store.port import RunnerRegistry
from trainjet.services.training_request import TrainingStartRequest
from trainjet.training.data.names import SYMBOL_RE, TIMEFRAME_RE
from trainjet.training.model.config import TrainingConfig
from trainjet.training.strategy.loader import StrategyConfig, load_strategy

MODES = ("local", "host", "auto")


def _config_error(message: str, context: dict[str, Any], suggestion: str) -> InvalidRequest:
    """A training request value that cannot be used, in the shape ktrdr's clients print."""
    return InvalidRequest(
        message, error_code="CONFIG-InvalidRequest", context=context, suggestion=suggestion
    )


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _parse_date(value: str | None, field: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        parsed = (
            datetime.fromisoformat(value)
            if "T" in value or " " in value
            else date.fromisoformat(value)
        )
    except ValueError as exc:
        raise _config_error(
            f"{field} {value!r} is not an ISO date (use YYYY-MM-DD)",
            {field: value},
            f"Write {field} as YYYY-MM-DD (or an ISO date-time), e.g. 2017-06-01.",
        ) from exc
    return parsed.isoformat()


def _clean(values: list[str] | None, pattern: re.Pattern[str], what: str) -> list[str] | None:
    if values is None:
        return None
    cleaned = [v.strip() for v in values]
    if not cleaned:
        raise _config_error(
            f"{what} must not be empty: name at least one, or omit it to use the strategy's",
            {what: values},
            f"Name at least one of the {what}, or leave {what} out to use the strategy's.",
        )
    for value in cleaned:
        if not pattern.match(value):
            raise _config_error(
                f"invalid {what[:-1]} {value!r}",
                {what[:-1]: value},
                "Use a symbol of letters, digits, '.' and '-' (e.g. EURUSD)"
                if what == "symbols"
                else "Use a timeframe such as 1m, 15m, 1h, 4h, 1d or 1w.",
            )
    return list(dict.fromkeys(cleaned))


@dataclass(frozen=True)
class _ReadRequest:
    """A request checked against the strategy and the data files."""

    strategy: StrategyConfig
    config: TrainingConfig
    symbols: list[str]
    timeframes: list[str]
    start: str | None
    end: str | None
    data_hashes: dict[str, str]
    bars: dict[str, int]


def _read_request(request: TrainingStartRequest, settings: Settings) -> _ReadRequest:
    """Everything a client can get wrong, checked before anything is written (blocking: it
    reads the strategy file and every data file)."""
    strategy = load_strategy(request.strategy_name, settings.strategies_dir)
    symbols = _clean(request.symbols, SYMBOL_RE, "symbols") or list(strategy.symbols)
    timeframes = _clean(request.timeframes, TIMEFRAME_RE, "timeframes") or list(strategy.timeframes)
    if not symbols:
        raise _config_error(
            "No symbols specified in the request or the strategy",
            {"strategy_name": strategy.name},
            "Pass symbols in the request, or list them under the strategy's symbols.",
        )
    if not timeframes:
        raise _config_error(
            "No timeframes specified in the request or the strategy",
            {"strategy_name": strategy.name},
            "Pass timeframes in the request, or list them under the strategy's timeframes.",
        )
    start = _parse_date(request.start_date or strategy.start_date, "start_date")
    end = _parse_date(request.end_date or strategy.end_date, "end_date")
    if start and end and start >= end:
        raise _config_error(
            f"start_date {start} must be before end_date {end}",
            {"start_date": start, "end_date": end},
            "Swap the dates, or choose a start_date before the end_date.",
        )
    config = TrainingConfig.resolve(strategy.model.get("training"), epochs=request.epochs)
    # pandas arrives with the first training request, not with the API's start-up (~0.4 s)
    from trainjet.training.data.ohlcv import load_ohlcv, sha256_of

    data_hashes: dict[str, str] = {}
    bars: dict[str, int] = {}
    for symbol in symbols:
        for timeframe in timeframes:
            frame = load_ohlcv(symbol, timeframe, settings.market_data_dir, start, end)
            key = f"{symbol}_{timeframe}"
            data_hashes[key] = sha256_of(frame)
            bars[key] = len(frame)
    return _ReadRequest(strategy, config, symbols, timeframes, start, end, data_hashes, bars)


class TrainingService:
    def __init__(
        self, orchestrator: ServiceOrchestrator, registry: RunnerRegistry, settings: Settings
    ) -> None:
        self.orchestrator = orchestrator
        self.registry = registry
        self.settings = settings

    async def resolve_mode(self, requested: str | None) -> tuple[str, list[str]]:
        """The pool to run in, and warnings to record. `host` with no live host runner is
        refused at once (not queued silently); `auto` falls back to local, saying so."""
        mode = (requested or self.settings.default_training_mode).lower()
        if mode not in MODES:
            raise _config_error(
                f"training_mode {mode!r} is not one of {', '.join(MODES)}",
                {"training_mode": mode},
                f"Ask for training_mode {', '.join(MODES)}, or leave it out.",
            )
        live = await self.registry.list()
        if mode == "local":
            if any(r.pool == "local" for r in live):
                return "local", []
            # Queued, not refused: a local runner usually comes (serve restarts its own).
            return "local", [
                "No live local runner: the training waits in the queue until one starts "
                "(`trainjet runner`, or `trainjet serve --runners N`)"
            ]
        hosts = [r for r in live if r.pool == "host"]
        if hosts:
            return "host", []
        if mode == "host":
            raise ServiceUnavailable(
                "No live host runner: start `trainjet runner --pool host` on a GPU machine, "
                "or ask for training_mode 'local' or 'auto'",
                error_code="TRAINING-NoHostRunner",
                context={"training_mode": mode},
                suggestion="Start `trainjet runner --pool host` on a GPU machine, or train "
                "with training_mode 'local' or 'auto'.",
            )
        return "local", ["No live host runner: running on the local pool instead"]

    async def resolve_inputs(
        self, request: TrainingStartRequest
    ) -> tuple[TrainingInputs, StrategyConfig, TrainingConfig]:
        """The one way from a training request to the inputs its operation records.

        Reading the strategy and hashing the data files is file work of up to seconds: it
        runs on a worker thread, never on the event loop every request shares.
        """
        read = await asyncio.to_thread(_read_request, request, self.settings)
        mode, warnings = await self.resolve_mode(request.training_mode)
        seed = request.seed if request.seed is not None else read.strategy.seed
        if seed is None:
            seed = random.SystemRandom().randrange(2**31)  # recorded, so the run is repeatable
        strategy = read.strategy
        inputs = TrainingInputs(
            strategy_name=strategy.name,
            strategy_yaml=strategy.raw_yaml,
            symbols=read.symbols,
            timeframes=read.timeframes,
            start_date=read.start,
            end_date=read.end,
            epochs=read.config.epochs,
            seed=seed,
            detailed_analytics=request.detailed_analytics,
            training_mode=mode,
            data_hashes=read.data_hashes,
            data_bars=read.bars,
            resolved=ResolvedStrategy(
                model=strategy.model, labels=strategy.labels, data_split=strategy.data_split
            ),
            versions={
                "trainjet": __version__,
                "torch": _version("torch"),
                "numpy": _version("numpy"),
                "pandas": _version("pandas"),
                "python": platform.python_version(),
            },
            warnings=warnings,
        )
        return inputs, strategy, read.config

    async def start_training(
        self, request: TrainingStartRequest
    ) -> tuple[OperationInfo, bool, StrategyConfig]:
        if request.task_id is not None:
            existing = self.orchestrator.projector.query.get(request.task_id)
            if existing is not None:
                strategy = await asyncio.to_thread(
                    load_strategy, request.strategy_name, self.settings.strategies_dir
                )
                return existing, False, strategy
        inputs, strategy, config = await self.resolve_inputs(request)
        symbols, timeframes, mode = inputs.symbols, inputs.timeframes, inputs.training_mode
        parameters = {
            "strategy_name": strategy.name,
            "strategy_path": str(strategy.path) if strategy.path else None,
            "training_type": strategy.model.get("type", "mlp"),
            "symbols": symbols,
            "timeframes": timeframes,
            "epochs": config.epochs,
            "use_host_service": mode == "host",
            "analytics_enabled": bool(
                request.detailed_analytics or strategy.analytics.get("enabled")
            ),
            "training_mode": mode,
            "operation_name": "training",
            "service_name": "TrainingService",
            "seed": inputs.seed,
        }
        info, created = await self.orchestrator.start_managed_operation(
            OperationType.TRAINING,
            metadata={
                "symbol": symbols[0] if len(symbols) == 1 else "MULTI",
                "timeframe": timeframes[0],
                "mode": "training",
                "start_date": inputs.start_date,
                "end_date": inputs.end_date,
                "parameters": parameters,
            },
            inputs=inputs,
            pool=mode,
            total_steps=max(config.epochs, 1),
            operation_id=request.task_id,
            warnings=inputs.warnings,
        )
        return info, created, strategy

    @staticmethod
    def estimated_minutes(strategy: StrategyConfig) -> float:
        return TrainingConfig.resolve(strategy.model.get("training")).estimated_duration_minutes
