"""``loopwatch run``: the main job — deal book to every answer, an HTML report and a stored run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from loopwatch.cli import app, console
from loopwatch.io import DEFAULT_BOOK


@app.command("run")
def run(
    book: Annotated[str, typer.Argument(help="Bundled book name or YAML path.")] = DEFAULT_BOOK,
    scenarios: Annotated[str | None, typer.Option(help="Comma-separated scenarios (default: all bundled).")] = None,
    paths: Annotated[int, typer.Option(min=1, help="Monte Carlo paths per scenario.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Master seed.")] = 0,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("loopwatch-out"),
    store: Annotated[Path | None, typer.Option(help="Run store file (default $LOOPWATCH_STORE or ~/.local/share/loopwatch/runs.duckdb).")] = None,
    no_store: Annotated[bool, typer.Option("--no-store", help="Do not record the run.")] = False,
    no_png: Annotated[bool, typer.Option("--no-png", help="Skip the PNG charts.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary JSON only.")] = False,
) -> None:
    """Run every analysis on a deal book: answers panel, report.html, summary.json, charts, run store."""
    from loopwatch.report.build import answers_rows
    from loopwatch.report.job import STAGES, run_job

    names = [s.strip() for s in scenarios.split(",") if s.strip()] if scenarios else None
    if as_json:
        result = run_job(book, scenarios=names, paths=paths, seed=seed, out=out, store=store,
                         record=not no_store, pngs=not no_png)
        print(json.dumps(result.summary, indent=2))
        return
    with Progress(TextColumn("[bold]{task.description:<14}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=console, transient=False) as bar:
        tasks = {stage: bar.add_task(stage, total=1.0) for stage in STAGES}
        done: list[str] = []

        def progress(stage: str, frac: float) -> None:
            for s in STAGES[: STAGES.index(stage)]:
                if s not in done:
                    bar.update(tasks[s], completed=1.0)
                    done.append(s)
            bar.update(tasks[stage], completed=frac)

        result = run_job(book, scenarios=names, paths=paths, seed=seed, out=out, store=store,
                         record=not no_store, pngs=not no_png, progress=progress)
        for s in STAGES:
            bar.update(tasks[s], completed=1.0)
    table = Table(show_header=True, header_style="bold", expand=True)
    table.add_column("question", ratio=2)
    table.add_column("answer", ratio=4)
    table.add_column("figures", ratio=3, style="dim")
    for q, a, f in answers_rows(result.summary):
        table.add_row(q, a, f)
    console.print(Panel(table, title=f"loopwatch — {result.summary['deal_book']['name']}", border_style="cyan"))
    console.print(f"report: {result.out / 'report.html'}   summary: {result.out / 'summary.json'}"
                  + (f"   run id: {result.run_id}" if result.run_id else "")
                  + f"   ({result.timings['total']:.1f} s)")
