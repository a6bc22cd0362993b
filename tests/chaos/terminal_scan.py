"""The check every chaos scenario ends with: no operation has more than one terminal event.

The projections hide a second terminal event (the first one wins), so the check reads the
log itself: every message of the events stream, with plain nats-py, counted per operation.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import nats
import nats.errors

from tests.stack import TERMINAL_EVENTS
from trainjet.core.events import OperationCancelled, OperationFailed, type_name

EVENTS_SUBJECTS = "trainjet.ops.>"


async def terminal_events(urls: str, subjects: str = EVENTS_SUBJECTS) -> dict[str, list[str]]:
    """operation id -> the types of its terminal events, in log order (every operation in
    the log that has at least one)."""
    nc = await nats.connect(urls.split(","))
    found: dict[str, list[str]] = {}
    try:
        js = nc.jetstream(timeout=5)
        sub = await js.subscribe(subjects, ordered_consumer=True)
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=2.0)
                except nats.errors.TimeoutError:
                    break
                kind = msg.subject.rsplit(".", 1)[-1]
                if kind not in TERMINAL_EVENTS:
                    continue
                try:  # a poison message on a terminal subject is not a terminal event
                    body = json.loads(msg.data)
                except ValueError:
                    continue
                if isinstance(body, dict) and body.get("type") == kind:
                    detail = kind
                    if kind == type_name(OperationFailed):
                        detail += f"({body.get('error_code') or body.get('error', '')!s:.60})"
                    elif kind == type_name(OperationCancelled):
                        detail += f"({body.get('reason', '')!s:.60})"
                    found.setdefault(str(body.get("operation_id")), []).append(detail)
        finally:
            await sub.unsubscribe()
    finally:
        await nc.close()
    return found


async def terminal_counts(urls: str, subjects: str = EVENTS_SUBJECTS) -> Counter[str]:
    """operation id -> number of terminal events stored for it."""
    return Counter(
        {op: len(kinds) for op, kinds in (await terminal_events(urls, subjects)).items()}
    )


def operations_with_several_terminals(urls: str) -> dict[str, int]:
    """{operation id: count} for every operation with more than one terminal event."""
    counts = asyncio.run(terminal_counts(urls))
    return {op: n for op, n in counts.items() if n > 1}


def assert_one_terminal_each(urls: str) -> int:
    """Fail naming the operations with several terminal events; return how many operations
    ended (so a scenario can also check that its operations did)."""
    found = asyncio.run(terminal_events(urls))
    several = {op: kinds for op, kinds in found.items() if len(kinds) > 1}
    assert not several, f"operations with more than one terminal event: {several}"
    return len(found)
