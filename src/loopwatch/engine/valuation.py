"""Valuation and milestones (DESIGN §2, steps 6–7).

**Sentiment** ``S`` (one index per path, 1 = neutral) is reflexive: each
quarter it reverts towards 1 at ``sentiment_reversion``, rises or falls by
``sentiment_growth`` × (realised annualised growth of end demand − the
market's expected growth) / 4, and falls by ``sentiment_default`` × the share
of the core's value that defaulted this quarter; it never goes below
``sentiment_floor``. Equity shocks multiply it per firm while they last.

**Market value** is ``(premium + k × fundamental) × S × exp(η)``. The
fundamental value is ``multiple(ĝ) × annual revenue`` with ``multiple =
revenue_multiple + growth_premium × ĝ`` (ĝ a smoothed annualised revenue
growth, clipped to [-0.5, 1.5]). ``k`` is 1, or the opening value over the
opening fundamental value for a firm the book values below the generic
multiple; ``premium`` is the opening value beyond fundamentals (the option
value the market pays for a young firm), so the opening value is the
book's. Revenue changes are valued at the generic multiple, which keeps a
firm with almost no opening revenue well behaved. ``η`` is an AR(1)
idiosyncratic log deviation for firms with listed shares (quarterly
innovation ``price_volatility`` / 2, persistence 0.9). A firm with neither
revenue nor a valuation (an investor, a lender, an SPV) is valued at its
book equity, floored at zero. A defaulted firm is worth nothing.

**Marks**: stakes at ``units held / units outstanding × market value``;
vested warrants at intrinsic value ``shares × max(price − strike, 0)``
(unvested ones at zero: the engine does not price optionality — the
analysis layer's warrant valuation does). Every revaluation is posted
(holder's asset against its equity; the issuer's warrant liability against
its equity).

**Milestones** are evaluated at the end of the quarter on GW delivered
(paid share of each contract × its GW), GW bought, share price and
annualised end revenue; equity tranches whose conditions hold fall due the
next quarter, warrant tranches vest.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from loopwatch.engine import _fused
from loopwatch.engine.events import EventLog
from loopwatch.engine.ledger import Account
from loopwatch.engine.plan import Plan, _multiple
from loopwatch.engine.state import State, kernel_index, owned
from loopwatch.engine.state import contiguous as _c

__all__ = [
    "add_vintage",
    "add_vintage_reference",
    "depreciate",
    "depreciate_reference",
    "evaluate_milestones",
    "evaluate_milestones_reference",
    "mark",
    "mark_reference",
    "metrics",
    "metrics_reference",
    "revalue",
    "revalue_reference",
]

F64 = NDArray[np.float64]
B8 = NDArray[np.bool_]


def depreciate(plan: Plan, st: State, t: int) -> F64:
    """Straight-line depreciation of every vintage of compute; returns it (F, P).

    One compiled pass (:func:`~loopwatch.engine._fused.depreciate`); the twin
    is :func:`depreciate_reference`.
    """
    rate = owned(st, "dep_rate")
    dep = np.empty_like(rate)
    _fused.depreciate(rate, _c(st.dep_change[t]), _c(st.alive, np.bool_), st.ledger.bal, dep)
    return dep


def depreciate_reference(plan: Plan, st: State, t: int) -> F64:
    """:func:`depreciate` in numpy (the twin)."""
    st.dep_rate = st.dep_rate + st.dep_change[t]
    dep = np.clip(np.minimum(st.dep_rate, st.ledger[Account.compute]), 0.0, None) * st.alive
    st.ledger.post_reference(dep, Account.equity, Account.compute)
    return dep


def add_vintage(st: State, t: int, amount: F64, life_q: F64) -> None:
    """Start depreciating ``amount`` (F, P) bought in quarter ``t`` over ``life_q`` (F,) quarters.

    Lives are rounded to whole quarters (at least one). Compiled
    (:func:`~loopwatch.engine._fused.vintage`); the twin is
    :func:`add_vintage_reference`.
    """
    life = np.maximum(np.rint(np.asarray(life_q, float)), 1.0)
    _fused.vintage(st.dep_change, int(t), _c(amount), _c(life))


def add_vintage_reference(st: State, t: int, amount: F64, life_q: F64) -> None:
    """:func:`add_vintage` in numpy (the twin)."""
    life = np.maximum(np.rint(np.asarray(life_q, float)), 1.0)
    per = amount / life[:, None]
    Q1 = st.dep_change.shape[0]
    if t + 1 < Q1:
        st.dep_change[t + 1] += per
    end = t + 1 + life.astype(np.int64)
    for f in np.flatnonzero((end < Q1) & per.any(axis=1)):
        st.dep_change[end[f], f] -= per[f]


def revalue(plan: Plan, st: State, t: int, revenue: F64, demand: F64,
            newly_defaulted: NDArray[np.bool_], z_price: F64) -> None:
    """Update sentiment, market values and share prices after quarter ``t``.

    Parameters
    ----------
    revenue : ndarray, shape (F, P)
        Revenue this quarter (end customers, network, non-loop), USD.
    demand : ndarray, shape (P,)
        Aggregate end demand of the scenario's path (annual USD).
    newly_defaulted : ndarray of bool, shape (F, P)
    z_price : ndarray, shape (L, P)
        Standard normal shocks of the idiosyncratic value deviation of the ``L`` firms
        with listed shares, in firm order (the others have none).

    Notes
    -----
    Two compiled passes (:func:`~loopwatch.engine._fused.revalue_growth`,
    :func:`~loopwatch.engine._fused.revalue`) around numpy's vectorised
    ``log`` and ``exp`` (an order of magnitude faster than scalar libm
    calls), writing the state in place; the twin (the model, in numpy) is
    :func:`revalue_reference`.
    """
    eqm = plan.scenario.equity
    demand, revenue, F = _c(demand), _c(revenue), plan.F
    demand_prev, listed = _c(st.demand_prev), _c(plan.has_shares, np.bool_)
    eta = owned(st, "eta")
    ix = kernel_index(plan)
    ratio = np.empty((F + 1, st.P))
    _fused.revalue_growth(demand, demand_prev, revenue, _c(st.rev_prev),
                          float(eqm.price_volatility), listed, ix.listed, eta, _c(z_price), ratio)
    np.log(ratio, out=ratio)  # numpy's vectorised log and exp, as the twin's
    # (the listed firms' only: the others' eta is 0)
    exp_eta = eta[ix.listed]
    np.exp(exp_eta, out=exp_eta)
    _fused.revalue(
        demand, demand_prev, _c(newly_defaulted, np.bool_), _c(plan.core_weight),
        owned(st, "sentiment"), float(eqm.sentiment_reversion), float(eqm.sentiment_growth),
        float(eqm.sentiment_default), float(eqm.sentiment_floor), float(plan.expectation[t]),
        _c(plan.shock_equity[t]), revenue, ratio, owned(st, "ghat"), listed, ix.listed_pos,
        exp_eta,
        float(eqm.revenue_multiple), float(eqm.growth_premium), _c(plan.value_premium),
        _c(plan.value_scale), st.ledger.bal[Account.equity], _c(plan.by_book, np.bool_),
        _c(st.alive, np.bool_), _c(st.units), owned(st, "sent_eff"), owned(st, "mv"),
        owned(st, "price"))
    st.demand_prev = demand
    st.rev_prev = revenue


def revalue_reference(plan: Plan, st: State, t: int, revenue: F64, demand: F64,
                      newly_defaulted: NDArray[np.bool_], z_price: F64) -> None:
    """:func:`revalue` in numpy (the twin; the model as first written)."""
    eqm = plan.scenario.equity
    has_demand = (demand > 0) & (st.demand_prev > 0)
    g_dem = np.where(has_demand, 4.0 * np.log(np.maximum(demand, 1.0)
                                              / np.maximum(st.demand_prev, 1.0)), 0.0)
    st.demand_prev = demand
    hit = plan.core_weight @ newly_defaulted
    s = st.sentiment
    s = s + eqm.sentiment_reversion * (1.0 - s)
    s = s + eqm.sentiment_growth * np.where(has_demand, g_dem - plan.expectation[t], 0.0) / 4.0
    s = s - eqm.sentiment_default * hit
    st.sentiment = np.clip(s, eqm.sentiment_floor, 5.0)
    st.sent_eff = plan.shock_equity[t][:, None] * st.sentiment

    g_obs = 4.0 * np.log(np.maximum(revenue, 1.0) / np.maximum(st.rev_prev, 1.0))
    st.ghat = st.ghat + 0.25 * (np.clip(g_obs, -2.0, 4.0) - st.ghat)
    st.rev_prev = revenue
    if eqm.price_volatility > 0:
        z = np.zeros_like(st.eta)
        z[plan.has_shares] = z_price
        st.eta = np.where(plan.has_shares[:, None], 0.9 * st.eta
                          + 0.5 * eqm.price_volatility * z, 0.0)
    fundamental = _multiple(eqm.revenue_multiple, eqm.growth_premium, st.ghat) * 4.0 * revenue
    market = (plan.value_premium[:, None] + plan.value_scale[:, None] * fundamental) \
        * st.sent_eff * np.exp(st.eta)
    book = np.maximum(st.ledger[Account.equity], 0.0)
    mv = np.where(plan.by_book[:, None], book, market)
    st.mv = np.where(st.alive, mv, 0.0)
    st.price = np.where(plan.has_shares[:, None] & st.alive,
                        np.divide(st.mv, st.units, out=np.zeros_like(st.mv), where=st.units > 0), 0.0)


def mark(plan: Plan, st: State, t: int) -> None:
    """Mark stakes and vested warrants to the new values; post the revaluations.

    One compiled pass (:func:`~loopwatch.engine._fused.mark`); the twin is
    :func:`mark_reference`.
    """
    if not (len(plan.eq) or len(plan.wt_shares)):
        return
    ix = kernel_index(plan)
    _fused.mark(_c(st.alive, np.bool_), _c(st.units), _c(st.mv), _c(st.price), st.ledger.bal,
                ix.eq_payer, ix.eq_payee, _c(st.stake_units), owned(st, "stake_val"),
                ix.wt_holder, ix.wt_issuer, t <= ix.wt_expiry, ix.wt_strike, _c(st.wt_left),
                _c(st.wt_vested, np.bool_), owned(st, "wt_val"))


def mark_reference(plan: Plan, st: State, t: int) -> None:
    """:func:`mark` in numpy (the twin)."""
    led = st.ledger
    eq = plan.eq
    if len(eq):
        tee = plan.payee[eq]
        live = st.alive[tee] & st.alive[plan.payer[eq]]
        units = st.units[tee]
        new = np.where(live, np.divide(st.stake_units, units, out=np.zeros_like(st.stake_units),
                                       where=units > 0) * st.mv[tee], st.stake_val)
        led.post_reference(plan.incidence(np.arange(len(eq)), plan.payer[eq])
                           @ (new - st.stake_val), Account.stakes, Account.equity)
        st.stake_val = new
    if len(plan.wt_shares):
        k = plan.wt_warrant
        w = plan.wr[k]
        issuer, holder = plan.payer[w], plan.payee[w]
        live = st.alive[issuer] & st.alive[holder] & (t <= plan.wr_expiry[k])[:, None]
        new = np.where(live, st.wt_left * st.wt_vested
                       * np.maximum(st.price[issuer] - plan.wr_strike[k][:, None], 0.0), st.wt_val)
        delta = new - st.wt_val
        led.post_reference(plan.incidence(k, plan.payee[plan.wr]) @ delta, Account.warrants,
                           Account.equity)
        led.post_reference(plan.incidence(k, plan.payer[plan.wr]) @ delta, Account.equity,
                           Account.warrant_liability)
        st.wt_val = new


def _metrics(plan: Plan, st: State, end_rev: F64, cond_ok: B8) -> F64:
    indptr, indices, data = plan.gw_cond.csr
    out: F64 = _fused.evaluate_milestones(
        _c(st.cum_paid), _c(plan.inv_amount), indptr, indices, data,
        _c(plan.cond_metric, np.int64), _c(plan.cond_firm, np.int64),
        _c(plan.cond_threshold), _c(st.price), _c(end_rev), cond_ok)
    return out


def metrics(plan: Plan, st: State, end_rev: F64) -> F64:
    """Value of every milestone metric (K, P): GW, share price or annual end revenue.

    Compiled (:func:`~loopwatch.engine._fused.evaluate_milestones`); the twin
    is :func:`metrics_reference`.
    """
    return _metrics(plan, st, end_rev, np.empty((len(plan.cond_metric), st.P), bool))


def metrics_reference(plan: Plan, st: State, end_rev: F64) -> F64:
    """:func:`metrics` in numpy (the twin)."""
    share = st.cum_paid * plan.inv_amount[:, None]
    out = plan.gw_cond @ share
    metric = plan.cond_metric[:, None]
    f = plan.cond_firm
    out = np.where(metric == 2, st.price[f], out)
    out = np.where(metric == 3, 4.0 * end_rev[f], out)
    return out


def evaluate_milestones(plan: Plan, st: State, t: int, end_rev: F64, ev: EventLog) -> None:
    """Update condition flags, vest warrant tranches.

    Compiled (:func:`~loopwatch.engine._fused.evaluate_milestones`,
    :func:`~loopwatch.engine._fused.vest`); the twin is
    :func:`evaluate_milestones_reference`.
    """
    if len(plan.cond_metric):
        _metrics(plan, st, end_rev, owned(st, "cond_ok", np.bool_))
    if len(plan.wt_shares):
        ix = kernel_index(plan)
        new = _fused.vest(ix.wt_cond, _c(st.cond_ok, np.bool_), _c(st.live[ix.wt_contract],
                                                                     np.bool_),
                          t <= ix.wt_expiry, owned(st, "wt_vested", np.bool_), _c(st.wt_left))
        if ev.enabled:
            ev.add(t, "warrant_vested", st.wt_left * new, firm=ix.wt_holder,
                   counterparty=ix.wt_issuer, mask=new)


def evaluate_milestones_reference(plan: Plan, st: State, t: int, end_rev: F64,
                                  ev: EventLog) -> None:
    """:func:`evaluate_milestones` in numpy (the twin)."""
    if len(plan.cond_metric):
        st.cond_ok = metrics_reference(plan, st, end_rev) >= plan.cond_threshold[:, None]
    if len(plan.wt_shares):
        k = plan.wt_warrant
        w = plan.wr[k]
        failing = plan.wt_cond.T @ (~st.cond_ok).astype(float)
        ok = (failing == 0) & st.live[w] & (t <= plan.wr_expiry[k])[:, None]
        new = ok & ~st.wt_vested & (st.wt_left > 0)
        st.wt_vested |= ok
        if ev.enabled:
            ev.add(t, "warrant_vested", st.wt_left * new, firm=plan.payee[w],
                   counterparty=plan.payer[w], mask=new)
