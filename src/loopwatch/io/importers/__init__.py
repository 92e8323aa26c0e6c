"""Import deal lists published by other projects, or a generic CSV, into a deal book.

Three formats (see ``docs/importers.md`` for every column and rule):

``circular-deals-visualizer``
    ``deals.csv`` (+ optional ``companies.csv``) of the "AI Bubble Map"
    project: typed deals with flow types, amounts or ranges, data status,
    publishers and links, mean source confidence.
``bubble-map``
    ``edges.csv`` of the bubble-map project: directed edges with an
    instrument, amount, status and cancelable flag.
``csv``
    loopwatch's generic edge list: ``payer,payee,type,amount`` and optional
    schedule, status and source columns.

Every row either becomes one contract or is counted under a reason
(:attr:`ImportResult.skipped`, with each row in
:attr:`ImportResult.skipped_rows`): nothing is dropped silently, and
``rows == len(book.contracts) + sum(skipped.values())``. Names are folded
into deal-book ids (:func:`firm_id`), firms get a role guessed from a table
of known names or from their contracts and say so in their notes, and the
book is validated exactly as a YAML file would be.

Module layout: ``_csv`` (reading with line numbers, value parsers),
``_names`` (ids, world nodes, roles), ``_build`` (schedules, ids, the
ledger, the book), one module per format.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from loopwatch.errors import DealBookError, Problem
from loopwatch.io.importers._build import (
    CEILING_FACTOR,
    DEFAULT_QUARTERS,
    LOAN_TERM,
    LOI_DECISION,
    BookBuilder,
    SkippedRow,
    slug,
)
from loopwatch.io.importers._names import ALIASES, KNOWN_FIRMS, firm_id, is_world
from loopwatch.io.importers.bubble_map import read_bubble_map
from loopwatch.io.importers.circular_deals import read_circular_deals
from loopwatch.io.importers.generic_csv import read_generic_csv
from loopwatch.model import DealBook

__all__ = [
    "ALIASES",
    "CEILING_FACTOR",
    "DEFAULT_QUARTERS",
    "KNOWN_FIRMS",
    "LOAN_TERM",
    "LOI_DECISION",
    "ImportResult",
    "ImportSource",
    "SkippedRow",
    "firm_id",
    "import_deals",
    "is_world",
]


class ImportSource(StrEnum):
    """The formats :func:`import_deals` reads."""

    circular_deals_visualizer = "circular-deals-visualizer"
    bubble_map = "bubble-map"
    csv = "csv"


_READERS: dict[ImportSource, Callable[[BookBuilder, list[Path]], list[str]]] = {
    ImportSource.circular_deals_visualizer: read_circular_deals,
    ImportSource.bubble_map: read_bubble_map,
    ImportSource.csv: read_generic_csv,
}
_TITLES = {
    ImportSource.circular_deals_visualizer: "Deals from circular-deals-visualizer (AI Bubble Map)",
    ImportSource.bubble_map: "Deals from bubble-map",
    ImportSource.csv: "Deals from a CSV edge list",
}


@dataclass(frozen=True)
class ImportResult:
    """What an import produced.

    Attributes
    ----------
    book : DealBook
        The imported, validated deal book.
    skipped : dict of str to int
        Reason → number of rows not imported, sorted by reason.
    rows : int
        Deal rows read (``companies.csv`` rows are not deals and not counted).
    skipped_rows : tuple of SkippedRow
        Each row not imported: file, line, reason, what it said.
    files : tuple of str
        The files read.
    source : str
        The format read (``"bubble-map"`` ...).
    """

    book: DealBook
    skipped: dict[str, int]
    rows: int
    skipped_rows: tuple[SkippedRow, ...] = ()
    files: tuple[str, ...] = ()
    source: str = ""

    @property
    def imported(self) -> int:
        """Rows that became contracts."""
        return len(self.book.contracts)


def import_deals(source: str, paths: Sequence[str | Path], *, name: str | None = None) -> ImportResult:
    """Read third-party deal lists or a generic CSV into a deal book.

    Parameters
    ----------
    source : {"circular-deals-visualizer", "bubble-map", "csv"}
        The format of the files.
    paths : sequence of path
        Files (or folders holding them) to read, merged into one book.
    name : str, optional
        The book's name (an id: lower-case letters, digits, ``-``, ``_``).
        Default: the source name, or for ``csv`` the first file's stem.

    Returns
    -------
    ImportResult
        The book (2025Q1–2032Q4), rows read, and skipped rows by reason.

    Raises
    ------
    DealBookError
        Unknown source, no paths, a missing file or required column, an
        unreadable value, or an invalid ``name``: one problem per line as
        ``FILE:LINE: column: message``.

    Notes
    -----
    Firms carry no balance sheet (the sources give none); add one before
    simulating. The book records the import rules it used as assumptions
    (``import-default-length``, ``import-moved``, ``import-ceiling``,
    ``import-cut``, ``import-maturity``) naming the contracts they apply to.
    Runs in O(rows).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "deals.csv").write_text(
    ...     "payer,payee,type,amount,date\\n"
    ...     "OpenAI,Oracle,compute_commitment,$300B,2025-07-10\\n"
    ...     "NVIDIA,OpenAI,equity,up to 100bn,2025-09-22\\n"
    ...     "Meta,SINK_capex,equity,115bn,\\n")
    >>> result = import_deals("csv", [d / "deals.csv"])
    >>> result.rows, result.imported, result.skipped
    (3, 2, {'outside market': 1})
    >>> c = result.book.contract("openai-oracle-compute")
    >>> c.amount, str(c.schedule.start), c.schedule.quarters
    (300000000000.0, '2025Q3', 20)
    """
    try:
        kind = ImportSource(source)
    except ValueError:
        raise DealBookError(Problem("--from", None, "source", f"unknown source {source!r} (one of "
                                    f"{', '.join(s.value for s in ImportSource)})")) from None
    if not paths:
        raise DealBookError(Problem("PATH", None, "", "no files given"))
    files = [Path(p) for p in paths]
    for f in files:
        if not f.exists():
            raise DealBookError(Problem(str(f), None, "", "no such file"))
    if name is None:
        name = kind.value if kind is not ImportSource.csv else slug(files[0].stem)
    if not re.fullmatch(r"[a-z0-9][a-z0-9_\-]*", name):
        raise DealBookError(Problem("--name", None, "name", f"{name!r} is not a valid book name "
                                    "(lower-case letters, digits, '-' and '_')"))
    builder = BookBuilder(kind.value)
    read = _READERS[kind](builder, files)
    book = builder.finish(name, title=_TITLES[kind], files=[Path(f).name for f in read])
    return ImportResult(book=book, skipped=dict(sorted(builder.skipped.items())),
                        rows=builder.rows, skipped_rows=tuple(builder.skipped_rows),
                        files=tuple(read), source=kind.value)
