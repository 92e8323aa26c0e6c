"""The flows table: every payment of a deal book, quarter by quarter.

Every analytic in :mod:`loopwatch.analysis` runs on a *flows table*, a tidy
:class:`pandas.DataFrame` with one row per payment::

    period  payer  payee  amount  kind  binding  status  contract  leg

``period`` is a quarter label such as ``"2027Q1"`` (strings sort in time
order), ``amount`` is USD paid in that quarter (≥ 0), ``kind`` is the contract
type (``"compute_commitment"``, ``"loan"``, ...) or, for flows with the
outside world, one of :data:`WORLD_KINDS`. :func:`flows_from_book` builds the
table from a deal book's contracts alone; the engine produces the same table
from a simulation, so the same analytics run on both.

The outside world
-----------------
Money enters and leaves the firms through ``world:*`` accounts, so the table
is closed: over the window every firm pays out exactly what it takes in.

================================  ==========================  ===================================
account                           kind                        meaning
================================  ==========================  ===================================
``world:end_customers`` → firm    ``end_revenue``             what users pay model developers
``world:non_loop`` → firm         ``non_loop_revenue``        revenue from outside the deals
``world:opening_cash`` → firm     ``opening_cash``            cash at the window's first quarter
``world:equity`` → firm           ``outside_equity``          new equity from outside investors
``world:debt`` → firm             ``outside_debt``            new borrowing from outside lenders
firm → ``world:debt``             ``interest``                interest on the opening debt
firm → ``world:opex``             ``opex``                    operating costs
firm → ``world:closing_cash``     ``closing_cash``            cash left at the window's end
================================  ==========================  ===================================

**Outside equity and debt.** The contracts of a book rarely balance a firm's
budget (OpenAI commits far more than it earns), so the table closes each
firm's budget the way the engine's funding waterfall starts: cash is tracked
quarter by quarter from the book's start; when it would fall below the firm's
``min_cash`` the shortfall is raised from outside, first by drawing the
firm's committed ``credit_facility`` (outside debt), then split between
outside debt and outside equity in proportion to the firm's opening capital
structure (``debt`` against market value; all equity when both are zero).
Lenders (role ``lender``, e.g. a ``bond_market`` firm) raise only outside debt
and investors (role ``investor``) only outside equity, so a loan from a lender
firm carries outside debt into the loop and an equity cheque from an
investor firm carries outside equity. Interest on the raised money is not
charged (no feedback from the closure onto itself).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from loopwatch.model import (
    ContractType,
    DealBook,
    EquityInvestment,
    Firm,
    LetterOfIntent,
    LoanContract,
    Period,
    Role,
    Status,
    Warrant,
)
from loopwatch.model.contracts import Amortisation

__all__ = [
    "ALL_TYPES",
    "COLUMNS",
    "CONTINGENT_TYPES",
    "MONEY_TYPES",
    "REVENUE_KINDS",
    "WORLD",
    "WORLD_KINDS",
    "Window",
    "as_flows",
    "filter_flows",
    "flows_from_book",
    "is_world",
    "resolve_window",
]

COLUMNS = ("period", "payer", "payee", "amount", "kind", "binding", "status", "contract", "leg")
"""Columns of a flows table, in order."""


class WORLD:
    """Ids of the outside world's accounts (sources and sinks of money)."""

    END_CUSTOMERS = "world:end_customers"
    NON_LOOP = "world:non_loop"
    OPENING_CASH = "world:opening_cash"
    EQUITY = "world:equity"
    DEBT = "world:debt"
    OPEX = "world:opex"
    CLOSING_CASH = "world:closing_cash"
    UNATTRIBUTED = "world:unattributed"


WORLD_KINDS = (
    "end_revenue",
    "non_loop_revenue",
    "opening_cash",
    "outside_equity",
    "outside_debt",
    "interest",
    "opex",
    "closing_cash",
)
"""``kind`` values of flows with the outside world."""

MONEY_TYPES: tuple[ContractType, ...] = (
    ContractType.compute_commitment,
    ContractType.chip_purchase,
    ContractType.equity_investment,
    ContractType.loan,
    ContractType.bond,
)
"""Contract types that move cash on their schedule by themselves."""

CONTINGENT_TYPES: tuple[ContractType, ...] = (
    ContractType.letter_of_intent,
    ContractType.warrant,
    ContractType.backstop,
)
"""Contract types that move no cash by themselves (an LOI until it converts, a
warrant's shares, a backstop until called); included on request "as if" they
paid on schedule."""

