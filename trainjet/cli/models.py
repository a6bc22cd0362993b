"""`trainjet models list|show|predict|save|versions|promote|download`: stored models through the API.

The CLI never opens model files itself: the API is the one reader, so what a script sees with
`--json` is exactly what any other client gets. Exit codes: 0 ok, 2 bad input or not found,
1 a server-side failure (`ApiClient` maps the HTTP status).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from trainjet.cli.client import ApiClient, CliError
from trainjet.cli.context import settings_from
from trainjet.cli.output import console, print_json

app = typer.Typer(help="List stored models, inspect one, predict with it.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output")]
SIGNAL_STYLE = {"BUY": "green", "SELL": "red", "HOLD": "yellow"}


def _pct(value: Any) -> str:
    return f"{value:.1%}" if isinstance(value, int | float) else "-"


def _when(value: Any) -> str:
    return str(value or "")[:19].replace("T", " ")


def models_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title=f"Models ({len(rows)})")
    for column in ("model id", "name", "strategy", "symbols", "timeframes", "created",
                   "train acc", "test acc", "size"):  # fmt: skip
        table.add_column(column, justify="right" if column.endswith(("acc", "size")) else "left")
    for row in rows:
        named = row["model_name"] != row["model_id"]
        table.add_row(
            row["model_id"],
            row["model_name"] if named else "",
            row.get("strategy") or "",
            ", ".join(row.get("symbols") or []),
            ", ".join(row.get("timeframes") or []),
            _when(row.get("created_at")),
            _pct(row.get("training_accuracy")),
            _pct(row.get("test_accuracy")),
            f"{(row.get('size_bytes') or 0) / 1024:.0f} KiB",
        )
    return table


def model_table(model: dict[str, Any]) -> Table:
    table = Table(show_header=False, title=model["model_id"])
    table.add_column("field", style="bold")
    table.add_column("value")
    spec = model.get("model_spec") or {}
    test = model.get("test_metrics") or {}
    rows = [
        ("name", model["model_name"]),
        ("strategy", model.get("strategy") or ""),
        ("symbols", ", ".join(model.get("symbols") or [])),
        ("timeframes", ", ".join(model.get("timeframes") or [])),
        ("version", str(model.get("version") or "")),
        ("created", _when(model.get("created_at"))),
        ("description", model.get("description") or ""),
        ("layers", f"{spec.get('input_size', '?')} -> {spec.get('hidden_layers', '?')} -> 3"),
        ("features", f"{len(model.get('feature_names') or [])}"),
        ("train accuracy", _pct(model.get("training_accuracy"))),
        ("test accuracy", _pct(model.get("test_accuracy"))),
        ("test f1", _pct(test.get("f1_score"))),
        ("path", model.get("path") or ""),
    ]
    for key, value in rows:
        table.add_row(key, value)
    return table


@app.command("list")
def list_models(
    ctx: typer.Context,
    strategy: Annotated[str | None, typer.Option("--strategy", "-s", help="Only this one")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List stored models (versions and saved copies), newest first."""
    params = {"strategy": strategy} if strategy else {}
    with ApiClient(settings_from(ctx)) as api:
        rows = api.get("/models", params=params)["models"]
    if as_json:
        print_json(rows)
        return
    console.print(models_table(rows) if rows else "No models stored yet: train one first.")


@app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model id, saved name or strategy name")],
    as_json: JsonOpt = False,
) -> None:
    """Show one model: where it came from, its metrics and architecture."""
    with ApiClient(settings_from(ctx)) as api:
        model = api.get(f"/models/{quote(name, safe='')}")["model"]
    if as_json:
        print_json(model)
        return
    console.print(model_table(model))


@app.command("predict")
def predict(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model id, saved name or strategy name")],
    symbol: Annotated[str, typer.Option("--symbol", "-s", help="A symbol the model knows")],
    date: Annotated[
        str | None, typer.Option("--date", "-d", help="YYYY-MM-DD[THH:MM]; default: last bar")
    ] = None,
    timeframe: Annotated[str | None, typer.Option("--timeframe", "-t")] = None,
    start_date: Annotated[str | None, typer.Option(help="History starts here")] = None,
    as_json: JsonOpt = False,
) -> None:
    """BUY / HOLD / SELL for one bar, with the probabilities and the input features."""
    body = {"model_name": name, "symbol": symbol, "test_date": date, "timeframe": timeframe,
            "start_date": start_date}  # fmt: skip
    with ApiClient(settings_from(ctx), timeout=120.0) as api:  # a first load imports torch
        result = api.post("/models/predict", json={k: v for k, v in body.items() if v})
    if as_json:
        print_json(result)
        return
    pred = result["prediction"]
    action = str(pred.get("action") or pred["signal"]).upper()  # `signal` is ktrdr's lowercase
    style = SIGNAL_STYLE.get(action, "white")
    console.print(
        f"{result['model_id']} · {result['symbol']} {result['timeframe']} bar "
        f"{_when(result['bar_time'])} UTC: [bold {style}]{action}[/bold {style}] "
        f"({pred['confidence']:.1%})"
    )
    table = Table("signal", "probability")
    for signal, p in pred["probabilities"].items():
        table.add_row(signal, f"{p:.1%}")
    console.print(table)


