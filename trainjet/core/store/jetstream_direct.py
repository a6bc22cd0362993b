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

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from trainjet.core.errors import StoreError, StoreTimeout

DIRECT_BATCH = 1_000  # messages per request: a whole operation in one round trip, mostly
_STATUS = "Status"
_NOT_FOUND = "404"  # no message of the filter at or after the sequence asked for
_END_OF_BATCH = "204"


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
    replies: asyncio.Queue[Msg] = asyncio.Queue()

    async def on_reply(msg: Msg) -> None:
        replies.put_nowait(msg)

    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, cb=on_reply)
    subject = f"$JS.API.DIRECT.GET.{stream}"
    try:
        next_seq = 1
        while next_seq <= end:
            request = {"seq": next_seq, "next_by_subj": wire_filter, "batch": batch}
            await nc.publish(subject, json.dumps(request).encode(), reply=inbox)
            while True:
                try:
                    msg = await asyncio.wait_for(replies.get(), timeout)
                except TimeoutError as exc:
                    raise StoreTimeout(
                        f"direct get of {wire_filter} from {stream}: no answer"
                    ) from exc
                headers = msg.headers or {}
                status = headers.get(_STATUS)
                if status is None:
                    seq = int(headers["Nats-Sequence"])
                    if seq > end:
                        return found  # stored after the read began
                    found.append((seq, headers["Nats-Subject"], msg.data))
                    next_seq = seq + 1
                    continue
                if status == _NOT_FOUND:
                    return found
                if status == _END_OF_BATCH:
                    if headers.get("Nats-Num-Pending") == "0":
                        return found
                    break  # more of the filter after this batch: ask again from next_seq
                if status == "503":
                    raise nats.errors.NoRespondersError
                raise StoreError(
                    f"direct get of {wire_filter} from {stream}: status {status} "
                    f"{headers.get('Description', '')}".rstrip()
                )
    finally:
        await sub.unsubscribe()
    return found
