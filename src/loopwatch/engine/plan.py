"""Compile a deal book and a scenario into the static arrays the engine steps over.

The :class:`Plan` is everything about a run that does not depend on the random
path: firm parameters as ``(firm,)`` vectors, contract schedules as
``(contract, period)`` matrices, the edge list of every payment the quarter can
produce, milestone conditions as incidence matrices, and scenario shocks as
``(period, firm)`` multipliers. The step functions only index into it.

Decisions written down here (where DESIGN §1 is silent)
-------------------------------------------------------
* A **letter of intent** compiles into the contract it would convert to
  (``converts_to``), dormant until its decision quarter. So does any other
  contract marked ``binding: false``: it is a deal announced but not signed,
  deciding at its schedule start with probability ``confidence``. The
  scenario's ``loi.conversion_probability`` overrides both.
* A converted contract pays its **whole amount** over the scheduled quarters
  from the decision on (fractions before the decision are re-spread pro
  rata); tranches dated before the decision fall due at the decision.
* A compute commitment's **build-out** is ``capex_intensity`` × each payment,
  spent ``lead_time`` quarters before it (capex that would fall before the
  book's start is assumed to be in the opening compute assets; for a
  converted LOI it is caught up at the decision). Chip purchases that
  ``serve`` the commitment count toward it: the implicit build-out per
  quarter is the increment of ``max(0, cum capex − cum serving purchases)``,
  so total capex is ``max(capex plan, serving purchases)``, never the sum.
* Warrants and letters of intent cannot be the target of a conversion (no
  share terms): a :class:`~loopwatch.errors.DealBookError` says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from functools import cached_property

import networkx as nx
import numpy as np
from numpy.typing import NDArray

from loopwatch.engine.incidence import Sum, Weighted
from loopwatch.engine.ledger import Account
from loopwatch.errors import DealBookError, Problem
from loopwatch.model import (
    Amortisation,
    BackstopContract,
    ChipPurchase,
    ComputeCommitment,
    ContractType,
    DealBook,
    LetterOfIntent,
    LoanContract,
    Metric,
    Period,
    Role,
    Scenario,
    ShockKind,
    Warrant,
)

__all__ = ["Kind", "Leg", "Plan", "compile_plan", "core_firms"]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B8 = NDArray[np.bool_]


class Kind(IntEnum):
    """Engine kind of a contract (a letter of intent takes its target's kind)."""

    compute = 0
    chips = 1
    equity = 2
    warrant = 3
    loan = 4
    backstop = 5


class Leg(IntEnum):
    """What an edge of the quarter's payment list pays."""

    payment = 0  # compute commitment or chip purchase instalment
    capex = 1  # implicit build-out of a compute commitment, cloud → vendor
    tranche = 2  # equity tranche, investor → investee
    draw = 3  # loan drawdown, lender → borrower
    interest = 4  # loan interest, borrower → lender
    principal = 5  # scheduled loan principal, borrower → lender
    backstop = 6  # backstop call, guarantor → beneficiary
    penalty = 7  # cancellation claim on a defaulted buyer, buyer → cloud
    accelerated = 8  # remaining principal of a defaulted borrower, borrower → lender


#: Loss mechanism of an unpaid edge (None: a missed inflow, not a loss).
LEG_MECHANISM: dict[Leg, int | None] = {
    Leg.payment: 0, Leg.capex: 0, Leg.tranche: None, Leg.draw: None, Leg.interest: 2,
    Leg.principal: 2, Leg.backstop: 0, Leg.penalty: 0, Leg.accelerated: 2,
}
MECHANISMS = ("unpaid_contracts", "stakes", "loans", "stranded_capacity")

_METRIC_CODE = {Metric.gw_deployed: 0, Metric.gw_bought: 1, Metric.share_price: 2,
                Metric.end_revenue: 3}
_TARGET_KIND = {
    ContractType.compute_commitment: Kind.compute, ContractType.chip_purchase: Kind.chips,
    ContractType.equity_investment: Kind.equity, ContractType.loan: Kind.loan,
    ContractType.bond: Kind.loan, ContractType.backstop: Kind.backstop,
}
_OWN_KIND = {**_TARGET_KIND, ContractType.warrant: Kind.warrant}
_MONEY_TYPES = (ContractType.compute_commitment, ContractType.chip_purchase,
                ContractType.equity_investment, ContractType.loan, ContractType.bond,
                ContractType.backstop)


@dataclass
class Edges:
    """The static list of payments a quarter can produce, in contiguous groups.

    ``payer``/``payee`` index firms, with ``F`` (the number of firms) meaning
    the world. ``twin_of[e]`` ≥ 0 marks a world edge that carries edge
    ``twin_of[e]``'s money when its payee is gone (a defaulted vendor's
    orders go to other suppliers, a defaulted lender's loans to its buyers).
    """

    payer: I64
    payee: I64
    leg: I64
    contract: I64
    twin_of: I64
    groups: dict[str, slice]
    out_inc: Sum  # edges → F + 1 accounts (payer)
    in_inc: Sum  # edges → F + 1 accounts (payee)
    capex_share: F64  # (n capex edges,) vendor share of the build-out
    capex_cc: I64  # (n capex edges,) position in ``Plan.cc``

    @property
    def n(self) -> int:
        return len(self.payer)

    @cached_property
    def paid_to_contract(self) -> I64:
        """The contract whose cumulative payments an edge adds to (-1: none): the contract
        payments, chip purchases, equity tranches, loan draws and backstop calls."""
        out = np.full(self.n, -1, np.int64)
        for name in ("cc", "cp", "eq", "draw", "bk"):
            g = self.groups[name]
            out[g] = self.contract[g]
        return out

    @cached_property
    def loss_mechanism(self) -> I64:
        """Index into :data:`MECHANISMS` of an unpaid edge's loss; -1: not a loss."""
        return np.array([-1 if LEG_MECHANISM[Leg(int(g))] is None else LEG_MECHANISM[Leg(int(g))]
                         for g in self.leg], np.int64)

    @cached_property
    def commercial(self) -> F64:
        """1.0 for edges that are operating revenue to their payee (contracts, capex, backstops)."""
        return np.isin(self.leg, (Leg.payment, Leg.capex, Leg.backstop, Leg.penalty)).astype(float)

    @cached_property
    def forward(self) -> B8:
        """Edges paid in the contract's direction (payer → payee)."""
        return np.isin(self.leg, (Leg.payment, Leg.tranche, Leg.draw, Leg.backstop, Leg.penalty))

    @cached_property
    def reverse(self) -> B8:
        """Edges paid back to the contract's payer (loan service)."""
        return np.isin(self.leg, (Leg.interest, Leg.principal, Leg.accelerated))

    @cached_property
    def committed(self) -> B8:
        """Committed contract payments (Minsky's carrying commitments besides interest)."""
        return np.isin(self.leg, (Leg.payment, Leg.tranche, Leg.backstop))


@dataclass
class Plan:
    """Static arrays of one (book, scenario, horizon); see the module docstring.

    Axis names: ``F`` firms, ``C`` contracts, ``Q`` run quarters, ``K``
    milestone conditions. Money is USD; firm flows are converted to
    quarterly amounts here.
    """

    book: DealBook
    scenario: Scenario
    periods: list[str]
    firm_ids: list[str]
    contract_ids: list[str]
    Q: int
    F: int
    C: int
    # firms (F,)
    cash0: F64 = field(repr=False)
    compute0: F64 = field(repr=False)
    life0_q: F64 = field(repr=False)
    other0: F64 = field(repr=False)
    debt0: F64 = field(repr=False)
    debt_rate0: F64 = field(repr=False)
    ladder: F64 = field(repr=False)  # share of world debt maturing each quarter
    facility0: F64 = field(repr=False)
    units0: F64 = field(repr=False)
    has_shares: B8 = field(repr=False)
    mv0: F64 = field(repr=False)
    value_scale: F64 = field(repr=False)  # market value per unit of fundamental value
    value_premium: F64 = field(repr=False)  # opening value beyond fundamentals (USD)
    by_book: B8 = field(repr=False)  # valued at book equity (no revenue, no valuation)
    growth0: F64 = field(repr=False)
    rev0_q: F64 = field(repr=False)  # opening quarterly revenue run-rate (plan)
    non_loop_q: F64 = field(repr=False)  # (Q, F) non-loop revenue before sentiment
    ai_share: F64 = field(repr=False)
    opex_fixed_q: F64 = field(repr=False)  # (Q, F)
    opex_ratio: F64 = field(repr=False)
    min_cash: F64 = field(repr=False)
    core: B8 = field(repr=False)
    core_weight: F64 = field(repr=False)  # (F,) share of core value, sums to 1 over core
    # demand: developers (D,)
    dev_firm: I64 = field(repr=False)
    dev_level: F64 = field(repr=False)  # annual USD at start (before multipliers)
    dev_multiplier: F64 = field(repr=False)
    dev_mu: F64 = field(repr=False)  # (Q, D) expected annual log growth into quarter t
    dev_persistence: F64 = field(repr=False)
    dev_vol: F64 = field(repr=False)
    dev_corr: F64 = field(repr=False)
    dev_saturation: F64 = field(repr=False)  # inf when uncapped
    expectation: F64 = field(repr=False)  # (Q,) market's expected annual demand growth
    # contracts (C,)
    kind: I64 = field(repr=False)
    payer: I64 = field(repr=False)
    payee: I64 = field(repr=False)
    amount: F64 = field(repr=False)
    conditional: B8 = field(repr=False)
    decision: I64 = field(repr=False)  # run quarter of the decision (conditional only)
    p_convert: F64 = field(repr=False)
    sched: F64 = field(repr=False)  # (C, Q) payer → payee amounts by quarter
    remaining: F64 = field(repr=False)  # (C, Q) amount still to pay after quarter t
    depends: B8 = field(repr=False)  # (C, C) [a, b]: b falls with a (transitive)
    # compute commitments (index arrays into contracts and per-commitment data)
    cc: I64 = field(repr=False)
    cc_take_or_pay: F64 = field(repr=False)
    cc_penalty: F64 = field(repr=False)
    cc_capex: F64 = field(repr=False)  # (n_cc, Q) implicit build-out
    cc_built: F64 = field(repr=False)  # (n_cc, Q) share of the build-out done by end of t
    cc_life_q: F64 = field(repr=False)
    cp: I64 = field(repr=False)
    cp_life_q: F64 = field(repr=False)
    eq: I64 = field(repr=False)
    eq_post_money: F64 = field(repr=False)  # nan: at market
    item_contract: I64 = field(repr=False)  # equity tranche items
    item_eq: I64 = field(repr=False)  # position in ``eq``
    item_amount: F64 = field(repr=False)
    item_at: I64 = field(repr=False)
    item_cond: F64 = field(repr=False)  # (K, n_items) 1 where the item needs the condition
    wr: I64 = field(repr=False)
    wt_warrant: I64 = field(repr=False)  # position in ``wr`` of each warrant tranche
    wt_shares: F64 = field(repr=False)
    wt_cond: F64 = field(repr=False)  # (K, n_wt)
    wr_strike: F64 = field(repr=False)
    wr_expiry: I64 = field(repr=False)  # run quarter; Q when beyond the run
    ln: I64 = field(repr=False)
    ln_rate: F64 = field(repr=False)  # nan: floating at base rate + spread
    ln_spread: F64 = field(repr=False)
    ln_maturity: I64 = field(repr=False)
    ln_maturity_full: I64 = field(repr=False)  # not clipped to the run
    ln_linear_from: I64 = field(repr=False)  # first amortisation quarter (linear), else maturity
    ln_loi_link: F64 = field(repr=False)  # (C, n_ln) 1 where the loan stands on conditional c
    bk: I64 = field(repr=False)
    bk_covers: I64 = field(repr=False)  # position in ``cc`` or -1 (the beneficiary's capacity)
    bk_residual: B8 = field(repr=False)  # covers a conditional deal, converted or not
    bk_threshold: F64 = field(repr=False)
    bk_cap: F64 = field(repr=False)
    bk_start: I64 = field(repr=False)
    bk_end: I64 = field(repr=False)
    # milestone conditions (K,)
    cond_metric: I64 = field(repr=False)
    cond_firm: I64 = field(repr=False)
    cond_threshold: F64 = field(repr=False)
    gw_cond: Weighted = field(repr=False)  # (C → K) GW per unit of delivered share of contract c
    gw_deployed: Weighted = field(repr=False)  # (C → F) GW delivered to firm per unit share
    gw_bought: Weighted = field(repr=False)  # (C → F)
    # shocks (Q, F) multipliers / add-ons, (Q, C) forced lapse
    shock_demand: F64 = field(repr=False)
    shock_non_loop: F64 = field(repr=False)
    shock_credit: F64 = field(repr=False)
    shock_equity: F64 = field(repr=False)
    shock_rerent: F64 = field(repr=False)
    shock_lapse: B8 = field(repr=False)
    edges: Edges = field(repr=False)
    n_conditional: int = 0

    def incidence(self, index: I64, firms: I64, *, world: bool = False) -> Sum:
        """Totals per firm of rows ``k`` (one per ``index[k]``) into ``firms[index[k]]``.

        With ``world`` the targets are the F + 1 parties (F = the world). Cached.
        """
        idx = np.asarray(index, np.int64)
        key = (idx.tobytes(), np.asarray(firms).tobytes(), world)
        hit = self._sums.get(key)
        if hit is None:
            hit = self._sums[key] = Sum(np.asarray(firms)[idx], self.F + int(world))
        return hit

    @cached_property
    def _sums(self) -> dict[tuple[bytes, bytes, bool], Sum]:
        return {}

    @cached_property
    def _depends_pair_lists(self) -> tuple[I64, I64]:
        """The dependency pairs ``(a, b)``: ``b`` falls with ``a`` (row-major order)."""
        a, b = np.nonzero(self.depends)
        return np.ascontiguousarray(a, np.int64), np.ascontiguousarray(b, np.int64)

    @cached_property
    def _depends_to_b(self) -> Sum:
        """Totals over the dependency pairs into their dependent ``b`` (C targets)."""
        return Sum(self._depends_pair_lists[1], len(self.depends))

    def dependents(self, mask: B8) -> B8:
        """The contracts (C, P) that depend, directly or not, on a contract in ``mask`` (C, P).

        ``depends`` is transitive, so one step reaches every dependent. The
        totals run over the (few) dependency pairs only, not a dense (C, C) product.
        """
        a, to_b = self._depends_pair_lists[0], self._depends_to_b
        if not len(a):
            return np.zeros(mask.shape, bool)
        out: B8 = (to_b @ mask[a].astype(np.float64)) > 0
        return out

    @cached_property
    def payee_inc(self) -> Sum:
        """(C → F): contract → its payee."""
        return Sum(self.payee, self.F)

    @cached_property
    def payer_inc(self) -> Sum:
        """(C → F): contract → its payer."""
        return Sum(self.payer, self.F)

    @cached_property
    def item_to_eq(self) -> Sum:
        """(n_items → n_eq): equity tranche item → its equity contract."""
        return Sum(self.item_eq, len(self.eq))

    @cached_property
    def core_sum(self) -> Sum:
        """(1, F) weights of the core's value: ``core_sum @ defaulted`` is the share down."""
        return Sum(np.zeros(self.F, np.int64), 1, weight=self.core_weight)

    @cached_property
    def commercial_in(self) -> Sum:
        """Edges → payee firm, operating revenue only (contracts, capex orders, backstops)."""
        E = self.edges
        return Sum(np.where(E.commercial > 0, E.payee, -1), self.F)

    @cached_property
    def edge_keep(self) -> F64:
        """(E,) share of each edge's payment its payee keeps after variable costs.

        Operating revenue (``commercial``) carries the payee's ``opex_ratio``:
        a cloud delivers, and pays for, only the capacity it is paid for.
        """
        E = self.edges
        firm = E.payee < self.F
        ratio = np.zeros(E.n)
        ratio[firm] = self.opex_ratio[E.payee[firm]]
        out: F64 = 1.0 - ratio * (E.commercial > 0)
        return out

    @cached_property
    def item_milestone(self) -> B8:
        """(n_items,) equity tranche items that fall due on a milestone (some condition).

        Decision: an investor short of cash funds a milestone tranche only as far as it
        can; the rest lapses (the investee does not get it). A tranche that the investee's
        success triggers cannot then bankrupt the investor, so more end demand never
        makes more defaults through it; a tranche on a fixed date stays binding.
        """
        cond = np.asarray(self.item_cond, float)
        n = len(self.item_amount)
        out: B8 = (cond.reshape(len(self.cond_metric), n) != 0).any(axis=0) if cond.size \
            else np.zeros(n, bool)
        return out

    @cached_property
    def item_failing(self) -> Weighted:
        """Conditions → equity tranche items: ``item_failing @ unmet`` counts each item's unmet
        conditions (n_items, P), a sparse total of ``item_cond`` (exact: 0/1 sums)."""
        K, n = len(self.cond_metric), len(self.item_amount)
        return Weighted.dense(np.asarray(self.item_cond, float).reshape(K, n))

    @cached_property
    def capex_out(self) -> Sum:
        """Edges → payer firm, purchases of compute assets only."""
        return Sum(np.where(self.capex_edges, self.edges.payer, -1), self.F)

    @cached_property
    def capex_only_out(self) -> Sum:
        """Edges → payer firm, build-out orders only (not chip purchases)."""
        E = self.edges
        return Sum(np.where(E.leg == Leg.capex, E.payer, -1), self.F)

    @cached_property
    def committed_out(self) -> Sum:
        """Edges → payer firm, committed contract payments only."""
        return Sum(np.where(self.edges.committed, self.edges.payer, -1), self.F)

    @cached_property
    def to_firm_out(self) -> Sum:
        """Edges → payer firm, payments into the network (to another firm) only."""
        E = self.edges
        return Sum(np.where(E.payee < self.F, E.payer, -1), self.F)

    @cached_property
    def edge_legs(self) -> tuple[dict[Account, Sum], dict[Account, Sum]]:
        """Per-account totals of the payer's and the payee's side of every edge (see
        :meth:`~loopwatch.engine.ledger.Ledger.transfer_legs`)."""
        E = self.edges
        payer_leg = np.full(E.n, int(Account.equity))
        payee_leg = np.full(E.n, int(Account.equity))
        for name, pa, pe in (("capex", Account.compute, Account.equity),
                             ("capex_twin", Account.compute, Account.equity),
                             ("cp", Account.compute, Account.equity),
                             ("eq", Account.stakes, Account.equity),
                             ("draw", Account.loans, Account.debt),
                             ("principal", Account.debt, Account.loans),
                             ("principal_twin", Account.debt, Account.loans),
                             ("accelerated", Account.debt, Account.loans),
                             ("accelerated_twin", Account.debt, Account.loans)):
            payer_leg[E.groups[name]] = pa
            payee_leg[E.groups[name]] = pe
        payer = {Account(a): Sum(np.where(payer_leg == a, E.payer, -1), self.F)
                 for a in np.unique(payer_leg)}
        payee = {Account(a): Sum(np.where((payee_leg == a) & (E.payee < self.F), E.payee, -1),
                                 self.F) for a in np.unique(payee_leg)}
        return payer, payee

    @cached_property
    def forward_contract(self) -> Sum:
        """Edges → contract, flows in the contract's direction."""
        E = self.edges
        return Sum(np.where(E.forward, E.contract, -1), self.C)

    @cached_property
    def reverse_contract(self) -> Sum:
        """Edges → contract, flows back to the contract's payer (loan service)."""
        E = self.edges
        return Sum(np.where(E.reverse, E.contract, -1), self.C)

    @cached_property
    def cp_life_groups(self) -> list[tuple[float, B8]]:
        """Chip purchases grouped by useful life (quarters)."""
        return [(float(life), self.cp_life_q == life) for life in np.unique(self.cp_life_q)]

    @cached_property
    def inv_amount(self) -> F64:
        """(C,) 1 / amount (0 where the amount is 0): the paid share of a contract."""
        return np.divide(1.0, self.amount, out=np.zeros(self.C), where=self.amount > 0)

    @cached_property
    def capex_edges(self) -> B8:
        """Edges that buy compute assets: build-out orders and chip purchases."""
        E = self.edges
        out: B8 = (E.leg == Leg.capex) | ((E.leg == Leg.payment) & np.isin(E.contract, self.cp))
        return out

    @cached_property
    def commercial_kind(self) -> B8:
        """(C,) compute commitments and chip purchases: receivables lenders lend against."""
        return np.isin(self.kind, (Kind.compute, Kind.chips))

    def at(self, t: int) -> QuarterTerms:
        """The plan's arrays for quarter ``t`` that every chunk reads (computed once, cached)."""
        hit = self._terms.get(t)
        if hit is None:
            hit = self._terms[t] = QuarterTerms.of(self, t)
        return hit

    @cached_property
    def _terms(self) -> dict[int, QuarterTerms]:
        return {}

    @cached_property
    def every_firm(self) -> tuple[I64, F64]:
        """``(arange(F), ones(F))``: each firm once, unweighted."""
        return np.arange(self.F), np.ones(self.F)

    @cached_property
    def warrant_issuer(self) -> B8:
        """(F,) firms that issue a warrant tranche (an exercise pays them the strike)."""
        out = np.zeros(self.F, bool)
        out[self.payer[self.wr[self.wt_warrant]]] = True
        return out

    @cached_property
    def stranded_loss_sums(self) -> tuple[Sum, Sum, Sum | None]:
        """Where a stranded compute commitment's loss goes: its cloud's, on its buyer,
        mechanism 3 (:func:`~loopwatch.engine.resolution.loss_sums` over every commitment)."""
        from loopwatch.engine.resolution import loss_sums  # (resolution imports the plan)

        cc = self.cc
        return loss_sums(self.F, self.payee[cc], self.payer[cc], np.full(len(cc), 3, np.int64))

    @cached_property
    def flexes(self) -> tuple[bool, bool]:
        """Whether any compute commitment has a flexible part, any tranche a milestone."""
        return (len(self.cc) > 0 and bool((self.cc_take_or_pay < 1).any()),
                len(self.eq) > 0 and bool(self.item_milestone.any()))

    def loan_rate(self, t: int) -> F64:
        """Annual rate of each loan in quarter ``t`` (fixed, or base + spread + shocks)."""
        base = self.scenario.credit.base_rate + self.shock_credit[t, self.payee[self.ln]]
        return np.maximum(np.where(np.isnan(self.ln_rate), base + self.ln_spread, self.ln_rate), 0.0)


@dataclass(frozen=True)
class QuarterTerms:
    """What a quarter ``t`` reads from the plan alone, the same for every chunk.

    Built once per quarter by :meth:`Plan.at`: the chunks of a run then share these
    small arrays instead of indexing the plan again each time (a per-chunk cost).
    """

    sched_cc: F64  # this quarter's value of each compute commitment
    cloud: I64  # each compute commitment's cloud (payee)
    rerent_price: F64  # a stranded commitment's re-rent a unit (spot × shock × utilisation)
    cap_amount: F64  # build-out orders this quarter (n_capex,)
    vendor: I64  # their payees
    sched_cp: F64  # chip purchases this quarter
    item_due_now: B8  # equity tranche items at or past their quarter
    sched_ln: F64  # loan draws this quarter
    borrower: I64  # each loan's borrower
    rate_q: F64  # each loan's quarterly rate
    mat_now: B8  # loans maturing now
    linear: B8  # loans amortising now
    denom: F64  # quarters left of a linear loan (≥ 1)
    bk_active: B8  # backstops in their window
    lender_sum: Sum  # loans → their borrowers (rows of ``maturing``)
    deciding: I64  # conditional deals deciding now or forced to lapse (sorted)
    recv_rows: I64  # binding commercial contracts with value still to come
    recv_sum: Sum  # … into their payees
    recv_value: F64  # … that value
    loi_rows: I64  # conditional deals with value (remaining + this quarter's)
    loi_sum: Sum  # … into their payees
    loi_value: F64  # … that value

    @classmethod
    def of(cls, plan: Plan, t: int) -> QuarterTerms:
        E, ln, cc = plan.edges, plan.ln, plan.cc
        rr = plan.scenario.rerent
        # the contracts that can add to the collateral totals (the others add exact zeros)
        rem = plan.remaining[:, t]
        recv = np.flatnonzero(plan.commercial_kind & (rem != 0))
        loi_value = rem + plan.sched[:, t]
        loi = np.flatnonzero(plan.conditional & (loi_value != 0))
        cloud = plan.payee[cc]
        sched_cc = plan.sched[cc, t]
        out = cls(
            sched_cc=sched_cc, cloud=cloud,
            rerent_price=sched_cc * rr.spot_price * plan.shock_rerent[t, cloud] * rr.utilisation,
            cap_amount=plan.cc_capex[E.capex_cc, t] * E.capex_share,
            vendor=E.payee[E.groups["capex"]], sched_cp=plan.sched[plan.cp, t],
            item_due_now=plan.item_at <= t, sched_ln=plan.sched[ln, t], borrower=plan.payee[ln],
            rate_q=plan.loan_rate(t) / 4.0 if len(ln) else np.zeros(0),
            mat_now=np.equal(plan.ln_maturity, t),
            linear=(t >= plan.ln_linear_from) & (t < plan.ln_maturity_full),
            denom=np.maximum(plan.ln_maturity_full - t + 1, 1).astype(float),
            bk_active=(plan.bk_start <= t) & (t <= plan.bk_end),
            lender_sum=plan.incidence(np.arange(len(ln)), plan.payee[ln]),
            deciding=np.flatnonzero((plan.conditional & (plan.decision == t))
                                    | plan.shock_lapse[t]),
            recv_rows=recv, recv_sum=plan.incidence(recv, plan.payee), recv_value=rem[recv],
            loi_rows=loi, loi_sum=plan.incidence(loi, plan.payee), loi_value=loi_value[loi])
        for v in vars(out).values():  # shared by every chunk: nobody may write into them
            if isinstance(v, np.ndarray):
                v.flags.writeable = False
        return out


def _bad(book: DealBook, where: str, message: str) -> DealBookError:
    return DealBookError(Problem(f"{book.name}.yaml", None, where, message))


def core_firms(book: DealBook) -> list[str]:
    """Members of the largest strongly connected component of binding money-moving contracts.

    The graph has an edge payer → payee for every binding compute commitment,
    chip purchase, equity investment, loan, bond and backstop, and cloud →
    vendor for every vendor in a commitment's ``vendor_mix`` (the build-out
    the engine buys). Warrants (shares, not money) and non-binding deals are
    left out. Ties between components of the same size go to the larger
    total contract value. A book without a cycle has no core: ``[]``.

    Parameters
    ----------
    book : DealBook

    Returns
    -------
    list of str
        Firm ids in book order.

    Examples
    --------
    >>> from loopwatch import load_deal_book
    >>> core_firms(load_deal_book("three-party-loop"))
    ['nvidia', 'openai', 'oracle']
    """
    g = nx.DiGraph()
    g.add_nodes_from(f.id for f in book.firms)
    value: dict[str, float] = {f.id: 0.0 for f in book.firms}
    for c in book.contracts:
        if not c.binding or c.type not in _MONEY_TYPES:
            continue
        g.add_edge(c.payer, c.payee)
        value[c.payer] += c.amount
        value[c.payee] += c.amount
        if isinstance(c, ComputeCommitment):
            for vendor, share in c.vendor_mix.items():
                if share > 0 and vendor != c.payee:
                    g.add_edge(c.payee, vendor)
    comps = [sorted(s) for s in nx.strongly_connected_components(g) if len(s) > 1]
    if not comps:
        return []
    best = max(comps, key=lambda s: (len(s), sum(value[f] for f in s)))
    order = {f.id: i for i, f in enumerate(book.firms)}
    return sorted(best, key=order.__getitem__)


def _fractions_from(sched_start: int, fracs: tuple[float, ...], decision: int) -> dict[int, float]:
    """Quarter → share of the amount, re-spread onto quarters ≥ ``decision``."""
    shares = {sched_start + k: f for k, f in enumerate(fracs) if f > 0}
    kept = {q: f for q, f in shares.items() if q >= decision}
    total = sum(kept.values())
    if total <= 0:
        return {decision: 1.0}
    return {q: f / total for q, f in kept.items()}


def compile_plan(book: DealBook, scenario: Scenario, quarters: int | None = None) -> Plan:
    """Compile ``book`` under ``scenario`` for ``quarters`` quarters from the book's start.

    Parameters
    ----------
    book : DealBook
    scenario : Scenario
    quarters : int, optional
        Length of the run; default the book's start to horizon.

    Returns
    -------
    Plan

    Raises
    ------
    DealBookError
        A letter of intent that converts to a warrant or to another LOI.
    """
    Q = book.quarters if quarters is None else int(quarters)
    if Q < 1:
        raise _bad(book, "horizon", f"a run needs at least one quarter, not {Q}")
    start = book.start
    periods = [str(start + t) for t in range(Q)]
    firms = list(book.firms)
    F = len(firms)
    fidx = {f.id: i for i, f in enumerate(firms)}
    contracts = list(book.contracts)
    C = len(contracts)
    cidx = {c.id: i for i, c in enumerate(contracts)}
    sc = scenario
    years = np.arange(Q) / 4.0

    def rel(p: Period) -> int:
        return int(p - start)

    # ---- firms
    cash0 = np.array([f.cash for f in firms], float)
    compute0 = np.array([f.compute_assets for f in firms], float)
    life0_q = np.array([4.0 * f.useful_life_years for f in firms])
    other0 = np.array([f.other_assets for f in firms], float)
    debt0 = np.array([f.debt for f in firms], float)
    debt_rate0 = np.array([f.debt_rate for f in firms], float)
    ladder = np.array([1.0 / (4.0 * f.debt_maturity_years) for f in firms])
    facility0 = np.array([f.credit_facility for f in firms], float)
    has_shares = np.array([bool(f.shares_outstanding and f.share_price) for f in firms])
    units0 = np.array([f.shares_outstanding if f.shares_outstanding else 1e9 for f in firms], float)
    mv0 = np.array([f.market_value for f in firms], float)
    nl_growth = np.array([f.non_loop_growth for f in firms])
    non_loop_q = np.array([f.non_loop_revenue / 4.0 for f in firms])[None, :] * (
        (1.0 + nl_growth)[None, :] ** years[:, None])
    ai_share = np.array([f.ai_share for f in firms])
    opex_fixed_q = np.array([f.opex_fixed / 4.0 for f in firms])[None, :] * (
        (1.0 + np.array([f.opex_growth for f in firms]))[None, :] ** years[:, None])
    opex_ratio = np.array([f.opex_ratio for f in firms])
    min_cash = np.array([f.min_cash for f in firms], float)

    # ---- demand paths: developers are firms with end revenue, the developer role or a path
    dev = [i for i, f in enumerate(firms)
           if f.end_revenue > 0 or f.role is Role.model_developer or f.id in sc.demand]
    dev_firm = np.array(dev, dtype=np.int64)
    paths = [sc.demand_for(firms[i].id) for i in dev]
    dev_level = np.array([dp.level if dp.level is not None else firms[i].end_revenue
                          for i, dp in zip(dev, paths, strict=True)], float)
    dev_multiplier = np.array([dp.multiplier for dp in paths], float)
    dev_mu = np.zeros((Q, len(dev)))
    for d, dp in enumerate(paths):
        decay = (1.0 - dp.growth_decay) ** years
        dev_mu[:, d] = dp.long_run_growth + (dp.growth - dp.long_run_growth) * decay
    dev_persistence = np.array([dp.persistence for dp in paths], float)
    dev_vol = np.array([dp.volatility for dp in paths], float)
    dev_corr = np.array([dp.correlation for dp in paths], float)
    dev_saturation = np.array([dp.saturation if dp.saturation else np.inf for dp in paths], float)
    eqm = sc.equity
    expectation = eqm.growth_expectation * (1.0 - eqm.expectation_decay) ** years

    # ---- contracts
    kind = np.zeros(C, np.int64)
    payer = np.array([fidx[c.payer] for c in contracts], np.int64)
    payee = np.array([fidx[c.payee] for c in contracts], np.int64)
    amount = np.array([c.amount for c in contracts], float)
    conditional = np.zeros(C, bool)
    decision = np.full(C, -1, np.int64)
    p_convert = np.ones(C)
    override = sc.loi.conversion_probability
    lead_max = max([c.lead_time for c in contracts if isinstance(c, ComputeCommitment)] + [0])
    Qx = Q + lead_max + 1
    sched_x = np.zeros((C, Qx))
    remaining = np.zeros((C, Q))
    for i, c in enumerate(contracts):
        if isinstance(c, LetterOfIntent):
            if c.converts_to not in _TARGET_KIND:
                raise _bad(book, f"contracts[{i}].converts_to",
                           f"a letter of intent cannot convert to a {c.converts_to.value} (no terms for it)")
            kind[i] = _TARGET_KIND[c.converts_to]
            conditional[i] = True
            decision[i] = rel(c.decision)
            p_convert[i] = c.conversion_probability if override is None else override
        else:
            kind[i] = _OWN_KIND[c.type]
            if not c.binding:
                conditional[i] = True
                decision[i] = rel(c.schedule.start)
                p_convert[i] = c.confidence if override is None else override
        s0 = rel(c.schedule.start)
        fr = _fractions_from(s0, c.schedule.fractions(), int(decision[i]) if conditional[i] else s0)
        total_after = 0.0
        for q, f in fr.items():
            if q < Qx:
                sched_x[i, q] += c.amount * f
        for t in range(Q):
            total_after = sum(c.amount * f for q, f in fr.items() if q > t)
            remaining[i, t] = total_after
    sched = sched_x[:, :Q].copy()

    # dependents: b depends on a (transitively) → depends[a, b]
    dep_graph = nx.DiGraph()
    dep_graph.add_nodes_from(range(C))
    for i, c in enumerate(contracts):
        if c.depends_on is not None and c.depends_on in cidx:
            dep_graph.add_edge(cidx[c.depends_on], i)
    depends = np.zeros((C, C), bool)
    for a in range(C):
        for b in nx.descendants(dep_graph, a):
            depends[a, b] = True

    # ---- compute commitments and the build-out
    cc = np.array([i for i in range(C) if kind[i] == Kind.compute], np.int64)
    cc_pos = {int(c): k for k, c in enumerate(cc)}
    n_cc = len(cc)
    cc_capex = np.zeros((n_cc, Q))
    cc_built = np.zeros((n_cc, Q))
    cc_take_or_pay = np.ones(n_cc)
    cc_penalty = np.zeros(n_cc)
    cc_life_q = np.ones(n_cc)
    cc_mix: list[dict[int, float]] = []
    serving: dict[int, list[int]] = {k: [] for k in range(n_cc)}
    for i, c in enumerate(contracts):
        target = getattr(c, "serves", None)
        if isinstance(c, ChipPurchase) and target in cidx and cidx[target] in cc_pos:
            serving[cc_pos[cidx[target]]].append(i)
    for k, i in enumerate(cc):
        c = contracts[i]
        if isinstance(c, ComputeCommitment):
            intensity, lead, mix = c.capex_intensity, c.lead_time, dict(c.vendor_mix)
            cc_take_or_pay[k], cc_penalty[k] = c.take_or_pay, c.cancellation_penalty
        else:  # a letter of intent converting to a commitment: default terms
            intensity, lead, mix = 0.6, 2, {}
        cc_life_q[k] = life0_q[payee[i]]
        cc_mix.append({fidx[v]: s for v, s in mix.items() if s > 0})
        plan_k = np.zeros(Q)
        first = int(decision[i]) if conditional[i] else 0
        for q in range(Qx):
            if sched_x[i, q] > 0:
                t = q - lead
                if t < first:
                    if not conditional[i]:
                        continue  # before the book's start: in the opening compute assets
                    t = first
                if t < Q:
                    plan_k[t] += intensity * sched_x[i, q]
        bought = np.zeros(Q)
        for p in serving[k]:
            bought += sched[p]
        cum_plan, cum_bought = np.cumsum(plan_k), np.cumsum(bought)
        implicit = np.maximum(cum_plan - cum_bought, 0.0)
        cc_capex[k] = np.diff(implicit, prepend=0.0)
        total_plan = intensity * sched_x[i].sum()
        total = max(total_plan, float(sum(contracts[p].amount for p in serving[k])))
        if total > 0:
            cc_built[k] = np.minimum(np.maximum(cum_plan, cum_bought) / total, 1.0)

    cp = np.array([i for i in range(C) if kind[i] == Kind.chips], np.int64)
    cp_life_q = np.array([4.0 * getattr(contracts[i], "useful_life_years", 5.0) for i in cp])

    # ---- equity tranche items
    eq = np.array([i for i in range(C) if kind[i] == Kind.equity], np.int64)
    eq_pos = {int(c): k for k, c in enumerate(eq)}
    eq_post_money = np.array([getattr(contracts[i], "post_money_valuation", None) or np.nan
                              for i in eq], float)
    conds: list[tuple[int, int, int, float]] = []  # metric, firm, vendor (-1 any), threshold
    cond_index: dict[tuple[int, int, int, float], int] = {}

    def cond_id(metric: Metric, firm: str | None, vendor: str | None, threshold: float,
                default_firm: int) -> int:
        key = (_METRIC_CODE[metric], fidx[firm] if firm else default_firm,
               fidx[vendor] if vendor else -1, float(threshold))
        if key not in cond_index:
            cond_index[key] = len(conds)
            conds.append(key)
        return cond_index[key]

    items: list[tuple[int, float, int, list[int]]] = []
    for i in eq:
        c = contracts[i]
        tranches = getattr(c, "tranches", ())
        first = int(decision[i]) if conditional[i] else 0
        if tranches:
            for tr in tranches:
                ids = [cond_id(cd.metric, cd.firm, cd.vendor, cd.threshold, int(payee[i]))
                       for cd in tr.conditions]
                items.append((int(i), tr.amount, max(rel(tr.at), first), ids))
        else:
            for q in range(Q):
                if sched[i, q] > 0:
                    items.append((int(i), float(sched[i, q]), q, []))
    item_contract = np.array([it[0] for it in items], np.int64)
    item_eq = np.array([eq_pos[it[0]] for it in items], np.int64)
    item_amount = np.array([it[1] for it in items], float)
    item_at = np.array([it[2] for it in items], np.int64)
    # equity tranches fall due on conditions, not on the schedule: keep ``sched`` as
    # the plan (for receivables) but never pay from it
    for i in eq:
        c = contracts[i]
        if getattr(c, "tranches", ()):
            sched[i] = 0.0
            for it in items:
                if it[0] == i and it[2] < Q:
                    sched[i, it[2]] += it[1]

    # ---- warrants
    wr = np.array([i for i in range(C) if kind[i] == Kind.warrant], np.int64)
    wts: list[tuple[int, float, list[int]]] = []
    wr_strike = np.zeros(len(wr))
    wr_expiry = np.full(len(wr), Q, np.int64)
    for k, i in enumerate(wr):
        w = contracts[i]
        assert isinstance(w, Warrant)
        wr_strike[k] = w.strike
        if w.expiry is not None:
            wr_expiry[k] = min(max(rel(w.expiry), 0), Q)
        if w.tranches:
            for tr in w.tranches:
                ids = [cond_id(cd.metric, cd.firm,  cd.vendor, cd.threshold,
                               int(payer[i]) if cd.metric is Metric.share_price else int(payee[i]))
                       for cd in tr.conditions]
                wts.append((k, tr.shares, ids))
        else:
            wts.append((k, w.shares, []))
    wt_warrant = np.array([w[0] for w in wts], np.int64)
    wt_shares = np.array([w[1] for w in wts], float)

    K = len(conds)
    item_cond = np.zeros((K, len(items)))
    for n, it in enumerate(items):
        for k in it[3]:
            item_cond[k, n] = 1.0
    wt_cond = np.zeros((K, len(wts)))
    for n, w in enumerate(wts):
        for k in w[2]:
            wt_cond[k, n] = 1.0
    cond_metric = np.array([c[0] for c in conds], np.int64)
    cond_firm = np.array([c[1] for c in conds], np.int64)
    cond_threshold = np.array([c[3] for c in conds], float)

    # ---- GW delivered and bought per unit share of each contract paid
    gw_deployed = np.zeros((C, F))
    gw_bought = np.zeros((C, F))
    gw_cond = np.zeros((C, K))
    served_with_gw = {k for k in range(n_cc)
                      if any(getattr(contracts[p], "capacity_gw", None) for p in serving[k])}
    for i, c in enumerate(contracts):
        gw = getattr(c, "capacity_gw", None) or 0.0
        if gw <= 0:
            continue
        if kind[i] == Kind.chips:
            target = getattr(c, "serves", None)
            to = payer[i]
            if target in cidx and kind[cidx[target]] == Kind.compute:
                to = payer[cidx[target]]
            gw_deployed[i, to] += gw
            gw_bought[i, payer[i]] += gw
            for k, (metric, firm, vendor, _) in enumerate(conds):
                if vendor not in (-1, int(payee[i])):
                    continue
                if metric == 0 and firm == to:
                    gw_cond[i, k] += gw
                if metric == 1 and firm == payer[i]:
                    gw_cond[i, k] += gw
        elif kind[i] == Kind.compute and cc_pos[i] not in served_with_gw:
            gw_deployed[i, payer[i]] += gw
            shares = cc_mix[cc_pos[i]]
            for k, (metric, firm, vendor, _) in enumerate(conds):
                if metric == 0 and firm == payer[i]:
                    share = 1.0 if vendor == -1 else shares.get(vendor, 0.0)
                    gw_cond[i, k] += gw * share

    # ---- loans
    ln = np.array([i for i in range(C) if kind[i] == Kind.loan], np.int64)
    n_ln = len(ln)
    ln_rate = np.full(n_ln, np.nan)
    ln_spread = np.full(n_ln, 0.02)
    ln_maturity = np.full(n_ln, Q, np.int64)
    ln_maturity_full = np.full(n_ln, Q, np.int64)
    ln_linear_from = np.full(n_ln, Q, np.int64)
    ln_loi_link = np.zeros((C, n_ln))
    for k, i in enumerate(ln):
        c = contracts[i]
        last_draw = int(np.max(np.nonzero(sched_x[i])[0])) if sched_x[i].any() else 0
        if isinstance(c, LoanContract):
            if c.rate is not None:
                ln_rate[k] = c.rate
            ln_spread[k] = c.spread
            ln_maturity[k] = max(rel(c.maturity), last_draw + 1)
            links = [*c.collateral, c.serves, c.depends_on]
            linear = c.amortisation is Amortisation.linear
        else:  # an LOI converting to a loan: five years after the last draw, bullet
            ln_maturity[k] = last_draw + 20
            links = [c.depends_on]
            linear = False
        ln_linear_from[k] = last_draw + 1 if linear else ln_maturity[k]
        ln_maturity_full[k] = ln_maturity[k]
        ln_maturity[k] = min(ln_maturity[k], Q)  # beyond the run: never repaid in it
        ln_linear_from[k] = min(ln_linear_from[k], Q)
        for ref in links:
            if ref is None or ref not in cidx:
                continue
            j = cidx[ref]
            for a in [j, *np.nonzero(depends[:, j])[0].tolist()]:
                if conditional[a]:
                    ln_loi_link[a, k] = 1.0

    # ---- backstops
    bk = np.array([i for i in range(C) if kind[i] == Kind.backstop], np.int64)
    bk_covers = np.full(len(bk), -1, np.int64)
    bk_threshold = np.ones(len(bk))
    bk_residual = np.zeros(len(bk), np.bool_)  # covers a conditional deal: converted or not
    for k, i in enumerate(bk):
        c = contracts[i]
        if isinstance(c, BackstopContract):
            bk_threshold[k] = c.threshold
            if c.covers is not None and c.covers in cidx and cidx[c.covers] in cc_pos:
                bk_covers[k] = cc_pos[cidx[c.covers]]
                bk_residual[k] = bool(conditional[cidx[c.covers]])
    bk_cap = amount[bk].copy() if len(bk) else np.zeros(0)
    bk_start = np.array([max(rel(contracts[i].schedule.start), int(decision[i])) for i in bk], np.int64)
    bk_end = np.array([rel(contracts[i].schedule.end) for i in bk], np.int64)
    for i in bk:
        sched[i] = 0.0  # a backstop pays on shortfall, not on a schedule

    # ---- shocks
    shock_demand = np.ones((Q, F))
    shock_non_loop = np.ones((Q, F))
    shock_credit = np.zeros((Q, F))
    shock_equity = np.ones((Q, F))
    shock_rerent = np.ones((Q, F))
    shock_lapse = np.zeros((Q, C), bool)
    for s in sc.shocks:
        t0 = rel(s.period)
        t1 = Q if s.quarters == 0 else t0 + s.quarters
        t0c, t1c = max(t0, 0), min(t1, Q)
        if t0c >= t1c:
            continue
        cols = np.array([fidx[f] for f in s.firms if f in fidx], np.int64) if s.firms else np.arange(F)
        rows = slice(t0c, t1c)
        if s.kind is ShockKind.demand:
            shock_demand[rows, cols] *= 1.0 + s.size
        elif s.kind is ShockKind.non_loop:
            shock_non_loop[rows, cols] *= 1.0 + s.size
        elif s.kind is ShockKind.credit:
            shock_credit[rows, cols] += s.size
        elif s.kind is ShockKind.equity:
            shock_equity[rows, cols] *= 1.0 + s.size
        elif s.kind is ShockKind.rerent:
            shock_rerent[rows, cols] *= 1.0 + s.size
        elif s.kind is ShockKind.loi_lapse:
            chosen = set(cols.tolist())
            hit = conditional & (np.isin(payer, list(chosen)) | np.isin(payee, list(chosen)))
            shock_lapse[t0c, hit] = True
    np.maximum(shock_demand, 0.0, out=shock_demand)
    np.maximum(shock_non_loop, 0.0, out=shock_non_loop)
    np.maximum(shock_equity, 0.0, out=shock_equity)
    np.maximum(shock_rerent, 0.0, out=shock_rerent)

    edges = _edges(F, payer, payee, cc, cc_mix, cp, eq, ln, bk)

    # ---- valuation anchors: opening quarterly revenue run-rate and growth
    loop_in0 = np.zeros(F)
    for i in range(C):
        if kind[i] in (Kind.compute, Kind.chips) and not conditional[i]:
            loop_in0[payee[i]] += sched[i, 0]
    for k, i in enumerate(cc):
        if not conditional[i]:
            for v, part in cc_mix[k].items():
                loop_in0[v] += cc_capex[k, 0] * part
    end0 = np.zeros(F)
    end0[dev_firm] = dev_level * dev_multiplier
    rev0_q = end0 / 4.0 + non_loop_q[0] + loop_in0
    growth0 = nl_growth.astype(float).copy()
    for d, i in enumerate(dev):
        if end0[i] > 0:
            growth0[i] = float(np.expm1(dev_mu[0, d]))
    fundamental0 = _multiple(eqm.revenue_multiple, eqm.growth_premium, growth0) * 4.0 * rev0_q
    # value = sentiment × (premium + scale × fundamental): the scale is 1 (the generic
    # multiple) unless the book values the firm below it; the premium is what the
    # opening value pays beyond fundamentals (option value), scaled by sentiment
    below = (mv0 > 0) & (mv0 < fundamental0)
    value_scale = np.divide(mv0, fundamental0, out=np.ones(F), where=below)
    value_premium = np.maximum(mv0 - value_scale * fundamental0, 0.0)
    by_book = (mv0 <= 0) & (fundamental0 <= 0)
    core_ids = core_firms(book)
    core = np.zeros(F, bool)
    core[[fidx[f] for f in core_ids]] = True
    if not core.any():
        core[:] = True
    w = np.where(core, np.maximum(mv0, 0.0), 0.0)
    core_weight = w / w.sum() if w.sum() > 0 else core / core.sum()

    return Plan(
        book=book, scenario=sc, periods=periods, firm_ids=[f.id for f in firms],
        contract_ids=[c.id for c in contracts], Q=Q, F=F, C=C,
        cash0=cash0, compute0=compute0, life0_q=life0_q, other0=other0, debt0=debt0,
        debt_rate0=debt_rate0, ladder=ladder, facility0=facility0, units0=units0,
        has_shares=has_shares, mv0=mv0, value_scale=value_scale,
        value_premium=value_premium, by_book=by_book, growth0=growth0,
        rev0_q=rev0_q, non_loop_q=non_loop_q, ai_share=ai_share, opex_fixed_q=opex_fixed_q,
        opex_ratio=opex_ratio, min_cash=min_cash, core=core, core_weight=core_weight,
        dev_firm=dev_firm, dev_level=dev_level, dev_multiplier=dev_multiplier, dev_mu=dev_mu,
        dev_persistence=dev_persistence, dev_vol=dev_vol, dev_corr=dev_corr,
        dev_saturation=dev_saturation, expectation=expectation,
        kind=kind, payer=payer, payee=payee, amount=amount, conditional=conditional,
        decision=decision, p_convert=p_convert, sched=sched, remaining=remaining,
        depends=depends, cc=cc, cc_take_or_pay=cc_take_or_pay, cc_penalty=cc_penalty,
        cc_capex=cc_capex, cc_built=cc_built, cc_life_q=cc_life_q, cp=cp, cp_life_q=cp_life_q,
        eq=eq, eq_post_money=eq_post_money, item_contract=item_contract, item_eq=item_eq,
        item_amount=item_amount, item_at=item_at, item_cond=item_cond, wr=wr,
        wt_warrant=wt_warrant, wt_shares=wt_shares, wt_cond=wt_cond, wr_strike=wr_strike,
        wr_expiry=wr_expiry, ln=ln, ln_rate=ln_rate, ln_spread=ln_spread,
        ln_maturity=ln_maturity, ln_maturity_full=ln_maturity_full, ln_linear_from=ln_linear_from, ln_loi_link=ln_loi_link,
        bk=bk, bk_covers=bk_covers, bk_threshold=bk_threshold, bk_residual=bk_residual,
        bk_cap=bk_cap,
        bk_start=bk_start, bk_end=bk_end, cond_metric=cond_metric, cond_firm=cond_firm,
        cond_threshold=cond_threshold, gw_cond=Weighted.dense(gw_cond),
        gw_deployed=Weighted.dense(gw_deployed), gw_bought=Weighted.dense(gw_bought), shock_demand=shock_demand, shock_non_loop=shock_non_loop,
        shock_credit=shock_credit, shock_equity=shock_equity, shock_rerent=shock_rerent,
        shock_lapse=shock_lapse, edges=edges, n_conditional=int(conditional.sum()),
    )


def _multiple(base: float, premium: float, growth: F64) -> F64:
    """Revenue multiple for annual growth ``growth`` (clipped to [-0.5, 1.5]; floor 0.5)."""
    return np.maximum(base + premium * np.clip(growth, -0.5, 1.5), 0.5)


def _edges(F: int, payer: I64, payee: I64, cc: I64, cc_mix: list[dict[int, float]], cp: I64,
           eq: I64, ln: I64, bk: I64) -> Edges:
    rows: list[tuple[int, int, int, int, int]] = []  # payer, payee, leg, contract, twin_of
    groups: dict[str, slice] = {}

    def group(name: str, items: list[tuple[int, int, int, int, int]]) -> None:
        groups[name] = slice(len(rows), len(rows) + len(items))
        rows.extend(items)

    group("cc", [(int(payer[i]), int(payee[i]), Leg.payment, int(i), -1) for i in cc])
    group("cp", [(int(payer[i]), int(payee[i]), Leg.payment, int(i), -1) for i in cp])
    # capex: one edge per (commitment, vendor); the rest of the mix goes to the world
    capex: list[tuple[int, int, int, int, int]] = []
    capex_share: list[float] = []
    capex_cc: list[int] = []
    for k, i in enumerate(cc):
        mix = cc_mix[k]
        for v, s in sorted(mix.items()):
            capex.append((int(payee[i]), v, Leg.capex, int(i), -1))
            capex_share.append(s)
            capex_cc.append(k)
        rest = 1.0 - sum(mix.values())
        if rest > 1e-12:
            capex.append((int(payee[i]), F, Leg.capex, int(i), -1))
            capex_share.append(rest)
            capex_cc.append(k)
    group("capex", capex)
    base = groups["capex"].start
    group("capex_twin", [(p, F, Leg.capex, c, base + n) for n, (p, v, _, c, _) in enumerate(capex)
                         if v != F])
    group("eq", [(int(payer[i]), int(payee[i]), Leg.tranche, int(i), -1) for i in eq])
    group("draw", [(int(payer[i]), int(payee[i]), Leg.draw, int(i), -1) for i in ln])
    for name, leg in (("interest", Leg.interest), ("principal", Leg.principal),
                      ("accelerated", Leg.accelerated)):
        group(name, [(int(payee[i]), int(payer[i]), leg, int(i), -1) for i in ln])
        b = groups[name].start
        group(name + "_twin", [(int(payee[i]), F, leg, int(i), b + n) for n, i in enumerate(ln)])
    group("bk", [(int(payer[i]), int(payee[i]), Leg.backstop, int(i), -1) for i in bk])
    group("penalty", [(int(payer[i]), int(payee[i]), Leg.penalty, int(i), -1) for i in cc])
    arr = np.array(rows, np.int64).reshape(-1, 5)
    len(arr)
    out_inc = Sum(arr[:, 0], F + 1)
    in_inc = Sum(arr[:, 1], F + 1)
    return Edges(payer=arr[:, 0].copy(), payee=arr[:, 1].copy(), leg=arr[:, 2].copy(),
                 contract=arr[:, 3].copy(), twin_of=arr[:, 4].copy(), groups=groups,
                 out_inc=out_inc, in_inc=in_inc, capex_share=np.array(capex_share, float),
                 capex_cc=np.array(capex_cc, np.int64))