@app.command("save")
def save(
    ctx: typer.Context,
    operation_id: Annotated[str, typer.Argument(help="A completed training operation")],
    name: Annotated[str, typer.Argument(help="Name to register the model under")],
    description: Annotated[str, typer.Option("--description", "-m")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Register a named copy of a completed training's model."""
    body = {"task_id": operation_id, "model_name": name, "description": description}
    with ApiClient(settings_from(ctx)) as api:
        saved = api.post("/models/save", json=body)
    if as_json:
        print_json(saved)
        return
    console.print(
        f"saved {saved['model_id']} ({saved['model_size_mb']:.3f} MB) from {operation_id}"
    )


def versions_table(name: str, rows: list[dict[str, Any]]) -> Table:
    """Versions and operation ids are copied into the next command: never cut."""
    table = Table(title=f"{name}: versions ({len(rows)}; predict serves the marked one)")
    ops = [str(row.get("operation_id") or "-") for row in rows]
    versions = [str(row["version"]) for row in rows]
    table.add_column("version", no_wrap=True, min_width=max(map(len, ["version", *versions])))
    table.add_column("served", no_wrap=True)
    table.add_column("operation", no_wrap=True, min_width=max(map(len, ["operation", *ops])))
    table.add_column("created UTC", no_wrap=True)
    table.add_column("test acc", justify="right", no_wrap=True)
    for row, version, op in zip(rows, versions, ops, strict=True):
        test = row.get("test_metrics") or {}
        served = "promoted" if row["promoted"] else "newest"
        table.add_row(
            version,
            f"[green]{served}[/green]" if row["served"] else "",
            op,
            _when(row.get("created_at"))[5:16],
            _pct(test.get("test_accuracy")),
        )
    return table


@app.command("versions")
def versions(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model name: the strategy it was trained from")],
    as_json: JsonOpt = False,
) -> None:
    """List a model's versions and which one `predict` serves."""
    with ApiClient(settings_from(ctx)) as api:
        rows = api.get(f"/models/{quote(name, safe='')}/versions")["data"]
    if as_json:
        print_json(rows)
        return
    console.print(versions_table(name, rows))


@app.command("promote")
def promote(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model name: the strategy it was trained from")],
    version: Annotated[str, typer.Argument(help="Version, e.g. EURUSD_1h_v3 (or v3)")],
    as_json: JsonOpt = False,
) -> None:
    """Make VERSION the one `predict` serves for NAME (recorded in the log)."""
    from trainjet.cli.ops_runs import author

    with ApiClient(settings_from(ctx)) as api:
        row = api.post(
            f"/models/{quote(name, safe='')}/promote", json={"version": version, "by": author()}
        )["data"]
    if as_json:
        print_json(row)
        return
    console.print(f"{name}: {row['version']} promoted; predict now serves {row['model_id']}")


@app.command("download")
def download(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model name: the strategy it was trained from")],
    version: Annotated[str, typer.Argument(help="Version, e.g. EURUSD_1h_v3 (or v3)")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write (default: NAME_VERSION.tar.gz)"),
    ] = None,
) -> None:
    """Download a version's directory (weights, config, metrics) as a .tar.gz."""
    path = f"/models/{quote(name, safe='')}/versions/{quote(version, safe='')}/archive"
    with ApiClient(settings_from(ctx), timeout=120.0) as api:
        data, filename = api.download(path)
    target = output or Path(filename or f"{name}_{version}.tar.gz")
    try:
        target.write_bytes(data)
    except OSError as exc:
        raise CliError(f"cannot write {target}: {exc.strerror or exc}", 2) from exc
    console.print(f"wrote {target} ({len(data) / 1024:.0f} KiB)")
