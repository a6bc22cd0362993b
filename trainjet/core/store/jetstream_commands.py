"""The `CommandQueue` port on a work-queue stream with one durable pull consumer per pool.

The lease is JetStream's ack wait: a runner that dies simply stops acking and the command is
redelivered to another runner `lease_seconds` later; a living runner renews it with an
in-progress ack. `Nats-Msg-Id` = `start-<operation_id>` makes a double submit (an API retry)
a no-op within the duplicate window.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from trainjet.core.events import subjects
from trainjet.core.store.jetstream import translate_errors
from trainjet.core.store.jetstream_setup import require_consumer
from trainjet.core.store.port import StartCommand
from trainjet.core.store.settings import StoreSettings, validate_pool

log = logging.getLogger(__name__)

_decode_command = msgspec.json.Decoder(StartCommand).decode
_encode = msgspec.json.Encoder().encode


class JetStreamClaim:
    """One delivery of a start command; `complete`/`release` end it, later calls do nothing."""

    def __init__(
        self, msg: Msg, command: StartCommand, delivery_count: int, timeout: float = 5.0
    ) -> None:
        self.command = command
        self.delivery_count = delivery_count
        self._msg = msg
        self._timeout = timeout
        self._done = False

    async def extend(self) -> None:
        if not self._done:
            with translate_errors(f"extend lease of {self.command.operation_id}"):
                await self._msg.in_progress()

    async def complete(self) -> None:
        if self._done:
            return
        with translate_errors(f"complete {self.command.operation_id}"):
            # Synchronous ack: once this returns the command is gone for every runner.
            await self._msg.ack_sync(timeout=self._timeout)
        self._done = True

    async def release(self) -> None:
        if self._done:
            return
        with translate_errors(f"release {self.command.operation_id}"):
            await self._msg.nak()
        self._done = True


class JetStreamCommandQueue:
    """Start commands on the commands stream of `settings`."""

    def __init__(self, nc: Client, settings: StoreSettings | None = None) -> None:
        self.settings = settings or StoreSettings()
        self.lease_seconds = self.settings.lease_seconds
        self.stream = self.settings.commands_stream_name
        self._nc = nc
        self._js = nc.jetstream(timeout=self.settings.request_timeout)
        self._subs: dict[str, JetStreamContext.PullSubscription] = {}
        # One fetch at a time per pool and process: concurrent fetches on one inbox can take
        # each other's "request expired" status and return early.
        self._locks: dict[str, asyncio.Lock] = {}
        self._ensured: set[str] = set()

    async def submit(self, command: StartCommand) -> None:
        pool = validate_pool(command.pool)
        subject = self.settings.wire(subjects.start_command_subject(pool))
        with translate_errors(f"submit start of {command.operation_id} to pool {pool}"):
            await self._js.publish(
                subject,
                _encode(command),
                stream=self.stream,
                headers={"Nats-Msg-Id": f"start-{command.operation_id}"},
            )

    async def _ensure_consumer(self, pool: str) -> None:
        """Check the pool's consumer exists (`trainjet setup` creates it) and take its ack
        wait as the lease: the consumer, not this process's settings, decides when an
        unrenewed command goes to another runner."""
        if pool not in self._ensured:
            self.lease_seconds = await require_consumer(self._js, self.settings, pool)
            self._ensured.add(pool)

    async def _subscription(self, pool: str) -> JetStreamContext.PullSubscription:
        sub = self._subs.get(pool)
        if sub is None:
            await self._ensure_consumer(pool)
            with translate_errors(f"bind to pool {pool}"):
                sub = await self._js.pull_subscribe_bind(
                    durable=self.settings.consumer_name(pool), stream=self.stream
                )
            self._subs[pool] = sub
        return sub

    async def next_claim(self, pool: str, timeout: float) -> JetStreamClaim | None:
        claims = await self.next_claims(pool, 1, timeout)
        return claims[0] if claims else None

    async def next_claims(self, pool: str, max_count: int, timeout: float) -> list[JetStreamClaim]:
        """The first command as soon as it is there (a fetch of several would wait its whole
        timeout for the rest), then, if the consumer says more are waiting, up to
        `max_count` in all in one more round trip."""
        validate_pool(pool)
        if max_count < 1:
            raise ValueError(f"max_count must be at least 1, not {max_count}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        lock = self._locks.setdefault(pool, asyncio.Lock())
        try:
            async with asyncio.timeout(timeout):
                await lock.acquire()
        except TimeoutError:
            return []
        try:
            sub = await self._subscription(pool)
            claims: list[JetStreamClaim] = []
            waiting = 0
            while not claims and (remaining := deadline - loop.time()) > 0.01:
                msgs = await self._fetch(sub, pool, 1, remaining)
                if not msgs:
                    return []
                claims = await self._claims(msgs)
                waiting = msgs[-1].metadata.num_pending or 0
            if claims and waiting > 0 and len(claims) < max_count:
                count = min(max_count - len(claims), waiting)
                claims += await self._claims(await self._take_waiting(pool, count))
            return claims
        finally:
            lock.release()

    async def _fetch(
        self, sub: JetStreamContext.PullSubscription, pool: str, count: int, timeout: float
    ) -> list[Msg]:
        with translate_errors(f"claim from pool {pool}"):
            try:
                return await sub.fetch(count, timeout=timeout)
            except TimeoutError:  # nats' own, or asyncio's from a batch fetch
                return []

    async def _take_waiting(self, pool: str, count: int) -> list[Msg]:
        """Up to `count` commands already waiting, by one no-wait pull request: the server
        answers at once, with the messages then a "no messages" status, or that status
        alone (another runner took them). `fetch` cannot be told not to linger, and a
        short-timeout fetch that gives up while the server delivers leaves the late
        commands in the subscription's queue, their lease running, until the runner's
        next fetch (on a full runner, after the lease: handed over for nothing). A failure
        here returns what came: the commands already claimed must not be dropped."""
        subject = f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{self.settings.consumer_name(pool)}"
        msgs: list[Msg] = []
        try:
            inbox = await self._nc.subscribe(self._nc.new_inbox())
        except Exception as exc:  # the claims in hand still count
            log.warning("taking more commands of pool %s failed: %s", pool, exc)
            return msgs
        try:
            request = _encode({"batch": count, "no_wait": True})
            await self._nc.publish(subject, request, reply=inbox.subject)
            while len(msgs) < count:
                msg = await inbox.next_msg(timeout=self.settings.request_timeout)
                if msg.headers and msg.headers.get("Status"):
                    break  # 404 no messages, 408 request expired: nothing more comes
                msgs.append(msg)
        except Exception as exc:  # as above; the rest come back after their lease
            log.warning("taking more commands of pool %s failed: %s", pool, exc)
        finally:
            with contextlib.suppress(Exception):
                await inbox.unsubscribe()
        return msgs

    async def _claims(self, msgs: list[Msg]) -> list[JetStreamClaim]:
        claims = []
        for msg in msgs:
            try:
                command = _decode_command(msg.data)
            except msgspec.DecodeError:
                # Not a start command (a foreign writer): drop it, never loop on it (a failed
                # drop brings it back, to be dropped again).
                with contextlib.suppress(Exception):
                    await msg.term()
                continue
            claims.append(
                JetStreamClaim(
                    msg, command, msg.metadata.num_delivered, self.settings.request_timeout
                )
            )
        return claims

    async def pending(self, pool: str) -> int:
        validate_pool(pool)
        await self._ensure_consumer(pool)
        with translate_errors(f"consumer info of pool {pool}"):
            info = await self._js.consumer_info(self.stream, self.settings.consumer_name(pool))
        return int(info.num_pending or 0)
