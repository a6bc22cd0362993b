"""`trainjet api` starts fast: importing the app pulls in no pandas, numpy or torch.

A restart is judged from spawn to a /health that shows every event applied (bench `restart`,
goal 3 s at a million events), and pandas alone was about 0.4 s of it, imported by the
indicator table and the services behind the routes. Each arrives with the first request that
computes (an indicator, a training request, a prediction), checked here in a fresh
interpreter: an import anywhere on the API's import graph would bring it back.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pandas", "numpy", "torch")


def modules_after(code: str) -> list[str]:
    probe = f"import json, sys; {code}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=60
    )
    return list(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize(
    "code",
    [
        "import trainjet.api.app",
        # the app itself: routes, OpenAPI error documentation, middleware
        "from trainjet.api.app import create_app; create_app()",
    ],
)
def test_the_api_starts_without_pandas_numpy_or_torch(code: str) -> None:
    loaded = modules_after(code)
    assert [m for m in HEAVY if m in loaded] == []


def test_the_api_command_does_not_import_the_cli_http_client() -> None:
    """`trainjet api` goes through the CLI's command tree; httpx is only the CLI client's."""
    loaded = modules_after("import trainjet.cli.app, trainjet.cli.serve, trainjet.api.app")
    assert [m for m in (*HEAVY, "httpx") if m in loaded] == []


def test_the_indicator_formulas_arrive_with_the_first_computation() -> None:
    """The table names its formulas; listing and resolving them imports none."""
    loaded = modules_after(
        "from trainjet.training.indicators.registry import indicator_catalogue, "
        "resolve_indicator; indicator_catalogue(); resolve_indicator('rsi')"
    )
    assert "trainjet.training.indicators.formulas" not in loaded
    assert "pandas" not in loaded


def test_every_named_formula_resolves() -> None:
    """A name that does not resolve would only fail at its first computation: check all."""
    from trainjet.training.indicators.table import DEFS

    for definition in DEFS:
        assert callable(definition.func), definition.name
