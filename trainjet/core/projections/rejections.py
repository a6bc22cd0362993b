"""What the fold refused to apply, and why.

Anyone who can publish on an event subject can put anything on the log, so the fold checks
each event before it lets it change an operation. What it refuses is counted per reason and
the latest few are kept as examples for `/health`; both are bounded, so a flood of bad
messages cannot grow memory (and a 900 KB payload is never kept: text is clipped).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterator
from typing import overload

import msgspec

# Why an event was not applied. The order is the order the fold checks them in.
MALFORMED = "malformed"  # not a decodable event (bad JSON, unknown type or version)
INVALID_OPERATION_ID = "invalid_operation_id"  # not an id trainjet could have minted
SUBJECT_MISMATCH = "subject_mismatch"  # the body names another operation than the subject
NAIVE_TIMESTAMP = "naive_timestamp"  # `occurred_at` without a time zone cannot be ordered
ORPHAN = "orphan"  # an event of an operation that was never created
DUPLICATE_EVENT_ID = "duplicate_event_id"  # the same event published twice
REASONS = (
    MALFORMED,
    INVALID_OPERATION_ID,
    SUBJECT_MISMATCH,
    NAIVE_TIMESTAMP,
    ORPHAN,
    DUPLICATE_EVENT_ID,
)

_CLIP = 200  # characters kept of any text that came from the message


def clip(text: str, limit: int = _CLIP) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class RejectedRecord(msgspec.Struct, frozen=True):
    seq: int
    subject: str
    error: str
    reason: str = MALFORMED
    operation_id: str | None = None
    event_id: str | None = None


class Rejections:
    """Counts per reason and the latest `keep` examples. Reads like the list it replaced
    (`len`, iteration, indexing and slicing over the examples kept)."""

    def __init__(self, keep: int = 50) -> None:
        self.counts: Counter[str] = Counter()
        self.latest: deque[RejectedRecord] = deque(maxlen=keep)

    def add(
        self,
        seq: int,
        subject: str,
        reason: str,
        error: str,
        operation_id: str | None = None,
        event_id: str | None = None,
    ) -> RejectedRecord:
        record = RejectedRecord(
            seq=seq,
            subject=clip(subject),
            error=clip(error, 500),
            reason=reason,
            operation_id=None if operation_id is None else clip(operation_id),
            event_id=None if event_id is None else clip(event_id),
        )
        self.counts[reason] += 1
        self.latest.append(record)
        return record

    @classmethod
    def restore(
        cls, counts: dict[str, int], latest: list[RejectedRecord], keep: int = 50
    ) -> Rejections:
        """Rejections as a snapshot recorded them."""
        rejections = cls(keep)
        rejections.counts.update(counts)
        rejections.latest.extend(latest)
        return rejections

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rejections):
            return NotImplemented
        return self.counts == other.counts and list(self.latest) == list(other.latest)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __len__(self) -> int:
        """Every rejection so far, not only the examples kept."""
        return sum(self.counts.values())

    def __iter__(self) -> Iterator[RejectedRecord]:
        return iter(self.latest)

    @overload
    def __getitem__(self, index: int) -> RejectedRecord: ...
    @overload
    def __getitem__(self, index: slice) -> list[RejectedRecord]: ...
    def __getitem__(self, index: int | slice) -> RejectedRecord | list[RejectedRecord]:
        return list(self.latest)[index]
