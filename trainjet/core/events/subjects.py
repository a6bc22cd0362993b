"""Subject and stream naming. One place, so every reader and writer agrees.

`trainjet.ops.<operation_id>.<event type>` carries events: `trainjet.ops.<id>.>` tails one
operation, `trainjet.ops.>` all of them. `trainjet.cmd.start.<pool>` carries start commands.
"""

from __future__ import annotations

import re

from trainjet.core.events.model import Event, type_name

EVENTS_PREFIX = "trainjet.ops"
COMMANDS_PREFIX = "trainjet.cmd"
ALL_EVENTS_FILTER = f"{EVENTS_PREFIX}.>"

# Operation ids become one subject token: no dots, spaces or wildcards.
OPERATION_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
POOL_PATTERN = re.compile(r"^[a-z0-9_-]{1,32}$")


def is_valid_operation_id(operation_id: str) -> bool:
    return bool(OPERATION_ID_PATTERN.match(operation_id))


def event_subject(event: Event) -> str:
    return f"{EVENTS_PREFIX}.{event.operation_id}.{type_name(type(event))}"


def operation_filter(operation_id: str) -> str:
    return f"{EVENTS_PREFIX}.{operation_id}.>"


def operation_event_subject(operation_id: str, event_type: str) -> str:
    return f"{EVENTS_PREFIX}.{operation_id}.{event_type}"


def start_command_subject(pool: str) -> str:
    return f"{COMMANDS_PREFIX}.start.{pool}"


def operation_id_of(subject: str) -> str:
    """The operation id token of an event subject."""
    parts = subject.split(".")
    return parts[2] if len(parts) >= 4 else ""
