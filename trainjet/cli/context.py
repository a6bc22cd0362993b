"""Global CLI options, carried to every command through Typer's context."""

from __future__ import annotations

from typing import Any

import typer

from trainjet.config import Settings


def settings_from(ctx: typer.Context) -> Settings:
    root = ctx.find_root()
    overrides: dict[str, Any] = dict(root.obj or {})
    return Settings.from_env(**overrides)
