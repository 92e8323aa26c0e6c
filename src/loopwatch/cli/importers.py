"""``loopwatch deals import``: third-party deal lists or a generic CSV → a deal book.

A thin edge over :func:`loopwatch.io.importers.import_deals`: it reads, writes
the book with :func:`loopwatch.io.write_deal_book`, and prints what was
imported and, by reason, what was not.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from loopwatch.cli import console
from loopwatch.cli.deals import deals
from loopwatch.errors import DealBookError, Problem
from loopwatch.io import write_deal_book
from loopwatch.io.importers import ImportResult, ImportSource, import_deals
from loopwatch.model import format_money

__all__ = ["import_command", "summary_tables"]


def summary_tables(result: ImportResult) -> list[Table]:
    """The import summary: rows by outcome (imported, each skip reason), and contracts by type."""
    outcome = Table(title=f"Import from {result.source}: {result.rows} rows")
    outcome.add_column("outcome")
    outcome.add_column("rows", justify="right")
    outcome.add_row("imported as contracts", str(result.imported))
    for reason, n in result.skipped.items():
        outcome.add_row(f"skipped: {reason}", str(n))
    outcome.add_row("[bold]total[/]", f"[bold]{result.rows}[/]")
    by_type: Counter[str] = Counter()
    value: dict[str, float] = defaultdict(float)
    for c in result.book.contracts:
        by_type[c.type.value] += 1
        value[c.type.value] += c.amount
    types = Table(title=f"Imported: {len(result.book.firms)} firms, {result.imported} contracts")
    for col in ("type", "contracts", "value"):
        types.add_column(col, justify="left" if col == "type" else "right")
    for t, n in sorted(by_type.items(), key=lambda kv: -value[kv[0]]):
        types.add_row(t, str(n), format_money(value[t]))
    return [outcome, types]


@deals.command("import")
def import_command(
    paths: Annotated[list[Path], typer.Argument(help="Files, or folders holding them.", metavar="PATH",
                                                show_default=False)],
    source: Annotated[ImportSource, typer.Option("--from", help="Format of the files.",
                                                 show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="Deal book (YAML) to write.",
                                         show_default=False)],
    name: Annotated[str | None, typer.Option("--name", help="Book name (default: the source).")] = None,
    show_skipped: Annotated[bool, typer.Option("--show-skipped",
                                               help="List every row not imported.")] = False,
) -> None:
    """Import a deal list (circular-deals-visualizer, bubble-map or a generic CSV) into a deal book.

    Every row becomes a contract or is counted under a reason; the summary
    prints both. Exit status 2 on bad input, naming file, line and column.
    """
    if not output.parent.is_dir():
        raise DealBookError(Problem(str(output), None, "", "the output folder does not exist"))
    result = import_deals(source.value, paths, name=name)
    write_deal_book(result.book, output)
    for table in summary_tables(result):
        console.print(table)
    if show_skipped:
        for row in result.skipped_rows:
            console.print(str(row), markup=False, highlight=False, soft_wrap=True)
    console.print(f"[green]wrote[/] {output}", highlight=False)
