"""`trainjet ops tag|note|compare`: label runs and put them side by side.

Tags and notes are written through the API, which appends them to the run's log; `compare`
reads the API's compare view (summaries, per-epoch curves, configuration diff).
"""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from trainjet.cli.client import ApiClient, CliError
from trainjet.cli.context import settings_from
from trainjet.cli.output import console, print_json
from trainjet.cli.run_tables import compare_epochs_table, compare_summary_table, config_diff_table

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output")]


def author() -> str:
    """Who the log says labelled the run: the local user, marked as coming from the CLI."""
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


def _not_found_hint(exc: CliError) -> CliError:
    if exc.status_code == 404:
        return CliError(
            f"{exc.message}; `trainjet ops list` shows the known operation ids", exc.exit_code
        )
    return exc


def tag(
    ctx: typer.Context,
    operation_id: Annotated[str, typer.Argument(help="Operation id")],
    tags: Annotated[list[str] | None, typer.Argument(help="Tags to add")] = None,
    remove: Annotated[
        list[str] | None, typer.Option("--remove", "-r", help="A tag to remove (repeatable)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add tags to an operation (and/or remove some with --remove)."""
    if not tags and not remove:
        raise CliError("give at least one tag to add, or --remove TAG", 2)
    body = {"add": tags or [], "remove": remove or [], "by": author()}
    try:
        with ApiClient(settings_from(ctx)) as api:
            data = api.post(f"/operations/{operation_id}/tags", json=body)["data"]
    except CliError as exc:
        raise _not_found_hint(exc) from exc
    if as_json:
        print_json(data)
        return
    console.print(f"{operation_id}: tags {', '.join(data['tags']) or '(none)'}")


def note(
    ctx: typer.Context,
    operation_id: Annotated[str, typer.Argument(help="Operation id")],
    text: Annotated[str, typer.Argument(help="The note (quote it)")],
    as_json: JsonOpt = False,
) -> None:
    """Add a note to an operation."""
    try:
        with ApiClient(settings_from(ctx)) as api:
            data = api.post(
                f"/operations/{operation_id}/notes", json={"text": text, "by": author()}
            )["data"]
    except CliError as exc:
        raise _not_found_hint(exc) from exc
    if as_json:
        print_json(data)
        return
    console.print(f"{operation_id}: {len(data['notes'])} note(s)")


def compare(
    ctx: typer.Context,
    operation_ids: Annotated[list[str], typer.Argument(help="2 to 5 operation ids")],
    as_json: JsonOpt = False,
) -> None:
    """Compare 2-5 runs: their metrics side by side and the differences of their configs."""
    if not 2 <= len(operation_ids) <= 5:
        raise CliError(f"compare needs 2 to 5 operation ids (got {len(operation_ids)})", 2)
    try:
        with ApiClient(settings_from(ctx)) as api:
            data = api.get("/operations/compare", params=[("ids", i) for i in operation_ids])
    except CliError as exc:
        raise _not_found_hint(exc) from exc
    data = data["data"]
    if as_json:
        print_json(data)
        return
    ids = [op["operation_id"] for op in data["operations"]]
    console.print(compare_summary_table(data["operations"]))
    console.print(compare_epochs_table(ids, data["metrics"]))
    if data["config_diff"]:
        console.print(config_diff_table(ids, data["config_diff"]))
    else:
        console.print("Same configuration: no difference in strategy, inputs, seed or data.")