ALL_TYPES: tuple[ContractType, ...] = MONEY_TYPES + CONTINGENT_TYPES

REVENUE_KINDS = frozenset(
    {"compute_commitment", "chip_purchase", "backstop", "end_revenue", "non_loop_revenue"}
)
"""Kinds of inflow that count as operating revenue (the rest is funding)."""


def is_world(account: str) -> bool:
    """True for an outside-world account id (``world:...``).

    Examples
    --------
    >>> is_world("world:opex"), is_world("oracle")
    (True, False)
    """
    return account.startswith("world:")


@dataclass(frozen=True)
class Window:
    """An inclusive range of quarters ``start``–``end``."""

    start: Period
    end: Period

    @property
    def quarters(self) -> int:
        """Number of quarters in the window."""
        return int(self.end - self.start) + 1

    @property
    def years(self) -> float:
        """Length of the window in years."""
        return self.quarters / 4.0

    def __contains__(self, period: object) -> bool:
        return isinstance(period, Period) and self.start <= period <= self.end

    def labels(self) -> list[str]:
        """The window's quarter labels, in order."""
        return [str(self.start + k) for k in range(self.quarters)]

    def __str__(self) -> str:
        return f"{self.start}–{self.end}"


PeriodLike = Period | str | int


def _bound(value: PeriodLike, *, end: bool) -> Period:
    # a bare year means its first quarter as a start and its last as an end
    if isinstance(value, Period):
        return value
    text = str(value).strip()
    if text.isdigit() and len(text) == 4:
        return Period.of(int(text), 4 if end else 1)
    return Period.parse(text)


def resolve_window(
    start: PeriodLike | None, end: PeriodLike | None, *, default: Window
) -> Window:
    """Read a window from user bounds; a bare year covers the whole year.

    Parameters
    ----------
    start, end : Period, str, int or None
        ``"2025"``/``2025`` (a year: Q1 as a start, Q4 as an end) or ``"2027Q2"``;
        ``None`` takes the default's bound.
    default : Window
        The window used for missing bounds (usually the book's start–horizon).

    Returns
    -------
    Window

    Raises
    ------
    ValueError
        If a bound cannot be read or the window is empty.

    Examples
    --------
    >>> d = Window(Period.parse("2025Q1"), Period.parse("2032Q4"))
    >>> str(resolve_window(2025, "2030", default=d))
    '2025Q1–2030Q4'
    """
    lo = default.start if start is None else _bound(start, end=False)
    hi = default.end if end is None else _bound(end, end=True)
    if hi < lo:
        raise ValueError(f"empty window: end {hi} is before start {lo}")
    return Window(lo, hi)


def _types(include: Iterable[ContractType | str] | str) -> frozenset[ContractType]:
    items = [include] if isinstance(include, str) else list(include)
    out: set[ContractType] = set()
    for item in items:
        if item == "all":
            out.update(ALL_TYPES)
        elif item == "money":
            out.update(MONEY_TYPES)
        else:
            try:
                out.add(ContractType(item))
            except ValueError:
                known = ", ".join(t.value for t in ContractType)
                raise ValueError(
                    f"unknown contract type {item!r} (known: {known}, or 'all', 'money')"
                ) from None
    return frozenset(out)


def _statuses(status: Iterable[Status | str] | Status | str | None) -> frozenset[str] | None:
    if status is None:
        return None
    items = [status] if isinstance(status, str) else list(status)
    try:
        return frozenset(Status(s).value for s in items)
    except ValueError:
        known = ", ".join(s.value for s in Status)
        raise ValueError(f"unknown status in {items!r} (known: {known})") from None


def _payments(c: object) -> list[tuple[int, float]]:
    """(quarter index, USD) of a non-loan contract's payments on schedule."""
    tranches = getattr(c, "tranches", ())
    if isinstance(c, EquityInvestment | LetterOfIntent) and tranches:
        # conditional tranches are taken as paid when due: the book's own view
        return [(t.at.index, t.amount) for t in tranches]
    sched = c.schedule  # type: ignore[attr-defined]
    amount: float = c.amount  # type: ignore[attr-defined]
    return [(sched.start.index + k, amount * f) for k, f in enumerate(sched.fractions())]


