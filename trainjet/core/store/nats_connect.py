"""Connecting to NATS the same way everywhere (API, runners, CLI, tests).

Two different needs pull the reconnect settings apart. Once connected, a trainjet process must
ride out a server restart however long it takes, so reconnects never give up. But the *first*
connect must fail fast with a message that says what to do: nats-py's initial connect loops for
ever when `max_reconnect_attempts` is negative. So the first connect runs with a small attempt
budget and the unlimited setting is switched on only once a connection exists.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import nats
from nats.aio.client import Client

from trainjet.core.errors import StoreUnavailable

_log = logging.getLogger("trainjet.natsd")


def split_urls(urls: str | Sequence[str]) -> list[str]:
    """`"a,b"` or `["a", "b"]` -> `["nats://a", ...]` (scheme added when missing)."""
    items = urls.split(",") if isinstance(urls, str) else list(urls)
    result = []
    for item in items:
        item = item.strip()
        if item:
            result.append(item if "://" in item else f"nats://{item}")
    return result


def redact(url: str) -> str:
    """The URL without user, password or token, safe to show (/health, logs, errors).

    Everything up to the last `@` of the URL goes, so an unencoded `/` or `@` in a password
    cannot leak part of it (NATS URLs carry no path where an `@` could legitimately appear).
    """
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    if "@" in rest:
        rest = rest.rsplit("@", 1)[1]
    return f"{scheme}{sep}{rest}"


def redact_all(urls: str | Sequence[str]) -> str:
    return ", ".join(redact(u) for u in split_urls(urls))


async def connect(
    urls: str | list[str],
    *,
    user: str | None = None,
    password: str | None = None,
    token: str | None = None,
    creds_file: str | None = None,
    name: str = "trainjet",
    connect_timeout: float = 2.0,
    initial_attempts: int = 2,
    reconnect_time_wait: float = 0.5,
) -> Client:
    """A connected client that reconnects for ever; `StoreUnavailable` if nobody answers.

    `initial_attempts` is the number of retries per server for the first connect (each up to
    `connect_timeout` seconds), so a wrong URL fails in seconds rather than hanging.
    """
    servers = split_urls(urls)
    if not servers:
        raise StoreUnavailable("no NATS server URL given; set TRAINJET_NATS_URL or --nats-url")
    connecting = True
    outage = False
    errors_seen: list[BaseException] = []

    async def on_error(exc: Exception) -> None:
        if connecting:
            errors_seen.append(exc)
        elif "permissions violation" in str(exc).lower():
            # The server refused one action of this user (deploy/nats/users.conf); the
            # request itself only times out, so this line is where the reason shows.
            _log.error("NATS refused an action of user %r: %s", user or "(token/creds)", exc)
        elif outage:  # one line per outage, not one per reconnect attempt
            _log.debug("NATS reconnect attempt failed: %s", exc)
        else:
            _log.warning("NATS connection error: %s", exc)

    async def on_disconnected() -> None:
        nonlocal outage
        if not connecting and not nc.is_closed:  # a deliberate close() is no news
            outage = True
            _log.warning("disconnected from NATS; reconnecting")

    async def on_reconnected() -> None:
        nonlocal outage
        outage = False
        _log.info("reconnected to NATS at %s", redact(_connected_url(nc)))

    nc = Client()
    try:
        await nc.connect(
            servers=servers,
            name=name,
            user=user,
            password=password,
            token=token,
            user_credentials=creds_file,
            connect_timeout=connect_timeout,  # type: ignore[arg-type]  # int in the hints, float works
            reconnect_time_wait=reconnect_time_wait,  # type: ignore[arg-type]
            max_reconnect_attempts=max(1, initial_attempts),
            allow_reconnect=True,
            error_cb=on_error,
            disconnected_cb=on_disconnected,
            reconnected_cb=on_reconnected,
        )
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        await disconnect(nc)
        raise StoreUnavailable(
            f"cannot connect to NATS at {redact_all(servers)}: {_describe([*errors_seen, exc])}. "
            "Start a server (`trainjet serve` starts an embedded one), or point "
            "TRAINJET_NATS_URL / --nats-url at a running server with JetStream enabled."
        ) from exc
    connecting = False
    # From now on ride out any outage (see module docstring).
    nc.options["max_reconnect_attempts"] = -1
    return nc


def _connected_url(nc: Client) -> str:
    url = nc.connected_url
    return url.geturl() if url is not None else "?"


def _describe(errors: list[BaseException]) -> str:
    """The most useful of the errors one failed connect produced: a refused login beats the
    connection reset that follows it."""
    for exc in errors:
        if isinstance(exc, nats.errors.AuthorizationError) or "authorization" in str(exc).lower():
            return "authorization failed (check user/password, token or creds file)"
    # NoServersError only says the attempts ran out; the error before it says why.
    real = [e for e in errors if not isinstance(e, nats.errors.NoServersError)]
    exc = (real or errors)[-1]
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text


async def disconnect(nc: Client) -> None:
    """Close `nc` whatever state it is in (nats-py raises when closing during an outage)."""
    try:
        await nc.close()
    except (OSError, nats.errors.Error):
        _log.debug("closing the NATS client raised", exc_info=True)
