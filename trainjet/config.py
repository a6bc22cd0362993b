"""Configuration from the environment (CONTRACT.md), each also settable from the CLI.

Every variable is checked when read (pydantic, strict bounds): a typo in a deployment fails
at start with one line naming the variable and what it accepts, not later with a traceback
or, worse, silently (a negative lease was accepted once).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

TRUTHY = {"1", "true", "yes", "on"}


class ConfigError(ValueError):
    """A bad environment value: the message is one line that names the variable, the value
    and what is allowed, fit to print as it is (the CLI exits 2 with it, never a traceback)."""


def _origin(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise ValueError(value)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _origins(value: str) -> tuple[str, ...]:
    return tuple(_origin(o.strip()) for o in value.split(",") if o.strip())


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(value)
    return value


def _mode(value: str) -> str:
    lowered = value.strip().lower()
    if lowered in TRUTHY:
        return "host"
    if lowered in {"0", "false", "no", "off"}:
        return "local"
    raise ValueError(value)


_Seconds = Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)]


class _Environment(BaseModel):
    """The typed environment, validated by pydantic: each field is one variable."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    stream_replicas: int = Field(1, ge=1, le=5, alias="TRAINJET_STREAM_REPLICAS")
    lease_seconds: _Seconds = Field(15.0, alias="TRAINJET_LEASE_SECONDS")
    runner_ttl_seconds: _Seconds = Field(10.0, alias="TRAINJET_RUNNER_TTL_SECONDS")
    cancel_wait_seconds: float = Field(
        10.0, ge=0, le=3600, allow_inf_nan=False, alias="TRAINJET_CANCEL_WAIT_SECONDS"
    )
    api_url: Annotated[str, AfterValidator(_http_url)] = Field(
        "http://127.0.0.1:8000", alias="TRAINJET_API_URL"
    )
    default_training_mode: Annotated[str, AfterValidator(_mode)] = Field(
        "local", alias="USE_TRAINING_HOST_SERVICE"
    )
    api_protect_reads: bool = Field(False, alias="TRAINJET_API_PROTECT_READS")
    api_cors_origins: Annotated[tuple[str, ...], BeforeValidator(_origins)] = Field(
        (), alias="TRAINJET_API_CORS_ORIGINS"
    )
    api_max_body_bytes: int = Field(
        1_048_576, ge=1024, le=1_073_741_824, alias="TRAINJET_API_MAX_BODY_BYTES"
    )
    snapshot_seconds: float = Field(
        60.0, ge=0, le=86_400, allow_inf_nan=False, alias="TRAINJET_SNAPSHOT_SECONDS"
    )
    api_fast_io: bool = Field(True, alias="TRAINJET_API_FAST_IO")
    connect_retry_seconds: float = Field(
        60.0, ge=0, le=86_400, allow_inf_nan=False, alias="TRAINJET_CONNECT_RETRY_SECONDS"
    )


# What each checked variable accepts, in the words the error message uses.
ALLOWED = {
    "TRAINJET_STREAM_REPLICAS": "an integer from 1 to 5",
    "TRAINJET_LEASE_SECONDS": "a number of seconds above 0, at most 86400",
    "TRAINJET_RUNNER_TTL_SECONDS": "a number of seconds above 0, at most 86400",
    "TRAINJET_CANCEL_WAIT_SECONDS": "a number of seconds from 0 to 3600",
    "TRAINJET_API_URL": "an http:// or https:// URL, e.g. http://127.0.0.1:8000",
    "USE_TRAINING_HOST_SERVICE": "true/1/yes/on (host) or false/0/no/off (local)",
    "TRAINJET_API_PROTECT_READS": "true/1/yes/on or false/0/no/off",
    "TRAINJET_API_CORS_ORIGINS": (
        "comma-separated origins like https://console.example.com (scheme and host, no path)"
    ),
    "TRAINJET_API_MAX_BODY_BYTES": "an integer number of bytes from 1024 to 1073741824",
    "TRAINJET_SNAPSHOT_SECONDS": "a number of seconds from 0 (only at a clean stop) to 86400",
    "TRAINJET_API_FAST_IO": "true/1/yes/on or false/0/no/off",
    "TRAINJET_CONNECT_RETRY_SECONDS": "a number of seconds from 0 to 86400",
}


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _checked_environment() -> _Environment:
    raw = {name: os.environ[name] for name in ALLOWED if os.environ.get(name, "").strip()}
    try:
        return _Environment.model_validate(raw)
    except ValidationError as exc:
        bad = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error.get("loc") else "environment"
            value = raw.get(name, "")
            shown = value if len(value) <= 80 else value[:80] + "..."
            bad.append(
                f"{name}={shown!r} is not valid: expected {ALLOWED.get(name, 'a valid value')}"
            )
        raise ConfigError("; ".join(dict.fromkeys(bad))) from None


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
    # how often the API snapshots its read models (0: only at a clean stop)
    snapshot_seconds: float = 60.0
    # API protections (docs/security.md): reads need the token too; browser origins allowed
    # to call the API (CORS, off when empty); the largest request body accepted
    api_protect_reads: bool = False
    api_cors_origins: tuple[str, ...] = ()
    api_max_body_bytes: int = 1_048_576
    # the API's server on uvloop and httptools where installed (off: asyncio and h11, to
    # rule them out when something looks wrong at the socket level)
    api_fast_io: bool = True
    # how long `trainjet api` / `trainjet runner` keep retrying an unreachable NATS at start
    connect_retry_seconds: float = 60.0

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Settings from the environment, every value checked; `ConfigError` names the first
        bad variables and what they accept."""
        env = _checked_environment()
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
            api_token=_env("TRAINJET_API_TOKEN"),
            **env.model_dump(),
        )
        clean = {k: v for k, v in overrides.items() if v is not None}
        return replace(settings, **clean)
