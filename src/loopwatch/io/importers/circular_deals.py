"""Reader for circular-deals-visualizer's ``deals.csv`` and ``companies.csv``.

(HSQ0503/CircularDealsVisulizer, "AI Bubble Map", from its database seed.)

``deals.csv`` columns: ``deal_id,announced,deal_type,flow_type,outflow_parties,
inflow_parties,other_parties,amount_usd,amount_usd_min,amount_usd_max,
amount_text,data_status,source_publishers,source_urls,mean_source_confidence``
(the first six and ``amount_usd`` required). ``companies.csv`` (``slug,name,
ticker,valuation_usd,valuation_type,valuation_as_of``) is optional and gives
firms their names, ``public`` flag (a ticker) and valuation.

Decisions (also in ``docs/importers.md``):

* **Direction**: ``outflow_parties`` pays, ``inflow_parties`` receives
  (true of every row in the file, whatever the flow type). Rows with only
  ``other_parties`` (``a:PARTNER;b:PARTNER``) have no direction:
  ``no payer or payee``.
* **Types**: INVESTMENT → ``equity_investment`` (flow EQUITY: shares, not
  money — a warrant, skipped as ``warrant without share data``);
  CLOUD_COMMITMENT → ``compute_commitment`` (``backstop`` if its text says
  backstop); SUPPLY → ``chip_purchase``; ACQUISITION with flow MONEY →
  ``equity_investment`` in the target; PARTNERSHIP with an amount →
  ``letter_of_intent`` converting by flow type (MONEY → equity, SERVICE →
  compute commitment, COMPUTE_HARDWARE → chip purchase): a partnership is a
  statement of intent, not a contract.
* **Amounts**: ``amount_usd`` if given (a ceiling if ``amount_text`` starts
  "Up to"); else the midpoint of ``amount_usd_min``–``amount_usd_max``; else
  the max (a ceiling); else the min (a floor). Ceilings and ranges lower the
  confidence (×0.8). No amount: ``no amount``.
* **Status and confidence**: ``data_status`` CONFIRMED → announced, ESTIMATED
  → rumoured with confidence ×0.8; confidence = (``mean_source_confidence``
  − 1) / 4 (1–5 → 0–1; blank → 0.5). Every imported row is binding except
  partnerships.
* **Schedules**: start at the quarter of ``announced``; length from
  ``amount_text`` when it says "over N years", "N-year" or "through YYYY";
  an amount stated "annually" is one year of payments (4 quarters).
* **Duplicates**: a row repeating an earlier row's type, flow, parties,
  amounts and date is ``duplicate row`` (Amazon → Anthropic $8B and the
  Nvidia → CoreWeave $6.3B capacity deal are each listed twice).
"""

from __future__ import annotations

import re
from pathlib import Path

from loopwatch.errors import DealBookError, Problem
from loopwatch.io.importers._build import CEILING_FACTOR, BookBuilder, Deal
from loopwatch.io.importers._csv import Amount, CsvRow, parse_amount, period_of_date, read_csv
from loopwatch.io.importers._names import firm_id, is_world
from loopwatch.model import ContractType, Period, Source, Status

__all__ = ["PROJECT", "read_circular_deals", "stated_quarters"]

PROJECT = "circular-deals-visualizer"
DEALS_REQUIRED = ("deal_id", "announced", "deal_type", "flow_type", "outflow_parties",
                  "inflow_parties", "amount_usd")
COMPANIES_REQUIRED = ("slug", "name")
ESTIMATE_FACTOR = 0.8

_BY_FLOW = {
    "MONEY": ContractType.equity_investment,
    "EQUITY": ContractType.equity_investment,
    "SERVICE": ContractType.compute_commitment,
    "COMPUTE_HARDWARE": ContractType.chip_purchase,
}
_NUMBERS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}
_YEARS = re.compile(r"\b(?:over\s+)?(\d+|[a-z]+)[\s-]+years?\b", re.IGNORECASE)
_THROUGH = re.compile(r"\bthrough\s+(\d{4})\b", re.IGNORECASE)


def stated_quarters(text: str, when: Period | None) -> tuple[int | None, str]:
    """Schedule length stated in an amount text, in quarters, and how it was read.

    Examples
    --------
    >>> stated_quarters("$38 billion over seven years", None)
    (28, 'over 7 years')
    >>> stated_quarters("$14.2 billion through 2031", Period.parse("2025Q3"))
    (26, 'through 2031')
    >>> stated_quarters("~$15 billion annually (estimated)", None)
    (4, 'per year')
    >>> stated_quarters("Not disclosed", None)
    (None, '')
    """
    for m in _YEARS.finditer(text):
        word = m.group(1).lower()
        n = int(word) if word.isdigit() else _NUMBERS.get(word)
        if n:
            return 4 * n, f"over {n} years"
    through = _THROUGH.search(text)
    if through is not None and when is not None:
        q = Period.of(int(through.group(1)), 4) - when + 1
        if q > 0:
            return int(q), f"through {through.group(1)}"
    if re.search(r"\bannual(ly)?\b|\bper year\b", text, re.IGNORECASE):
        return 4, "per year"
    return None, ""


