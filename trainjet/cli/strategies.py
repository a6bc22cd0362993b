"""`trainjet strategies list|show|validate`: the strategy catalogue through the API.

`validate` is meant for scripts and CI as much as for people: exit 0 when the strategy is
valid (warnings allowed), 1 when it has errors, 2 when the name is bad or the file is missing.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from trainjet.cli.client import ApiClient
from trainjet.cli.context import settings_from
from trainjet.cli.output import console, print_json

app = typer.Typer(help="List and validate strategies.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output")]
SEVERITY_STYLE = {"error": "red", "warning": "yellow"}


def _accuracy(row: dict[str, Any]) -> str:
    value = (row.get("latest_metrics") or {}).get("accuracy")
    return f"{value:.1%}" if isinstance(value, int | float) else "-"


def strategies_table(rows: list[dict[str, Any]]) -> Table:
    """One line per strategy; `strategies show NAME` has the description and the rest."""
    table = Table(title=f"Strategies ({len(rows)})")
    for column in ("name", "valid", "symbols", "timeframes", "indicators", "trained versions",
                   "test acc"):  # fmt: skip
        table.add_column(column, no_wrap=column == "name")
    for row in rows:
        versions = ", ".join(f"v{v}" for v in row.get("available_versions") or [])
        table.add_row(
            row["name"],
            "[green]yes[/green]" if row["is_valid"] else "[red]no[/red]",
            ", ".join(row.get("symbols") or []),
            ", ".join(row.get("timeframes") or []),
            ", ".join(str(i.get("id") or i.get("type")) for i in row.get("indicators") or []),
            versions or "-",
            _accuracy(row),
        )
    return table


def strategy_table(row: dict[str, Any]) -> Table:
    table = Table(show_header=False, title=row["name"])
    table.add_column("field", style="bold")
    table.add_column("value")
    for key in ("description", "version", "symbols", "timeframes", "training_status",
                "available_versions", "latest_model_id", "latest_training_date"):  # fmt: skip
        value = row.get(key)
        table.add_row(key, ", ".join(map(str, value)) if isinstance(value, list) else str(value))
    table.add_row("test accuracy", _accuracy(row))
    table.add_row("valid", "yes" if row["is_valid"] else "no")
    for error in row.get("errors") or []:
        table.add_row("error", f"[red]{error}[/red]")
    return table


@app.command("list")
def list_strategies(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the strategies the API can train, with their training status."""
    with ApiClient(settings_from(ctx)) as api:
        body = api.get("/strategies")
    if as_json:
        print_json(body["strategies"])
        return
    console.print(strategies_table(body["strategies"]))
    for skipped in body.get("skipped") or []:
        console.print(f"[yellow]skipped {skipped['file']}: {skipped['reason']}[/yellow]")


@app.command("show")
def show(ctx: typer.Context, name: str, as_json: JsonOpt = False) -> None:
    """Show one strategy and its trained models."""
    with ApiClient(settings_from(ctx)) as api:
        body = api.get(f"/strategies/{quote(name, safe='')}")
    body.pop("success", None)
    if as_json:
        print_json(body)
        return
    console.print(strategy_table(body))


@app.command("validate")
def validate(ctx: typer.Context, name: str, as_json: JsonOpt = False) -> None:
    """Check a strategy file and print every problem (exit 0 valid, 1 invalid)."""
    with ApiClient(settings_from(ctx)) as api:
        result = api.post(f"/strategies/validate/{quote(name, safe='')}")
    if as_json:
        print_json(result)
    else:
        style = "green" if result["valid"] else "red"
        console.print(f"[{style}]{result['message']}[/{style}]")
        for issue in result["issues"]:
            severity = issue["severity"]
            colour = SEVERITY_STYLE.get(severity, "white")
            console.print(
                f"  [{colour}]{severity}[/{colour}] {issue['category']}: {issue['message']}"
            )
        for suggestion in result.get("suggestions") or []:
            console.print(f"  [dim]hint: {suggestion}[/dim]")
    raise typer.Exit(0 if result["valid"] else 1)
