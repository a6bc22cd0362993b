"""Configuration from the environment (CONTRACT.md), each also settable from the CLI."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

TRUTHY = {"1", "true", "yes", "on"}


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _float_env(name: str, default: float) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    nats_url: str | None = None  # None: start an embedded nats-server
    nats_user: str | None = None
    nats_password: str | None = field(default=None, repr=False)
    nats_token: str | None = field(default=None, repr=False)
    nats_creds: str | None = None
    data_dir: Path = Path(".trainjet")
    models_dir: Path = Path("models")
    strategies_dir: Path = Path("strategies")
    market_data_dir: Path = Path("data")
    api_url: str = "http://127.0.0.1:8000"
    api_token: str | None = field(default=None, repr=False)
    default_training_mode: str = "local"
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    stream_replicas: int = 1
    lease_seconds: float = 15.0
    runner_ttl_seconds: float = 10.0
    cancel_wait_seconds: float = 10.0
    event_flush_seconds: float = 0.1
    # how long `trainjet api` / `trainjet runner` keep retrying an unreachable NATS at start
    connect_retry_seconds: float = 60.0

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        mode = (
            "host" if (_env("USE_TRAINING_HOST_SERVICE", "") or "").lower() in TRUTHY else "local"
        )
        settings = cls(
            nats_url=_env("TRAINJET_NATS_URL"),
            nats_user=_env("TRAINJET_NATS_USER"),
            nats_password=_env("TRAINJET_NATS_PASSWORD"),
            nats_token=_env("TRAINJET_NATS_TOKEN"),
            nats_creds=_env("TRAINJET_NATS_CREDS"),
            data_dir=Path(_env("TRAINJET_DATA_DIR", ".trainjet") or ".trainjet"),
            models_dir=Path(_env("TRAINJET_MODELS_DIR", "models") or "models"),
            strategies_dir=Path(_env("TRAINJET_STRATEGIES_DIR", "strategies") or "strategies"),
            market_data_dir=Path(_env("TRAINJET_MARKET_DATA_DIR", "data") or "data"),
            api_url=_env("TRAINJET_API_URL", "http://127.0.0.1:8000") or "http://127.0.0.1:8000",
            api_token=_env("TRAINJET_API_TOKEN"),
            default_training_mode=mode,
            stream_replicas=int(_env("TRAINJET_STREAM_REPLICAS", "1") or 1),
            lease_seconds=_float_env("TRAINJET_LEASE_SECONDS", 15.0),
            runner_ttl_seconds=_float_env("TRAINJET_RUNNER_TTL_SECONDS", 10.0),
            cancel_wait_seconds=_float_env("TRAINJET_CANCEL_WAIT_SECONDS", 10.0),
            connect_retry_seconds=_float_env("TRAINJET_CONNECT_RETRY_SECONDS", 60.0),
        )
        clean = {k: v for k, v in overrides.items() if v is not None}
        return replace(settings, **clean)
