"""Global CLI options, carried to every command through Typer's context."""

from __future__ import annotations

from typing import Any

import typer

from trainjet.cli.runtime import resolve_api_url
from trainjet.config import Settings


def settings_from(ctx: typer.Context) -> Settings:
    root = ctx.find_root()
    overrides: dict[str, Any] = dict(root.obj or {})
    settings = Settings.from_env(**overrides)
    # --api-url carries TRAINJET_API_URL too, so None here means nobody named an API.
    return resolve_api_url(settings, explicit=overrides.get("api_url") is not None)