def _loan_legs(c: LoanContract, base_rate: float) -> list[tuple[int, str, float]]:
    """(quarter index, leg, USD) of a loan: drawdowns, then interest and repayment."""
    rate = c.rate if c.rate is not None else base_rate + c.spread
    mat = c.maturity.index
    draws = {q: a for q, a in _payments(c) if a > 0}
    first = min([*draws, mat])
    last = max([*draws, mat])
    repay: dict[int, float] = defaultdict(float)
    for q, a in draws.items():
        if c.amortisation is Amortisation.linear and mat > q:
            for k in range(q + 1, mat + 1):
                repay[k] += a / (mat - q)
        else:
            repay[max(q, mat)] += a
    legs: list[tuple[int, str, float]] = []
    outstanding = 0.0
    for q in range(first, max(last, max(repay, default=last)) + 1):
        if outstanding > 0 and rate > 0:
            legs.append((q, "interest", outstanding * rate / 4.0))
        if draws.get(q, 0.0) > 0:
            legs.append((q, "drawdown", draws[q]))
            outstanding += draws[q]
        if repay.get(q, 0.0) > 0:
            legs.append((q, "repayment", repay[q]))
            outstanding -= repay[q]
    return legs


def _debt_share(firm: Firm) -> float:
    if firm.role is Role.lender:
        return 1.0
    if firm.role is Role.investor:
        return 0.0
    total = firm.debt + firm.market_value
    return firm.debt / total if total > 0 else 0.0


def flows_from_book(
    book: DealBook,
    *,
    start: PeriodLike | None = None,
    end: PeriodLike | None = None,
    include: Iterable[ContractType | str] | str = MONEY_TYPES,
    binding: bool | None = None,
    status: Iterable[Status | str] | Status | str | None = None,
    world: bool = True,
    base_rate: float = 0.04,
    end_revenue_growth: float = 0.0,
) -> pd.DataFrame:
    """Expand every contract's schedule into quarterly flows, with the outside world.

    Parameters
    ----------
    book : DealBook
        The deal book.
    start, end : Period, str, int or None
        The window (a bare year covers the whole year); defaults to the book's
        ``start``–``horizon``.
    include : iterable of ContractType or str, or ``"all"`` / ``"money"``
        Contract types to expand. The default, :data:`MONEY_TYPES`, holds the
        types that move cash by themselves. :data:`CONTINGENT_TYPES` are
        expanded "as if" they paid: an LOI as if converted (its tranches or
        schedule), a backstop as if called in full, a warrant as its notional
        ``amount`` passing from issuer to holder on its schedule (leg
        ``notional``).
    binding : bool or None
        Keep only binding (``True``) or only non-binding (``False``) contracts;
        ``None`` keeps both.
    status : status or iterable of statuses, optional
        Keep only contracts with these statuses.
    world : bool
        Add the outside world's flows (revenue, opex, opening and closing
        cash, outside equity and debt) that close every firm's budget.
    base_rate : float
        Annual base rate for loans priced as a spread (``rate`` unset).
    end_revenue_growth : float
        Annual growth of the firms' ``end_revenue`` (the book states only its
        opening level; scenarios grow it, the book alone keeps it flat).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`: ``period`` (str, ``"2027Q1"``), ``payer``,
        ``payee`` (firm or ``world:*`` ids), ``amount`` (USD in the quarter),
        ``kind`` (contract type or world kind), ``binding`` (bool),
        ``status`` (str, ``None`` for world flows), ``contract`` (id, ``None``
        for world flows), ``leg`` (``payment``, ``drawdown``, ``interest``,
        ``repayment``, ``notional`` or the world kind). Sorted by period.

    Raises
    ------
    ValueError
        On an unknown contract type or status, or an empty window.

    Notes
    -----
    Contract rows are emitted for every quarter of the window, whatever the
    book's start. World rows start at the book's ``start`` (the opening
    balance sheet is dated there): annual rates are paid in quarters of a
    quarter each; ``non_loop_revenue`` grows at ``non_loop_growth`` and
    ``opex_fixed`` at ``opex_growth``; opex adds ``opex_ratio`` × operating
    revenue (end, non-loop and contract revenue of kinds in
    :data:`REVENUE_KINDS`). Interest on the opening ``debt`` is paid to
    ``world:debt``; its principal is taken as rolled over. Equity tranches
    and LOI tranches are taken as paid when due (their milestone conditions
    are the simulation's business). Loans draw on their schedule, pay
    interest quarterly on the outstanding balance and repay at maturity
    (bullet) or in equal parts up to maturity (linear). The closure of the
    budget by outside equity and debt is described in the module docstring.
    Cost: O(contracts × quarters + firms × quarters).

    Examples
    --------
    >>> from loopwatch import load_deal_book
    >>> book = load_deal_book("three-party-loop")
    >>> f = flows_from_book(book)
    >>> list(f.columns) == list(COLUMNS)
    True
    >>> float(f[f.kind == "chip_purchase"].amount.sum()) / 1e9
    16.0
    >>> firms = f[~f.payer.str.startswith("world:")].payer.unique()
    >>> bool(all(abs(f[f.payee == x].amount.sum() - f[f.payer == x].amount.sum()) < 1
    ...          for x in firms))
    True
    """
    win = resolve_window(start, end, default=Window(book.start, book.horizon))
    types = _types(include)
    statuses = _statuses(status)
    rows: list[tuple[int, str, str, float, str, bool, str | None, str | None, str]] = []

    for c in book.contracts:
        if c.type not in types:
            continue
        if binding is not None and c.binding is not binding:
            continue
        if statuses is not None and c.status.value not in statuses:
            continue
        meta = (c.type.value, c.binding, c.status.value, c.id)
        if isinstance(c, LoanContract):
            for q, leg, a in _loan_legs(c, base_rate):
                payer, payee = (c.payer, c.payee) if leg == "drawdown" else (c.payee, c.payer)
                rows.append((q, payer, payee, a, *meta, leg))
        else:
            leg = "notional" if isinstance(c, Warrant) else "payment"
            for q, a in _payments(c):
                rows.append((q, c.payer, c.payee, a, *meta, leg))

    rows = [r for r in rows if r[3] > 0]
    # the budget runs from the book's start, so it sees contract flows before the window too
    outside = _world_rows(book, win, rows, end_revenue_growth) if world else []
    rows = [r for r in rows if win.start.index <= r[0] <= win.end.index] + outside

    rows.sort(key=lambda r: r[0])
    frame = pd.DataFrame(
        {
            "period": [str(Period(r[0])) for r in rows],
            "payer": [r[1] for r in rows],
            "payee": [r[2] for r in rows],
            "amount": pd.Series([r[3] for r in rows], dtype="float64"),
            "kind": [r[4] for r in rows],
            "binding": pd.Series([r[5] for r in rows], dtype="bool"),
            "status": pd.Series([r[6] for r in rows], dtype="object"),
            "contract": pd.Series([r[7] for r in rows], dtype="object"),
            "leg": [r[8] for r in rows],
        },
        columns=list(COLUMNS),
    )
    return frame


