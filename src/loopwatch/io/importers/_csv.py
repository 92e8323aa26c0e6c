"""CSV reading with line numbers, and the value parsers the importers share.

Every reader reports bad input as :class:`~loopwatch.errors.Problem` with the
file, the 1-based line of the row and the column name, so a user sees
``edges.csv:12: amount_usd: cannot read 'abc' as an amount``.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from loopwatch.errors import DealBookError, Problem
from loopwatch.model import Period, parse_money

__all__ = ["Amount", "CsvRow", "parse_amount", "parse_bool", "period_of_date", "read_csv"]


@dataclass(frozen=True)
class CsvRow:
    """One data row: its values by column, the file, its 1-based line and row number."""

    values: dict[str, str]
    file: str
    line: int
    row: int

    def get(self, column: str) -> str:
        """The stripped value of ``column`` (``""`` if absent or blank)."""
        return (self.values.get(column) or "").strip()

    def problem(self, column: str, message: str) -> Problem:
        return Problem(self.file, self.line, column, message)


def read_csv(path: Path, required: tuple[str, ...]) -> tuple[list[str], list[CsvRow]]:
    """Read a CSV file with a header row.

    Parameters
    ----------
    path : Path
        The file (UTF-8, a BOM is ignored).
    required : tuple of str
        Columns that must be in the header.

    Returns
    -------
    (list of str, list of CsvRow)
        The header and the data rows (blank lines skipped); ``row`` counts data
        rows from 1, ``line`` is the file line where the row starts.

    Raises
    ------
    DealBookError
        If the file is missing or unreadable, or a required column is absent
        (one problem per missing column, on line 1).
    """
    label = str(path)
    if not path.is_file():
        raise DealBookError(Problem(label, None, "", "no such file"))
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DealBookError(Problem(label, None, "", f"cannot read the file: {exc}")) from None
    reader = csv.reader(text.splitlines(keepends=True))
    header: list[str] = []
    rows: list[CsvRow] = []
    last = 0
    try:
        for record in reader:
            line = last + 1
            last = reader.line_num
            if not header:
                header = [h.strip() for h in record]
                if not any(header):
                    raise DealBookError(Problem(label, line, "", "the header row is empty"))
                continue
            if not any(v.strip() for v in record):
                continue
            if len(record) > len(header):
                raise DealBookError(Problem(
                    label, line, "", f"{len(record)} values for {len(header)} columns"))
            rows.append(CsvRow(dict(zip(header, record, strict=False)), label, line, len(rows) + 1))
    except csv.Error as exc:
        raise DealBookError(Problem(label, reader.line_num, "", f"malformed CSV: {exc}")) from None
    if not header:
        raise DealBookError(Problem(label, 1, "", "the file is empty (expected a header row)"))
    missing = [c for c in required if c not in header]
    if missing:
        raise DealBookError([Problem(label, 1, c, "required column is missing") for c in missing])
    return header, rows


@dataclass(frozen=True)
class Amount:
    """An amount read from a source: the value used and how it was read.

    ``kind`` is ``"exact"``, ``"up to"`` (a ceiling: the maximum is used),
    ``"range"`` (the midpoint of min and max) or ``"at least"`` (a floor:
    the minimum is used).
    """

    value: float
    kind: str = "exact"


_UP_TO = re.compile(r"^\s*(up\s+to|max(imum)?|≤|<=)\s*", re.IGNORECASE)
_AT_LEAST = re.compile(r"^\s*(at\s+least|min(imum)?|≥|>=)\s*", re.IGNORECASE)
_RANGE = re.compile(r"^\s*(?P<lo>[^–\-]+?)\s*(?:-|–|to)\s*(?P<hi>[^–\-]+)\s*$", re.IGNORECASE)


def parse_amount(text: str) -> Amount | None:
    """Read an amount cell: ``"$300B"``, ``"up to 100bn"``, ``"10bn-20bn"``, ``"at least 5bn"``.

    Returns
    -------
    Amount or None
        None for a blank cell.

    Raises
    ------
    ValueError
        If the cell is not blank and cannot be read.

    Examples
    --------
    >>> parse_amount("$300B")
    Amount(value=300000000000.0, kind='exact')
    >>> parse_amount("up to 100bn"), parse_amount("10bn-20bn")
    (Amount(value=100000000000.0, kind='up to'), Amount(value=15000000000.0, kind='range'))
    """
    text = text.strip()
    if not text:
        return None
    if m := _UP_TO.match(text):
        return Amount(parse_money(text[m.end():]), "up to")
    if m := _AT_LEAST.match(text):
        return Amount(parse_money(text[m.end():]), "at least")
    try:
        return Amount(parse_money(text))
    except ValueError:
        m = _RANGE.match(text)
        if m is None:
            raise
        lo, hi = parse_money(m.group("lo")), parse_money(m.group("hi"))
        if lo > hi:
            raise ValueError(f"range {text!r} runs from high to low") from None
        return Amount((lo + hi) / 2, "range")


_TRUE = {"true", "yes", "y", "1", "binding"}
_FALSE = {"false", "no", "n", "0", "non-binding", "nonbinding"}


def parse_bool(text: str) -> bool:
    """Read ``true/false``, ``yes/no``, ``1/0`` (any case).

    Raises
    ------
    ValueError
        For anything else.
    """
    key = text.strip().lower()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise ValueError(f"cannot read {text!r} as true or false")


_DATE = re.compile(r"^\s*(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?\s*$")


def period_of_date(text: str) -> Period:
    """The quarter of an ISO date (``2025-07-10``), a month (``2025-07``), a year or a quarter.

    Raises
    ------
    ValueError
        If the text is none of these.

    Examples
    --------
    >>> period_of_date("2025-07-10"), period_of_date("2025-11"), period_of_date("2026Q2")
    (Period('2025Q3'), Period('2025Q4'), Period('2026Q2'))
    """
    m = _DATE.match(text)
    if m is None:
        return Period.parse(text)
    year, month, day = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
    date(year, month, day)  # raises ValueError for impossible dates
    return Period.of(year, (month - 1) // 3 + 1)
