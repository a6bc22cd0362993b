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

from trainjet.core.events.inputs import INPUT_TYPES
from trainjet.core.events.model import EVENT_TYPES, AnyEvent, Event, type_name

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def _default_version(event_type: type[Event]) -> int:
    version = next(
        f.default for f in msgspec.structs.fields(event_type) if f.name == "schema_version"
    )
    assert isinstance(version, int)
    return version


# Current schema version of each type (the class's `schema_version` default). Bump one only
# with an upcaster from the old version.
CURRENT_VERSION: dict[str, int] = {type_name(t): _default_version(t) for t in EVENT_TYPES}


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


_INPUT_KINDS = frozenset(t.__struct_config__.tag for t in INPUT_TYPES)


def operation_created_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 stored `inputs` as an untagged object (`{}` when there were none): tag it with the
    operation type, which is what v2's `kind` says."""
    inputs, kind = payload.get("inputs"), payload.get("operation_type")
    if not inputs:
        payload["inputs"] = None
    elif isinstance(inputs, dict) and kind in _INPUT_KINDS:
        payload["inputs"] = {**inputs, "kind": kind}
    return payload  # anything else does not decode: reported as malformed


UPCASTERS = UpcasterRegistry()
UPCASTERS.register("operation_created", 1, operation_created_v1_to_v2)

# each event class's wire type, looked up per decoded event (a dict, not a call, on a hot path)
_TAGS: dict[type[Event], str] = {t: type_name(t) for t in EVENT_TYPES}
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
        if event.schema_version != self.upcasters.current[_TAGS[type(event)]]:
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
