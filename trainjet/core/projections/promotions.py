"""Which model version `predict` serves, folded from `model_promoted` events.

The served version is a decision people make, so it lives in the log like every other fact:
the API rebuilds it on start-up from the stream, and an audit can see who promoted what when.
A promotion is independent of the operation's state (the run that produced a model is long
finished when someone promotes it), so this fold looks at `model_promoted` alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import msgspec

from trainjet.core.events import AnyEvent, ModelPromoted


class Promotion(msgspec.Struct, frozen=True, kw_only=True):
    """The promoted version of one model name, and how it got there."""

    model_name: str
    version: str
    operation_id: str
    promoted_at: datetime
    by: str = "api"
    previous_version: str | None = None


def evolve_promotions(
    state: Mapping[str, Promotion], event: AnyEvent
) -> Mapping[str, Promotion] | None:
    """The promotions after `event`, or None when the event is not a promotion (no change).

    The last promotion of a name wins: promoting an older version again is how a user rolls
    back, so there is no "newer version" rule here.
    """
    if not isinstance(event, ModelPromoted):
        return None
    promotion = Promotion(
        model_name=event.model_name,
        version=event.version,
        operation_id=event.operation_id,
        promoted_at=event.occurred_at,
        by=event.by,
        previous_version=event.previous_version,
    )
    return {**state, event.model_name: promotion}
