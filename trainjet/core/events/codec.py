"""JSON on the wire: one Encoder and one typed Decoder, built once, plus the upcaster hook.

Decoding is typed and fast for current events. Only an event whose `schema_version` is older
than the current one for its type takes the slow path: decode to a dict, run the registered
upcasters in order, then convert. Anything that still does not fit raises `MalformedEvent`,
which readers record and skip (one bad message never stops a projection).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from trainjet.core.events.model import EVENT_TYPES, AnyEvent, Event, type_name

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

# Current schema version of each type. Bump one only with an upcaster from the old version.
CURRENT_VERSION: dict[str, int] = {type_name(t): 1 for t in EVENT_TYPES}


class MalformedEvent(ValueError):
    """A payload that is not a known, decodable event (even after upcasting)."""


class UpcasterRegistry:
    """Upcasters keyed by (type, from_version); each returns the payload at from_version + 1."""

    def __init__(self, current: dict[str, int] | None = None) -> None:
        self.current = dict(current or CURRENT_VERSION)
        self._steps: dict[tuple[str, int], Upcaster] = {}

    def register(self, event_type: str, from_version: int, upcaster: Upcaster) -> None:
        self._steps[(event_type, from_version)] = upcaster

    def upcast(self, payload: dict[str, Any]) -> dict[str, Any]:
        event_type = payload.get("type")
        if not isinstance(event_type, str) or event_type not in self.current:
            raise MalformedEvent(f"unknown event type {event_type!r}")
        version = payload.get("schema_version", 1)
        if not isinstance(version, int):
            raise MalformedEvent(f"schema_version must be an integer, got {version!r}")
        target = self.current[event_type]
        if version > target:
            raise MalformedEvent(
                f"{event_type} schema_version {version} is newer than this trainjet ({target}); "
                "upgrade trainjet to read it"
            )
        while version < target:
            step = self._steps.get((event_type, version))
            if step is None:
                raise MalformedEvent(f"no upcaster for {event_type} v{version} -> v{version + 1}")
            payload = step(dict(payload))
            version += 1
            payload["schema_version"] = version
        return payload


UPCASTERS = UpcasterRegistry()

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)


class EventCodec:
    """Encode/decode events; holds the upcaster registry so tests can use their own."""

    def __init__(self, upcasters: UpcasterRegistry | None = None) -> None:
        self.upcasters = upcasters or UPCASTERS

    @staticmethod
    def encode(event: Event) -> bytes:
        return _encoder.encode(event)

    def decode(self, data: bytes | memoryview) -> AnyEvent:
        try:
            event: AnyEvent = _decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return self._decode_slow(data)
        if event.schema_version != self.upcasters.current[type_name(type(event))]:
            return self._decode_slow(data)
        return event

    def _decode_slow(self, data: bytes | memoryview) -> AnyEvent:
        try:
            payload = msgspec.json.decode(data)
        except msgspec.DecodeError as exc:
            raise MalformedEvent(f"not JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise MalformedEvent("event payload must be a JSON object")
        payload = self.upcasters.upcast(payload)
        try:
            event: AnyEvent = msgspec.convert(payload, AnyEvent)
        except msgspec.ValidationError as exc:
            raise MalformedEvent(f"{payload.get('type')}: {exc}") from exc
        return event


CODEC = EventCodec()


def encode(event: Event) -> bytes:
    return EventCodec.encode(event)


def decode(data: bytes | memoryview) -> AnyEvent:
    return CODEC.decode(data)


def to_builtins(event: Event) -> dict[str, Any]:
    """The event as the JSON object any client sees (for the REST events history)."""
    result = msgspec.to_builtins(event)
    assert isinstance(result, dict)
    return result
