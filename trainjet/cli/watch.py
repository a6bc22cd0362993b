"""`trainjet ops tail`: watch a running operation with the same live display as `train`.

Watching is not owning: Ctrl-C detaches (exit 0) and says the operation goes on; only
`trainjet ops cancel` stops it. Once the operation ends, the exit code says how: 0 completed,
1 failed, 130 cancelled (as `train`). Without a terminal the display is one line per phase
and per epoch, as `train` prints it.
"""

from __future__ import annotations

import asyncio

from rich.live import Live

from trainjet.cli.follow import aiter_events
from trainjet.cli.live import TrainingView
from trainjet.cli.output import console, err_console
from trainjet.cli.train import EXIT, _plain_line, print_result
from trainjet.config import Settings


def watch_operation(settings: Settings, operation_id: str) -> int:
    view = TrainingView(operation_id)
    try:
        asyncio.run(_watch(settings, view))
    except KeyboardInterrupt:
        err_console.print(
            f"detached from {operation_id}: the operation goes on "
            f"(`trainjet ops tail {operation_id}` follows it again, "
            f"`trainjet ops cancel {operation_id}` stops it)"
        )
        return 0
    if view.result is not None and "training_metrics" in view.result:
        print_result(view)
    else:
        detail = f": {view.error}" if view.error else ""
        console.print(f"{operation_id} {view.status}{detail}")
    return EXIT.get(view.status, 1)


async def _watch(settings: Settings, view: TrainingView) -> None:
    if console.is_terminal:
        # as in `train`: the view renders itself on each frame; applying is bookkeeping
        with Live(view, console=console, refresh_per_second=10, transient=False):
            async for record in aiter_events(settings, view.operation_id):
                view.apply(record.event)
        return
    async for record in aiter_events(settings, view.operation_id):
        view.apply(record.event)
        _plain_line(view, record.event)
