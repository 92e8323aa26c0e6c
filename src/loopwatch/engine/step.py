"""One quarter of the engine (DESIGN §2), for all paths of a chunk at once.

Order within quarter ``t``:

0. conditional deals (LOIs, unsigned contracts) whose decision falls in ``t``
   convert or lapse; a lapse ends what depends on it and calls the credit
   that stood on it;
1. **demand**: the world pays end revenue to developers, non-loop revenue
   (its AI share scaled by sentiment) and re-rent revenue for stranded
   capacity;
2. **operating costs** fall due: fixed + ratio × the quarter's revenue
   (end, non-loop, re-rent and contract revenue due);
3. **scheduled flows** fall due: compute commitments, chip purchases,
   build-out capex, equity tranches whose milestones were met, loan draws,
   interest and principal (world debt rolls over ``refinance_share`` scaled
   down by stress), backstop calls on unused capacity. A buyer short of
   cash first uses only the take-or-pay share of its commitments;
4. the **funding waterfall** (:mod:`loopwatch.engine.funding`);
5. **default resolution** with cascades (:mod:`loopwatch.engine.resolution`),
   then every payment is posted at its clearing ratio;
6. **valuation**: depreciation, sentiment, market values, marks;
7. **milestones** update, warrants vest, expiring warrants are exercised;
8. the quarter is **recorded** and the books are checked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from loopwatch.engine.draws import Draws
from loopwatch.engine.events import EventLog
from loopwatch.engine.funding import (
    SOURCES,
    Market,
    Raised,
    add_world_debt,
    exercise_warrants,
    waterfall,
)
from loopwatch.engine.ledger import Account
from loopwatch.engine.plan import Plan
from loopwatch.engine.resolution import (
    Claims,
    add_losses,
    edge_losses,
    resolve,
    settle_defaults,
    terminate,
)
from loopwatch.engine.state import State
from loopwatch.engine.valuation import add_vintage, depreciate, evaluate_milestones, mark, revalue

__all__ = ["Quarter", "step"]

F64 = NDArray[np.float64]
B8 = NDArray[np.bool_]


@dataclass
class Quarter:
    """Flows of one quarter, for recording (USD, (P, F) unless stated)."""

    revenue_end: F64
    revenue_loop: F64
    revenue_non_loop: F64
    revenue_rerent: F64
    opex: F64
    capex: F64
    depreciation: F64
    interest_due: F64
    principal_due: F64
    commitments_due: F64
    paid_out_loop: F64
    raised: Raised
    due: F64  # (P, C) payer → payee
    paid: F64  # (P, C)
    due_reverse: F64  # (P, C) payee → payer (loan service)
    paid_reverse: F64  # (P, C)
    world_cash_change: F64  # (P,)
    cash_change: F64


def _decide(plan: Plan, st: State, t: int, dr: Draws, ev: EventLog) -> None:
    """Step 0: conditional deals deciding this quarter convert or lapse."""
    deciding = plan.conditional & (plan.decision == t)
    forced = plan.shock_lapse[t]
    if not (deciding.any() or forced.any()):
        return
    both = st.alive[:, plan.payer] & st.alive[:, plan.payee]
    lapse = st.open & forced
    dec = st.open & deciding & ~lapse
    conv = dec & both & (dr.convert < plan.p_convert)
    lapse |= dec & ~conv
    value = plan.remaining[:, t] + plan.sched[:, t]
    # the credit that stood on open deals in a firm's favour is released or called
    open_value = (st.open * value) @ plan.payee_inc
    for mask, call in ((conv, False), (lapse, plan.scenario.loi.lapse_withdraws_credit)):
        part = np.divide((mask * value) @ plan.payee_inc, open_value,
                         out=np.zeros_like(open_value), where=open_value > 0)
        moved = st.loi_debt * np.clip(part, 0.0, 1.0)
        st.loi_debt = st.loi_debt - moved
        if call:
            st.called = st.called + moved
            ev.add(t, "loan_called", moved, firm=np.arange(plan.F),
                   counterparty=np.full(plan.F, plan.F))
    ev.add(t, "loi_converted", plan.amount * conv, firm=plan.payer, counterparty=plan.payee,
           mask=conv)
    ev.add(t, "loi_lapsed", plan.amount * lapse, firm=plan.payer, counterparty=plan.payee,
           mask=lapse)
    st.open &= ~(conv | lapse)
    st.live |= conv
    if lapse.any():
        if plan.scenario.loi.lapse_withdraws_credit and len(plan.ln):
            linked = (lapse.astype(float) @ plan.ln_loi_link) > 0
            call = linked & (st.loan_out > 0) & ~st.loan_accel
            ev.add(t, "loan_called", st.loan_out * call, firm=plan.payee[plan.ln],
                   counterparty=plan.payer[plan.ln], mask=call)
            st.loan_accel |= linked & (st.loan_out > 0)
            st.live[:, plan.ln] &= ~linked
        if plan.depends.any():
            dep = ((lapse.astype(float) @ plan.depends) > 0)
            terminate(plan, st, t, dep, ev)


def _market(plan: Plan, st: State, t: int, stress: F64, revenue_q: F64) -> Market:
    cr = plan.scenario.credit
    led = st.ledger
    scale = np.maximum(1.0 - cr.stress_response * stress, 0.0)[:, None]
    recv = ((st.live & plan.commercial_kind) * plan.remaining[:, t]) @ plan.payee_inc
    loi = (st.open * (plan.remaining[:, t] + plan.sched[:, t])) @ plan.payee_inc
    parts_loi = cr.advance_loi * loi
    coll = scale * (cr.advance_compute * led[Account.compute] + cr.advance_receivables * recv
                    + parts_loi)
    loi_share = np.divide(scale * parts_loi, coll, out=np.zeros_like(coll), where=coll > 0)
    assets = led.assets
    lev = np.divide(led[Account.debt], assets, out=np.full_like(assets, 5.0), where=assets > 1.0)
    shock = plan.shock_credit[t]
    base = cr.base_rate + cr.spread + shock
    new_rate = base + cr.spread_per_leverage * np.clip(lev, 0.0, 5.0) + cr.stress_spread * stress[:, None]
    return Market(collateral=coll, loi_share=loi_share,
                  debt_cap=cr.max_debt_to_revenue * 4.0 * revenue_q,
                  new_rate=np.maximum(new_rate, 0.0),
                  facility_rate=np.maximum(base, 0.0) + 0.0 * stress[:, None])


def step(plan: Plan, st: State, t: int, dr: Draws, ev: EventLog) -> Quarter:
    """Advance every path of ``st`` through quarter ``t``; return its flows."""
    P, F = st.P, plan.F
    led = st.ledger
    E = plan.edges
    g = E.groups
    cr, _eqm = plan.scenario.credit, plan.scenario.equity
    cash_start = led[Account.cash].copy()
    world_start = led.world_cash.copy()
    st.issued = np.zeros((P, F))
    alive = st.alive
    stress = ((st.default_t >= 0) * plan.core_weight).sum(axis=1)  # (P,) share of core value down

    # 0. decisions
    _decide(plan, st, t, dr, ev)

    # 1. demand
    end = np.zeros((P, F))
    D = len(plan.dev_firm)
    demand = np.zeros(P)
    if D:
        z = dr.demand[:, t]
        eps = np.sqrt(plan.dev_corr) * z[:, :1] + np.sqrt(1.0 - plan.dev_corr) * z[:, 1:]
        phi = plan.dev_persistence
        if t == 0:
            st.dem_x = plan.dev_vol * eps
        else:
            st.dem_x = phi * st.dem_x + np.sqrt(1.0 - phi**2) * plan.dev_vol * eps
            growth = plan.dev_mu[t] + st.dem_x
            room = np.clip(1.0 - st.dem_level / plan.dev_saturation, 0.0, 1.0)
            growth = np.where(growth > 0, growth * room, growth)
            st.dem_level = st.dem_level * np.exp(growth / 4.0)
        path = st.dem_level * plan.dev_multiplier * plan.shock_demand[t, plan.dev_firm]  # annual
        # sentiment reads the growth of the scenario's demand path, which a run's
        # ``demand_multiplier`` does not change (it scales levels, not growth)
        demand = path.sum(axis=1)
        latent = st.dem_level * st.dem_mult * plan.shock_demand[t, plan.dev_firm]
        end[:, plan.dev_firm] = latent / 4.0 * alive[:, plan.dev_firm]
    ai = plan.ai_share
    non_loop = plan.non_loop_q[t] * ((1.0 - ai) + ai * st.sent_eff * plan.shock_non_loop[t]) * alive
    rerent = np.zeros((P, F))
    cc = plan.cc
    if len(cc) and st.stranded.any():
        rr = plan.scenario.rerent
        cloud, buyer = plan.payee[cc], plan.payer[cc]
        base = st.stranded * plan.sched[cc, t] * alive[:, cloud]
        spot = rr.spot_price * plan.shock_rerent[t, cloud]
        got = base * spot * rr.utilisation
        rerent = got @ plan.incidence(np.arange(len(cc)), cloud)
        add_losses(st, np.maximum(base - got, 0.0), cloud, buyer, np.full(len(cc), 3, np.int64))
    led.from_world(end + non_loop + rerent, Account.equity)

    # 3. scheduled flows
    A = np.zeros((P, E.n))
    live = st.live
    if len(cc):
        A[:, g["cc"]] = plan.sched[cc, t] * live[:, cc]
        cap = plan.cc_capex[E.capex_cc, t] * E.capex_share * live[:, cc[E.capex_cc]]
        vendor = E.payee[g["capex"]]
        firm_vendor = vendor < F
        ok = np.ones((P, len(vendor)), bool)
        ok[:, firm_vendor] = alive[:, vendor[firm_vendor]]
        A[:, g["capex"]] = cap * ok
        A[:, g["capex_twin"]] = (cap * ~ok)[:, firm_vendor]
    if len(plan.cp):
        A[:, g["cp"]] = plan.sched[plan.cp, t] * live[:, plan.cp]
    items_due = np.zeros((P, 0), bool)
    if len(plan.eq):
        if len(plan.cond_metric):
            failing = (~st.cond_ok).astype(float) @ plan.item_cond
        else:
            failing = np.zeros((P, len(plan.item_amount)))
        items_due = ((plan.item_at <= t) & ~st.item_paid & (failing == 0)
                     & live[:, plan.item_contract])
        A[:, g["eq"]] = (items_due * plan.item_amount) @ plan.item_to_eq
    prin_sched = np.zeros((P, len(plan.ln)))
    maturing = prin_sched
    if len(plan.ln):
        ln = plan.ln
        A[:, g["draw"]] = plan.sched[ln, t] * live[:, ln]
        owing = alive[:, plan.payee[ln]]
        interest = st.loan_out * plan.loan_rate(t) / 4.0 * owing
        mat = plan.ln_maturity
        linear = (t >= plan.ln_linear_from) & (t < plan.ln_maturity_full)
        instal = st.loan_out / np.maximum(plan.ln_maturity_full - t + 1, 1)
        prin = np.where(t == mat, st.loan_out, np.where(linear, instal, 0.0)) * owing
        maturing = prin  # refinanced in the market like world debt (not when called)
        prin = np.where(st.loan_accel, st.loan_out * owing, prin)
        maturing = np.where(st.loan_accel, 0.0, maturing)
        st.loan_accel &= False
        prin_sched = prin
        sold = st.loan_sold
        A[:, g["interest"]] = interest * ~sold
        A[:, g["interest_twin"]] = interest * sold
        A[:, g["principal"]] = prin * ~sold
        A[:, g["principal_twin"]] = prin * sold
    # world debt: interest, maturing principal (part rolls over), called LOI credit
    w_int = st.world_debt * st.world_rate / 4.0 * alive
    w_sched = st.world_debt * plan.ladder * alive
    w_prin = w_sched + st.called * alive
    st.called = np.zeros((P, F))
    roll_share = cr.refinance_share * np.maximum(1.0 - cr.stress_response * stress, 0.0)
    loop_due_in = (A * E.commercial) @ E.in_inc[:, :F]
    revenue_q = end + non_loop + rerent + loop_due_in
    mkt = _market(plan, st, t, stress, revenue_q)
    # maturing debt is refinanced by outside lenders: a share of the world ladder and
    # of book loans' scheduled principal (the book lender is repaid in full)
    roll = (w_sched + maturing @ plan.incidence(np.arange(len(plan.ln)), plan.payee[plan.ln])) \
        * roll_share[:, None]
    raised = Raised.zeros(P, F)
    if roll.any():
        led.from_world(roll, Account.debt)
        add_world_debt(st, roll, mkt.new_rate)
        raised.debt += roll
    opex = (plan.opex_fixed_q[t] + plan.opex_ratio * revenue_q) * alive

    # 3b. take-or-pay flex, then backstop calls
    wo = opex + w_int + w_prin
    if len(cc) and (plan.cc_take_or_pay < 1).any():
        x = led[Account.cash] + A @ E.in_inc[:, :F] - A @ E.out_inc[:, :F] - wo
        gap = np.maximum(plan.min_cash - x, 0.0) * alive
        flexible = A[:, g["cc"]] * (1.0 - plan.cc_take_or_pay)
        flex_f = flexible @ plan.incidence(np.arange(len(cc)), plan.payer[cc])
        cut = np.divide(np.minimum(gap, flex_f), flex_f, out=np.zeros_like(gap), where=flex_f > 0)
        A[:, g["cc"]] -= flexible * cut[:, plan.payer[cc]]
    if len(plan.bk):
        A[:, g["bk"]] = _backstop_calls(plan, st, t, A, rerent_cc=_rerent_cc(plan, st, t))

    # 4. funding waterfall
    x = led[Account.cash] + A @ E.in_inc[:, :F] - A @ E.out_inc[:, :F] - wo
    need = np.where(alive, np.maximum(plan.min_cash - x, 0.0), 0.0)
    deficit = np.where(alive, np.maximum(-x, 0.0), 0.0)
    raised.add(waterfall(plan, st, need, deficit, mkt))
    x = led[Account.cash] + A @ E.in_inc[:, :F] - A @ E.out_inc[:, :F] - wo
    scale = np.abs(A) @ E.out_inc[:, :F] + wo + np.abs(led[Account.cash])
    short = alive & (x < -(1e-9 * scale + 1e-3))

    # 5. clearing and cascades
    cl = Claims(A=A, opex=opex, w_int=w_int, w_prin=w_prin, w_accel=np.zeros((P, F)),
                prin_sched=prin_sched)
    r, Dnew, rounds = resolve(plan, st, t, cl, short, mkt, raised)
    A = cl.A
    rp = r[:, E.payer]
    paid = A * rp
    Dp = np.concatenate([Dnew, np.zeros((P, 1), bool)], axis=1)[:, E.payer]
    _post_edges(plan, st, t, paid, Dp)
    rf = r[:, :F]
    led.to_world(opex * rf, Account.equity)
    led.to_world(w_int * rf, Account.equity)
    w_paid = (w_prin + cl.w_accel) * rf
    led.to_world(w_paid, Account.debt)
    st.world_debt = np.maximum(st.world_debt - w_paid, 0.0)
    st.loi_debt = np.minimum(st.loi_debt, st.world_debt)
    # losses on unpaid claims
    if Dnew.any():
        edge_losses(plan, st, A, r)
        add_losses(st, cl.world * (1.0 - rf), np.full(F, F, np.int64), np.arange(F),
                   np.zeros(F, np.int64))
        claims = A @ E.out_inc[:, :F] + cl.world
        ev.add(t, "default", claims * Dnew, firm=np.arange(F), mask=Dnew, round_=rounds)
        inflow = paid @ E.in_inc[:, :F]
        settle_defaults(plan, st, t, Dnew, r, inflow, ev)
    if len(plan.eq):
        paid_items = items_due & ~Dnew[:, plan.payer[plan.item_contract]]
        ev.add(t, "tranche_paid", paid_items * plan.item_amount, firm=plan.payer[plan.item_contract],
               counterparty=plan.payee[plan.item_contract], mask=paid_items)
        st.item_paid |= items_due
    for name in SOURCES:
        ev.add(t, f"funding_{name}", getattr(raised, name), firm=np.arange(F),
               counterparty=np.full(F, F))

    # 6. valuation
    dep = depreciate(plan, st, t)
    got = (paid * E.commercial) @ E.in_inc[:, :F]
    revenue = end + non_loop + rerent + got
    revalue(plan, st, t, revenue, demand, Dnew, dr.price[:, t])
    mark(plan, st, t)

    # 7. milestones, warrant expiry
    evaluate_milestones(plan, st, t, end, ev)
    if len(plan.wt_shares):
        k = plan.wt_warrant
        expiring = (plan.wr_expiry[k] == t) & st.wt_vested & (st.wt_val > 0)
        if expiring.any():
            net = exercise_warrants(plan, st, expiring.astype(float))
            w = plan.wr[k]
            ev.add(t, "warrant_exercised", net, firm=plan.payee[w], counterparty=plan.payer[w],
                   mask=expiring)
        st.wt_left = np.where(plan.wr_expiry[k] == t, 0.0, st.wt_left)
        st.wt_val = np.where(plan.wr_expiry[k] == t, 0.0, st.wt_val)

    # 8. flows for the record
    C = plan.C
    due = np.zeros((P, C))
    pd_ = np.zeros((P, C))
    due_r = np.zeros((P, C))
    pd_r = np.zeros((P, C))
    fwd = E.forward
    cols = E.contract
    np.add.at(due.T, cols[fwd], A[:, fwd].T)
    np.add.at(pd_.T, cols[fwd], paid[:, fwd].T)
    rev = E.reverse
    np.add.at(due_r.T, cols[rev], A[:, rev].T)
    np.add.at(pd_r.T, cols[rev], paid[:, rev].T)
    capex_legs = plan.capex_edges
    capex = (paid * capex_legs) @ E.out_inc[:, :F]
    committed = E.committed
    to_firm = E.payee < F
    if len(plan.ln):
        interest_due = A[:, g["interest"]] + A[:, g["interest_twin"]]
        interest_due = interest_due @ plan.incidence(np.arange(len(plan.ln)), plan.payee[plan.ln])
        prin_due = prin_sched @ plan.incidence(np.arange(len(plan.ln)), plan.payee[plan.ln])
    else:
        interest_due = np.zeros((P, F))
        prin_due = np.zeros((P, F))
    return Quarter(
        revenue_end=end, revenue_loop=got, revenue_non_loop=non_loop + rerent,
        revenue_rerent=rerent, opex=opex, capex=capex, depreciation=dep,
        interest_due=interest_due + w_int, principal_due=prin_due + w_prin,
        commitments_due=(A * committed) @ E.out_inc[:, :F],
        paid_out_loop=(paid * to_firm) @ E.out_inc[:, :F], raised=raised,
        due=due, paid=pd_, due_reverse=due_r, paid_reverse=pd_r,
        world_cash_change=led.world_cash - world_start,
        cash_change=led[Account.cash] - cash_start,
    )


def _rerent_cc(plan: Plan, st: State, t: int) -> F64:
    """Re-rent revenue of each stranded commitment this quarter (P, n_cc)."""
    rr = plan.scenario.rerent
    cloud = plan.payee[plan.cc]
    return (st.stranded * plan.sched[plan.cc, t] * st.alive[:, cloud]
            * rr.spot_price * plan.shock_rerent[t, cloud] * rr.utilisation)


def _backstop_calls(plan: Plan, st: State, t: int, A: F64, rerent_cc: F64) -> F64:
    """What each backstop owes this quarter (P, n_bk): the shortfall below its threshold."""
    g = plan.edges.groups
    cc = plan.cc
    paid_cc = A[:, g["cc"]] if len(cc) else np.zeros((st.P, 0))
    capacity = (st.live[:, cc] | (st.stranded > 0)) * plan.sched[cc, t] if len(cc) else paid_cc
    used = paid_cc + rerent_cc
    out = np.zeros((st.P, len(plan.bk)))
    for k, i in enumerate(plan.bk):
        j = plan.bk_covers[k]
        if j >= 0:
            base, got = capacity[:, j], used[:, j]
        else:
            mine = plan.payee[cc] == plan.payee[i]
            base, got = capacity[:, mine].sum(axis=1), used[:, mine].sum(axis=1)
        gap = np.maximum(plan.bk_threshold[k] * base - got, 0.0)
        active = st.live[:, i] & (plan.bk_start[k] <= t) & (t <= plan.bk_end[k])
        out[:, k] = np.minimum(gap, st.bk_left[:, k]) * active
    return out


def _post_edges(plan: Plan, st: State, t: int, paid: F64, payer_default: B8) -> None:
    """Post the quarter's payments, group by group, with each side's other account."""
    led = st.ledger
    E = plan.edges
    g = E.groups
    F = plan.F
    Acc = Account

    def tr(name: str, payer_leg: Account, payee_leg: Account) -> F64:
        s = g[name]
        if s.stop == s.start:
            return np.zeros((st.P, 0))
        amt = paid[:, s]
        led.transfer(amt, E.out_inc[s], E.in_inc[s], payer_leg, payee_leg)
        return amt

    def tr_split(name: str, payer_leg: Account, payee_leg: Account) -> F64:
        """Defaulters pay claims for undelivered goods: an expense, not an asset."""
        s = g[name]
        if s.stop == s.start:
            return np.zeros((st.P, 0))
        amt = paid[:, s]
        dflt = payer_default[:, s]
        led.transfer(amt * ~dflt, E.out_inc[s], E.in_inc[s], payer_leg, payee_leg)
        led.transfer(amt * dflt, E.out_inc[s], E.in_inc[s], Acc.equity, payee_leg)
        return amt * ~dflt

    tr("cc", Acc.equity, Acc.equity)
    cap = tr_split("capex", Acc.compute, Acc.equity)
    cap_t = tr_split("capex_twin", Acc.compute, Acc.equity)
    cp = tr_split("cp", Acc.compute, Acc.equity)
    eq = tr("eq", Acc.stakes, Acc.equity)
    draw = tr("draw", Acc.loans, Acc.debt)
    tr("interest", Acc.equity, Acc.equity)
    tr("interest_twin", Acc.equity, Acc.equity)
    pr = tr("principal", Acc.debt, Acc.loans)
    pr_t = tr("principal_twin", Acc.debt, Acc.loans)
    ac = tr("accelerated", Acc.debt, Acc.loans)
    ac_t = tr("accelerated_twin", Acc.debt, Acc.loans)
    bk = tr("bk", Acc.equity, Acc.equity)
    tr("penalty", Acc.equity, Acc.equity)
    cc = plan.cc
    if len(cc):
        st.cum_paid[:, cc] += paid[:, g["cc"]]
        spent = np.zeros((st.P, F))
        cloud_inc = E.out_inc[g["capex"], :F]
        spent += cap @ cloud_inc
        if cap_t.shape[1]:
            spent += cap_t @ E.out_inc[g["capex_twin"], :F]
        if spent.any():
            add_vintage(st, t, spent, _per_firm_life(plan))
    if len(plan.cp):
        st.cum_paid[:, plan.cp] += paid[:, g["cp"]]
        for life in np.unique(plan.cp_life_q):
            sel = plan.cp_life_q == life
            amount = cp[:, sel] @ plan.incidence(plan.cp[sel], plan.payer)
            if amount.any():
                add_vintage(st, t, amount, float(life))
    if len(plan.eq):
        st.cum_paid[:, plan.eq] += eq
        _issue_stakes(plan, st, eq)
    if len(plan.ln):
        st.loan_out = st.loan_out + draw - pr - pr_t - ac - ac_t
        st.loan_out = np.maximum(st.loan_out, 0.0)
        st.cum_paid[:, plan.ln] += draw
    if len(plan.bk):
        st.bk_left = st.bk_left - bk
        st.cum_paid[:, plan.bk] += bk


def _per_firm_life(plan: Plan) -> F64:
    """Useful life (quarters) of build-out capex, per cloud (its own compute life)."""
    return np.maximum(np.rint(plan.life0_q), 1.0)


def _issue_stakes(plan: Plan, st: State, paid: F64) -> None:
    """Investees issue units for equity tranches paid (P, n_eq), at post-money or market price."""
    if not paid.any():
        return
    tee = plan.payee[plan.eq]
    units = st.units[:, tee]
    pm = plan.eq_post_money
    pre = np.where(np.isnan(pm), st.mv[:, tee], pm - paid)
    pre = np.where(pre > 0, pre, np.maximum(paid, 1.0))
    new_units = paid * units / pre
    st.stake_units = st.stake_units + new_units
    st.stake_val = st.stake_val + paid
    st.units = st.units + new_units @ plan.incidence(np.arange(len(plan.eq)), plan.payee[plan.eq])
