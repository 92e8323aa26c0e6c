"""One quarter of the engine (DESIGN §2), for all paths of a chunk at once.

Order within quarter ``t``:

0. conditional deals (LOIs, unsigned contracts) whose decision falls in ``t``
   convert or lapse; a lapse ends what depends on it and calls the credit
   that stood on it;
1. **demand**: the world pays end revenue to developers, non-loop revenue
   (its AI share scaled by sentiment) and re-rent revenue for stranded
   capacity;
2. **operating costs** fall due: fixed + ratio × the quarter's revenue
   (end, non-loop, re-rent and contract revenue due). The variable cost of
   contract revenue is owed only on what the buyer pays: when a buyer
   defaults, its supplier does not deliver (nor pay for) the unpaid part, so
   clearing nets the cost off the supplier's receipts (``Plan.edge_keep``).
   Decision: without it a supplier could fail on costs of revenue it never
   got, and more end demand (which keeps a doomed buyer alive into a
   contract's first quarter) could produce more defaults;
3. **scheduled flows** fall due: compute commitments, chip purchases,
   build-out capex, equity tranches whose milestones were met, loan draws,
   interest and principal (world debt rolls over ``refinance_share`` scaled
   down by stress), backstop calls on unused capacity. A buyer short of
   cash first uses only the take-or-pay share of its commitments and funds
   its milestone equity tranches only as far as it can (the rest lapses;
   see ``Plan.item_milestone``);
4. the **funding waterfall** (:mod:`loopwatch.engine.funding`);
5. **default resolution** with cascades (:mod:`loopwatch.engine.resolution`),
   then every payment is posted at its clearing ratio;
6. **valuation**: depreciation, sentiment, market values, marks;
7. **milestones** update, warrants vest, expiring warrants are exercised;
8. the quarter is **recorded** and the books are checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from loopwatch.engine._fused import (
    add_rows,
    any_nonzero,
    cols_with_any,
    csr_post,
    nonzero_rows,
    pay_world,
    refinance,
    zero_nonzero_rows,
)
from loopwatch.engine._kernels import backstop as backstop_kernel
from loopwatch.engine._kernels import (
    contract_opex,
    flag_rows,
    market_reference,
    masked_total,
    masked_total_reference,
    opex_cols,
    pay,
    position,
    repay_loans,
    schedule,
    world_debt_due,
)
from loopwatch.engine._kernels import demand as demand_kernel
from loopwatch.engine._kernels import flex as flex_kernel
from loopwatch.engine._kernels import income as income_kernel
from loopwatch.engine._kernels import opex as opex_kernel
from loopwatch.engine._kernels import revenue as revenue_kernel
from loopwatch.engine._kernels import short as short_after
from loopwatch.engine._settle import settle_paths
from loopwatch.engine.draws import Draws
from loopwatch.engine.events import EventLog
from loopwatch.engine.funding import (
    SOURCES,
    LazyMarket,
    Market,
    Raised,
    add_world_debt,
    exercise_warrants,
    moved_by_waterfall,
    waterfall,
)
from loopwatch.engine.ledger import Account, Ledger
from loopwatch.engine.plan import Plan, QuarterTerms
from loopwatch.engine.resolution import (
    Claims,
    add_losses,
    add_losses_by,
    edge_losses,
    resolve,
    settle_defaults,
    terminate,
)
from loopwatch.engine.state import State, gather, owned
from loopwatch.engine.valuation import add_vintage, depreciate, evaluate_milestones, mark, revalue

__all__ = ["Quarter", "step"]

F64 = NDArray[np.float64]
B8 = NDArray[np.bool_]


@dataclass
class Quarter:
    """Flows of one quarter, for recording (USD, (F, P) unless stated).

    Flows only the record reads (capex, interest and principal due, commitments
    due, payments into the network) are totalled when first read, from the
    quarter's edge arrays: a run that records few variables does not pay for
    the others. Per-contract flows (C, P) are computed only when asked for.
    A quarter is read before the next one runs (the recorder reads each
    quarter right after it): its cash changes are taken from the ledger as it
    stands, and its end revenue is the state's buffer, which the next quarter
    overwrites.
    """

    plan: Plan
    revenue_end: F64
    revenue_loop: F64
    non_loop: F64  # non-loop revenue but re-rent
    revenue_rerent: F64
    opex: F64
    depreciation: F64
    raised: Raised
    ledger: Ledger  # at the quarter's end (until the next quarter posts)
    cash_start: F64 | None  # cash at the quarter's start (None: not kept, see ``State``)
    world_start: F64  # (P,) the world's cash at the quarter's start
    A: F64  # (E, P) due on each edge
    paid: F64  # (E, P)
    nz: NDArray[np.int64]  # rows of ``A`` and ``paid`` that may be nonzero
    prin_sched: F64  # (n_ln, P) scheduled loan principal
    w_int: F64  # interest on world debt
    w_prin: F64  # world debt principal due

    @cached_property
    def cash_change(self) -> F64:
        if self.cash_start is None:
            raise RuntimeError("this run keeps no cash_change (State.keep_cash_start is off)")
        out: F64 = self.ledger[Account.cash] - self.cash_start
        return out

    @cached_property
    def world_cash_change(self) -> F64:
        """(P,)"""
        out: F64 = self.ledger.world_cash - self.world_start
        return out

    @cached_property
    def revenue_non_loop(self) -> F64:
        """Non-loop revenue including the re-rent of stranded capacity."""
        return self.non_loop + self.revenue_rerent

    @cached_property
    def capex(self) -> F64:
        return self.plan.capex_out.over(self.paid, self.nz)

    @cached_property
    def commitments_due(self) -> F64:
        return self.plan.committed_out.over(self.A, self.nz)

    @cached_property
    def paid_out_loop(self) -> F64:
        return self.plan.to_firm_out.over(self.paid, self.nz)

    @cached_property
    def interest_due(self) -> F64:
        plan = self.plan
        if not len(plan.ln):
            return self.w_int
        g = plan.edges.groups
        b_inc = plan.incidence(np.arange(len(plan.ln)), plan.payee[plan.ln])
        out: F64 = b_inc @ (self.A[g["interest"]] + self.A[g["interest_twin"]]) + self.w_int
        return out

    @cached_property
    def principal_due(self) -> F64:
        plan = self.plan
        if not len(plan.ln):
            return self.w_prin
        b_inc = plan.incidence(np.arange(len(plan.ln)), plan.payee[plan.ln])
        out: F64 = b_inc @ self.prin_sched + self.w_prin
        return out

    def contract_flows(self, plan: Plan, which: str) -> F64:
        """Per-contract ``due``/``paid`` (payer → payee) or ``due_reverse``/``paid_reverse`` (C, P)."""
        amounts = self.A if which.startswith("due") else self.paid
        to = plan.reverse_contract if which.endswith("reverse") else plan.forward_contract
        return to @ amounts


def _decide(plan: Plan, st: State, t: int, dr: Draws, ev: EventLog) -> None:
    """Step 0: conditional deals deciding this quarter convert or lapse.

    Works on the rows of the contracts deciding now (or forced to lapse) only; the
    totals over them skip only contracts that add exact zeros.
    """
    k = plan.at(t).deciding
    if not len(k):
        return
    forced = plan.shock_lapse[t, k][:, None]
    deciding = (plan.conditional[k] & (plan.decision[k] == t))[:, None]
    payer, payee = plan.payer[k], plan.payee[k]
    opened = st.open[k]
    both = st.alive[payer] & st.alive[payee]
    lapse = opened & forced
    dec = opened & deciding & ~lapse
    conv = dec & both & (dr.convert[k] < plan.p_convert[k][:, None])
    lapse |= dec & ~conv
    value = plan.remaining[:, t] + plan.sched[:, t]
    # the credit that stood on open deals in a firm's favour is released or called
    open_value = masked_total(plan.payee_inc, st.open, np.arange(len(value)), value)
    to_payee, rows = plan.incidence(k, plan.payee), np.arange(len(k))
    for mask, call in ((conv, False), (lapse, plan.scenario.loi.lapse_withdraws_credit)):
        if not mask.any():
            continue
        part = np.divide(masked_total(to_payee, mask, rows, value[k]), open_value,
                         out=np.zeros_like(open_value), where=open_value > 0)
        moved = st.loi_debt * np.clip(part, 0.0, 1.0)
        st.loi_debt = st.loi_debt - moved
        if call:
            st.called = st.called + moved
            ev.add(t, "loan_called", moved, firm=np.arange(plan.F),
                   counterparty=np.full(plan.F, plan.F))
    if ev.enabled:
        ev.add(t, "loi_converted", plan.amount[k][:, None] * conv, firm=payer,
               counterparty=payee, mask=conv)
        ev.add(t, "loi_lapsed", plan.amount[k][:, None] * lapse, firm=payer,
               counterparty=payee, mask=lapse)
    st.open[k] = opened & ~(conv | lapse)
    st.live[k] |= conv
    if lapse.any():
        if plan.scenario.loi.lapse_withdraws_credit and len(plan.ln):
            linked = (plan.ln_loi_link[k].T @ lapse.astype(float)) > 0
            call = linked & (st.loan_out > 0) & ~st.loan_accel
            if ev.enabled:
                ev.add(t, "loan_called", st.loan_out * call, firm=plan.payee[plan.ln],
                       counterparty=plan.payer[plan.ln], mask=call)
            st.loan_accel |= linked & (st.loan_out > 0)
            st.live[plan.ln] &= ~linked
        if plan.depends.any():
            every = np.zeros(st.open.shape, np.bool_)
            every[k] = lapse
            terminate(plan, st, t, plan.dependents(every), ev)


def _market(plan: Plan, st: State, t: int, stress: F64, revenue_q: F64) -> LazyMarket:
    """The quarter's credit terms: the new-loan rate now, the rest when the waterfall asks
    (:class:`~loopwatch.engine.funding.LazyMarket`, the same numbers); the twin is
    :func:`_market_reference`."""
    return LazyMarket(plan, st, t, stress, revenue_q)


def _market_reference(plan: Plan, st: State, t: int, stress: F64, revenue_q: F64) -> Market:
    """:func:`_market` in numpy, every term of every firm at once (the twin)."""
    cr = plan.scenario.credit
    led = st.ledger
    # sums over the contracts that can contribute only (the others add exact zeros; the
    # lists are the plan's, :meth:`Plan.at`): binding receivables still to come, and
    # conditional deals (only they can be open)
    at = plan.at(t)
    recv = masked_total_reference(at.recv_sum, st.live, at.recv_rows, at.recv_value)
    parts_loi = masked_total_reference(at.loi_sum, st.open, at.loi_rows, at.loi_value,
                                       cr.advance_loi)
    coll, loi_share, debt_cap, new_rate, facility_rate = market_reference(
        led.bal, recv, parts_loi, stress, plan.shock_credit[t], cr, revenue_q)
    return Market(collateral=coll, loi_share=loi_share, debt_cap=debt_cap, new_rate=new_rate,
                  facility_rate=facility_rate)


def step(plan: Plan, st: State, t: int, dr: Draws, ev: EventLog) -> Quarter:
    """Advance every path of ``st`` through quarter ``t``; return its flows."""
    P, F = st.P, plan.F
    led = st.ledger
    E = plan.edges
    g = E.groups
    cash_start = led[Account.cash].copy() if st.keep_cash_start else None
    world_start = led.world_cash.copy()
    # equity issued this quarter: zeroed (its few nonzero rows only)
    zero_nonzero_rows(owned(st, "issued"))
    alive = st.alive
    # (1, P) share of core value down
    # (a firm has defaulted exactly where it is not alive: settlement sets both together)
    stress = masked_total(plan.core_sum, ~alive, *plan.every_firm)
    at = plan.at(t)

    # 0. decisions
    _decide(plan, st, t, dr, ev)

    # 1. demand
    end = st.end  # (the developers' rows are written below; the others stay zero)
    demand = np.zeros(P)
    if len(plan.dev_firm):
        # sentiment reads the growth of the scenario's demand path, which a run's
        # ``demand_multiplier`` does not change (it scales levels, not growth)
        st.dem_x, st.dem_level, demand = demand_kernel(
            dr.demand[t], plan.dev_corr, plan.dev_persistence, plan.dev_vol, plan.dev_mu[t],
            plan.dev_saturation, st.dem_x, st.dem_level, t == 0, plan.dev_multiplier,
            plan.shock_demand[t, plan.dev_firm], st.dem_mult, alive, plan.dev_firm, end)
    # non-loop revenue (its AI share scaled by sentiment) and re-rent revenue: stranded
    # capacity loses its contract value less what it re-rents for; the test is on the
    # stranding, not on the re-rent (which is zero at a zero spot price or utilisation:
    # the loss is then the whole value, and a path's numbers must not depend on whether
    # another path in its chunk re-rents anything)
    cc = plan.cc
    cloud = at.cloud
    sched_cc = at.sched_cc  # this quarter's value of each compute commitment
    non_loop, rerent_cc, rerent, stranded_loss, _ = income_kernel(
        plan.non_loop_q[t], plan.ai_share, st.sent_eff, plan.shock_non_loop[t], alive, end,
        st.stranded, sched_cc, cloud, at.rerent_price, led)  # (posts the total: from the world)
    if stranded_loss is not None:
        # only the commitments stranded on some path (the other rows would add exact zeros)
        add_losses_by(st, plan.stranded_loss_sums, stranded_loss,
                      np.flatnonzero(nonzero_rows(stranded_loss, np.arange(len(stranded_loss)))))

    # 3. scheduled flows
    live = st.live
    K = len(plan.cond_metric)
    failing = (masked_total(plan.item_failing, ~st.cond_ok, np.arange(K), np.ones(K))
               if len(plan.eq) else np.zeros((0, P)))
    ln = plan.ln
    A, items_due, prin_sched, maturing, filled = schedule(
        E.n, g, live, alive, cc, sched_cc, E.capex_cc, at.cap_amount, at.vendor, plan.cp,
        at.sched_cp, at.item_due_now, st.item_paid, failing, plan.item_contract,
        plan.item_amount, plan.item_eq, ln, at.sched_ln, at.borrower, at.rate_q, at.mat_now,
        at.linear, at.denom, st.loan_out, owned(st, "loan_accel", np.bool_), st.loan_sold,
        st.edge_due, st.due_dirty)
    # world debt: interest, maturing principal (part rolls over), called LOI credit
    # called LOI credit is part of world debt: the ladder runs on the rest, so one dollar is
    # never repaid twice (hypothesis found debt going negative when both fell due at once)
    # (zeroes ``st.called`` in place: it falls due now)
    w_int, w_sched, w_prin = world_debt_due(st.world_debt, st.world_rate, owned(st, "called"),
                                            plan.ladder, alive)
    # edge totals over the rows of A that carry anything this quarter (most are zero)
    nz0 = _with_rows(filled, A, [])
    inn = E.in_inc[:, :F].over(A, nz0)
    loop_due_in = plan.commercial_in.over(A, nz0)
    # operating costs: fixed, plus the variable share of revenue; the share on network
    # revenue is charged on what is actually received (a payee does not deliver, or pay
    # for, capacity its defaulting buyer does not pay for: resolution nets it off)
    revenue_q, opex_out, opex = opex_kernel(plan.opex_fixed_q[t], plan.opex_ratio, end, non_loop,
                                            rerent, loop_due_in, alive)
    mkt = _market(plan, st, t, stress, revenue_q)
    # maturing debt is refinanced by outside lenders: a share of the world ladder and
    # of book loans' scheduled principal (the book lender is repaid in full)
    roll, rolled = _refinance(plan, st, at, maturing, w_sched, stress, mkt.new_rate)

    # 3b. take-or-pay flex, then backstop calls
    out = E.out_inc[:, :F].over(A, nz0)
    # a buyer short of cash cuts the flexible part of its commitments (above take-or-pay)
    # and the milestone tranches of its equity investments (which lapse), pro rata
    flex_cc, flex_it = plan.flexes
    if flex_cc or flex_it:
        ic = plan.item_contract
        # (cuts the compute rows of ``A``, ``inn`` and ``out`` in place)
        items_cut = flex_kernel(
            led[Account.cash], inn, out, opex, w_int, w_prin, plan.min_cash, alive,
            A[g["cc"]], plan.cc_take_or_pay, plan.payer[cc], plan.payee[cc], items_due,
            plan.item_milestone, plan.item_amount, plan.payer[ic], plan.payee[ic],
            st.items_cut)
        if flex_it:
            _cut_tranches(plan, A, items_cut)
    else:
        items_cut = st.items_cut  # (zero: nothing is ever cut)
    if len(plan.bk):
        calls = backstop_kernel(
            st.live, st.stranded, sched_cc, A[g["cc"]], rerent_cc, cc, cloud,
            plan.bk_covers, plan.payee[plan.bk], plan.bk_threshold,
            at.bk_active, st.bk_left, st.live[plan.bk], plan.bk_residual, st.open)
        A[g["bk"]] = calls
        # (fresh arrays of this step; rows that get nothing would add exact zeros)
        plan.incidence(plan.bk, plan.payer).add_into(out, calls)
        plan.incidence(plan.bk, plan.payee).add_into(inn, calls)

    # the rows that may carry anything now: the flex only lowers amounts, backstop calls add
    nz1 = _with_rows(filled, A, [g["bk"]])
    if len(cc) or len(plan.bk):
        # the variable cost of contract revenue follows the amounts finally due (after
        # the take-or-pay cut and backstop calls)
        # (in place: ``opex_out + ratio × due × alive``, the same products in the same order)
        opex = contract_opex(plan.commercial_in.over(A, nz1), plan.opex_ratio, alive, opex_out)

    # 4. funding waterfall
    short0 = np.empty((F, P), np.bool_)
    x, wo, need, deficit = position(led[Account.cash], inn, out, opex, w_int, w_prin,
                                    plan.min_cash, alive, short0)
    # (into the state's array: see ``raised_dirty``)
    got = waterfall(plan, st, need, deficit, mkt, st.raised_out, st.raised_dirty)
    # only the rows of ``short0`` whose cash or funding the waterfall may have moved are
    # worked out again
    short = short_after(x, got, out, wo, led[Account.cash], alive, short0,
                        moved_by_waterfall(plan, need))
    # the quarter's funding: the waterfall's arrays (fresh), debt with the roll-over
    # (the waterfall's arrays are fresh: the roll-over joins its debt in place)
    raised = Raised(got.facility, np.add(got.debt, roll, out=got.debt) if rolled else got.debt,
                    got.equity, got.warrant, got.stake_sale)
    if rolled:  # (the rows the roll-over added to may be nonzero now)
        st.raised_dirty |= nonzero_rows(roll, plan.every_firm[0])

    # 5. clearing and cascades, on the paths where a firm is short (``resolve`` reads and
    # writes only those columns; a firm pushed short in a cascade goes through the waterfall
    # on the whole state, with no need elsewhere)
    cols = cols_with_any(short)
    Dnew = np.zeros((F, P), bool)
    if len(cols):
        alive_start = alive.copy()  # resolution updates ``st.alive`` in place
        # accelerated world debt: resolution writes the columns ``cols`` only (the state's
        # array, zero but on the columns written last time, which are zeroed here)
        w_accel = owned(st, "w_accel")
        if len(st.w_accel_cols):
            w_accel[:, st.w_accel_cols] = 0.0
        st.w_accel_cols = cols
        cl = Claims(A=A, opex=opex_out, w_int=w_int, w_prin=w_prin, w_accel=w_accel,
                    prin_sched=prin_sched)
        # (updates ``A`` in place; ``nz1``: its rows that may carry anything)
        r, Dnew, rounds = resolve(plan, st, t, cl, short, mkt, raised, nz1)
        if raised.added:  # (a cascade's funding, added in: any row may be nonzero)
            st.raised_dirty[:] = True
        # resolution only lowers amounts, but for acceleration and cancellation penalties
        # (resolution writes those rows on the short paths ``cols`` only)
        nz = _with_rows(filled, A, [g["accelerated"], g["accelerated_twin"], g["penalty"]], cols)
        # every edge is paid at its payer's ratio (exactly 1 off the short paths, and for the
        # world); rows outside ``nz`` carry nothing
        paid = pay(A, r, E.payer, nz, st.edge_paid, st.paid_dirty)
        st.paid_dirty[:] = False
        st.paid_dirty[nz] = True
        rf = r[:F]
        _post_edges(plan, st, t, paid, nz, Dnew)
        # the variable cost of contract revenue on what was received: off the short paths
        # ``rf`` = 1 and ``paid`` = ``A``, so only their columns change
        opex_cols(opex, opex_out, rf, plan.opex_ratio, paid, alive_start, cols,
                  plan.commercial_in, nz)
        _pay_world(st, opex, w_int, w_prin, cl.w_accel, rf)
        D = Dnew[:, cols]
        if D.any():
            # losses and liquidation only on the paths where somebody defaulted: on the
            # others (short, but rescued in the cascade) r = 1 and D is empty, so every
            # loss, write-off and posting there is zero
            cd = cols[np.flatnonzero(D.any(axis=0))]
            if not ev.enabled and _compiled_settlement:
                # in place, path by path, compiled (writes no events; see ``_settle``)
                settle_paths(plan, st, t, cd, Dnew, r, A, paid, cl.opex, cl.w_int, cl.w_prin,
                             cl.w_accel, nz)
            else:
                _settle_on_substate(plan, st, t, cd, Dnew, r, rounds, A, paid, cl, ev)
    else:
        paid = A
        nz = nz1
        _post_edges(plan, st, t, paid, nz, None)
        _pay_world(st, opex, w_int, w_prin)
    if len(plan.eq):
        if ev.enabled:
            paid_items = items_due & ~Dnew[plan.payer[plan.item_contract]]
            ev.add(t, "tranche_paid", np.where(paid_items, plan.item_amount[:, None] - items_cut,
                                               0.0),
                   firm=plan.payer[plan.item_contract],
                   counterparty=plan.payee[plan.item_contract], mask=paid_items)
            lapsed = paid_items & (items_cut > 0)
            ev.add(t, "tranche_lapsed", items_cut * lapsed, firm=plan.payer[plan.item_contract],
                   counterparty=plan.payee[plan.item_contract], mask=lapsed)
        st.item_paid |= items_due
    if ev.enabled:
        for name in SOURCES:
            ev.add(t, f"funding_{name}", getattr(raised, name), firm=np.arange(F),
                   counterparty=np.full(F, F))

    # 6. valuation
    dep = depreciate(plan, st, t)
    got_loop = plan.commercial_in.over(paid, nz)
    revenue = revenue_kernel(end, non_loop, rerent, got_loop)
    revalue(plan, st, t, revenue, demand, Dnew, dr.price[t])
    mark(plan, st, t)

    # 7. milestones, warrant expiry
    evaluate_milestones(plan, st, t, end, ev)
    if len(plan.wt_shares):
        k = plan.wt_warrant
        ends = plan.wr_expiry[k] == t
        if ends.any():  # (most quarters: no tranche expires)
            expiring = ends[:, None] & st.wt_vested & (st.wt_val > 0)
            if expiring.any():
                net = exercise_warrants(plan, st, expiring.astype(float))
                w = plan.wr[k]
                ev.add(t, "warrant_exercised", net, firm=plan.payee[w],
                       counterparty=plan.payer[w], mask=expiring)
            st.wt_left = np.where(ends[:, None], 0.0, st.wt_left)
            st.wt_val = np.where(ends[:, None], 0.0, st.wt_val)

    # the rows of the edge array that may be nonzero next time it is reused (the others are)
    st.due_dirty[:] = False
    st.due_dirty[nz] = True

    # 8. flows for the record (the record-only totals are lazy: see ``Quarter``)
    return Quarter(
        plan=plan, revenue_end=end, revenue_loop=got_loop, non_loop=non_loop,
        revenue_rerent=rerent, opex=opex, depreciation=dep, raised=raised,
        ledger=led, cash_start=cash_start, world_start=world_start, A=A, paid=paid,
        nz=nz, prin_sched=prin_sched, w_int=w_int,
        w_prin=w_prin,
    )


def _cut_tranches(plan: Plan, A: F64, items_cut: F64) -> None:
    """``A[eq] -= item_to_eq @ items_cut``: tranche items cut by the flex come off their
    equity rows of ``A``, in place (compiled; rows with no item would subtract exact
    zeros). The twin is :func:`_cut_tranches_reference`."""
    eq = plan.edges.groups["eq"]
    csr_post(*plan.item_to_eq.csr, np.ascontiguousarray(items_cut, np.float64), A[eq], -1.0,
             eq.stop - eq.start)


def _cut_tranches_reference(plan: Plan, A: F64, items_cut: F64) -> None:
    """:func:`_cut_tranches` in numpy (the twin)."""
    A[plan.edges.groups["eq"]] -= plan.item_to_eq @ items_cut


def _refinance(plan: Plan, st: State, at: QuarterTerms, maturing: F64, w_sched: F64,
               stress: F64, new_rate: F64) -> tuple[F64, bool]:
    """Outside lenders roll over a share of the maturing debt; returns it (F, P) and if any.

    The share is the scenario's ``refinance_share``, scaled down by system ``stress``
    (1, P); what rolls is the book loans' maturing principal (``maturing`` (n_ln, P),
    to each borrower) plus the world ladder's ``w_sched`` (F, P). The world lends it at
    ``new_rate``. One compiled pass (:func:`~loopwatch.engine._fused.refinance`); the
    twin is :func:`_refinance_reference`.
    """
    cr = plan.scenario.credit
    led = st.ledger
    indptr, indices, data = at.lender_sum.csr
    c = np.ascontiguousarray
    roll = np.empty_like(w_sched)
    some = refinance(indptr, indices, data, c(maturing, np.float64), c(w_sched, np.float64),
                     c(stress, np.float64).reshape(-1), float(cr.refinance_share),
                     float(cr.stress_response), led.bal, int(Account.cash), int(Account.debt),
                     led.world_cash, owned(st, "world_debt"), owned(st, "world_rate"),
                     c(np.broadcast_to(new_rate, roll.shape), np.float64), roll)
    return roll, bool(some)


def _refinance_reference(plan: Plan, st: State, at: QuarterTerms, maturing: F64, w_sched: F64,
                         stress: F64, new_rate: F64) -> tuple[F64, bool]:
    """:func:`_refinance` in numpy (the twin)."""
    cr = plan.scenario.credit
    roll_share = cr.refinance_share * np.maximum(1.0 - cr.stress_response * stress, 0.0)
    roll = at.lender_sum @ maturing
    roll += w_sched  # (``w_sched + …``: addition commutes exactly)
    roll *= roll_share
    rolled = bool(roll.any())
    if rolled:
        st.ledger.from_world(roll, Account.debt)
        add_world_debt(st, roll, new_rate)
    return roll, rolled


def _pay_world(st: State, opex: F64, interest: F64, principal: F64, accel: F64 | None = None,
               ratio: F64 | None = None) -> None:
    """Pay the world operating costs, interest and principal (F, P); reduce world debt.

    With ``ratio`` (F, P), the payers' clearing ratios: interest × ratio and
    (principal + ``accel``) × ratio. One compiled pass
    (:func:`~loopwatch.engine._fused.pay_world`); the twin is :func:`_pay_world_reference`.
    """
    led = st.ledger
    c = np.ascontiguousarray
    scaled = ratio is not None
    none = np.empty((0, 0))
    pay_world(led.bal, int(Account.cash), int(Account.debt), int(Account.equity),
              c(opex, np.float64), c(interest, np.float64), c(principal, np.float64),
              c(accel, np.float64) if scaled else none, c(ratio, np.float64) if scaled else none,
              scaled, led.world_cash, owned(st, "world_debt"), owned(st, "loi_debt"))


def _pay_world_reference(st: State, opex: F64, interest: F64, principal: F64,
                         accel: F64 | None = None, ratio: F64 | None = None) -> None:
    """:func:`_pay_world` in numpy (the twin)."""
    led = st.ledger
    if ratio is not None:
        assert accel is not None
        interest, principal = interest * ratio, (principal + accel) * ratio
    led.to_world(opex + interest, Account.equity)
    led.to_world(principal, Account.debt)
    st.world_debt = np.maximum(st.world_debt - principal, 0.0)
    st.loi_debt = np.minimum(st.loi_debt, st.world_debt)


def _settle_on_substate(plan: Plan, st: State, t: int, cd: NDArray[np.int64], Dnew: B8,
                        r: F64, rounds: NDArray[np.int64], A: F64, paid: F64, cl: Claims,
                        ev: EventLog) -> None:
    """Losses, liquidation and endings of the defaults on paths ``cd``, on a sub-state of them.

    The numpy route (and the twin of :func:`~loopwatch.engine._settle.settle_paths`); it
    also writes the events.
    """
    F, E = plan.F, plan.edges
    sub = st.take(cd)
    evs = ev.on(cd)
    A_d, r_d, D_d = gather(A, cd), gather(r, cd), gather(Dnew, cd)
    world_d = cl.opex[:, cd] + cl.w_int[:, cd] + cl.w_prin[:, cd] + cl.w_accel[:, cd]
    edge_losses(plan, sub, A_d, r_d)
    add_losses(sub, world_d * (1.0 - r_d[:F]), np.full(F, F, np.int64), np.arange(F),
               np.zeros(F, np.int64))
    if evs.enabled:
        evs.add(t, "default", (E.out_inc[:, :F] @ A_d + world_d) * D_d,
                firm=np.arange(F), mask=D_d, round_=rounds[:, cd])
    settle_defaults(plan, sub, t, D_d, r_d,
                    E.in_inc[:, :F] @ (gather(paid, cd) * plan.edge_keep[:, None]), evs)
    st.put(cd, sub)
    # a defaulter's scheduled depreciation changes are cleared (on its paths only)
    fi, pi = np.nonzero(D_d)
    st.dep_change[:, fi, cd[pi]] = 0.0


#: Whether the quarter settles defaults with the compiled :func:`settle_paths` when no events
#: are recorded (tests switch it off to run the numpy route, its twin).
_compiled_settlement = True


def _with_rows(filled: B8, a: F64, groups: list[slice],
               cols: NDArray[np.int64] | None = None) -> NDArray[np.int64]:
    """Rows that may carry anything: ``filled`` (E,), updated in place with the rows of the
    edge groups ``groups`` of ``a`` that carry anything now (read on the columns ``cols``
    only, if given: the groups are zero elsewhere).

    A superset of the nonzero rows is fine for the restricted totals (extra rows add
    exact zeros); it saves a pass over every edge when only a few groups changed. On a
    few paths, every row (one pattern, so the restricted sums stay cached).
    """
    if a.shape[1] < 32:
        return np.arange(len(a))
    for grp in groups:
        flag_rows(a, grp, filled, cols)
    out: NDArray[np.int64] = np.flatnonzero(filled)
    return out


def _post_edges(plan: Plan, st: State, t: int, paid: F64, nz: NDArray[np.int64],
                defaulted: B8 | None) -> None:
    """Post the quarter's payments with each side's other account, then update the registers.

    ``nz`` holds the rows of ``paid`` (E, P) that may be nonzero (a superset is fine);
    ``defaulted`` (F, P) the firms that defaulted this quarter (``None``: nobody).

    A defaulter's payments for chips and build-out are claims for goods it
    will not get: its side of those entries is an expense, not an asset.
    """
    led = st.ledger
    E = plan.edges
    g = E.groups
    F = plan.F
    payer_legs, payee_legs = plan.edge_legs
    led.transfer_legs_over(paid, nz, E.out_inc, E.in_inc, payer_legs, payee_legs)
    # what was paid for goods delivered: ``paid`` less a defaulter's claims, which change
    # only the columns ``dc``: totals are taken over ``paid``, then those columns are
    # recomputed from ``pzd`` (rows ``nz``) and ``cpd`` (chip purchases), copies of them
    # with the claims taken off (the same operations on the same numbers, column by column)
    cp = paid[g["cp"]]
    dc: NDArray[np.int64] | None = None
    pzd: F64 | None = None
    cpd: F64 | None = None
    if defaulted is not None:
        # on the paths with a default only (elsewhere the claims are zero)
        dc = cols_with_any(defaulted)
        k = nz[plan.capex_edges[nz]]  # purchases that may carry anything
        by = E.payer[k]
        firm = by < F
        claims = np.zeros((len(k), len(dc)))
        # (``a[rows[:, None], cols]`` is ``a[np.ix_(rows, cols)]``, without its dtype checks)
        claims[firm] = paid[k[firm][:, None], dc] * defaulted[by[firm][:, None], dc]
        if any_nonzero(claims):
            # ``led.post(amount, equity, compute)`` on the columns ``dc``: the same operations
            amount = plan.capex_out.rows(k) @ claims
            bal = led.bal
            bal[Account.equity][:, dc] += -1.0 * amount
            bal[Account.compute][:, dc] += -1.0 * amount
            pzd = paid[nz[:, None], dc]
            pzd[np.searchsorted(nz, k)] -= claims  # (``nz`` is sorted, ``k`` a part of it)
            in_cp = (k >= g["cp"].start) & (k < g["cp"].stop)
            if in_cp.any():
                cpd = cp[:, dc]
                cpd[k[in_cp] - g["cp"].start] -= claims[in_cp]
    # cumulative payments per contract (each contract has one such edge)
    add_rows(st.cum_paid, paid, np.asarray(nz, np.int64), E.paid_to_contract)
    cc = plan.cc
    if len(cc):
        spent = plan.capex_only_out.over(paid, nz)
        if pzd is not None:
            spent[:, dc] = plan.capex_only_out.rows(nz) @ pzd
        if any_nonzero(spent):
            add_vintage(st, t, spent, plan.life0_q)
    if len(plan.cp):
        for life, sel in plan.cp_life_groups:
            to_buyer = plan.incidence(plan.cp[sel], plan.payer)
            amount = to_buyer @ cp[sel]
            if cpd is not None:
                amount[:, dc] = to_buyer @ cpd[sel]
            if any_nonzero(amount):
                add_vintage(st, t, amount, np.full(F, life))
    if len(plan.eq):
        ge = g["eq"]
        _issue_stakes(plan, st, paid[ge], nz[(nz >= ge.start) & (nz < ge.stop)] - ge.start)
    if len(plan.ln):
        repay_loans(owned(st, "loan_out"), paid[g["draw"]], paid[g["principal"]],
                    paid[g["principal_twin"]], paid[g["accelerated"]], paid[g["accelerated_twin"]])
    if len(plan.bk):
        bk = paid[g["bk"]]
        st.bk_left = st.bk_left - bk


def _issue_stakes(plan: Plan, st: State, paid: F64, rows: NDArray[np.int64]) -> None:
    """Investees issue units for equity tranches paid (n_eq, P), at post-money or market price.

    ``rows`` (sorted) holds the tranches that may carry anything (the others are zero).
    Only the tranches paid on some path of the chunk are priced (the others add nothing).
    """
    j = rows[nonzero_rows(paid, np.asarray(rows, np.int64))]
    if not len(j):
        return
    pj = paid[j]
    tee_all = plan.payee[plan.eq]
    tee = tee_all[j]
    units = st.units[tee]
    pm = plan.eq_post_money[j][:, None]
    pre = np.where(np.isnan(pm), st.mv[tee], pm - pj)
    # a pre-money value below 1 USD (a firm whose value has all but vanished) is
    # degenerate: units / value would overflow; such a round is priced at its own size
    pre = np.where(pre >= 1.0, pre, np.maximum(pj, 1.0))
    new_units = pj * units / pre
    owned(st, "stake_units")[j] += new_units
    owned(st, "stake_val")[j] += pj
    plan.incidence(j, tee_all).add_into(owned(st, "units"), new_units)
