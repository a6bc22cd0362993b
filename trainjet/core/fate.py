"""Deciding an operation's fate once: read its history, decide, append under a precondition.

Terminal events, `runner_lost` and new attempts are decisions about an operation taken on what
its history says. Two writers that read the same history (a runner finishing, the orchestrator
cancelling, a lease monitor with a stale view) must not both act on it, so the append carries
the sequence of the last record the decision was taken on, and the store refuses it if the
history has moved since. A refusal means "read again and decide again": the new history may
already hold the decision another writer took, and then there is nothing left to write.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import msgspec

from trainjet.core.errors import ConcurrencyConflict
from trainjet.core.events import AnyEvent, Event, OperationCreated
from trainjet.core.projections import OperationInfo, fold
from trainjet.core.store.port import Record, StoredEvent

# Re-reads before giving up: each conflict means another writer made progress, so a long run
# of them only happens under a storm of writes to one operation (progress events while a
# runner finishes); the caller's next pass decides again.
MAX_DECISIONS = 20


class HistoryStore(Protocol):
    """The part of the `EventStore` a decision needs."""

    async def read_operation(self, operation_id: str) -> list[Record]: ...

    async def read_latest(self, operation_id: str) -> list[Record]: ...

    async def append(self, event: Event, *, expected_last_seq: int | None = None) -> int: ...


class History(msgspec.Struct, frozen=True):
    """An operation's history as read at one moment: what a decision is taken on."""

    events: Sequence[AnyEvent]
    last_seq: int  # of the operation's last record (0: none), the precondition of a decision
    info: OperationInfo | None  # the fold of `events`


async def read_history(store: HistoryStore, operation_id: str, *, latest: bool = False) -> History:
    """The operation's history; with `latest`, only the last event of each type in it
    (`EventStore.read_latest`). Folded, that still gives the status, the attempt and its
    runner (the newest start, the terminal event) and a `runner_lost` of the newest attempt,
    and its last sequence is the operation's: enough for a decision about whether an attempt
    still owns the operation, without reading every progress event on the way."""
    read = store.read_latest if latest else store.read_operation
    return _history(await read(operation_id))


def _history(records: list[Record]) -> History:
    events = [r.event for r in records if isinstance(r, StoredEvent)]
    return History(events=events, last_seq=records[-1].seq if records else 0, info=fold(events))


async def read_whole_history(store: HistoryStore, operation_id: str) -> History:
    """The whole history, as `read_history`; read in one cheap get while the operation holds
    only its `operation_created` (an operation no runner has started yet, which is every
    first start): its last event of each type is then all of it. Otherwise read in full."""
    records = await store.read_latest(operation_id)
    if (
        len(records) == 1
        and isinstance(records[0], StoredEvent)
        and isinstance(records[0].event, OperationCreated)
    ):
        return _history(records)
    return await read_history(store, operation_id)


Decision = Callable[[History], Event | None]


class Decided(msgspec.Struct, frozen=True):
    """What `decide` did: the event written (None: nothing was left to do), its sequence
    (0 when none) and the history the decision was taken on."""

    event: Event | None
    seq: int
    history: History


async def decide(
    store: HistoryStore,
    operation_id: str,
    decision: Decision,
    *,
    history: History | None = None,
    latest: bool = False,
) -> Decided:
    """Append what `decision` makes of the latest history, or nothing if it returns None.

    `history`, when the caller has just read it, saves the first read. `latest`: read only
    the last event of each type (see `read_history`). Raises `ConcurrencyConflict` only after
    `MAX_DECISIONS` histories in a row moved under it.
    """
    conflict: ConcurrencyConflict | None = None
    for _ in range(MAX_DECISIONS):
        if history is None:
            history = await read_history(store, operation_id, latest=latest)
        event = decision(history)
        if event is None:
            return Decided(event=None, seq=0, history=history)
        try:
            seq = await store.append(event, expected_last_seq=history.last_seq)
        except ConcurrencyConflict as exc:
            conflict = exc
            history = None
            continue
        return Decided(event=event, seq=seq, history=history)
    assert conflict is not None
    raise conflict
