"""`TrainingService`: the training facade the endpoints call.

Everything a client can get wrong is checked here, before anything is written: the strategy
(name, file, content), the symbols and timeframes, the dates, the data files and their length.
Only then is `operation_created` appended, carrying the reproducibility record (strategy YAML
text, resolved parameters, a sha256 of each data slice, the seed, the versions), so the run
can be repeated exactly (`POST /operations/{id}/retry`) whatever happens to the files later.
"""

from __future__ import annotations

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
from trainjet.core.events import OperationType
from trainjet.core.orchestrator import ServiceOrchestrator
from trainjet.core.projections import OperationInfo
from trainjet.core.store.port import RunnerRegistry
from trainjet.training.data.ohlcv import load_ohlcv, sha256_of
from trainjet.training.strategy.loader import StrategyConfig, load_strategy

SYMBOL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,19}$")
TIMEFRAME_RE = re.compile(r"^[0-9]{1,3}[mhdwM]$")
MODES = ("local", "host", "auto")


@dataclass(frozen=True)
class TrainingRequestData:
    strategy_name: str
    symbols: list[str] | None = None
    timeframes: list[str] | None = None
    start_date: str | None = None
    end_date: str | None = None
    task_id: str | None = None
    detailed_analytics: bool = False
    training_mode: str | None = None
    epochs: int | None = None
    seed: int | None = None


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

    async def start_training(
        self, request: TrainingRequestData
    ) -> tuple[OperationInfo, bool, StrategyConfig]:
        settings = self.settings
        if request.task_id is not None:
            existing = self.orchestrator.projector.query.get(request.task_id)
            if existing is not None:
                strategy = load_strategy(request.strategy_name, settings.strategies_dir)
                return existing, False, strategy
        strategy = load_strategy(request.strategy_name, settings.strategies_dir)
        symbols = _clean(request.symbols, SYMBOL_RE, "symbols") or list(strategy.symbols)
        timeframes = _clean(request.timeframes, TIMEFRAME_RE, "timeframes") or list(
            strategy.timeframes
        )
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
        if request.epochs is not None and not 1 <= request.epochs <= 100_000:
            raise _config_error(
                "epochs must be between 1 and 100000",
                {"epochs": request.epochs},
                "Ask for between 1 and 100000 epochs, or leave epochs out to use the strategy's.",
            )
        data_hashes: dict[str, str] = {}
        bars: dict[str, int] = {}
        for symbol in symbols:
            for timeframe in timeframes:
                frame = load_ohlcv(symbol, timeframe, settings.market_data_dir, start, end)
                key = f"{symbol}_{timeframe}"
                data_hashes[key] = sha256_of(frame)
                bars[key] = len(frame)
        mode, warnings = await self.resolve_mode(request.training_mode)
        training_cfg = dict(strategy.model.get("training", {}))
        epochs = request.epochs or int(training_cfg.get("epochs", 100))
        seed = request.seed if request.seed is not None else strategy.seed
        if seed is None:
            seed = random.SystemRandom().randrange(2**31)  # recorded, so the run is repeatable
        parameters = {
            "strategy_name": strategy.name,
            "strategy_path": str(strategy.path) if strategy.path else None,
            "training_type": strategy.model.get("type", "mlp"),
            "symbols": symbols,
            "timeframes": timeframes,
            "epochs": epochs,
            "use_host_service": mode == "host",
            "analytics_enabled": bool(
                request.detailed_analytics or strategy.analytics.get("enabled")
            ),
            "training_mode": mode,
            "operation_name": "training",
            "service_name": "TrainingService",
            "seed": seed,
        }
        inputs = {
            "strategy_name": strategy.name,
            "strategy_yaml": strategy.raw_yaml,
            "symbols": symbols,
            "timeframes": timeframes,
            "start_date": start,
            "end_date": end,
            "epochs": epochs,
            "seed": seed,
            "detailed_analytics": request.detailed_analytics,
            "training_mode": mode,
            "data_hashes": data_hashes,
            "data_bars": bars,
            "resolved": {
                "model": strategy.model,
                "labels": strategy.labels,
                "data_split": strategy.data_split,
            },
            "versions": {
                "trainjet": __version__,
                "torch": _version("torch"),
                "numpy": _version("numpy"),
                "pandas": _version("pandas"),
                "python": platform.python_version(),
            },
            "warnings": warnings,
        }
        info, created = await self.orchestrator.start_managed_operation(
            OperationType.TRAINING,
            metadata={
                "symbol": symbols[0] if len(symbols) == 1 else "MULTI",
                "timeframe": timeframes[0],
                "mode": "training",
                "start_date": start,
                "end_date": end,
                "parameters": parameters,
            },
            inputs=inputs,
            pool=mode,
            total_steps=max(epochs, 1),
            operation_id=request.task_id,
            warnings=warnings,
        )
        return info, created, strategy

    def estimated_minutes(self, strategy: StrategyConfig) -> Any:
        return strategy.model.get("training", {}).get("estimated_duration_minutes", 30)
