"""Reader for loopwatch's generic CSV edge list (documented in ``docs/importers.md``).

Required columns: ``payer,payee,type,amount``. Optional: ``id,start,quarters,
binding,status,confidence,source_title,source_url,name,date,maturity,
converts_to,notes``. One row is one contract, money flowing payer → payee.

Unlike the third-party formats, this one is the user's own: a value that
cannot be read (an unknown type, a bad amount, a confidence outside 0–1) is an
error naming file, line and column, not a skipped row. Rows are skipped (and
counted) only for what the format allows: a blank or zero amount
(``no amount``), a ``world``/``SINK_*`` party (``outside market``), a warrant
(``warrant without share data``: the format has no share columns), the same
firm on both sides, or a start after the horizon. Rows are taken as written:
no duplicate detection.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loopwatch.errors import DealBookError, Problem
from loopwatch.io.importers._build import CEILING_FACTOR, BookBuilder, Deal
from loopwatch.io.importers._csv import CsvRow, parse_amount, parse_bool, period_of_date, read_csv
from loopwatch.io.importers._names import firm_id, is_world
from loopwatch.model import ContractType, Period, Source, Status

__all__ = ["COLUMNS", "REQUIRED", "TYPES", "read_generic_csv"]

REQUIRED = ("payer", "payee", "type", "amount")
COLUMNS = (*REQUIRED, "id", "start", "quarters", "binding", "status", "confidence",
           "source_title", "source_url", "name", "date", "maturity", "converts_to", "notes")

TYPES: dict[str, ContractType] = {
    **{t.value: t for t in ContractType},
    "equity": ContractType.equity_investment,
    "investment": ContractType.equity_investment,
    "compute": ContractType.compute_commitment,
    "cloud_commitment": ContractType.compute_commitment,
    "chips": ContractType.chip_purchase,
    "gpu_purchase": ContractType.chip_purchase,
    "supply": ContractType.chip_purchase,
    "debt": ContractType.loan,
    "loi": ContractType.letter_of_intent,
    "guarantee": ContractType.backstop,
}
"""Accepted ``type`` values (any case; spaces or hyphens read as ``_``) → contract type."""


def _type(text: str) -> ContractType | None:
    return TYPES.get(text.strip().lower().replace(" ", "_").replace("-", "_"))


def _parse(row: CsvRow, problems: list[Problem]) -> dict[str, Any] | None:
    """Every optional value of ``row``, parsed; None (and problems) if any is bad."""
    out: dict[str, Any] = {}
    before = len(problems)

    def bad(col: str, msg: str) -> None:
        problems.append(row.problem(col, msg))

    for col in ("payer", "payee"):
        if not row.get(col):
            bad(col, "required value is blank")
        elif not firm_id(row.get(col)):
            bad(col, f"{row.get(col)!r} has no letters or digits")
    ctype = _type(row.get("type"))
    if ctype is None:
        bad("type", f"unknown type {row.get('type')!r} (one of {', '.join(t.value for t in ContractType)})")
    out["type"] = ctype
    try:
        out["amount"] = parse_amount(row.get("amount"))
        if out["amount"] is not None and out["amount"].value < 0:
            bad("amount", f"negative amount {row.get('amount')!r}")
    except ValueError as exc:
        bad("amount", str(exc))
    for col in ("start", "date", "maturity"):
        if row.get(col):
            try:
                out[col] = period_of_date(row.get(col))
            except ValueError as exc:
                bad(col, str(exc))
    if row.get("quarters"):
        try:
            out["quarters"] = int(row.get("quarters"))
            if not 1 <= out["quarters"] <= 400:
                bad("quarters", f"{out['quarters']} is outside 1–400")
        except ValueError:
            bad("quarters", f"cannot read {row.get('quarters')!r} as a whole number of quarters")
    if row.get("binding"):
        try:
            out["binding"] = parse_bool(row.get("binding"))
        except ValueError as exc:
            bad("binding", str(exc))
    if row.get("status"):
        try:
            out["status"] = Status(row.get("status").lower())
        except ValueError:
            bad("status", f"unknown status {row.get('status')!r} (one of {', '.join(s.value for s in Status)})")
    if row.get("confidence"):
        try:
            out["confidence"] = float(row.get("confidence"))
            if not 0 <= out["confidence"] <= 1:
                bad("confidence", f"{out['confidence']:g} is outside 0–1")
        except ValueError:
            bad("confidence", f"cannot read {row.get('confidence')!r} as a number")
    if row.get("converts_to"):
        out["converts_to"] = _type(row.get("converts_to"))
        if out["converts_to"] in (None, ContractType.letter_of_intent, ContractType.warrant):
            bad("converts_to", f"cannot convert to {row.get('converts_to')!r}")
    return out if len(problems) == before else None


def _row(b: BookBuilder, row: CsvRow, label: str, problems: list[Problem]) -> None:
    v = _parse(row, problems)
    if v is None:
        return
    src, dst = row.get("payer"), row.get("payee")
    ctype: ContractType = v["type"]
    what = f"{src} → {dst} {ctype.value}"
    if is_world(src) or is_world(dst):
        b.skip(row, "outside market", what)
        return
    if ctype is ContractType.warrant:
        b.skip(row, "warrant without share data", what)
        return
    amount = v["amount"]
    if amount is None or amount.value == 0:
        b.skip(row, "no amount", what)
        return
    payer, payee = firm_id(src), firm_id(dst)
    if payer == payee:
        b.skip(row, "same firm on both sides", what)
        return
    loi = ctype is ContractType.letter_of_intent
    confidence = v.get("confidence", 1.0)
    notes = [row.get("notes")] if row.get("notes") else []
    if amount.kind in ("up to", "range"):
        confidence *= CEILING_FACTOR
        notes.append(f"Amount is {'a ceiling' if amount.kind == 'up to' else 'a range midpoint'}: "
                     f"confidence ×{CEILING_FACTOR}.")
    note = f"{label} row {row.row}"
    title, url = row.get("source_title"), row.get("source_url")
    source = Source(title=title or url or label, url=url or None, note=note)
    date: Period | None = v.get("date")
    b.add(Deal(row=row, type=ctype, payer=payer, payee=payee, names=(src, dst), amount=amount,
               status=v.get("status", Status.signed), binding=v.get("binding", not loi),
               confidence=confidence, sources=[source], id_hint=row.get("id"),
               when=date, date=row.get("date") or None, start=v.get("start"),
               quarters=v.get("quarters"), maturity=v.get("maturity"),
               converts_to=v.get("converts_to", ContractType.equity_investment) if loi else None,
               name=row.get("name") or None, notes=notes))


def read_generic_csv(b: BookBuilder, paths: list[Path]) -> list[str]:
    """Read generic CSV edge lists into ``b``; return the files read.

    A folder stands for the ``*.csv`` files in it, in name order.

    Raises
    ------
    DealBookError
        Missing file or required column, an unknown column (a likely typo), or
        unreadable values (every one, with file, line and column).
    """
    files: list[Path] = []
    for p in paths:
        found = sorted(p.glob("*.csv")) if p.is_dir() else [p]
        if not found:
            raise DealBookError(Problem(str(p), None, "", "no .csv files in this folder"))
        files += found
    problems: list[Problem] = []
    for f in files:
        header, rows = read_csv(f, REQUIRED)
        unknown = [c for c in header if c and c not in COLUMNS]
        if unknown:
            raise DealBookError([Problem(str(f), 1, c, f"unknown column (known: {', '.join(COLUMNS)})")
                                 for c in unknown])
        for row in rows:
            b.rows += 1
            _row(b, row, f.name, problems)
    if problems:
        raise DealBookError(problems)
    return [str(f) for f in files]
