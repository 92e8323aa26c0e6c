"""From source rows to a valid deal book: schedules, ids, firms, the skip ledger.

Each importer turns its rows into :class:`Deal` records (source-agnostic:
type, parties, amount, status, dates, sources) or skips them with a reason;
:class:`BookBuilder` applies the rules every source shares and assembles the
:class:`~loopwatch.model.DealBook`.

Rules (documented in ``docs/importers.md``):

* **Start**: the explicit start, else the quarter of the deal's date, else the
  book's start. A deal dated before the book starts is moved to the book's
  start with its length and amount kept (the sources do not say how much was
  paid before), and its notes say so. A deal starting after the horizon is
  skipped (``after the horizon``).
* **Length**: the explicit or stated length, else :data:`DEFAULT_QUARTERS`
  by type. A schedule that would run past the horizon is cut at the horizon
  and its amount cut pro rata (flat schedule), so the in-window payments
  are exactly those of the full deal; the notes give the full amount.
* **Loans** draw their principal in the first quarter; their maturity is the
  stated one, else :data:`LOAN_TERM` quarters after the start.
* **Letters of intent** decide :data:`LOI_DECISION` quarters after the start
  (at the horizon at the latest).
* **Amounts**: a ceiling (``up to``) or a range lowers the confidence by
  :data:`CEILING_FACTOR`.
* **Ids**: duplicates get ``-2``, ``-3`` ...; an id equal to a firm id too.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from loopwatch.io.importers._csv import Amount, CsvRow
from loopwatch.io.importers._names import display_name, guess_role
from loopwatch.io.validate import validate_deal_book
from loopwatch.model import ContractType, DealBook, Period, Source, Status, format_money

__all__ = [
    "CEILING_FACTOR",
    "DEFAULT_QUARTERS",
    "LOAN_TERM",
    "LOI_DECISION",
    "BookBuilder",
    "Deal",
    "SkippedRow",
]

DEFAULT_QUARTERS: dict[ContractType, int] = {
    ContractType.equity_investment: 4,
    ContractType.chip_purchase: 4,
    ContractType.compute_commitment: 20,
    ContractType.backstop: 20,
    ContractType.loan: 1,
    ContractType.bond: 1,
}
"""Schedule length (quarters) when the source gives none."""

LOAN_TERM = 20
"""Quarters from a loan's drawdown to its maturity when the source gives none."""

LOI_DECISION = 4
"""Quarters from a letter of intent's start to its conversion decision."""

CEILING_FACTOR = 0.8
"""Confidence multiplier for amounts read as a ceiling (``up to``) or a range."""

BOOK_START = Period.parse("2025Q1")
BOOK_HORIZON = Period.parse("2032Q4")

_SHORT = {
    ContractType.compute_commitment: "compute",
    ContractType.chip_purchase: "chips",
    ContractType.equity_investment: "equity",
    ContractType.loan: "loan",
    ContractType.bond: "bond",
    ContractType.backstop: "backstop",
    ContractType.letter_of_intent: "loi",
    ContractType.warrant: "warrant",
}


@dataclass(frozen=True)
class SkippedRow:
    """A row that did not become a contract: where it is, why, and what it said."""

    file: str
    line: int
    reason: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class Deal:
    """A row read by an importer, ready to become a contract.

    ``payer``/``payee`` are firm ids (money direction); ``names`` their
    spellings in the source. ``when`` is the quarter of the deal's date,
    ``start`` an explicit start (generic CSV), ``quarters`` an explicit length.
    """

    row: CsvRow
    type: ContractType
    payer: str
    payee: str
    amount: Amount
    status: Status
    binding: bool
    confidence: float
    sources: list[Source]
    id_hint: str = ""
    names: tuple[str, str] = ("", "")
    when: Period | None = None
    date: str | None = None
    start: Period | None = None
    quarters: int | None = None
    maturity: Period | None = None
    converts_to: ContractType | None = None
    name: str | None = None
    notes: list[str] = field(default_factory=list)


def slug(text: str) -> str:
    """An id-safe slug: lower-case letters, digits and single hyphens."""
    out = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return out or "deal"


