"""Tags and notes on operations: the write side of what people add to a run.

They are events in the operation's log (`operation_tagged`, `note_added`) rather than a side
table, so replay, audits and every reader of the stream see who labelled what and when. Input
is checked here, before anything is appended: a rejected request leaves no event behind.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from trainjet.core.errors import Unprocessable
from trainjet.core.events import EventFactory, NoteAdded, OperationTagged
from trainjet.core.projections import OperationInfo
from trainjet.core.projections.projector import Projector
from trainjet.core.store.port import EventStore

# Short, lower-case and free of spaces and wildcards, so a tag reads the same in a URL, a
# shell, a file name and a NATS subject filter.
TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
MAX_TAGS = 32  # per operation: labels, not a data store
MAX_NOTE_CHARS = 2000
MAX_NOTES = 200
MAX_BY_CHARS = 64
TAG_RULE = (
    "1-40 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
)


def normalize_tag(raw: str) -> str:
    """The canonical form of a tag (trimmed, lower-cased), or Unprocessable saying the rule."""
    tag = raw.strip().lower()
    if not TAG_PATTERN.match(tag):
        raise Unprocessable(f"Invalid tag {raw!r}: a tag is {TAG_RULE}")
    return tag


def normalize_tags(raw: Iterable[str]) -> list[str]:
    return sorted({normalize_tag(t) for t in raw})


def _author(by: str | None) -> str:
    text = (by or "api").strip()
    if not text or len(text) > MAX_BY_CHARS or not text.isprintable():
        raise Unprocessable(f"Invalid 'by' {by!r}: use 1-{MAX_BY_CHARS} printable characters")
    return text


class OperationAnnotations:
    """`tag` and `note`: validate, append to the operation's subject, wait for the projector
    (read-your-writes, like every other write) and return the operation as it now reads."""

    def __init__(
        self,
        store: EventStore,
        projector: Projector,
        get: Callable[[str], OperationInfo],
    ) -> None:
        self.store = store
        self.projector = projector
        # the orchestrator's lookup: one place says what "not found" is
        self._get = get

    async def tag(
        self,
        operation_id: str,
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
        by: str | None = None,
    ) -> OperationInfo:
        info = self._get(operation_id)
        adding, removing = normalize_tags(add), normalize_tags(remove)
        author = _author(by)
        if not adding and not removing:
            raise Unprocessable("Nothing to do: give at least one tag in 'add' or 'remove'")
        both = sorted(set(adding) & set(removing))
        if both:
            raise Unprocessable(f"Tag(s) {', '.join(both)} both added and removed: pick one")
        unknown = [t for t in removing if t not in info.tags]
        if unknown:
            has = ", ".join(info.tags) or "none"
            raise Unprocessable(
                f"Operation {operation_id} has no tag {', '.join(unknown)} to remove "
                f"(its tags: {has})"
            )
        result = (set(info.tags) - set(removing)) | set(adding)
        if len(result) > MAX_TAGS:
            raise Unprocessable(
                f"Too many tags: an operation holds at most {MAX_TAGS} (this would make "
                f"{len(result)}); remove some first"
            )
        new = [t for t in adding if t not in info.tags]
        if not new and not removing:
            return info  # every tag is already there: nothing happened, nothing to record
        event = EventFactory(operation_id).make(
            OperationTagged, add=new, remove=removing, by=author
        )
        await self.projector.wait_until(await self.store.append(event))
        return self._get(operation_id)

    async def note(self, operation_id: str, text: str, by: str | None = None) -> OperationInfo:
        info = self._get(operation_id)
        body = text.strip()
        author = _author(by)
        if not body:
            raise Unprocessable("Empty note: write some text")
        if len(body) > MAX_NOTE_CHARS:
            raise Unprocessable(
                f"Note too long: {len(body)} characters, at most {MAX_NOTE_CHARS} allowed"
            )
        if len(info.notes) >= MAX_NOTES:
            raise Unprocessable(f"Operation {operation_id} already has {MAX_NOTES} notes")
        event = EventFactory(operation_id).make(NoteAdded, text=body, by=author)
        await self.projector.wait_until(await self.store.append(event))
        return self._get(operation_id)
