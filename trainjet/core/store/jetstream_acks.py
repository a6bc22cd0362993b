"""`AckCollector`: the JetStream acknowledgements of pipelined publishes, one future a burst.

nats-py's `publish_async` gives every message its own future (with a token read from
`os.urandom`, a done callback and a semaphore slot), and waiting for a burst then takes a
gather over them, one more trip through the event loop. A runner publishes a few events every
100 ms, so that bookkeeping cost its loop more than the publishing did. Here one reply
subscription (`<inbox>.<burst>.<index>`) files each ack into its burst and resolves the burst's
one future when the last ack is in, or at the first refusal. Every event is still acknowledged
by the server before the burst counts as stored.
"""

from __future__ import annotations

import asyncio
import itertools

import msgspec
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import api

_NO_RESPONDERS = "503"  # the status a publish gets when no stream listens on its subject


class AckBurst:
    """The acks of one `append_many`: a sequence per message, in publish order."""

    __slots__ = ("done", "key", "remaining", "reply_prefix", "seqs")

    def __init__(self, key: str, reply_prefix: str, size: int, done: asyncio.Future[list[int]]):
        self.key = key
        self.reply_prefix = reply_prefix  # + the message's index = its reply subject
        self.seqs: list[int] = [0] * size
        self.remaining = size
        self.done = done


class AckCollector:
    """One reply subscription per connection, shared by every burst on it."""

    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self._prefix = ""
        self._sub: Subscription | None = None
        self._bursts: dict[str, AckBurst] = {}
        self._keys = itertools.count(1)

    async def start(self, size: int) -> AckBurst:
        """A new burst of `size` messages; publish message i with `reply_prefix + str(i)`."""
        if self._sub is None:
            prefix = self._nc.new_inbox()
            sub = await self._nc.subscribe(f"{prefix}.*.*", cb=self._on_ack)
            if self._sub is None:  # no other burst subscribed while this one waited
                self._prefix, self._sub = prefix, sub
            else:
                await sub.unsubscribe()
        key = str(next(self._keys))
        burst = AckBurst(
            key, f"{self._prefix}.{key}.", size, asyncio.get_running_loop().create_future()
        )
        self._bursts[key] = burst
        return burst

    def finish(self, burst: AckBurst) -> None:
        """Forget a burst (done, failed or abandoned): later acks for it are ignored."""
        self._bursts.pop(burst.key, None)
        if not burst.done.done():
            burst.done.cancel()

    async def _on_ack(self, msg: Msg) -> None:
        key, _, index = msg.subject[len(self._prefix) + 1 :].partition(".")
        burst = self._bursts.get(key)
        if burst is None or burst.done.done():
            return
        if msg.headers and msg.headers.get(api.Header.STATUS) == _NO_RESPONDERS:
            burst.done.set_exception(nats.js.errors.NoStreamResponseError())
            return
        try:
            reply = msgspec.json.decode(msg.data)
            error = reply.get("error")
            if error is not None:
                # from_error raises the typed error (nats-py's own publish_async let it escape
                # its callback, so a refused message was only noticed at the deadline)
                nats.js.errors.APIError.from_error(error)
                raise nats.js.errors.APIError(**error)
            seq = int(reply["seq"])
            i = int(index)
        except nats.js.errors.APIError as exc:
            burst.done.set_exception(exc)
            return
        except (msgspec.DecodeError, AttributeError, KeyError, TypeError, ValueError) as exc:
            burst.done.set_exception(
                nats.js.errors.Error(f"unreadable JetStream acknowledgement: {exc}")
            )
            return
        if not burst.seqs[i]:  # a repeated reply must not count twice
            burst.seqs[i] = seq
            burst.remaining -= 1
            if burst.remaining == 0:
                burst.done.set_result(burst.seqs)