class BookBuilder:
    """Collect deals and skips; :meth:`finish` returns a validated :class:`DealBook`.

    Parameters
    ----------
    project : str
        Name of the source (``"bubble-map"``), used in notes and the description.
    start, horizon : Period
        The book window (default 2025Q1–2032Q4).
    """

    def __init__(self, project: str, *, start: Period = BOOK_START,
                 horizon: Period = BOOK_HORIZON) -> None:
        self.project = project
        self.start, self.horizon = start, horizon
        self.rows = 0
        self.skipped: Counter[str] = Counter()
        self.skipped_rows: list[SkippedRow] = []
        self._contracts: list[tuple[str, dict[str, Any]]] = []
        self._seen: dict[tuple[str, ...], int] = {}
        self._firm_names: dict[str, str] = {}
        self._firm_extra: dict[str, dict[str, Any]] = {}
        self._assume: dict[str, list[int]] = {}

    # -- the ledger ---------------------------------------------------------
    def skip(self, row: CsvRow, reason: str, detail: str = "") -> None:
        """Count ``row`` as not imported, for ``reason``."""
        self.skipped[reason] += 1
        self.skipped_rows.append(SkippedRow(row.file, row.line, reason, detail))

    def duplicate(self, key: tuple[str, ...], row: CsvRow) -> int | None:
        """The row number of an earlier row with the same key, else remember this one."""
        if key in self._seen:
            return self._seen[key]
        self._seen[key] = row.row
        return None

    def firm(self, fid: str, **extra: Any) -> None:
        """Give a firm a name, ``public`` flag, ``valuation``, sources or notes (from a company list)."""
        self._firm_extra.setdefault(fid, {}).update(extra)

    # -- deals ----------------------------------------------------------------
    def add(self, deal: Deal) -> None:
        """Turn a deal into a contract, applying the shared schedule and amount rules."""
        base_type = deal.converts_to if deal.type is ContractType.letter_of_intent else deal.type
        default_q = DEFAULT_QUARTERS.get(base_type or ContractType.equity_investment, 4)
        quarters = deal.quarters or default_q
        start = deal.start or deal.when or self.start
        if start > self.horizon:
            self.skip(deal.row, "after the horizon", f"starts {start}, horizon {self.horizon}")
            return
        notes = list(deal.notes)
        uses = ["default-length"] if deal.quarters is None else []
        if start < self.start:
            notes.append(f"Dated {start}, before the book starts: moved to {self.start} "
                         "with its length and amount kept.")
            uses.append("moved")
            start = self.start
        amount = deal.amount.value
        if deal.amount.kind in ("up to", "range"):
            uses.append("ceiling")
        end = start + (quarters - 1)
        if end > self.horizon:
            keep = self.horizon - start + 1
            cut = amount * keep / quarters
            notes.append(f"{quarters - keep} of {quarters} quarters fall after the horizon "
                         f"{self.horizon}: amount cut pro rata from {format_money(amount)} "
                         f"to {format_money(cut)}.")
            uses.append("cut")
            amount, quarters = cut, keep
        data: dict[str, Any] = {
            "type": deal.type.value,
            "payer": deal.payer,
            "payee": deal.payee,
            "amount": amount,
            "schedule": {"start": str(start), "quarters": quarters},
            "binding": deal.binding,
            "status": deal.status.value,
            "confidence": round(min(1.0, max(0.0, deal.confidence)), 4),
            "sources": [s.model_dump(mode="json", exclude_defaults=True) for s in deal.sources],
        }
        if deal.name:
            data["name"] = deal.name
        if deal.date:
            data["date"] = deal.date
        if deal.type in (ContractType.loan, ContractType.bond):
            data["schedule"]["shape"] = "upfront"
            maturity = deal.maturity
            if maturity is None:
                maturity = start + LOAN_TERM
                uses.append("maturity")
            elif maturity < start:
                notes.append(f"Maturity {maturity} is before the (moved) drawdown: set to {start}.")
                maturity = start
            data["maturity"] = str(maturity)
        if deal.type is ContractType.letter_of_intent:
            data["converts_to"] = (deal.converts_to or ContractType.equity_investment).value
            data["decision"] = str(min(start + LOI_DECISION, self.horizon))
        if notes:
            data["notes"] = " ".join(notes)
        hint = deal.id_hint or f"{deal.payer}-{deal.payee}-{_SHORT[deal.type]}"
        for key in uses:
            self._assume.setdefault(key, []).append(len(self._contracts))
        self._contracts.append((slug(hint), data))
        for fid, raw in zip((deal.payer, deal.payee), deal.names, strict=True):
            self._firm_names.setdefault(fid, raw)

    # -- the book -------------------------------------------------------------
    def _firms(self) -> list[dict[str, Any]]:
        positions: dict[str, set[tuple[str, ContractType]]] = {}
        for _, c in self._contracts:
            ctype = ContractType(c["type"])
            positions.setdefault(c["payer"], set()).add(("payer", ctype))
            positions.setdefault(c["payee"], set()).add(("payee", ctype))
        firms = []
        for fid in sorted(positions):
            extra = dict(self._firm_extra.get(fid, {}))
            role, why = guess_role(fid, positions[fid])
            notes = [f"Imported from {self.project}. Role {role.value} guessed by the importer "
                     f"({why}). The source gives no balance sheet: opening figures are zero."]
            if extra.get("notes"):
                notes.append(str(extra.pop("notes")))
            name = extra.pop("name", None) or display_name(fid, self._firm_names.get(fid))
            firms.append({"id": fid, "name": name, "role": role.value, **extra,
                          "notes": " ".join(notes)})
        return firms

    def _ids(self, firm_ids: set[str]) -> list[str]:
        taken = set(firm_ids)
        out = []
        for hint, _ in self._contracts:
            cid, n = hint, 1
            while cid in taken:
                n += 1
                cid = f"{hint}-{n}"
            taken.add(cid)
            out.append(cid)
        return out

    def _assumptions(self, ids: list[str]) -> list[dict[str, Any]]:
        texts = {
            "default-length": (
                "Deals whose source gives no length run the importer's default: "
                + ", ".join(f"{t.value} {q} quarters" for t, q in DEFAULT_QUARTERS.items()) + ".",
                "The sources give an announcement date but rarely a payment schedule; "
                "equity rounds and chip orders are paid within about a year, compute "
                "commitments run about five years."),
            "moved": (
                f"Deals dated before {self.start} start at {self.start}, amount and length kept.",
                "The sources do not say how much was paid before the book starts."),
            "ceiling": (
                "Amounts given as a ceiling ('up to') or a range use the maximum or the "
                f"midpoint; their confidence is multiplied by {CEILING_FACTOR}.",
                "A ceiling is what the parties may pay, not what they must."),
            "cut": (
                f"Schedules running past {self.horizon} are cut there, amount pro rata.",
                "Payments after the horizon do not enter a run; the notes keep the full amount."),
            "maturity": (
                f"Loans without a stated maturity mature {LOAN_TERM} quarters after drawdown.",
                "A typical term for data-centre and corporate credit."),
        }
        out = []
        for key, (statement, rationale) in texts.items():
            idx = self._assume.get(key, [])
            if idx:
                out.append({"id": f"import-{key}", "statement": statement,
                            "rationale": rationale, "applies_to": [ids[i] for i in idx]})
        return out

    def finish(self, name: str, *, title: str, files: list[str]) -> DealBook:
        """The deal book, validated like a file (:func:`~loopwatch.io.validate_deal_book`).

        Raises
        ------
        DealBookError
            Only if the importer built something invalid (a bug); callers check ``name``.
        """
        firms = self._firms()
        ids = self._ids({f["id"] for f in firms})
        contracts = [{"id": cid, **data} for cid, (_, data) in zip(ids, self._contracts, strict=True)]
        skipped = ", ".join(f"{r} {n}" for r, n in sorted(self.skipped.items())) or "none"
        description = (
            f"Imported by loopwatch from {self.project} ({', '.join(files)}): "
            f"{len(contracts)} of {self.rows} rows became contracts; rows not imported, by "
            f"reason: {skipped}. Firms carry no balance sheet: add one before simulating.")
        data = {"name": name, "title": title, "description": description,
                "start": str(self.start), "horizon": str(self.horizon), "firms": firms,
                "contracts": contracts, "assumptions": self._assumptions(ids)}
        return validate_deal_book(data, file=f"<import from {self.project}>")
