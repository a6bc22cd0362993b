"""Reading one subject filter of a stream by batched direct gets (nats-server 2.11+).

A direct get is answered by the stream itself, without a consumer: reading an operation's
history this way leaves nothing behind on the server. An ordered consumer per read outlives
its reader by its inactivity threshold, so a burst of more than a thousand reads in that
window hit the stream's consumer limit. One request returns up to `batch` messages of the
filter from a sequence on, then an end-of-batch status that says how many are still pending.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from trainjet.core.errors import StoreError, StoreTimeout

DIRECT_BATCH = 1_000  # messages per request: a whole operation in one round trip, mostly
_STATUS = "Status"
_NOT_FOUND = "404"  # no message of the filter at or after the sequence asked for
_END_OF_BATCH = "204"
_TOO_MANY = "413"  # a multi_last get matching more subjects than the server answers at once


async def read_direct(
    nc: Client,
    stream: str,
    wire_filter: str,
    end: int,
    *,
    timeout: float,
    batch: int = DIRECT_BATCH,
) -> list[tuple[int, str, bytes]]:
    """(sequence, wire subject, data) of every message on `wire_filter` up to `end`, in order.

    Raises `nats.errors.NoRespondersError` where the stream does not allow direct gets (the
    caller falls back to a consumer), `StoreError` on any other refusal.
    """
    found: list[tuple[int, str, bytes]] = []
    next_seq = 1
    while next_seq <= end:
        request = {"seq": next_seq, "next_by_subj": wire_filter, "batch": batch}
        messages, status = await _ask(nc, stream, wire_filter, request, timeout)
        for seq, subject, data in messages:
            if seq > end:
                return found  # stored after the read began
            found.append((seq, subject, data))
            next_seq = seq + 1
        if status.get(_STATUS) == _NOT_FOUND or status.get("Nats-Num-Pending") == "0":
            return found
        # more of the filter after this batch: ask again from next_seq
    return found


async def read_direct_last(
    nc: Client, stream: str, wire_filter: str, *, timeout: float, batch: int = DIRECT_BATCH
) -> list[tuple[int, str, bytes]] | None:
    """(sequence, wire subject, data) of the last message of each subject on `wire_filter`,
    in sequence order: one `multi_last` direct get. The server finds each subject's last
    message from its subject index, so the cost does not grow with the messages stored
    between them (a `next_by_subj` read scans all of those). None where more subjects match
    than one answer holds (the caller reads the whole filter instead).

    Raises as `read_direct`.
    """
    request = {"multi_last": [wire_filter], "batch": batch}
    messages, status = await _ask(nc, stream, wire_filter, request, timeout, _TOO_MANY)
    if status.get(_STATUS) == _TOO_MANY or status.get("Nats-Num-Pending", "0") != "0":
        return None
    return sorted(messages)


async def _ask(
    nc: Client,
    stream: str,
    wire_filter: str,
    request: dict[str, Any],
    timeout: float,
    *answers: str,
) -> tuple[list[tuple[int, str, bytes]], dict[str, str]]:
    """One direct get request: the messages of its answer, and the headers of the status
    that ended it (404: none at all, 204: end of the batch, or one of `answers`)."""
    messages: list[tuple[int, str, bytes]] = []
    replies: asyncio.Queue[Msg] = asyncio.Queue()

    async def on_reply(msg: Msg) -> None:
        replies.put_nowait(msg)

    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, cb=on_reply)
    try:
        await nc.publish(f"$JS.API.DIRECT.GET.{stream}", json.dumps(request).encode(), reply=inbox)
        while True:
            try:
                msg = await asyncio.wait_for(replies.get(), timeout)
            except TimeoutError as exc:
                raise StoreTimeout(f"direct get of {wire_filter} from {stream}: no answer") from exc
            headers = msg.headers or {}
            status = headers.get(_STATUS)
            if status is None:
                messages.append((int(headers["Nats-Sequence"]), headers["Nats-Subject"], msg.data))
                continue
            if status in (_NOT_FOUND, _END_OF_BATCH, *answers):
                return messages, dict(headers)
            if status == "503":
                raise nats.errors.NoRespondersError
            raise StoreError(
                f"direct get of {wire_filter} from {stream}: status {status} "
                f"{headers.get('Description', '')}".rstrip()
            )
    finally:
        await sub.unsubscribe()
