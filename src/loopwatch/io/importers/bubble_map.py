"""Reader for bubble-map's ``edges.csv`` (pq-cybarg/bubble-map).

Columns: ``from,to,instrument,amount_usd,status,declared_circular,cancelable,source_file``
(``from``, ``to``, ``instrument`` and ``amount_usd`` required). Each row is a
directed edge; the file gives no dates, so every contract starts at the
book's start.

Decisions (also in ``docs/importers.md``):

* **Outside markets**: a row with a ``SINK_*`` node (or another world node,
  see :func:`~loopwatch.io.importers._names.is_world`) on either side, and
  the instruments that are flows with the outside by nature (``capex``,
  ``ipo_proceeds``, ``exogenous_revenue``), are ``outside market``.
* **Instruments** (:data:`INSTRUMENTS`): equity/investment/acquisition →
  ``equity_investment``, compute_commitment, debt → ``loan``,
  gpu_purchase → ``chip_purchase``, backstop; warrant rows are skipped
  (``warrant without share data``: the file gives neither share counts nor
  strikes). :data:`NO_MONEY` kinds (governance, relationship, litigation,
  mergers by share exchange, equity-method accounting losses) are
  ``no money``; anything else (``revenue_share``, ``other``, ``ip_license``)
  is ``unsupported instrument``.
* **Debt direction**: in this file every firm-to-firm debt edge points
  lender → borrower (BlueOwl, PIMCO, BlackRock → Meta_Hyperion_SPV;
  Blackstone → CoreWeave; JPMorgan → Stargate), as do ``SINK_lenders`` /
  ``SINK_bondmarket`` → borrower edges, while edges *into* a sink point
  borrower → lenders (``CoreWeave → SINK_debt``, ``Oracle → SINK_bondmarket``,
  status ``outstanding``/``issued``). Sink rows are outside markets; a
  firm-to-firm debt edge whose ``to`` is a known lender and whose ``from`` is
  not is flipped to lender → borrower, with a note.
* **Status** (:func:`read_status`): ``*cancelled`` rows are skipped
  (``cancelled``); ``*LOI``/``MoU`` become letters of intent converting to the
  mapped type; ``held`` and ``13F*`` equity rows state the market value of a
  stake, not a payment, and are skipped (``stake value, not a payment``);
  the rest map to definitive / signed / announced / rumoured with a
  confidence of 0.9 / 0.8 / 0.6 / 0.3 (0.5 for letters of intent), as the
  file has no confidence column. ``cancelable=True`` makes the contract
  non-binding.
* **Duplicates**: a row repeating an earlier row's from, to, instrument,
  amount and status is ``duplicate row``.
"""

from __future__ import annotations

import re
from pathlib import Path

from loopwatch.errors import DealBookError, Problem
from loopwatch.io.importers._build import BookBuilder, Deal
from loopwatch.io.importers._csv import CsvRow, parse_amount, read_csv
from loopwatch.io.importers._names import KNOWN_FIRMS, firm_id, is_world
from loopwatch.model import ContractType, Role, Source, Status

__all__ = ["INSTRUMENTS", "NO_MONEY", "PROJECT", "read_bubble_map", "read_status"]

PROJECT = "bubble-map"
REQUIRED = ("from", "to", "instrument", "amount_usd")

INSTRUMENTS: dict[str, ContractType] = {
    "equity": ContractType.equity_investment,
    "investment": ContractType.equity_investment,
    "acquisition": ContractType.equity_investment,
    "compute_commitment": ContractType.compute_commitment,
    "debt": ContractType.loan,
    "loan": ContractType.loan,
    "bond": ContractType.bond,
    "gpu_purchase": ContractType.chip_purchase,
    "chip_purchase": ContractType.chip_purchase,
    "warrant": ContractType.warrant,
    "backstop": ContractType.backstop,
}
"""bubble-map instrument → contract type."""

NO_MONEY = frozenset({"governance", "relationship", "litigation", "ip_litigation",
                      "ip_cease_desist", "merger", "equity_method_loss", "membership",
                      "partnership"})
"""Instruments that move no money between the parties."""

OUTSIDE = frozenset({"capex", "ipo_proceeds", "exogenous_revenue"})
"""Instruments that are flows with the outside world by nature."""

_CANCELLED = re.compile(r"cancell?ed|terminated|withdrawn|abandoned")
_LOI = re.compile(r"\b(loi|mou|letter of intent)\b")
_STAKE = re.compile(r"^(held|13f)\b")
_CLASSES: dict[str, tuple[Status, float]] = {
    **dict.fromkeys(("closed", "completed", "funded", "issued", "outstanding", "invested",
                     "merged", "realized", "definitive"), (Status.definitive, 0.9)),
    **dict.fromkeys(("committed", "signed", "active", "ongoing", "recurring", "live"),
                    (Status.signed, 0.8)),
    **dict.fromkeys(("announced", "guidance", "reported", "offering", "open", "demand",
                     "member", "experiment"), (Status.announced, 0.6)),
    **dict.fromkeys(("implied", "rumoured", "rumored", "speculative"), (Status.rumoured, 0.3)),
}


