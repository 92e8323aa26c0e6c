"""LOI leverage: how much debt stands on non-binding letters of intent (DESIGN §3, Q7).

A contract *rests on* a letter of intent if, following references from it,
one reaches an LOI that has not converted (every ``letter_of_intent`` in the
book is unconverted by definition; a converted one is a binding contract):

* it ``depends_on`` an LOI or a contract that rests on one;
* a chip purchase or loan ``serves`` such a contract;
* a loan's ``collateral`` names such a contract (or the LOI itself);
* a backstop ``covers`` one, or a warrant is the price of an ``order`` that is one.

A backstop that covers an LOI itself is a residual value guarantee on it: it
pays if the LOI lapses, so it does not rest on the LOI, and neither does debt
it secures.

The closure is taken transitively. The **LOI-backed debt** is the principal
outstanding on loans and bonds that rest on an LOI; the leverage figures
divide it by the binding contract value due in the window and by the
average annual end revenue in the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from loopwatch.analysis.flows import (
    PeriodLike,
    Window,
    flows_from_book,
    resolve_window,
)
from loopwatch.model import (
    BackstopContract,
    ChipPurchase,
    ContractType,
    DealBook,
    LetterOfIntent,
    LoanContract,
    Period,
    Warrant,
)

__all__ = ["LoiLeverage", "loi_dependencies", "loi_leverage"]

_DEBT = (ContractType.loan, ContractType.bond)
_COMMERCIAL = (ContractType.compute_commitment, ContractType.chip_purchase,
               ContractType.equity_investment)


def _refs(c: Any) -> list[tuple[str, str]]:
    """(referenced contract id, how) for every reference a contract makes."""
    out = []
    if c.depends_on:
        out.append((c.depends_on, "depends on"))
    if isinstance(c, ChipPurchase | LoanContract) and c.serves:
        out.append((c.serves, "serves"))
    if isinstance(c, LoanContract):
        out.extend((col, "secured by") for col in c.collateral)
    if isinstance(c, BackstopContract) and c.covers:
        out.append((c.covers, "covers"))  # (dropped by the caller when it is an LOI)
    if isinstance(c, Warrant) and c.order:
        out.append((c.order, "pays for"))
    return out


def loi_dependencies(book: DealBook) -> dict[str, tuple[frozenset[str], str]]:
    """Contracts resting on unconverted LOIs, with the LOIs and the first link found.

    Parameters
    ----------
    book : DealBook

    Returns
    -------
    dict
        Contract id → (ids of the LOIs it rests on, ``"how ref"`` of the
        first reference that put it there). LOIs map to themselves.

    Examples
    --------
    >>> from loopwatch.model import DealBook
    >>> book = DealBook.model_validate({"name": "x", "firms": [
    ...     {"id": f, "name": f, "role": r} for f, r in
    ...     [("a", "cloud"), ("b", "model_developer"), ("bank", "lender")]],
    ...   "contracts": [
    ...     {"id": "loi", "type": "letter_of_intent", "payer": "b", "payee": "a",
    ...      "amount": 10, "schedule": {"start": "2026Q1"}, "decision": "2026Q4"},
    ...     {"id": "cc", "type": "compute_commitment", "payer": "b", "payee": "a",
    ...      "amount": 10, "schedule": {"start": "2026Q1"}, "depends_on": "loi"},
    ...     {"id": "l", "type": "loan", "payer": "bank", "payee": "a", "amount": 5,
    ...      "schedule": {"start": "2026Q1"}, "maturity": "2030Q4", "collateral": ["cc"]}]})
    >>> deps = loi_dependencies(book)
    >>> sorted(deps), deps["l"][1]
    (['cc', 'l', 'loi'], 'secured by cc')
    """
    found: dict[str, tuple[frozenset[str], str]] = {
        c.id: (frozenset({c.id}), "is an LOI") for c in book.contracts
        if isinstance(c, LetterOfIntent)
    }
    lois = set(found)
    changed = True
    while changed:  # fixpoint: at most one pass per link in the longest chain
        changed = False
        for c in book.contracts:
            for ref, how in _refs(c):
                if ref not in found or (how == "covers" and ref in lois):
                    continue  # (a guarantee on an LOI pays when it lapses: see above)
                roots = found[ref][0]
                old = found.get(c.id)
                if old is None:
                    found[c.id] = (roots, f"{how} {ref}")
                    changed = True
                elif not roots <= old[0]:
                    found[c.id] = (old[0] | roots, old[1])
                    changed = True
    return found


@dataclass(frozen=True, eq=False)
class LoiLeverage:
    """Result of :func:`loi_leverage`.

    Attributes
    ----------
    window : Window
    debt : float
        Peak LOI-backed principal outstanding in the window, USD.
    debt_at_end : float
        LOI-backed principal outstanding at the window's last quarter, USD.
    binding_value : float
        Binding compute commitments, chip purchases and equity investments
        due in the window, USD.
    end_revenue : float
        Average annual end-customer revenue in the window, USD a year.
    per_binding_dollar, per_end_revenue_dollar : float or None
        ``debt`` / ``binding_value`` and ``debt`` / ``end_revenue`` (None
        when the denominator is zero).
    loans : pandas.DataFrame
        One row per LOI-backed loan or bond (index: contract id): ``type``,
        ``lender``, ``borrower``, ``amount``, ``peak_outstanding``,
        ``outstanding_end`` (USD), ``lois`` (tuple of ids), ``via``
        (first link, e.g. ``"secured by cc-x"``).
    lois : pandas.DataFrame
        One row per LOI (index: id): ``payer``, ``payee``, ``amount``,
        ``decision``, ``conversion_probability``, ``dependents`` (count of
        contracts resting on it) and ``debt`` (peak outstanding of the loans
        resting on it, USD; a loan on two LOIs counts for both).
    outstanding : pandas.Series
        Total LOI-backed principal outstanding by quarter in the window, USD.
    """

    window: Window
    debt: float
    debt_at_end: float
    binding_value: float
    end_revenue: float
    per_binding_dollar: float | None
    per_end_revenue_dollar: float | None
    loans: pd.DataFrame
    lois: pd.DataFrame
    outstanding: pd.Series

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        def rec(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [{"id": str(k), **{str(c): (list(v) if isinstance(v, tuple) else v)
                                       for c, v in row.items()}}
                    for k, row in frame.to_dict(orient="index").items()]
        return {
            "window": {"start": str(self.window.start), "end": str(self.window.end)},
            "debt": self.debt,
            "debt_at_end": self.debt_at_end,
            "binding_value": self.binding_value,
            "end_revenue": self.end_revenue,
            "per_binding_dollar": self.per_binding_dollar,
            "per_end_revenue_dollar": self.per_end_revenue_dollar,
            "loans": rec(self.loans),
            "lois": rec(self.lois),
            "outstanding": {str(k): float(v) for k, v in self.outstanding.items()},
        }


def _outstanding(flows: pd.DataFrame, book: DealBook, ids: list[str],
                 labels: list[str]) -> pd.DataFrame:
    """Principal outstanding (quarter × loan, USD) from drawdown and repayment legs."""
    f = flows[flows["contract"].isin(ids)]
    if "leg" in f:
        draw = f[f["leg"] == "drawdown"]
        repay = f[f["leg"] == "repayment"]
    else:  # no legs: money from the lender is principal; service is not told apart
        lender = f["contract"].map({i: book.contract(i).payer for i in ids})
        draw = f[f["payer"] == lender]
        repay = f.iloc[0:0]
    signed = pd.concat([draw.assign(x=draw["amount"]), repay.assign(x=-repay["amount"])])
    periods = sorted(set(signed["period"]) | set(labels), key=Period.parse)
    table = (signed.pivot_table(index="period", columns="contract", values="x", aggfunc="sum")
             .reindex(index=periods, columns=ids).fillna(0.0).cumsum().clip(lower=0.0))
    return table.loc[labels]


def loi_leverage(
    book: DealBook,
    *,
    start: PeriodLike | None = None,
    end: PeriodLike | None = None,
    flows: pd.DataFrame | None = None,
) -> LoiLeverage:
    """Debt outstanding that rests on unconverted LOIs, per binding dollar and per end-revenue dollar.

    Parameters
    ----------
    book : DealBook
        The deal book: its references decide what rests on an LOI.
    start, end : Period, str, int or None
        The window (a bare year covers the whole year); default the book's
        start–horizon.
    flows : pandas.DataFrame, optional
        A flows table (e.g. simulated) to measure outstanding debt, binding
        contract value and end revenue from instead of the book's schedules.
        It must cover the loans from their first drawdown.

    Returns
    -------
    LoiLeverage

    Raises
    ------
    ValueError
        On an empty window.

    Notes
    -----
    The whole principal of a loan that rests on an LOI counts, even if its
    collateral also holds other assets: the lender's claim is only as good
    as the weakest link it was sized on (the loans table shows the link so
    a reader can judge). Principal outstanding is cumulative drawdowns less
    repayments, from the first drawdown (before the window too). The peak
    over the window is the headline; the end value is given too.

    Examples
    --------
    >>> from loopwatch import load_deal_book
    >>> r = loi_leverage(load_deal_book("three-party-loop"))
    >>> r.debt, r.per_binding_dollar
    (0.0, 0.0)
    """
    win = resolve_window(start, end, default=Window(book.start, book.horizon))
    deps = loi_dependencies(book)
    debt_ids = [c.id for c in book.contracts if c.type in _DEBT and c.id in deps]
    labels = win.labels()

    if flows is None:
        earliest = min([c.schedule.start for c in book.contracts] + [win.start])
        loan_flows = flows_from_book(book, start=earliest, end=win.end, include=_DEBT, world=False)
        window_flows = flows_from_book(book, start=win.start, end=win.end)
    else:
        loan_flows = flows.assign(period=[str(p) for p in flows["period"]])
        window_flows = loan_flows[loan_flows["period"].isin(labels)]

    out = (_outstanding(loan_flows, book, debt_ids, labels) if debt_ids
           else pd.DataFrame(index=labels, dtype=float))
    total = out.sum(axis=1) if debt_ids else pd.Series(0.0, index=labels)
    total.index.name = "period"

    kinds = {t.value for t in _COMMERCIAL}
    rows = window_flows[window_flows["kind"].isin(kinds)]
    if "binding" in rows:
        rows = rows[rows["binding"].astype(bool)]
    if "leg" in rows:
        rows = rows[~rows["leg"].isin(("interest", "repayment"))]
    binding_value = float(rows["amount"].sum())
    end_revenue = float(window_flows.loc[window_flows["kind"] == "end_revenue", "amount"].sum())
    end_revenue /= win.years
    debt = float(total.max()) if len(total) else 0.0

    loans = pd.DataFrame(
        [{"id": i, "type": book.contract(i).type.value, "lender": book.contract(i).payer,
          "borrower": book.contract(i).payee, "amount": book.contract(i).amount,
          "peak_outstanding": float(out[i].max()), "outstanding_end": float(out[i].iloc[-1]),
          "lois": tuple(sorted(deps[i][0])), "via": deps[i][1]} for i in debt_ids],
        columns=["id", "type", "lender", "borrower", "amount", "peak_outstanding",
                 "outstanding_end", "lois", "via"],
    ).set_index("id")
    loans = loans.sort_values("peak_outstanding", ascending=False, kind="stable")
    loi_rows = []
    peak = loans["peak_outstanding"]
    for c in book.contracts:
        if isinstance(c, LetterOfIntent):
            resting = [k for k, (roots, _) in deps.items() if c.id in roots and k != c.id]
            loi_rows.append({
                "id": c.id, "payer": c.payer, "payee": c.payee, "amount": c.amount,
                "decision": str(c.decision), "conversion_probability": c.conversion_probability,
                "dependents": len(resting),
                "debt": float(peak.reindex(resting).fillna(0.0).sum()),
            })
    lois = pd.DataFrame(loi_rows, columns=["id", "payer", "payee", "amount", "decision",
                                           "conversion_probability", "dependents", "debt"])
    lois = lois.set_index("id").sort_values("debt", ascending=False, kind="stable")
    return LoiLeverage(
        window=win,
        debt=debt,
        debt_at_end=float(total.iloc[-1]) if len(total) else 0.0,
        binding_value=binding_value,
        end_revenue=end_revenue,
        per_binding_dollar=debt / binding_value if binding_value > 0 else None,
        per_end_revenue_dollar=debt / end_revenue if end_revenue > 0 else None,
        loans=loans,
        lois=lois,
        outstanding=total,
    )