def _amount(row: CsvRow, problems: list[Problem]) -> Amount | None:
    cells = {}
    for col in ("amount_usd", "amount_usd_min", "amount_usd_max"):
        try:
            a = parse_amount(row.get(col))
        except ValueError as exc:
            problems.append(row.problem(col, str(exc)))
            return None
        if a is not None and a.value < 0:
            problems.append(row.problem(col, f"negative amount {row.get(col)!r}"))
            return None
        cells[col] = a
    exact, lo, hi = cells["amount_usd"], cells["amount_usd_min"], cells["amount_usd_max"]
    if exact is not None:
        up_to = row.get("amount_text").lower().startswith("up to")
        return Amount(exact.value, "up to") if up_to and exact.kind == "exact" else exact
    if lo is not None and hi is not None:
        if lo.value > hi.value:
            problems.append(row.problem("amount_usd_min", "min is above max"))
            return None
        return Amount((lo.value + hi.value) / 2, "range")
    if hi is not None:
        return Amount(hi.value, "up to")
    if lo is not None:
        return Amount(lo.value, "at least")
    return None


def _type(deal_type: str, flow: str, text: str) -> tuple[ContractType | None, ContractType | None, str]:
    """(type, converts_to, note) for a deal type and flow type; (None, None, why) if unmapped."""
    if deal_type == "INVESTMENT":
        if flow == "EQUITY":
            return ContractType.warrant, None, ""
        return ContractType.equity_investment, None, ""
    if deal_type == "CLOUD_COMMITMENT":
        if "backstop" in text.lower():
            return ContractType.backstop, None, "Described as a capacity backstop."
        return ContractType.compute_commitment, None, ""
    if deal_type == "SUPPLY":
        return ContractType.chip_purchase, None, ""
    if deal_type == "ACQUISITION" and flow == "MONEY":
        return ContractType.equity_investment, None, "An acquisition, imported as an equity investment in the target."
    if deal_type == "PARTNERSHIP" and flow in _BY_FLOW:
        return (ContractType.letter_of_intent, _BY_FLOW[flow],
                "A partnership: imported as a letter of intent.")
    return None, None, f"{deal_type} / {flow}"


def _sources(row: CsvRow) -> list[Source]:
    note = f"{PROJECT} row {row.row}"
    pubs = [p.strip() for p in row.get("source_publishers").split(";") if p.strip()]
    urls = row.get("source_urls").split()
    if urls and len(pubs) == len(urls):
        return [Source(title=p, url=u, note=note) for p, u in zip(pubs, urls, strict=True)]
    if urls:
        title = "; ".join(pubs) or f"{PROJECT} deals.csv"
        return [Source(title=title, url=u, note=note) for u in urls]
    return [Source(title=p, note=note) for p in pubs] or [Source(title=f"{PROJECT} deals.csv", note=note)]


def _deal(b: BookBuilder, row: CsvRow, problems: list[Problem]) -> None:
    n_problems = len(problems)
    amount = _amount(row, problems)
    when: Period | None = None
    if row.get("announced"):
        try:
            when = period_of_date(row.get("announced"))
        except ValueError as exc:
            problems.append(row.problem("announced", str(exc)))
    confidence = 0.5
    if row.get("mean_source_confidence"):
        try:
            score = float(row.get("mean_source_confidence"))
            if not 1 <= score <= 5:
                raise ValueError(f"{score:g} is outside 1–5")
            confidence = (score - 1) / 4
        except ValueError as exc:
            problems.append(row.problem("mean_source_confidence", str(exc)))
    if len(problems) > n_problems:
        return
    deal_type, flow = row.get("deal_type").upper(), row.get("flow_type").upper()
    out, into = row.get("outflow_parties"), row.get("inflow_parties")
    what = f"{row.get('deal_id')}: {out or '?'} → {into or '?'} {deal_type}"
    earlier = b.duplicate(tuple(row.get(c) for c in (
        "deal_type", "flow_type", "outflow_parties", "inflow_parties", "amount_usd",
        "amount_usd_min", "amount_usd_max", "announced")), row)
    if earlier is not None:
        b.skip(row, "duplicate row", f"{what}, as row {earlier}")
        return
    if not out or not into:
        b.skip(row, "no payer or payee", f"{what} {row.get('other_parties')}".strip())
        return
    if ";" in out or ";" in into:
        b.skip(row, "several parties on one side", what)
        return
    if is_world(out) or is_world(into):
        b.skip(row, "outside market", what)
        return
    ctype, converts_to, type_note = _type(deal_type, flow, row.get("amount_text"))
    if ctype is None:
        b.skip(row, "unsupported deal type", type_note)
        return
    if ctype is ContractType.warrant:
        b.skip(row, "warrant without share data", f"{what}: {row.get('amount_text')}")
        return
    if amount is None or amount.value == 0:
        b.skip(row, "no amount", what)
        return
    payer, payee = firm_id(out), firm_id(into)
    if payer == payee:
        b.skip(row, "same firm on both sides", what)
        return
    data_status = row.get("data_status").upper()
    notes = [f"Source text: {row.get('amount_text')!r}."] if row.get("amount_text") else []
    if type_note:
        notes.append(type_note)
    if data_status == "ESTIMATED":
        status, confidence = Status.rumoured, confidence * ESTIMATE_FACTOR
        notes.append(f"Amount estimated by the source: confidence ×{ESTIMATE_FACTOR}.")
    else:
        status = Status.announced
        if data_status not in ("CONFIRMED", ""):
            notes.append(f"data_status {data_status!r} is not in the importer's table: read as announced.")
    if amount.kind in ("up to", "range"):
        confidence *= CEILING_FACTOR
        notes.append(f"Amount is {'a ceiling' if amount.kind == 'up to' else 'a range midpoint'}: "
                     f"confidence ×{CEILING_FACTOR}.")
    elif amount.kind == "at least":
        notes.append("Amount is a floor (the minimum of a range).")
    quarters, how = stated_quarters(row.get("amount_text"), when)
    if how:
        notes.append(f"Length from the source text ({how}).")
    b.add(Deal(row=row, type=ctype, converts_to=converts_to, payer=payer, payee=payee,
               names=(out, into), amount=amount, status=status,
               binding=ctype is not ContractType.letter_of_intent, confidence=confidence,
               sources=_sources(row), id_hint=row.get("deal_id"), when=when,
               date=row.get("announced") or None, quarters=quarters, notes=notes))