def read_status(text: str) -> tuple[str, Status, float]:
    """Classify a bubble-map status: (kind, status, confidence).

    ``kind`` is ``"cancelled"``, ``"loi"``, ``"stake"``, ``"known"`` or
    ``"unknown"`` (read as announced).

    Examples
    --------
    >>> read_status("closed-definitive")
    ('known', <Status.definitive: 'definitive'>, 0.9)
    >>> read_status("signed-LOI")[0], read_status("announced-then-cancelled")[0]
    ('loi', 'cancelled')
    >>> read_status("signed-CANCELABLE")[:2], read_status("13F-~11pct")[0]
    (('known', <Status.signed: 'signed'>), 'stake')
    """
    key = text.strip().lower()
    words = re.sub(r"[-_]+", " ", key)
    if _CANCELLED.search(key):
        return "cancelled", Status.announced, 0.0
    if _LOI.search(words):
        return "loi", Status.signed, 0.5
    if _STAKE.match(words):
        return "stake", Status.definitive, 0.9
    first = words.split(" ", 1)[0] if words else ""
    if first in _CLASSES:
        return "known", *_CLASSES[first]
    return "unknown", Status.announced, 0.6


def _is_lender(name: str) -> bool:
    known = KNOWN_FIRMS.get(firm_id(name))
    return is_world(name) or (known is not None and known[1] is Role.lender)


def _row(b: BookBuilder, row: CsvRow, problems: list[Problem]) -> None:
    src, dst, instrument = row.get("from"), row.get("to"), row.get("instrument").lower()
    what = f"{src or '?'} → {dst or '?'} {instrument or '?'}"
    try:
        amount = parse_amount(row.get("amount_usd"))
    except ValueError as exc:
        problems.append(row.problem("amount_usd", str(exc)))
        return
    if amount is not None and amount.value < 0:
        problems.append(row.problem("amount_usd", f"negative amount {row.get('amount_usd')!r}"))
        return
    flags: dict[str, bool] = {}
    for col in ("cancelable", "declared_circular"):
        value = row.get(col).lower()
        if value not in ("", "true", "false"):
            problems.append(row.problem(col, f"expected True or False, not {row.get(col)!r}"))
            return
        flags[col] = value == "true"
    status_text = row.get("status")
    kind, status, confidence = read_status(status_text)
    if not src or not dst:
        b.skip(row, "no payer or payee", what)
        return
    earlier = b.duplicate((firm_id(src), firm_id(dst), instrument, row.get("amount_usd"),
                           status_text.lower()), row)
    if earlier is not None:
        b.skip(row, "duplicate row", f"{what}, as row {earlier}")
        return
    if is_world(src) or is_world(dst) or instrument in OUTSIDE:
        b.skip(row, "outside market", what)
        return
    if kind == "cancelled":
        b.skip(row, "cancelled", f"{what}, status {status_text}")
        return
    if instrument in NO_MONEY:
        b.skip(row, "no money", what)
        return
    if kind == "stake":
        b.skip(row, "stake value, not a payment", f"{what}, status {status_text}")
        return
    ctype = INSTRUMENTS.get(instrument)
    if ctype is None:
        b.skip(row, "unsupported instrument", what)
        return
    if ctype is ContractType.warrant:
        b.skip(row, "warrant without share data", what)
        return
    if amount is None or amount.value == 0:
        b.skip(row, "no amount", what)
        return
    notes: list[str] = []
    if ctype is ContractType.loan and _is_lender(dst) and not _is_lender(src):
        src, dst = dst, src
        notes.append("bubble-map lists this debt edge borrower → lender; flipped to lender → borrower.")
    payer, payee = firm_id(src), firm_id(dst)
    if not payer or not payee:
        b.skip(row, "no payer or payee", what)
        return
    if payer == payee:
        b.skip(row, "same firm on both sides", what)
        return
    if kind == "unknown":
        notes.append(f"Status {status_text!r} is not in the importer's table: read as announced.")
    if instrument == "acquisition":
        notes.append("An acquisition, imported as an equity investment in the target.")
    if flags["declared_circular"]:
        notes.append("bubble-map marks this edge as part of a circular deal.")
    binding = not flags["cancelable"] and kind != "loi"
    if flags["cancelable"]:
        notes.append("Cancelable per bubble-map: imported as non-binding.")
    notes.append(f"bubble-map instrument {instrument}, status {status_text or 'blank'}.")
    files = [f.strip() for f in row.get("source_file").split(",") if f.strip()]
    sources = [Source(title=f"bubble-map research file {f}", note=f"{PROJECT} row {row.row}")
               for f in files] or [Source(title="bubble-map edges.csv",
                                          note=f"{PROJECT} row {row.row}")]
    b.add(Deal(row=row, type=ContractType.letter_of_intent if kind == "loi" else ctype,
               converts_to=ctype if kind == "loi" else None, payer=payer, payee=payee,
               names=(src, dst), amount=amount, status=status, binding=binding,
               confidence=confidence, sources=sources, notes=notes))


def read_bubble_map(b: BookBuilder, paths: list[Path]) -> list[str]:
    """Read bubble-map edge files into ``b``; return the files read.

    A folder stands for its ``edges.csv`` (or ``data/edges.csv``).

    Raises
    ------
    DealBookError
        Missing file or column (one problem per column), or unreadable values
        (every one, with file, line and column).
    """
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = [q for q in (p / "edges.csv", p / "data" / "edges.csv") if q.is_file()]
            if not found:
                raise DealBookError(Problem(str(p), None, "", "no edges.csv in this folder"))
            files.append(found[0])
        else:
            files.append(p)
    problems: list[Problem] = []
    for f in files:
        _, rows = read_csv(f, REQUIRED)
        for row in rows:
            b.rows += 1
            _row(b, row, problems)
    if problems:
        raise DealBookError(problems)
    return [str(f) for f in files]