_Row = tuple[int, str, str, float, str, bool, str | None, str | None, str]


def _world_rows(book: DealBook, win: Window, rows: list[_Row], growth: float) -> list[_Row]:
    """Outside flows that close every firm's budget over the window (module docstring)."""
    first = book.start.index
    last = win.end.index
    inflow: dict[tuple[str, int], float] = defaultdict(float)
    outflow: dict[tuple[str, int], float] = defaultdict(float)
    revenue: dict[tuple[str, int], float] = defaultdict(float)
    parties: set[str] = set()
    for q, payer, payee, a, kind, *_ in rows:
        parties.update((payer, payee))
        outflow[payer, q] += a
        inflow[payee, q] += a
        if kind in REVENUE_KINDS:
            revenue[payee, q] += a
    firms = {f.id: f for f in book.firms}
    for fid in sorted(parties - set(firms)):  # parties the book does not describe
        firms[fid] = Firm(id=fid, name=fid, role=Role.spv)

    out: list[_Row] = []

    def emit(q: int, payer: str, payee: str, amount: float, kind: str) -> None:
        if amount > 0 and win.start.index <= q <= win.end.index:
            out.append((q, payer, payee, amount, kind, True, None, None, kind))

    for fid, f in firms.items():
        cash = f.cash
        facility = f.credit_facility
        share_debt = _debt_share(f)
        for q in range(first, last + 1):
            if q == win.start.index or (q == first and first > win.start.index):
                emit(q, WORLD.OPENING_CASH, fid, cash, "opening_cash")
            years = (q - first) / 4.0
            end_rev = f.end_revenue / 4.0 * (1.0 + growth) ** years
            non_loop = f.non_loop_revenue / 4.0 * (1.0 + f.non_loop_growth) ** years
            opex = (f.opex_fixed / 4.0 * (1.0 + f.opex_growth) ** years
                    + f.opex_ratio * (end_rev + non_loop + revenue[fid, q]))
            interest = f.debt * f.debt_rate / 4.0
            emit(q, WORLD.END_CUSTOMERS, fid, end_rev, "end_revenue")
            emit(q, WORLD.NON_LOOP, fid, non_loop, "non_loop_revenue")
            emit(q, fid, WORLD.OPEX, opex, "opex")
            emit(q, fid, WORLD.DEBT, interest, "interest")
            cash += end_rev + non_loop + inflow[fid, q] - opex - interest - outflow[fid, q]
            gap = f.min_cash - cash
            if gap > 0:
                drawn = min(gap, facility)
                facility -= drawn
                debt = drawn + (gap - drawn) * share_debt
                emit(q, WORLD.DEBT, fid, debt, "outside_debt")
                emit(q, WORLD.EQUITY, fid, gap - debt, "outside_equity")
                cash += gap
            if q == last:
                emit(q, fid, WORLD.CLOSING_CASH, cash, "closing_cash")
    return out


