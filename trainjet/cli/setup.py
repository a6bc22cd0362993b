"""`trainjet setup`, and the start-up check of `api` and `runner`.

Setup is the one step that creates streams, buckets and pool consumers, with the admin
user's credentials; it is idempotent and says what it created, changed or found. The API
and runners only check that what they use exists, and stop with one line naming the
command that fixes it (exit 2: a configuration to fix, not a crash).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import typer

from trainjet.cli.client import CliError
from trainjet.config import Settings
from trainjet.core.errors import LayoutMissing, StoreError, StoreTimeout
from trainjet.core.store.jetstream_setup import Part


def run_setup(settings: Settings) -> None:
    """Create or check the layout on `settings.nats_url`; print one line per part."""
    from trainjet.system import provision_nats

    try:
        done = asyncio.run(provision_nats(settings))
    except StoreTimeout as exc:
        # A user without the right to create streams gets no answer at all (the server
        # drops the request and reports a permissions violation), so say what is likely.
        raise CliError(
            f"{exc.message}; does {settings.nats_user or 'this user'} have admin rights? "
            "`trainjet setup` needs the trainjet-admin user (TRAINJET_NATS_USER / _PASSWORD)",
            1,
        ) from None
    except StoreError as exc:
        raise CliError(exc.message, 1) from None
    for part in done:
        typer.echo(part.line())


def preflight(settings: Settings, parts: Iterable[Part], pools: Iterable[str] = ()) -> None:
    """Check the layout before starting a long-running part; a clear `CliError` if not."""
    from trainjet.system import check_layout

    try:
        asyncio.run(check_layout(settings, parts, pools))
    except LayoutMissing as exc:
        raise CliError(exc.message, 2) from None
    except StoreTimeout as exc:
        # A request the user's permissions refuse is dropped, so it looks like a timeout.
        raise CliError(
            f"{exc.message}; if the server is up, does {settings.nats_user or 'this user'} have "
            "the permissions of its role (deploy/nats/users.conf)?",
            1,
        ) from None
    except StoreError as exc:
        raise CliError(exc.message, 1) from None