def _company(b: BookBuilder, row: CsvRow, problems: list[Problem]) -> None:
    fid = firm_id(row.get("slug"))
    if not fid:
        problems.append(row.problem("slug", "blank or unreadable slug"))
        return
    extra: dict[str, object] = {"name": row.get("name") or fid, "public": bool(row.get("ticker"))}
    if row.get("valuation_usd"):
        try:
            a = parse_amount(row.get("valuation_usd"))
        except ValueError as exc:
            problems.append(row.problem("valuation_usd", str(exc)))
            return
        if a is not None and a.value > 0:
            kind = row.get("valuation_type").lower().replace("_", " ") or "valuation"
            as_of = row.get("valuation_as_of")
            extra["valuation"] = a.value
            extra["sources"] = [{"title": f"{PROJECT} companies.csv", "figures": ["valuation"],
                                 "note": f"{PROJECT} companies row {row.row}: {kind}"
                                         + (f" as of {as_of}" if as_of else "")}]
    b.firm(fid, **extra)


def _kind(path: Path) -> str:
    head = path.read_text(encoding="utf-8-sig").split("\n", 1)[0] if path.is_file() else ""
    cols = {c.strip() for c in head.split(",")}
    if "deal_id" in cols:
        return "deals"
    if "slug" in cols:
        return "companies"
    return path.name.removesuffix(".csv") if path.name in ("deals.csv", "companies.csv") else "?"


def read_circular_deals(b: BookBuilder, paths: list[Path]) -> list[str]:
    """Read circular-deals-visualizer files into ``b``; return the files read.

    A folder stands for its ``companies.csv`` (optional) and ``deals.csv``;
    files are told apart by their header (``deal_id`` or ``slug``).

    Raises
    ------
    DealBookError
        Missing file, no deals file, missing columns, or unreadable values
        (every one, with file, line and column).
    """
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            if not (p / "deals.csv").is_file():
                raise DealBookError(Problem(str(p), None, "", "no deals.csv in this folder"))
            files += [q for q in (p / "companies.csv", p / "deals.csv") if q.is_file()]
        else:
            files.append(p)
    kinds = [(f, _kind(f)) for f in files]
    for f, kind in kinds:
        if kind == "?" and f.is_file():
            raise DealBookError(Problem(str(f), 1, "", "not a circular-deals-visualizer file "
                                        "(expected a header with deal_id or slug)"))
    if not any(k == "deals" for _, k in kinds) and all(f.is_file() for f in files):
        raise DealBookError(Problem(str(files[0]) if files else PROJECT, None, "",
                                    "no deals file given (deals.csv, with a deal_id column)"))
    problems: list[Problem] = []
    # companies first, so that deals can use their names whatever the order given
    for f, kind in sorted(kinds, key=lambda fk: fk[1] != "companies"):
        if kind == "companies":
            _, rows = read_csv(f, COMPANIES_REQUIRED)
            for row in rows:
                _company(b, row, problems)
        else:
            _, rows = read_csv(f, DEALS_REQUIRED)
            for row in rows:
                b.rows += 1
                _deal(b, row, problems)
    if problems:
        raise DealBookError(problems)
    return [str(f) for f in files]
