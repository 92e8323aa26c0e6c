"""``loopwatch runs ...``: list, show, compare and export recorded runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from loopwatch.cli import app, console

runs = typer.Typer(help="List, show, compare and export runs in the run store.", no_args_is_help=True)
app.add_typer(runs, name="runs")

StoreOpt = Annotated[
    Path | None,
    typer.Option("--store", help="Run store file (default $LOOPWATCH_STORE or ~/.local/share/loopwatch/runs.duckdb)."),
]


def _open(store: Path | None) -> Any:
    from loopwatch.store import RunStore

    return RunStore(store, read_only=True)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested JSON → ``{"a.b[0].c": leaf}``.

    Examples
    --------
    >>> flatten({"a": {"b": [1, {"c": 2}]}})
    {'a.b[0]': 1, 'a.b[1].c': 2}
    """
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}[{i}]"))
    else:
        out[prefix] = value
    return out


@runs.command("list")
def list_runs(store: StoreOpt = None, limit: Annotated[int, typer.Option(help="Most recent N.")] = 50,
              as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List recorded runs, newest first."""
    with _open(store) as s:
        records = s.list_runs(limit=limit)
    if as_json:
        print(json.dumps([{**r.__dict__, "created_at": r.created_at.isoformat()} for r in records], indent=2))
        return
    table = Table(title=f"Runs ({len(records)} shown)")
    for col in ("run id", "created (UTC)", "deal book", "scenarios", "paths", "seed", "version"):
        table.add_column(col)
    for r in records:
        table.add_row(r.run_id, f"{r.created_at:%Y-%m-%d %H:%M:%S}", r.deal_book, r.scenarios,
                      f"{r.paths:,}", str(r.seed), r.version)
    console.print(table)


@runs.command("show")
def show(run_id: str, store: StoreOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show one run: its parameters and summary (id, unique prefix or 'latest')."""
    with _open(store) as s:
        record, summary, params = s.run(run_id)
    if as_json:
        print(json.dumps({"run": {**record.__dict__, "created_at": record.created_at.isoformat()},
                          "parameters": params, "summary": summary}, indent=2))
        return
    console.print(f"[bold]{record.run_id}[/]  {record.deal_book}  scenarios={record.scenarios}  "
                  f"paths={record.paths:,}  seed={record.seed}  v{record.version}")
    table = Table(title="Summary")
    table.add_column("key")
    table.add_column("value", justify="right")
    for key, value in flatten(summary).items():
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    console.print(table)


@runs.command("compare")
def compare(first: str, second: str, store: StoreOpt = None,
            all_keys: Annotated[bool, typer.Option("--all", help="Show equal values too.")] = False,
            as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Compare two runs' summaries key by key (differences by default)."""
    with _open(store) as s:
        ra, sa, _ = s.run(first)
        rb, sb, _ = s.run(second)
    fa, fb = flatten(sa), flatten(sb)
    rows = []
    for key in sorted(set(fa) | set(fb)):
        a, b = fa.get(key), fb.get(key)
        if a == b and not all_keys:
            continue
        diff = b - a if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool) else None
        rows.append({"key": key, ra.run_id: a, rb.run_id: b, "difference": diff})
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    table = Table(title=f"{ra.run_id} vs {rb.run_id} ({len(rows)} keys differ)")
    for col in ("key", ra.run_id, rb.run_id, "difference"):
        table.add_column(col, justify="left" if col == "key" else "right")

    def fmt(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) else ("—" if v is None else str(v))

    for row in rows:
        table.add_row(str(row["key"]), fmt(row[ra.run_id]), fmt(row[rb.run_id]), fmt(row["difference"]))
    console.print(table)


@runs.command("export")
def export(run_id: str, fmt: Annotated[str, typer.Option("--format", help="parquet or xlsx")] = "parquet",
           output: Annotated[Path | None, typer.Option("-o", "--output")] = None, store: StoreOpt = None) -> None:
    """Export a run's tables: parquet (a folder of files) or xlsx (one sheet per table)."""
    with _open(store) as s:
        rid = s.resolve(run_id)
        target = output or Path(f"{rid}.xlsx" if fmt == "xlsx" else rid)
        written = s.export(rid, target, fmt=fmt)
    for path in written:
        console.print(f"wrote {path}")
