"""``loopwatch deals ...`` and ``loopwatch schema``: read, check, show and export deal books."""

from __future__ import annotations

import csv
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from loopwatch.cli import app, console
from loopwatch.io import DEFAULT_BOOK, deal_book_schema, load_deal_book, scenario_schema
from loopwatch.model import DealBook, format_money

deals = typer.Typer(help="Read, check, show, import and export deal books.", no_args_is_help=True)
app.add_typer(deals, name="deals")

BookArg = Annotated[str, typer.Argument(help="Bundled book name or YAML path.")]


@deals.command("validate")
def validate(path: BookArg) -> None:
    """Check a deal book; print every problem as FILE:LINE: path: message (exit 2 if any)."""
    book = load_deal_book(path)
    console.print(f"[green]ok[/] {path}: {len(book.firms)} firms, {len(book.contracts)} contracts")


def _contract_value(book: DealBook) -> tuple[float, float]:
    total = sum(c.amount for c in book.contracts)
    sourced = sum(c.amount for c in book.contracts if c.sources)
    return total, sourced


@deals.command("show")
def show(book_name: BookArg = DEFAULT_BOOK) -> None:
    """Show a deal book: firms, contracts by type, totals by binding status, assumptions."""
    book = load_deal_book(book_name)
    console.print(f"[bold]{book.name}[/] — {book.title or ''}  ({book.start}–{book.horizon})")

    firms = Table(title=f"Firms ({len(book.firms)})")
    for col in ("id", "name", "role", "cash", "debt", "market value", "end revenue", "non-loop revenue"):
        firms.add_column(col, justify="right" if col[0] in "cdmen" and col != "name" else "left")
    for f in book.firms:
        firms.add_row(f.id, f.name, f.role.value, format_money(f.cash), format_money(f.debt),
                      format_money(f.market_value), format_money(f.end_revenue),
                      format_money(f.non_loop_revenue))
    console.print(firms)

    by_type: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for c in book.contracts:
        by_type[c.type.value][0] += 1
        by_type[c.type.value][1] += c.amount
    types = Table(title=f"Contracts by type ({len(book.contracts)})")
    types.add_column("type")
    types.add_column("count", justify="right")
    types.add_column("value", justify="right")
    for t, (n, v) in sorted(by_type.items(), key=lambda kv: -kv[1][1]):
        types.add_row(t, str(int(n)), format_money(v))
    console.print(types)

    contracts = Table(title="Contracts")
    for col in ("id", "type", "payer → payee", "amount", "start", "q", "binding", "status", "conf."):
        contracts.add_column(col)
    for c in book.contracts:
        contracts.add_row(c.id, c.type.value, f"{c.payer} → {c.payee}", format_money(c.amount),
                          str(c.schedule.start), str(c.schedule.quarters),
                          "yes" if c.binding else "no", c.status.value, f"{c.confidence:.2f}")
    console.print(contracts)

    binding = Table(title="Totals by binding status")
    for col in ("binding", "status", "count", "value"):
        binding.add_column(col)
    groups: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for c in book.contracts:
        g = groups[("yes" if c.binding else "no", c.status.value)]
        g[0] += 1
        g[1] += c.amount
    for (b, s), (n, v) in sorted(groups.items()):
        binding.add_row(b, s, str(int(n)), format_money(v))
    console.print(binding)

    if book.assumptions:
        assumptions = Table(title=f"Assumptions ({len(book.assumptions)})")
        for col in ("id", "statement", "applies to"):
            assumptions.add_column(col)
        for a in book.assumptions:
            assumptions.add_row(a.id, a.statement, ", ".join(a.applies_to))
        console.print(assumptions)
    total, sourced = _contract_value(book)
    share = sourced / total if total else 1.0
    console.print(f"Contract value with a source: {share:.1%} of {format_money(total)}")


@deals.command("export")
def export(
    book_name: BookArg = DEFAULT_BOOK,
    fmt: Annotated[str, typer.Option("--format", help="csv or json")] = "json",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File (default stdout).")] = None,
) -> None:
    """Export a deal book: JSON lists every firm and contract with all fields; CSV one contract a row."""
    book = load_deal_book(book_name)
    out = open(output, "w", newline="", encoding="utf-8") if output else sys.stdout
    try:
        if fmt == "json":
            json.dump(book.model_dump(mode="json"), out, indent=2)
            out.write("\n")
        elif fmt == "csv":
            fields = ["id", "type", "payer", "payee", "amount", "start", "quarters", "binding",
                      "status", "confidence", "sources"]
            w = csv.writer(out)
            w.writerow(fields)
            for c in book.contracts:
                w.writerow([c.id, c.type.value, c.payer, c.payee, repr(c.amount), str(c.schedule.start),
                            c.schedule.quarters, c.binding, c.status.value, c.confidence,
                            " | ".join(s.url or s.title for s in c.sources)])
        else:
            raise typer.BadParameter(f"unknown format {fmt!r} (csv or json)", param_hint="--format")
    finally:
        if output:
            out.close()


@app.command("schema")
def schema(kind: Annotated[str, typer.Argument(help="deal-book or scenario")]) -> None:
    """Print the JSON Schema of the deal-book or scenario format (for editors)."""
    if kind == "deal-book":
        typer.echo(deal_book_schema())
    elif kind == "scenario":
        typer.echo(scenario_schema())
    else:
        raise typer.BadParameter(f"unknown kind {kind!r} (deal-book or scenario)", param_hint="KIND")