def filter_flows(
    flows: pd.DataFrame,
    *,
    start: PeriodLike | None = None,
    end: PeriodLike | None = None,
    include: Iterable[ContractType | str] | str | None = None,
    binding: bool | None = None,
    status: Iterable[Status | str] | Status | str | None = None,
) -> tuple[pd.DataFrame, Window]:
    """Check a flows table and keep the rows in a window that pass the contract filters.

    World flows (``contract`` is null) always pass the contract filters.

    Parameters
    ----------
    flows : pandas.DataFrame
        A flows table with at least ``period, payer, payee, amount, kind``;
        ``binding``, ``status``, ``contract`` and ``leg`` are optional
        (missing ``binding`` counts as binding). ``period`` may hold labels
        (``"2027Q1"``), :class:`~loopwatch.model.Period` or pandas periods.
    start, end : Period, str, int or None
        The window; defaults to the table's first and last periods.
    include, binding, status
        As in :func:`flows_from_book`; ``include=None`` keeps every kind.

    Returns
    -------
    (pandas.DataFrame, Window)
        The kept rows (``period`` as labels, index reset) and the window.

    Raises
    ------
    ValueError
        If a required column is missing, an amount is negative or not finite,
        or the table is empty.
    """
    missing = [c for c in ("period", "payer", "payee", "amount", "kind") if c not in flows]
    if missing:
        raise ValueError(f"flows table lacks column(s) {', '.join(missing)}")
    if flows.empty:
        raise ValueError("flows table is empty")
    f = flows.copy()
    f["period"] = [str(p) for p in f["period"]]
    periods = sorted({Period.parse(p) for p in f["period"].unique()})
    win = resolve_window(start, end, default=Window(periods[0], periods[-1]))
    amounts = f["amount"].to_numpy(dtype="float64")
    if not (amounts >= 0).all() or not pd.notna(amounts).all():
        raise ValueError("flows table has a negative or missing amount")
    labels = set(win.labels())
    keep = f["period"].isin(labels)
    contract_rows = f["contract"].notna() if "contract" in f else ~f["kind"].isin(WORLD_KINDS)
    if include is not None:
        kinds = {t.value for t in _types(include)}
        keep &= ~contract_rows | f["kind"].isin(kinds)
    if binding is not None:
        flag = f["binding"].astype(bool) if "binding" in f else pd.Series(True, index=f.index)
        keep &= ~contract_rows | (flag == binding)
    statuses = _statuses(status)
    if statuses is not None and "status" in f:
        keep &= ~contract_rows | f["status"].isin(statuses)
    return f[keep].reset_index(drop=True), win


def as_flows(
    source: DealBook | pd.DataFrame,
    *,
    start: PeriodLike | None = None,
    end: PeriodLike | None = None,
    include: Iterable[ContractType | str] | str | None = None,
    binding: bool | None = None,
    status: Iterable[Status | str] | Status | str | None = None,
    world: bool = True,
) -> tuple[pd.DataFrame, Window]:
    """The flows table of a deal book or of a given table, windowed and filtered.

    A deal book is expanded by :func:`flows_from_book` (``include=None``
    meaning :data:`MONEY_TYPES`); a table is checked and filtered by
    :func:`filter_flows`. Every analytic takes its input through here.

    Returns
    -------
    (pandas.DataFrame, Window)
        The flows and the window they cover.
    """
    if isinstance(source, DealBook):
        win = resolve_window(start, end, default=Window(source.start, source.horizon))
        flows = flows_from_book(
            source, start=win.start, end=win.end, include=MONEY_TYPES if include is None else include,
            binding=binding, status=status, world=world,
        )
        return flows, win
    if isinstance(source, pd.DataFrame):
        flows, win = filter_flows(source, start=start, end=end, include=include, binding=binding,
                                  status=status)
        if not world:
            flows = flows[~(flows["payer"].map(is_world) | flows["payee"].map(is_world))]
        return flows, win
    raise TypeError(f"expected a DealBook or a flows DataFrame, not {type(source).__name__}")
