"""The read side's query API: what routes and services ask of the projections.

Callers ask questions (one operation, a page of them, an epoch history, the served model
versions, the fold's figures) instead of reaching into the view's dicts, so the view's layout
(its indexes, its snapshots) can change without touching a route. Every answer is the frozen
read model the fold produced, or a fresh container: callers never hold the view's own.

The view is looked up on each call: a projector replaces it when it loads a snapshot.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from trainjet.core.events import OperationStatus, OperationType
from trainjet.core.projections.listing import SortKey, SortOrder, sorted_page
from trainjet.core.projections.models import OperationInfo, OperationMetrics
from trainjet.core.projections.promotions import Promotion
from trainjet.core.projections.rejections import RejectedRecord, Rejections


class ReadableView(Protocol):
    """What the queries read of a projector's view (`OperationsView`), named here so that the
    facade does not import the projector that builds it."""

    operations: dict[str, OperationInfo]
    metrics: dict[str, OperationMetrics]
    counts: Counter[tuple[OperationStatus, OperationType]]
    promotions: Mapping[str, Promotion]
    rejected: Rejections
    last_seq: int
    applied: int


@dataclass(frozen=True)
class OperationFilter:
    """Which operations a page holds; every criterion given must hold (tags: all of them)."""

    status: OperationStatus | None = None
    operation_type: OperationType | None = None
    active_only: bool = False
    tags: Collection[str] = ()
    strategy: str | None = None
    symbol: str | None = None

    def counted(self, status: OperationStatus, operation_type: OperationType) -> bool:
        """Whether the (status, type) tally may hold matches."""
        return (
            (self.status is None or status is self.status)
            and (self.operation_type is None or operation_type is self.operation_type)
            and (not self.active_only or status.is_active)
        )

    @property
    def needs_inputs(self) -> bool:
        """Criteria no tally answers: the count is a walk over every operation."""
        return bool(self.tags or self.strategy or self.symbol)

    def matches(self, op: OperationInfo) -> bool:
        if not self.counted(op.status, op.operation_type):
            return False
        return not self.needs_inputs or self._inputs_match(op)

    def predicate(self) -> Callable[[OperationInfo], bool] | None:
        """`matches` as one closure over locals (a list walk calls it per operation), or
        None when every operation matches."""
        status, op_type, active_only = self.status, self.operation_type, self.active_only
        if status is None and op_type is None and not active_only and not self.needs_inputs:
            return None
        if self.needs_inputs:
            return self.matches

        def match(op: OperationInfo) -> bool:
            return (
                (status is None or op.status is status)
                and (op_type is None or op.operation_type is op_type)
                and (not active_only or op.status.is_active)
            )

        return match

    def _inputs_match(self, op: OperationInfo) -> bool:
        params = op.metadata.parameters
        if self.tags and not set(self.tags).issubset(op.tags):
            return False
        if self.strategy is not None and params.get("strategy_name") != self.strategy:
            return False
        if self.symbol is not None:
            symbols = params.get("symbols") or [op.metadata.symbol]
            if self.symbol.upper() not in {str(s).upper() for s in symbols}:
                return False
        return True


# (operation, its epoch history): a plain tuple, the cheapest row to build 1,000 of
PageRow = tuple[OperationInfo, OperationMetrics | None]


@dataclass(frozen=True)
class Page:
    rows: list[PageRow]
    total_count: int  # matches of the filter, all pages together
    active_count: int  # active operations, whatever the filter


@dataclass(frozen=True)
class FoldStats:
    """How far the fold got and what it refused (what /health and /metrics show)."""

    last_sequence: int
    operations: int
    active_operations: int
    events_applied: int
    rejected_messages: int
    rejected_by_reason: dict[str, int]
    last_rejected: list[RejectedRecord] = field(default_factory=list)


class ReadModel:
    """Queries over one projector's view (`Projector.query`)."""

    def __init__(self, view_of: Callable[[], ReadableView]) -> None:
        self._view_of = view_of

    def get(self, operation_id: str) -> OperationInfo | None:
        return self._view_of().operations.get(operation_id)

    def version(self) -> tuple[object, int]:
        """What every answer here reflects: the view (a projector replaces it when it loads a
        snapshot) and the last stream sequence it applied. The fold is the view's only writer
        and moves the sequence on each record, so answers at equal versions are equal (the
        clock aside: the duration of an operation still running)."""
        view = self._view_of()
        return view, view.last_seq

    def metrics(self, operation_id: str) -> OperationMetrics | None:
        """The operation's per-epoch history (None: unknown operation)."""
        return self._view_of().metrics.get(operation_id)

    def operations(self) -> list[OperationInfo]:
        """Every operation, oldest first (the order the log created them): a copy, so the
        caller may await while walking it."""
        return list(self._view_of().operations.values())

    def counts(self) -> dict[tuple[OperationStatus, OperationType], int]:
        """Operations per (status, type), from the tally the fold keeps."""
        return dict(self._view_of().counts)  # zeros kept: a gauge that fell to 0 still says so

    def promotions(self) -> Mapping[str, Promotion]:
        """Model name -> the version `predict` serves (an immutable mapping: the fold
        replaces it on each promotion, so holding it is holding one moment)."""
        return self._view_of().promotions

    def promotion(self, model_name: str) -> Promotion | None:
        return self._view_of().promotions.get(model_name)

    def stats(self, rejected_latest: int = 10) -> FoldStats:
        view = self._view_of()
        return FoldStats(
            last_sequence=view.last_seq,
            operations=len(view.operations),
            active_operations=sum(n for (st, _), n in view.counts.items() if st.is_active),
            events_applied=view.applied,
            rejected_messages=len(view.rejected),
            rejected_by_reason=dict(view.rejected.counts),
            last_rejected=list(view.rejected[-rejected_latest:]) if rejected_latest else [],
        )

    def page(
        self,
        where: OperationFilter,
        *,
        offset: int,
        limit: int,
        sort: SortKey | None = None,
        order: SortOrder = SortOrder.DESC,
        now: datetime,
    ) -> Page:
        """One page of the operations `where` selects, newest first unless sorted.

        Counts come from the per-(status, type) tallies and the page from a walk that stops
        once it is full, so a page costs O(offset + limit), not a sort of every operation.
        Sorting, and criteria no tally answers (tags, strategy, symbol), walk every one.
        """
        view = self._view_of()
        counts, metrics = view.counts, view.metrics
        if where.needs_inputs:
            total = sum(1 for op in view.operations.values() if where.matches(op))
        else:
            total = sum(n for (st, ty), n in counts.items() if where.counted(st, ty))
        active = sum(n for (st, _), n in counts.items() if st.is_active)
        match = where.predicate()
        ops = view.operations.values()
        matching: Iterable[OperationInfo]
        if sort is not None:
            matching = ops if match is None else filter(match, ops)
            chosen = sorted_page(matching, metrics, sort, order, offset, limit, now)
        else:
            # dicts keep insertion order: operations in the order operation_created applied
            newest_first = reversed(ops)
            matching = newest_first if match is None else filter(match, newest_first)
            chosen = list(itertools.islice(matching, offset, offset + limit))
        get = metrics.get
        rows = [(op, get(op.operation_id)) for op in chosen]
        return Page(rows=rows, total_count=total, active_count=active)
