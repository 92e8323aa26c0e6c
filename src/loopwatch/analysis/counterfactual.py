"""The counterfactual deal book: vendor financing replaced by outside investors' cash.

DESIGN §3 (amplification) compares the circular book with a counterfactual in
which "every loop link that recycles a vendor's own money" is financed from
outside instead. This module builds that book by a transformation users can
inspect (``loopwatch counterfactual BOOK -o OUT.yaml``).

Who is a vendor
---------------
The **purchase graph** has an edge customer → supplier for every

* compute commitment (buyer → cloud), and cloud → each chip vendor in its
  ``vendor_mix`` (the capex the commitment makes the cloud spend);
* chip purchase (buyer → vendor);
* letter of intent that would convert into one of those two.

Firm V is a **vendor of** firm C when V is reachable from C in this graph
(C ≠ V): money C pays for compute ends up, directly or through intermediaries,
as V's revenue. Nvidia is a vendor of OpenAI in the three-party loop
(OpenAI → Oracle → Nvidia); AMD is a vendor of OpenAI when OpenAI buys AMD
chips. A warrant whose ``order`` names a purchase the holder pays to the
issuer makes the issuer a vendor of the holder by construction.

What is replaced
----------------
A **vendor-financing link** is a contract by which a vendor's money (or
shares, or guarantee) goes to one of its customers:

* an equity investment, loan or bond whose payer is a vendor of its payee;
* a backstop whose guarantor is a vendor of its beneficiary;
* a warrant whose issuer is a vendor of its holder;
* a letter of intent that would convert into one of the above, with a vendor payer.

Each link keeps its id, amount, schedule, status and sources; its payer
becomes the new firm ``outside_investors`` (role ``investor``). A warrant
becomes an equity investment by ``outside_investors`` of the warrant's
notional (``amount``: shares × issue-day price), split over its tranches by
shares and paid on the same milestones, except share-price hurdles on the
vendor (the outside money does not depend on the vendor's stock). The
outside investors open with exactly the cash the replaced links can call,
so they never need funding themselves. Everything else — firms, purchases,
loans from lenders — is unchanged. A book with no vendor financing comes
back with the same firms and contracts (only its name marks it).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from loopwatch.model import (
    Assumption,
    Contract,
    ContractType,
    DealBook,
    EquityInvestment,
    EquityTranche,
    Firm,
    Metric,
    Role,
    Warrant,
)

__all__ = ["OUTSIDE_INVESTORS", "VendorLink", "counterfactual_book", "vendor_links", "vendors_of"]

OUTSIDE_INVESTORS = "outside_investors"

_PURCHASES = (ContractType.compute_commitment, ContractType.chip_purchase)
_FINANCING = (
    ContractType.equity_investment,
    ContractType.loan,
    ContractType.bond,
    ContractType.backstop,
    ContractType.warrant,
)


@dataclass(frozen=True)
class VendorLink:
    """One vendor-financing link the counterfactual replaces.

    Attributes
    ----------
    contract : str
        Contract id.
    type : str
        Contract type (for a letter of intent, ``letter_of_intent→<type>``).
    vendor : str
        The vendor whose money (shares, guarantee) the link moves.
    customer : str
        The vendor's customer that receives it.
    amount : float
        Contract amount, USD.
    route : tuple of str
        A purchase route from the customer back to the vendor (customer first).
    """

    contract: str
    type: str
    vendor: str
    customer: str
    amount: float
    route: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"contract": self.contract, "type": self.type, "vendor": self.vendor,
                "customer": self.customer, "amount": self.amount, "route": list(self.route)}


def _purchase_graph(book: DealBook) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for c in book.contracts:
        kind = c.converts_to if c.type is ContractType.letter_of_intent else c.type
        if kind not in _PURCHASES:
            continue
        edges[c.payer].add(c.payee)
        if kind is ContractType.compute_commitment:
            for vendor, share in getattr(c, "vendor_mix", {}).items():
                if share > 0 and vendor != c.payee:
                    edges[c.payee].add(vendor)
    return edges


def _routes(book: DealBook) -> dict[str, dict[str, tuple[str, ...]]]:
    """customer → {vendor: shortest purchase route customer … vendor} (breadth first)."""
    graph = _purchase_graph(book)
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for start in {f.id for f in book.firms} | set(graph):
        seen: dict[str, tuple[str, ...]] = {}
        frontier: list[tuple[str, ...]] = [(start,)]
        while frontier:
            nxt: list[tuple[str, ...]] = []
            for route in frontier:
                for v in sorted(graph.get(route[-1], ())):
                    if v != start and v not in seen:
                        seen[v] = (*route, v)
                        nxt.append((*route, v))
            frontier = nxt
        if seen:
            out[start] = seen
    return out


def vendors_of(book: DealBook) -> dict[str, set[str]]:
    """Each firm's vendors: the firms its compute payments reach in the purchase graph.

    Parameters
    ----------
    book : DealBook

    Returns
    -------
    dict of str to set of str
        Customer id → ids of its vendors (firms without vendors are omitted).

    Examples
    --------
    >>> from loopwatch.io import load_deal_book
    >>> vendors_of(load_deal_book("three-party-loop"))["openai"] == {"oracle", "nvidia"}
    True
    """
    return {c: set(r) for c, r in _routes(book).items()}


def _kind(c: Contract) -> ContractType:
    if c.type is ContractType.letter_of_intent:
        return c.converts_to
    return c.type


def vendor_links(book: DealBook) -> list[VendorLink]:
    """The vendor-financing links of a book, in book order (see the module docstring).

    Examples
    --------
    >>> from loopwatch.io import load_deal_book
    >>> [(x.contract, x.vendor, x.customer, x.route) for x in vendor_links(load_deal_book("three-party-loop"))]
    [('nvda-openai-equity', 'nvidia', 'openai', ('openai', 'oracle', 'nvidia'))]
    """
    routes = _routes(book)
    links = []
    for c in book.contracts:
        kind = _kind(c)
        if kind not in _FINANCING or c.payer == c.payee:
            continue
        route = routes.get(c.payee, {}).get(c.payer)
        if route is None and isinstance(c, Warrant) and c.order is not None:
            order = book.contract_index.get(c.order)
            if order is not None:
                o = book.contracts[order]
                if o.payer == c.payee and o.payee == c.payer:
                    route = (c.payee, c.payer)
        if route is None:
            continue
        label = kind.value if c.type is kind else f"{c.type.value}→{kind.value}"
        links.append(VendorLink(c.id, label, c.payer, c.payee, float(c.amount), route))
    return links


def _warrant_as_equity(w: Warrant) -> EquityInvestment:
    total_shares = sum(t.shares for t in w.tranches)
    tranches = tuple(
        EquityTranche(
            amount=w.amount * t.shares / total_shares,
            at=w.schedule.start,
            conditions=tuple(cond for cond in t.conditions if cond.metric is not Metric.share_price),
        )
        for t in w.tranches
    )
    note = f"counterfactual: was a warrant issued by {w.payer} ({w.shares:.6g} shares at {w.strike:g})"
    return EquityInvestment(
        id=w.id, payer=OUTSIDE_INVESTORS, payee=w.payee, amount=w.amount, schedule=w.schedule,
        binding=w.binding, status=w.status, confidence=w.confidence, name=w.name, date=w.date,
        sources=w.sources, assumptions=w.assumptions, depends_on=w.depends_on,
        notes=note if not w.notes else f"{note}. {w.notes}", tranches=tranches,
    )


def counterfactual_book(book: DealBook, *, investor: str = OUTSIDE_INVESTORS) -> DealBook:
    """The book with every vendor-financing link financed by outside investors instead.

    Parameters
    ----------
    book : DealBook
        The circular deal book.
    investor : str, default ``"outside_investors"``
        Id of the outside investor firm (created, role ``investor``).

    Returns
    -------
    DealBook
        Named ``<book>-counterfactual``; same firms plus the outside investor
        (only if something is replaced), same contracts with the links'
        payer replaced and warrants turned into equity investments, and an
        assumption ``counterfactual-outside-investors`` listing what changed.

    Raises
    ------
    ValueError
        If the book already has a firm called ``investor`` that is not an investor.

    Examples
    --------
    >>> from loopwatch.io import load_deal_book
    >>> cf = counterfactual_book(load_deal_book("three-party-loop"))
    >>> cf.name, cf.contract("nvda-openai-equity").payer, cf.firm("outside_investors").cash
    ('three-party-loop-counterfactual', 'outside_investors', 10000000000.0)
    """
    links = vendor_links(book)
    name = f"{book.name}-counterfactual"
    title = f"{book.title or book.name} — counterfactual: vendor financing from outside investors"
    fields = {k: getattr(book, k) for k in DealBook.model_fields}
    if not links:  # validated construction: no cached index is carried over
        return DealBook.model_validate({**fields, "name": name, "title": title})
    replaced = {x.contract: x for x in links}
    contracts: list[Contract] = []
    for c in book.contracts:
        if c.id not in replaced:
            contracts.append(c)
        elif isinstance(c, Warrant):
            contracts.append(_warrant_as_equity(c))
        else:
            note = f"counterfactual: was paid by {c.payer}"
            contracts.append(c.model_copy(update={
                "payer": investor, "notes": note if not c.notes else f"{note}. {c.notes}",
            }))
    need = sum(x.amount for x in links)
    firms = list(book.firms)
    if investor in book.firm_index:
        existing = book.firm(investor)
        if existing.role is not Role.investor:
            raise ValueError(f"{investor!r} exists in {book.name} with role {existing.role.value}, not investor")
        firms[book.firm_index[investor]] = existing.model_copy(update={"cash": existing.cash + need})
    else:
        firms.append(Firm(
            id=investor, name="Outside investors", role=Role.investor, cash=need,
            notes="counterfactual: outside equity and credit replacing vendor financing; "
                  "opens with the cash the replaced links can call",
        ))
    assumption = Assumption(
        id="counterfactual-outside-investors",
        statement=(f"{len(links)} vendor-financing links are paid by {investor} instead of the vendor: "
                   + "; ".join(f"{x.contract} ({x.vendor}→{x.customer})" for x in links)),
        rationale=("Amplification (DESIGN §3) compares the circular book with one in which vendors' "
                   "own money no longer returns to them as orders; the same cash comes from outside."),
        applies_to=tuple(x.contract for x in links),
    )
    return DealBook.model_validate({
        **fields, "name": name, "title": title, "firms": tuple(firms), "contracts": tuple(contracts),
        "assumptions": (*book.assumptions, assumption),
    })
