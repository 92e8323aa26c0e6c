"""The compiled quarter: :func:`~loopwatch.engine.step.step`, one path at a time, in numba.

:func:`step` here is a drop-in for the numpy step (same :class:`Plan`,
:class:`State`, draws and :class:`Quarter`): it runs the quarter of DESIGN §2
for each path in turn, as scalar loops over the path's firms, contracts and
edges, with every intermediate in a few small scratch vectors. The numpy step
makes ~500 passes over ``(firm, path)`` arrays a quarter; this makes one pass
over the paths, so it does the same work in a fraction of the memory traffic
and without Python overhead per operation.

The numpy step is its reference twin: ``tests/engine/test_compiled.py`` runs
both on the bundled book and on random books and requires the same numbers.
Both follow the same order of operations and the same summation order
(scatter-adds in ascending row order, as the engine's CSR sums; numpy's
pairwise summation where the numpy step sums a contiguous axis), so they
agree to rounding but for transcendental functions (``exp``, ``log``) and the
LAPACK solve of the clearing system, whose last bits may differ.

What it does not do: the events table (a run that asks for events uses the
numpy step). Every path is computed on its own, so results do not depend on
the chunk size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar, cast

import numpy as np
from numba import njit
from numpy.typing import NDArray

from loopwatch.engine.draws import Draws
from loopwatch.engine.events import EventLog
from loopwatch.engine.funding import Raised
from loopwatch.engine.ledger import Account
from loopwatch.engine.plan import Leg, Plan
from loopwatch.engine.state import State
from loopwatch.engine.step import Quarter

__all__ = ["step"]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

# scenario scalars, by position in ``Static.sc``
(BASE_RATE, SPREAD, SPL, STRESS_SPREAD, ADV_COMPUTE, ADV_RECV, ADV_LOI, STRESS_RESPONSE,
 REFINANCE, MAX_DEBT_REV, ALPHA, BETA, REV_MULT, GROWTH_PREMIUM, SENT_GROWTH, SENT_DEFAULT,
 SENT_REVERSION, SENT_FLOOR, APPETITE, HAIRCUT, PRICE_VOL, SPOT, UTIL, LAPSE_CALLS,
 HAS_FLEX) = range(25)

CASH, COMPUTE, OTHER, LOANS, STAKES, WARRANTS, DEBT, WLIAB, EQUITY = (int(a) for a in Account)


class Static(NamedTuple):
    """The plan as plain arrays (see :class:`~loopwatch.engine.plan.Plan` for each)."""

    dims: I64  # F, C, Q, E, D, K
    sc: F64
    # firms
    ladder: F64
    opex_fixed_q: F64
    opex_ratio: F64
    min_cash: F64
    non_loop_q: F64
    ai_share: F64
    core_weight: F64
    has_shares: NDArray[np.bool_]
    by_book: NDArray[np.bool_]
    value_premium: F64
    value_scale: F64
    life0: F64  # rounded life of a firm's build-out vintages (quarters, ≥ 1)
    # demand
    dev_firm: I64
    dev_multiplier: F64
    dev_mu: F64
    dev_persistence: F64
    dev_vol: F64
    dev_corr: F64
    dev_saturation: F64
    expectation: F64
    # contracts
    payer: I64
    payee: I64
    amount: F64
    conditional: NDArray[np.bool_]
    decision: I64
    p_convert: F64
    sched: F64
    remaining: F64
    depends: NDArray[np.bool_]
    any_depends: bool
    commercial_kind: NDArray[np.bool_]
    inv_amount: F64
    is_loan: NDArray[np.bool_]
    cc: I64
    cc_take_or_pay: F64
    cc_penalty: F64
    cc_capex: F64
    cc_built: F64
    cp: I64
    cp_group: I64
    group_life: F64
    eq: I64
    eq_post_money: F64
    item_contract: I64
    item_eq: I64
    item_amount: F64
    item_at: I64
    item_cond: F64
    wr: I64
    wt_warrant: I64
    wt_cond: F64
    wr_strike: F64
    wr_expiry: I64
    ln: I64
    ln_maturity: I64
    ln_maturity_full: I64
    ln_linear_from: I64
    ln_loi_link: F64
    loan_rate_q: F64  # (Q, n_ln) annual rate of each loan by quarter
    bk: I64
    bk_covers: I64
    bk_threshold: F64
    bk_start: I64
    bk_end: I64
    cond_metric: I64
    cond_firm: I64
    cond_threshold: F64
    gw_cond: F64  # (C, K) dense
    # sparse lists (CSR: entries of row i are ``idx[ptr[i]:ptr[i + 1]]``)
    item_cptr: I64  # conditions of each equity tranche item
    item_cidx: I64
    wt_cptr: I64  # conditions of each warrant tranche
    wt_cidx: I64
    gw_ptr: I64  # contracts (and GW weights) of each milestone condition
    gw_c: I64
    gw_w: F64
    dep_ptr: I64  # contracts that fall with each contract
    dep_idx: I64
    link_ptr: I64  # loans that stand on each conditional contract
    link_k: I64
    shock_demand: F64
    shock_non_loop: F64
    shock_credit: F64
    shock_equity: F64
    shock_rerent: F64
    shock_lapse: NDArray[np.bool_]
    # edges
    e_payer: I64
    e_payee: I64
    e_commercial: NDArray[np.bool_]
    e_committed: NDArray[np.bool_]
    e_keep: F64
    e_mech: I64
    e_capex_edge: NDArray[np.bool_]
    e_capex_only: NDArray[np.bool_]
    e_payer_acct: I64
    e_payee_acct: I64
    payer_accts: I64  # accounts some payer's side uses, ascending
    payee_accts: I64
    g: I64  # start of each group, in the order of ``GROUPS``
    capex_cc: I64
    capex_share: F64
    twin_src: I64  # capex edge (position in the capex group) of each capex twin


GROUPS = ("cc", "cp", "capex", "capex_twin", "eq", "draw", "interest", "interest_twin",
          "principal", "principal_twin", "accelerated", "accelerated_twin", "bk", "penalty")
(G_CC, G_CP, G_CAPEX, G_CAPEX_TWIN, G_EQ, G_DRAW, G_INT, G_INT_TWIN, G_PRIN, G_PRIN_TWIN,
 G_ACC, G_ACC_TWIN, G_BK, G_PEN) = range(len(GROUPS))


def static(plan: Plan) -> Static:
    """The plan's arrays for the kernel (built once per plan)."""
    hit: Static | None = getattr(plan, "_compiled_static", None)
    if hit is not None:
        return hit
    sc = plan.scenario
    cr, eqm = sc.credit, sc.equity
    F, C, Q = plan.F, plan.C, plan.Q
    E = plan.edges
    K = len(plan.cond_metric)
    scal = np.zeros(25)
    scal[[BASE_RATE, SPREAD, SPL, STRESS_SPREAD, ADV_COMPUTE, ADV_RECV, ADV_LOI, STRESS_RESPONSE,
          REFINANCE, MAX_DEBT_REV, ALPHA, BETA]] = [
        cr.base_rate, cr.spread, cr.spread_per_leverage, cr.stress_spread, cr.advance_compute,
        cr.advance_receivables, cr.advance_loi, cr.stress_response, cr.refinance_share,
        cr.max_debt_to_revenue, cr.recovery_assets, cr.recovery_receivables]
    scal[[REV_MULT, GROWTH_PREMIUM, SENT_GROWTH, SENT_DEFAULT, SENT_REVERSION, SENT_FLOOR,
          APPETITE, HAIRCUT, PRICE_VOL]] = [
        eqm.revenue_multiple, eqm.growth_premium, eqm.sentiment_growth, eqm.sentiment_default,
        eqm.sentiment_reversion, eqm.sentiment_floor, eqm.issuance_appetite, eqm.stake_haircut,
        eqm.price_volatility]
    scal[SPOT], scal[UTIL] = sc.rerent.spot_price, sc.rerent.utilisation
    scal[LAPSE_CALLS] = float(sc.loi.lapse_withdraws_credit)
    scal[HAS_FLEX] = float(len(plan.cc) > 0 and bool((plan.cc_take_or_pay < 1).any()))
    lives = np.unique(plan.cp_life_q)
    payer_leg = np.full(E.n, EQUITY, np.int64)
    payee_leg = np.full(E.n, EQUITY, np.int64)
    for name, pa, pe in (("capex", COMPUTE, EQUITY), ("capex_twin", COMPUTE, EQUITY),
                         ("cp", COMPUTE, EQUITY), ("eq", STAKES, EQUITY), ("draw", LOANS, DEBT),
                         ("principal", DEBT, LOANS), ("principal_twin", DEBT, LOANS),
                         ("accelerated", DEBT, LOANS), ("accelerated_twin", DEBT, LOANS)):
        payer_leg[E.groups[name]] = pa
        payee_leg[E.groups[name]] = pe
    cap = E.groups["capex"]
    twin_src = E.twin_of[E.groups["capex_twin"]] - cap.start
    rates = np.array([plan.loan_rate(t) for t in range(Q)]).reshape(Q, len(plan.ln))
    gw = np.zeros((C, K))
    m = plan.gw_cond.matrix.tocoo()  # (K, C)
    np.add.at(gw, (m.col, m.row), m.data)

    def csr(mask: Any) -> tuple[I64, I64]:
        """Row lists of the nonzeros of a 2-D array (rows × columns), columns ascending."""
        m = np.asarray(mask) != 0
        ptr = np.zeros(m.shape[0] + 1, np.int64)
        ptr[1:] = np.cumsum(m.sum(axis=1))
        return ptr, np.ascontiguousarray(np.nonzero(m)[1], np.int64)

    item_cptr, item_cidx = csr(np.asarray(plan.item_cond).reshape(K, -1).T)
    wt_cptr, wt_cidx = csr(np.asarray(plan.wt_cond).reshape(K, -1).T)
    gw_ptr, gw_c = csr(gw.T)
    gw_w = np.ascontiguousarray(gw.T[gw.T != 0], np.float64)
    dep_ptr, dep_idx = csr(np.asarray(plan.depends).reshape(C, C))
    link_ptr, link_k = csr(np.asarray(plan.ln_loi_link).reshape(C, len(plan.ln)))

    def i64(a: Any) -> I64:
        return np.ascontiguousarray(a, np.int64)

    def f64(a: Any) -> F64:
        return np.ascontiguousarray(a, np.float64)

    def b8(a: Any) -> NDArray[np.bool_]:
        return np.ascontiguousarray(a, np.bool_)

    out = Static(
        dims=i64([F, C, Q, E.n, len(plan.dev_firm), K]), sc=scal,
        ladder=f64(plan.ladder), opex_fixed_q=f64(plan.opex_fixed_q), opex_ratio=f64(plan.opex_ratio),
        min_cash=f64(plan.min_cash), non_loop_q=f64(plan.non_loop_q), ai_share=f64(plan.ai_share),
        core_weight=f64(plan.core_weight), has_shares=b8(plan.has_shares), by_book=b8(plan.by_book),
        value_premium=f64(plan.value_premium), value_scale=f64(plan.value_scale),
        life0=f64(np.maximum(np.rint(plan.life0_q), 1.0)),
        dev_firm=i64(plan.dev_firm), dev_multiplier=f64(plan.dev_multiplier),
        dev_mu=f64(plan.dev_mu).reshape(Q, len(plan.dev_firm)),
        dev_persistence=f64(plan.dev_persistence), dev_vol=f64(plan.dev_vol),
        dev_corr=f64(plan.dev_corr), dev_saturation=f64(plan.dev_saturation),
        expectation=f64(plan.expectation),
        payer=i64(plan.payer), payee=i64(plan.payee), amount=f64(plan.amount),
        conditional=b8(plan.conditional), decision=i64(plan.decision), p_convert=f64(plan.p_convert),
        sched=f64(plan.sched).reshape(C, Q), remaining=f64(plan.remaining).reshape(C, Q),
        depends=b8(plan.depends).reshape(C, C), any_depends=bool(plan.depends.any()),
        commercial_kind=b8(plan.commercial_kind), inv_amount=f64(plan.inv_amount),
        is_loan=b8(plan.kind == 4),
        cc=i64(plan.cc), cc_take_or_pay=f64(plan.cc_take_or_pay), cc_penalty=f64(plan.cc_penalty),
        cc_capex=f64(plan.cc_capex).reshape(len(plan.cc), Q),
        cc_built=f64(plan.cc_built).reshape(len(plan.cc), Q),
        cp=i64(plan.cp), cp_group=i64(np.searchsorted(lives, plan.cp_life_q)),
        group_life=f64(np.maximum(np.rint(lives), 1.0)),
        eq=i64(plan.eq), eq_post_money=f64(plan.eq_post_money),
        item_contract=i64(plan.item_contract), item_eq=i64(plan.item_eq),
        item_amount=f64(plan.item_amount), item_at=i64(plan.item_at),
        item_cond=f64(plan.item_cond).reshape(K, len(plan.item_amount)),
        wr=i64(plan.wr), wt_warrant=i64(plan.wt_warrant),
        wt_cond=f64(plan.wt_cond).reshape(K, len(plan.wt_shares)), wr_strike=f64(plan.wr_strike),
        wr_expiry=i64(plan.wr_expiry),
        ln=i64(plan.ln), ln_maturity=i64(plan.ln_maturity), ln_maturity_full=i64(plan.ln_maturity_full),
        ln_linear_from=i64(plan.ln_linear_from),
        ln_loi_link=f64(plan.ln_loi_link).reshape(C, len(plan.ln)), loan_rate_q=f64(rates),
        bk=i64(plan.bk), bk_covers=i64(plan.bk_covers), bk_threshold=f64(plan.bk_threshold),
        bk_start=i64(plan.bk_start), bk_end=i64(plan.bk_end),
        cond_metric=i64(plan.cond_metric), cond_firm=i64(plan.cond_firm),
        cond_threshold=f64(plan.cond_threshold), gw_cond=f64(gw),
        item_cptr=item_cptr, item_cidx=item_cidx, wt_cptr=wt_cptr, wt_cidx=wt_cidx,
        gw_ptr=gw_ptr, gw_c=gw_c, gw_w=gw_w, dep_ptr=dep_ptr, dep_idx=dep_idx,
        link_ptr=link_ptr, link_k=link_k,
        shock_demand=f64(plan.shock_demand), shock_non_loop=f64(plan.shock_non_loop),
        shock_credit=f64(plan.shock_credit), shock_equity=f64(plan.shock_equity),
        shock_rerent=f64(plan.shock_rerent), shock_lapse=b8(plan.shock_lapse).reshape(Q, C),
        e_payer=i64(E.payer), e_payee=i64(E.payee), e_commercial=b8(E.commercial > 0),
        e_committed=b8(E.committed), e_keep=f64(plan.edge_keep), e_mech=i64(E.loss_mechanism),
        e_capex_edge=b8(plan.capex_edges), e_capex_only=b8(E.leg == Leg.capex),
        e_payer_acct=payer_leg, e_payee_acct=payee_leg,
        payer_accts=i64(np.unique(payer_leg)), payee_accts=i64(np.unique(payee_leg[E.payee < F])),
        g=i64([E.groups[n].start for n in GROUPS]), capex_cc=i64(E.capex_cc),
        capex_share=f64(E.capex_share), twin_src=i64(twin_src),
    )
    plan._compiled_static = out  # type: ignore[attr-defined]
    return out


class Arrays(NamedTuple):
    """The state of a chunk (views of :class:`State`'s arrays, changed in place)."""

    bal: F64
    world_cash: F64
    alive: NDArray[np.bool_]
    default_t: I64
    live: NDArray[np.bool_]
    open_: NDArray[np.bool_]
    cum_paid: F64
    world_debt: F64
    world_rate: F64
    loi_debt: F64
    called: F64
    facility: F64
    loan_out: F64
    loan_sold: NDArray[np.bool_]
    loan_accel: NDArray[np.bool_]
    units: F64
    stake_units: F64
    stake_val: F64
    item_paid: NDArray[np.bool_]
    wt_vested: NDArray[np.bool_]
    wt_left: F64
    wt_val: F64
    bk_left: F64
    stranded: F64
    dep_rate: F64
    dep_change: F64
    dem_x: F64
    dem_level: F64
    dem_mult: F64
    demand_prev: F64
    sentiment: F64
    sent_eff: F64
    eta: F64
    mv: F64
    price: F64
    ghat: F64
    rev_prev: F64
    cond_ok: NDArray[np.bool_]
    issued: F64
    losses: F64
    loss_mech: F64
    world_losses: F64


class Out(NamedTuple):
    """The quarter's flows (see :class:`~loopwatch.engine.step.Quarter`)."""

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
    raised: F64  # (5, F, P)
    world_cash_change: F64
    cash_change: F64
    A: F64  # (E, P)
    paid: F64  # (E, P)


_STATE_FIELDS = tuple(n if n != "open_" else "open" for n in Arrays._fields)


def _path_major(v: NDArray[Any]) -> NDArray[Any]:
    """``v`` (entity-major, path axis last) as a view of path-major storage (path axis first).

    The kernel walks one path at a time: with the path axis first, a path's
    state is one contiguous block instead of one cache line (and one page)
    per entity. The view keeps the engine's ``(entity, path)`` shape, so the
    recorder and the ledger check read it unchanged.
    """
    if v.ndim < 2 or (v.T.flags.c_contiguous and v.T.flags.writeable):
        return v
    out: NDArray[Any] = np.ascontiguousarray(v.T).T
    return out


def _arrays(st: State) -> Arrays:
    """The kernel's view of ``st`` (path axis first), converting its arrays on first use."""
    led = st.ledger
    if not led.bal.T.flags.c_contiguous:
        led.bal = _path_major(led.bal)
    vals: list[Any] = []
    for name in _STATE_FIELDS:
        if name == "bal":
            vals.append(led.bal.T)
        elif name == "world_cash":
            vals.append(led.world_cash)
        else:
            v = getattr(st, name)
            if v.ndim >= 2 and not v.T.flags.c_contiguous:
                v = _path_major(v)
                setattr(st, name, v)
            vals.append(v.T if v.ndim >= 2 else v)
    return Arrays(*vals)


def _draws(dr: Draws) -> tuple[F64, F64, F64]:
    """The chunk's draws with the path axis first (computed once per chunk)."""
    hit: tuple[F64, F64, F64] | None = getattr(dr, "_path_major", None)
    if hit is None:
        hit = (np.ascontiguousarray(dr.demand.T), np.ascontiguousarray(dr.price.T),
               np.ascontiguousarray(dr.convert.T))
        object.__setattr__(dr, "_path_major", hit)
    return hit


def step(plan: Plan, st: State, t: int, dr: Draws, ev: EventLog) -> Quarter:
    """Advance every path of ``st`` through quarter ``t`` (compiled); return its flows.

    The same contract as :func:`loopwatch.engine.step.step`, without events
    (``ev`` must be disabled). ``st``'s arrays are moved to path-major
    storage on the first call (their shapes do not change).
    """
    if ev.enabled:
        raise ValueError("the compiled step does not log events; use the numpy step")
    P, F, E = st.P, plan.F, plan.edges.n
    st.issued = np.zeros((P, F)).T
    a = _arrays(st)
    raised = np.zeros((P, F, 5))
    o = Out(*(np.empty((P, F)) for _ in range(11)), raised, np.empty(P),  # type: ignore[call-arg]
            np.empty((P, F)), np.empty((P, E)), np.empty((P, E)))
    dem, price, convert = _draws(dr)
    _quarter(t, static(plan), a, dem, price, convert, o)
    r = raised.T  # (5, F, P)
    return Quarter(revenue_end=o.revenue_end.T, revenue_loop=o.revenue_loop.T,
                   revenue_non_loop=o.revenue_non_loop.T, revenue_rerent=o.revenue_rerent.T,
                   opex=o.opex.T, capex=o.capex.T, depreciation=o.depreciation.T,
                   interest_due=o.interest_due.T, principal_due=o.principal_due.T,
                   commitments_due=o.commitments_due.T, paid_out_loop=o.paid_out_loop.T,
                   raised=Raised(*r), world_cash_change=o.world_cash_change,
                   cash_change=o.cash_change.T, A=o.A.T, paid=o.paid.T)


# ---------------------------------------------------------------------------------------------
# kernels (``# pragma: no cover``: coverage cannot see inside compiled code; the twin tests can)


_T = TypeVar("_T", bound=Callable[..., Any])


def _jit(fn: _T) -> _T:
    """``numba.njit``, cached on disk (typed for mypy)."""
    return cast(_T, njit(cache=True, nogil=True)(fn))


def _jit_inline(fn: _T) -> _T:
    """:func:`_jit`, inlined into its callers (no call with the plan's whole tuple of arrays)."""
    return cast(_T, njit(cache=True, nogil=True, inline="always")(fn))


@_jit
def _pw_block(a: Any, lo: int, n: int) -> float:  # pragma: no cover
    """numpy's pairwise sum of ``a[lo:lo + n]`` for ``n`` ≤ 128 (8 accumulators)."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - (n % 8):
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return float(res)


@_jit
def _pw(a: Any, lo: int, n: int) -> float:  # pragma: no cover
    """numpy's pairwise sum of ``a[lo:lo + n]`` (the order ``ndarray.sum`` uses on a row).

    Above 128 numpy halves the range recursively; the halving is done here
    with an explicit stack (numba's cache cannot hold a caller of a recursive
    function).
    """
    if n <= 128:
        return _pw_block(a, lo, n)
    los = np.empty(64, np.int64)
    ns = np.empty(64, np.int64)
    state = np.zeros(64, np.int64)
    left = np.empty(64)
    top = 0
    los[0], ns[0] = lo, n
    ret = 0.0
    while True:
        m = ns[top]
        if m <= 128:
            ret = _pw_block(a, los[top], m)
            top -= 1
            if top < 0:
                return ret
            continue
        n2 = m // 2
        n2 -= n2 % 8
        if state[top] == 0:
            state[top] = 1
            top += 1
            los[top], ns[top], state[top] = los[top - 1], n2, 0
        elif state[top] == 1:
            left[top] = ret
            state[top] = 2
            top += 1
            los[top], ns[top], state[top] = los[top - 1] + n2, m - n2, 0
        else:
            ret = left[top] + ret
            top -= 1
            if top < 0:
                return float(ret)


@_jit
def _post(bal: Any, f: int, p: int, amount: float, debit: int, credit: int) -> None:  # pragma: no cover
    """:meth:`Ledger.post` of one amount on one firm's books."""
    if debit == credit:
        return
    if debit < DEBT:
        bal[p, f, debit] += amount
    else:
        bal[p, f, debit] -= amount
    if credit < DEBT:
        bal[p, f, credit] -= amount
    else:
        bal[p, f, credit] += amount


@_jit_inline
def _add_vintage(s: Any, a: Any, p: int, t: int, amount: Any, life: Any,
                 one_life: float) -> None:  # pragma: no cover
    """Start depreciating ``amount`` (F,) over ``life`` (F,) quarters (or ``one_life`` if > 0)."""
    F = life.shape[0]
    Q1 = a.dep_change.shape[2]
    for f in range(F):
        L = one_life if one_life > 0 else life[f]
        per = amount[f] / L
        if t + 1 < Q1:
            a.dep_change[p, f, t + 1] += per
        end = t + 1 + int(L)
        if end < Q1 and per != 0.0:
            a.dep_change[p, f, end] -= per


@_jit_inline
def _terminate(s: Any, a: Any, p: int, t: int, mask: Any, tmp: Any) -> None:  # pragma: no cover
    """End the contracts in ``mask`` (C,) and those that depend on them (see resolution.terminate)."""
    C = mask.shape[0]
    anyc = False
    for c in range(C):
        mask[c] = mask[c] and (a.live[p, c] or a.open_[p, c])
        anyc = anyc or mask[c]
    if not anyc:
        return
    if s.any_depends:
        for b in range(C):
            tmp[b] = mask[b]
        for c in range(C):
            if mask[c]:
                for j in range(s.dep_ptr[c], s.dep_ptr[c + 1]):
                    b = s.dep_idx[j]
                    if not mask[b] and (a.live[p, b] or a.open_[p, b]):
                        tmp[b] = True
        for b in range(C):
            mask[b] = tmp[b]
    for k in range(s.cc.shape[0]):
        c = s.cc[k]
        if mask[c] and a.live[p, c] and a.alive[p, s.payee[c]] and a.stranded[p, k] == 0:
            a.stranded[p, k] = s.cc_built[k, t]
    for k in range(s.ln.shape[0]):
        c = s.ln[k]
        if mask[c] and a.alive[p, s.payer[c]] and a.alive[p, s.payee[c]] and a.loan_out[p, k] > 0:
            a.loan_accel[p, k] = True
    for c in range(C):
        if mask[c]:
            a.live[p, c] = False
            a.open_[p, c] = False


@_jit_inline
def _exercise(s: Any, a: Any, p: int, frac: Any, F: int, net: Any, w1: Any,
              w2: Any) -> None:  # pragma: no cover
    """Exercise ``frac`` (n_wt,) of each vested tranche and sell the shares (funding.exercise_warrants)."""
    n = s.wt_warrant.shape[0]
    bal = a.bal
    # transfer of the strike: holders' totals, then issuers' totals
    for f in range(F):
        w1[f] = 0.0
        w2[f] = 0.0
    for k in range(n):
        w = s.wr[s.wt_warrant[k]]
        shares = frac[k] * a.wt_left[p, k] * (1.0 if a.wt_vested[p, k] else 0.0)
        strike_cash = shares * s.wr_strike[s.wt_warrant[k]]
        w1[s.payee[w]] += strike_cash
        w2[s.payer[w]] += strike_cash
    for f in range(F):
        _post(bal, f, p, w1[f], WARRANTS, CASH)
    for f in range(F):
        _post(bal, f, p, w2[f], CASH, EQUITY)
    # sale of the shares to the market
    for f in range(F):
        w1[f] = 0.0
    for k in range(n):
        w = s.wr[s.wt_warrant[k]]
        shares = frac[k] * a.wt_left[p, k] * (1.0 if a.wt_vested[p, k] else 0.0)
        w1[s.payee[w]] += shares * a.price[p, s.payer[w]]
    tot = 0.0
    for f in range(F):
        _post(bal, f, p, w1[f], CASH, WARRANTS)
        tot += w1[f]
    a.world_cash[p] -= tot
    # the issuer's liability closes at the carrying value; its share count grows
    for f in range(F):
        w1[f] = 0.0
        w2[f] = 0.0
    for k in range(n):
        w = s.wr[s.wt_warrant[k]]
        w1[s.payer[w]] += frac[k] * a.wt_val[p, k]
        w2[s.payer[w]] += frac[k] * a.wt_left[p, k] * (1.0 if a.wt_vested[p, k] else 0.0)
    for f in range(F):
        _post(bal, f, p, w1[f], WLIAB, EQUITY)
    for f in range(F):
        a.units[p, f] = a.units[p, f] + w2[f]
    for k in range(n):
        w = s.wr[s.wt_warrant[k]]
        shares = frac[k] * a.wt_left[p, k] * (1.0 if a.wt_vested[p, k] else 0.0)
        net[k] = shares * a.price[p, s.payer[w]] - shares * s.wr_strike[s.wt_warrant[k]]
        a.wt_left[p, k] = a.wt_left[p, k] - shares
        a.wt_val[p, k] = a.wt_val[p, k] - frac[k] * a.wt_val[p, k]


@_jit_inline
def _add_world_debt(a: Any, f: int, p: int, amount: float, rate: float) -> None:  # pragma: no cover
    debt = a.world_debt[p, f]
    total = debt + amount
    if amount > 0 and total > 0:
        a.world_rate[p, f] = (debt * a.world_rate[p, f] + amount * rate) / total
    a.world_debt[p, f] = total


@_jit_inline
def _waterfall(s: Any, a: Any, p: int, F: int, need: Any, deficit: Any, mkt: Any, got: Any,
               sc: Any, w: Any) -> None:  # pragma: no cover
    """The funding waterfall (funding.waterfall) for one path; ``got`` (5, F) what was raised.

    ``mkt`` (5, F): collateral, LOI share, debt cap, new rate, facility rate.
    ``w`` scratch (≥ 8, max(F, n_wt, n_eq)).
    """
    bal = a.bal
    for i in range(5):
        for f in range(F):
            got[i, f] = 0.0
    anyw = False
    for f in range(F):
        anyw = anyw or need[f] > 0
    if not anyw:
        return
    n_wt, n_eq = s.wt_warrant.shape[0], s.eq.shape[0]
    cap_wt, cap_stake, wt_live, stake_live = w[0], w[1], w[2], w[3]
    for f in range(F):
        cap_wt[f] = 0.0
        cap_stake[f] = 0.0
    for k in range(n_wt):
        ww = s.wr[s.wt_warrant[k]]
        wt_live[k] = a.wt_val[p, k] * (1.0 if a.alive[p, s.payer[ww]] else 0.0)
        cap_wt[s.payee[ww]] += wt_live[k]
    for e in range(n_eq):
        c = s.eq[e]
        stake_live[e] = a.stake_val[p, e] * (1.0 if a.alive[p, s.payee[c]] else 0.0)
        cap_stake[s.payer[c]] += stake_live[e]
    h = 1.0 - sc[HAIRCUT]
    for f in range(F):
        cap_stake[f] = h * cap_stake[f]
    for f in range(F):
        if not need[f] > 0:
            continue
        debt = bal[p, f, DEBT]
        c_fac = a.facility[p, f]
        c_debt = max(min(mkt[0, f], mkt[2, f]) - debt - c_fac, 0.0)
        c_eq = max(sc[APPETITE] * a.mv[p, f] - a.issued[p, f], 0.0)
        c_wt, c_st = cap_wt[f], cap_stake[f]
        total = c_fac + c_debt + c_eq + c_wt + c_st
        feasible = a.alive[p, f] and total >= deficit[f] * (1.0 + 1e-12)
        left = min(need[f], total) if feasible else 0.0
        g0 = min(left, c_fac)
        left = left - g0
        g1 = min(left, c_debt)
        left = left - g1
        g2 = min(left, c_eq)
        left = left - g2
        g3 = min(left, c_wt)
        left = left - g3
        g4 = min(left, c_st)
        got[0, f], got[1, f], got[2, f], got[3, f], got[4, f] = g0, g1, g2, g3, g4
    # postings, source by source (as funding.waterfall)
    tot = 0.0
    for f in range(F):
        x = got[0, f]
        bal[p, f, CASH] += x
        bal[p, f, DEBT] = bal[p, f, DEBT] + x
        tot += x
    a.world_cash[p] -= tot
    for f in range(F):
        _add_world_debt(a, f, p, got[0, f], mkt[4, f])
        a.facility[p, f] -= got[0, f]
    tot = 0.0
    for f in range(F):
        x = got[1, f]
        bal[p, f, CASH] += x
        bal[p, f, DEBT] = bal[p, f, DEBT] + x
        tot += x
    a.world_cash[p] -= tot
    for f in range(F):
        _add_world_debt(a, f, p, got[1, f], mkt[3, f])
        a.loi_debt[p, f] += got[1, f] * mkt[1, f]
    tot = 0.0
    for f in range(F):
        x = got[2, f]
        bal[p, f, CASH] += x
        bal[p, f, EQUITY] = bal[p, f, EQUITY] + x
        tot += x
    a.world_cash[p] -= tot
    for f in range(F):
        x = got[2, f]
        mv = a.mv[p, f]
        price = mv / a.units[p, f] if mv > 0 else 1.0
        a.units[p, f] += x / price
        a.issued[p, f] += x
    anyw = False
    for f in range(F):
        anyw = anyw or got[3, f] != 0
    if anyw:
        frac = w[4]
        for k in range(n_wt):
            ww = s.wr[s.wt_warrant[k]]
            hold = s.payee[ww]
            phi = got[3, hold] / cap_wt[hold] if cap_wt[hold] > 0 else 0.0
            frac[k] = phi * (1.0 if wt_live[k] > 0 else 0.0)
        _exercise(s, a, p, frac, F, w[5], w[6], w[7])
    anys = False
    for f in range(F):
        anys = anys or got[4, f] != 0
    if anys:
        proceeds_f, cost_f = w[4], w[5]
        for f in range(F):
            proceeds_f[f] = 0.0
            cost_f[f] = 0.0
        for e in range(n_eq):
            c = s.eq[e]
            hold = s.payer[c]
            psi = got[4, hold] / cap_stake[hold] if cap_stake[hold] > 0 else 0.0
            frac_e = psi * (1.0 if stake_live[e] > 0 else 0.0)
            sold = frac_e * a.stake_val[p, e]
            proceeds = h * sold
            proceeds_f[hold] += proceeds
            cost_f[hold] += sold - proceeds
            a.stake_units[p, e] = a.stake_units[p, e] * (1.0 - frac_e)
            a.stake_val[p, e] = a.stake_val[p, e] - sold
        tot = 0.0
        for f in range(F):
            _post(bal, f, p, proceeds_f[f], CASH, STAKES)
            tot += proceeds_f[f]
        a.world_cash[p] -= tot
        for f in range(F):
            _post(bal, f, p, cost_f[f], EQUITY, STAKES)


@_jit
def _rowdot(M: Any, i: int, r: Any, n: int, tmp: Any) -> float:  # pragma: no cover
    """``(M[i] * r).sum()`` in numpy's order."""
    for j in range(n):
        tmp[j] = M[i, j] * r[j]
    return _pw(tmp, 0, n)


@_jit
def _clear(M: Any, e: Any, c: Any, dflt: Any, beta: float, F: int, r: Any, inflow: Any,
           D: Any, tmp: Any) -> None:  # pragma: no cover
    """Greatest clearing vector of one path (resolution.clear): ``r`` (F,), ``inflow`` (F,)."""
    short = 1.0 - 1e-12
    for i in range(F):
        r[i] = 1.0
    for i in range(F):
        inflow[i] = _pw(M[i], 0, F)
    for i in range(F):
        D[i] = dflt[i] and (e[i] + inflow[i] < c[i] * short)
    keep = np.zeros(F)
    for _ in range(F + 1):
        d = 0
        for i in range(F):
            if D[i]:
                d += 1
        if d == 0:
            break
        idx = np.empty(d, np.int64)
        k = 0
        for i in range(F):
            if D[i]:
                idx[k] = i
                k += 1
        for j in range(F):
            keep[j] = 0.0 if D[j] else 1.0
        mat = np.empty((d, d))
        rhs = np.empty(d)
        for a_ in range(d):
            i = idx[a_]
            for b_ in range(d):
                mat[a_, b_] = (c[i] if a_ == b_ else 0.0) - beta * M[i, idx[b_]]
            rhs[a_] = e[i] + beta * _rowdot(M, i, keep, F, tmp)
        x = _solve(mat, rhs)
        for i in range(F):
            r[i] = 1.0
        for a_ in range(d):
            r[idx[a_]] = min(max(x[a_], 0.0), 1.0)
        if beta >= 1.0 and _closed_ring(M, c, D, F):
            _picard(M, e, c, D, beta, F, r, tmp)
        for i in range(F):
            inflow[i] = _rowdot(M, i, r, F, tmp)
        grown = False
        for i in range(F):
            if not D[i] and dflt[i] and e[i] + inflow[i] < c[i] * short:
                D[i] = True
                grown = True
        if not grown:
            break


@_jit
def _solve(mat: Any, rhs: Any) -> Any:  # pragma: no cover
    try:
        return np.linalg.solve(mat, rhs)
    except Exception:  # singular: least squares, as the numpy twin
        return np.linalg.lstsq(mat, rhs)[0]


@_jit
def _closed_ring(M: Any, c: Any, D: Any, F: int) -> bool:  # pragma: no cover
    """Some defaulters owe nothing outside the defaulters, directly or not (resolution._closed_ring)."""
    drains = np.zeros(F, np.bool_)
    for j in range(F):
        to_d = 0.0
        for i in range(F):
            if D[i]:
                to_d += M[i, j]
        drains[j] = D[j] and (c[j] - to_d > 1e-12 * c[j])
    for _ in range(F):
        changed = False
        for j in range(F):
            if drains[j] or not D[j]:
                continue
            for i in range(F):
                if D[i] and M[i, j] > 0 and drains[i]:
                    drains[j] = True
                    changed = True
                    break
        if not changed:
            break
    for j in range(F):
        if D[j] and not drains[j]:
            return True
    return False


@_jit
def _picard(M: Any, e: Any, c: Any, D: Any, beta: float, F: int, r: Any,
            tmp: Any) -> None:  # pragma: no cover
    """Iterate the clearing map down to its greatest fixed point (resolution._picard)."""
    cur = np.ones(F)
    new = np.ones(F)
    for _ in range(1_000_000):
        diff = 0.0
        for i in range(F):
            inflow = _rowdot(M, i, cur, F, tmp)
            ratio = (e[i] + beta * inflow) / c[i] if c[i] > 0 else 1.0
            if D[i] and e[i] + inflow < c[i] * (1.0 - 1e-12):
                new[i] = min(max(ratio, 0.0), 1.0)
            else:
                new[i] = 1.0
        for i in range(F):
            diff = max(diff, abs(new[i] - cur[i]))
        if diff <= 1e-13:
            break
        for i in range(F):
            cur[i] = new[i]
    for i in range(F):
        r[i] = min(max(new[i], 0.0), 1.0) if D[i] else 1.0


@_jit_inline
def _loss(a: Any, p: int, F: int, amount: float, sufferer: int, counterparty: int,
          mech: int) -> None:  # pragma: no cover
    """resolution.add_losses for one amount."""
    if amount == 0.0:
        return
    if sufferer < F:
        a.losses[p, sufferer * (F + 1) + counterparty] += amount
        a.loss_mech[p, sufferer * 4 + mech] += amount
    else:
        a.world_losses[p, counterparty] += amount


@_jit_inline
def _settle(s: Any, a: Any, p: int, t: int, F: int, D: Any, r: Any, inflow: Any, sc: Any,
            w: Any, cmask: Any, ctmp: Any) -> None:  # pragma: no cover
    """resolution.settle_defaults for one path: liquidate, write off, end contracts."""
    bal = a.bal
    al, be = sc[ALPHA], sc[BETA]
    n_eq, n_ln, n_wt = s.eq.shape[0], s.ln.shape[0], s.wt_warrant.shape[0]
    x1, x2 = w[0], w[1]
    # 1. liquidation: compute and other assets, stakes at alpha; loans made at beta
    for acct in (COMPUTE, OTHER):
        tot = 0.0
        for f in range(F):
            b = bal[p, f, acct] * (1.0 if D[f] else 0.0)
            x1[f] = b
            _post(bal, f, p, al * b, CASH, acct)
            tot += al * b
        a.world_cash[p] -= tot
        for f in range(F):
            _post(bal, f, p, (1 - al) * x1[f], EQUITY, acct)
    for f in range(F):
        if D[f]:
            a.dep_rate[p, f] = a.dep_rate[p, f] * 0.0
    if n_eq:
        for f in range(F):
            x1[f] = 0.0
            x2[f] = 0.0
        for e in range(n_eq):
            c = s.eq[e]
            held = D[s.payer[c]] and a.alive[p, s.payee[c]]
            val = a.stake_val[p, e] * (1.0 if held else 0.0)
            x1[s.payer[c]] += al * val
            x2[s.payer[c]] += (1 - al) * val
            if held:
                a.stake_val[p, e] = a.stake_val[p, e] * 0.0
                a.stake_units[p, e] = a.stake_units[p, e] * 0.0
        tot = 0.0
        for f in range(F):
            _post(bal, f, p, x1[f], CASH, STAKES)
            tot += x1[f]
        a.world_cash[p] -= tot
        for f in range(F):
            _post(bal, f, p, x2[f], EQUITY, STAKES)
    if n_ln:
        for f in range(F):
            x1[f] = 0.0
            x2[f] = 0.0
        for k in range(n_ln):
            c = s.ln[k]
            lend = D[s.payer[c]] and not a.loan_sold[p, k] and a.loan_out[p, k] > 0
            face = a.loan_out[p, k] * (1.0 if lend else 0.0)
            x1[s.payer[c]] += be * face
            x2[s.payer[c]] += (1 - be) * face
        tot = 0.0
        for f in range(F):
            _post(bal, f, p, x1[f], CASH, LOANS)
            tot += x1[f]
        a.world_cash[p] -= tot
        for f in range(F):
            _post(bal, f, p, x2[f], EQUITY, LOANS)
        for k in range(n_ln):
            if D[s.payer[s.ln[k]]]:
                a.loan_sold[p, k] = True
    # warrants held by or issued by a defaulter lapse
    if n_wt:
        for f in range(F):
            x1[f] = 0.0
            x2[f] = 0.0
        for k in range(n_wt):
            ww = s.wr[s.wt_warrant[k]]
            lost = D[s.payee[ww]] or D[s.payer[ww]]
            val = a.wt_val[p, k] * (1.0 if lost else 0.0)
            x1[s.payee[ww]] += val
            x2[s.payer[ww]] += val
        for f in range(F):
            _post(bal, f, p, x1[f], EQUITY, WARRANTS)
        for f in range(F):
            _post(bal, f, p, x2[f], WLIAB, EQUITY)
        for k in range(n_wt):
            ww = s.wr[s.wt_warrant[k]]
            lost = D[s.payee[ww]] or D[s.payer[ww]]
            val = a.wt_val[p, k] * (1.0 if lost else 0.0)
            if D[s.payer[ww]] and not D[s.payee[ww]]:
                _loss(a, p, F, val, s.payee[ww], s.payer[ww], 1)
            if lost:
                a.wt_val[p, k] = a.wt_val[p, k] * 0.0
                a.wt_left[p, k] = a.wt_left[p, k] * 0.0
    # 2. resolution costs: 1 - beta of network receipts when the claims are not met
    tot = 0.0
    for f in range(F):
        x = (1 - be) * inflow[f] * (1.0 if (D[f] and r[f] < 1.0) else 0.0)
        _post(bal, f, p, x, EQUITY, CASH)
        tot += x
    a.world_cash[p] += tot
    # 3. remaining debts are written off
    for f in range(F):
        if D[f]:
            _post(bal, f, p, a.world_debt[p, f], DEBT, EQUITY)
            a.world_debt[p, f] = a.world_debt[p, f] * 0.0
            a.loi_debt[p, f] = a.loi_debt[p, f] * 0.0
            a.called[p, f] = a.called[p, f] * 0.0
            a.facility[p, f] = a.facility[p, f] * 0.0
        else:
            _post(bal, f, p, a.world_debt[p, f] * 0.0, DEBT, EQUITY)
    if n_ln:
        for f in range(F):
            x1[f] = 0.0
            x2[f] = 0.0
        for k in range(n_ln):
            c = s.ln[k]
            owes = D[s.payee[c]]
            left = a.loan_out[p, k] * (1.0 if owes else 0.0)
            x1[s.payee[c]] += left
            x2[s.payer[c]] += left * (0.0 if a.loan_sold[p, k] else 1.0)
        for f in range(F):
            _post(bal, f, p, x1[f], DEBT, EQUITY)
        for f in range(F):
            _post(bal, f, p, x2[f], EQUITY, LOANS)
        for k in range(n_ln):
            if D[s.payee[s.ln[k]]]:
                a.loan_out[p, k] = a.loan_out[p, k] * 0.0
    # 4. a residual after paying every claim goes to the shareholders
    resid = w[2]
    for f in range(F):
        resid[f] = max(bal[p, f, CASH], 0.0) * (1.0 if D[f] else 0.0)
    if n_eq:
        th = w[3]
        for e in range(n_eq):
            c = s.eq[e]
            tee = s.payee[c]
            units = a.units[p, tee]
            share = a.stake_units[p, e] / units if units > 0 else 0.0
            th[e] = resid[tee] * share * (1.0 if D[tee] else 0.0) * (
                1.0 if a.alive[p, s.payer[c]] else 0.0)
        for f in range(F):
            x1[f] = 0.0
            x2[f] = 0.0
        for e in range(n_eq):
            c = s.eq[e]
            x1[s.payee[c]] += th[e]
            x2[s.payer[c]] += th[e]
        for f in range(F):
            _post(bal, f, p, x1[f], EQUITY, CASH)
        for f in range(F):
            _post(bal, f, p, x2[f], CASH, STAKES)
        for e in range(n_eq):
            a.stake_val[p, e] = a.stake_val[p, e] - th[e]
        for f in range(F):
            resid[f] = resid[f] - x1[f]
    tot = 0.0
    for f in range(F):
        _post(bal, f, p, resid[f], EQUITY, CASH)
        tot += resid[f]
    a.world_cash[p] += tot
    # 5. stakes in a defaulter are written off
    if n_eq:
        for f in range(F):
            x1[f] = 0.0
        for e in range(n_eq):
            c = s.eq[e]
            of_d = D[s.payee[c]]
            val = a.stake_val[p, e] * (1.0 if of_d else 0.0)
            x1[s.payer[c]] += val
        for f in range(F):
            _post(bal, f, p, x1[f], EQUITY, STAKES)
        for e in range(n_eq):
            c = s.eq[e]
            of_d = D[s.payee[c]]
            val = a.stake_val[p, e] * (1.0 if of_d else 0.0)
            _loss(a, p, F, val, s.payer[c], s.payee[c], 1)
            if of_d:
                a.stake_val[p, e] = a.stake_val[p, e] * 0.0
                a.stake_units[p, e] = a.stake_units[p, e] * 0.0
    # 6. the defaulter is gone; its contracts end
    for f in range(F):
        if D[f]:
            a.alive[p, f] = False
            a.default_t[p, f] = t
            a.mv[p, f] = a.mv[p, f] * 0.0
            a.price[p, f] = a.price[p, f] * 0.0
    C = cmask.shape[0]
    for c in range(C):
        if s.is_loan[c]:
            cmask[c] = D[s.payee[c]]
        else:
            cmask[c] = D[s.payer[c]] or D[s.payee[c]]
    _terminate(s, a, p, t, cmask, ctmp)
    for k in range(n_ln):
        c = s.ln[k]
        if D[s.payer[c]]:
            a.live[p, c] = False


@_jit
def _quarter(t: int, s: Any, a: Any, dem: Any, zprice: Any, convert: Any,
             o: Any) -> None:  # pragma: no cover
    """Quarter ``t`` for every path of the chunk (step.step, path by path)."""
    F, C, E, ND, K = s.dims[0], s.dims[1], s.dims[3], s.dims[4], s.dims[5]
    P = a.alive.shape[0]
    sc = s.sc
    g = s.g
    n_cc, n_cp, n_eq, n_ln, n_bk = (s.cc.shape[0], s.cp.shape[0], s.eq.shape[0], s.ln.shape[0],
                                    s.bk.shape[0])
    n_it, n_wt = s.item_amount.shape[0], s.wt_warrant.shape[0]
    n_capex = s.capex_cc.shape[0]
    width = max(F + 1, n_wt, n_eq, n_ln, n_cc, C, 1)
    w = np.zeros((8, width))
    v = np.zeros((40, F + 1))  # per-firm vectors of the path
    A = np.zeros(E)
    A0 = np.zeros(E)
    paid = np.zeros(E)
    bought = np.zeros(E)
    legs = np.zeros((2, 9, F + 1))
    mkt = np.zeros((5, F))
    got = np.zeros((5, F))
    raised_s = np.zeros((5, F))
    cmask = np.zeros(C, np.bool_)
    ctmp = np.zeros(C, np.bool_)
    conv = np.zeros(C, np.bool_)
    lapse = np.zeros(C, np.bool_)
    items_due = np.zeros(n_it, np.bool_)
    prin_sched = np.zeros(n_ln)
    maturing = np.zeros(n_ln)
    rerent_cc = np.zeros(n_cc)
    flexible = np.zeros(n_cc)
    Dv = np.zeros(F, np.bool_)
    Dc = np.zeros(F, np.bool_)
    pushed = np.zeros(F, np.bool_)
    M = np.zeros((F, F))
    r = np.ones(F)
    inflow = np.zeros(F)
    estate = np.zeros(F)
    claims = np.zeros(F)
    tmp = np.zeros(F)
    eps = np.zeros(ND)
    deciding_any = False
    for c in range(C):
        if (s.conditional[c] and s.decision[c] == t) or s.shock_lapse[t, c]:
            deciding_any = True
    ratio = s.opex_ratio
    for p in range(P):
        # named per-firm vectors (rows of ``v``)
        cash_start, end, non_loop, rerent, inn, out, loop_in = v[0], v[1], v[2], v[3], v[4], v[5], v[6]
        revenue_q, opex_out, opex, w_int, w_sched, w_prin, roll = (v[7], v[8], v[9], v[10], v[11],
                                                                   v[12], v[13])
        x, wo, need, deficit, rf, w_accel, world_cl = v[14], v[15], v[16], v[17], v[18], v[19], v[20]
        got_loop, dep, alive0, stakes_live, f1, f2 = v[21], v[22], v[23], v[24], v[25], v[26]
        bal = a.bal
        for f in range(F):
            cash_start[f] = bal[p, f, CASH]
        world_start = a.world_cash[p]
        stress = 0.0
        for f in range(F):
            stress += s.core_weight[f] * (1.0 if a.default_t[p, f] >= 0 else 0.0)

        # 0. decisions
        if deciding_any:
            any_conv = False
            any_lapse = False
            for c in range(C):
                deciding = s.conditional[c] and s.decision[c] == t
                lp = a.open_[p, c] and s.shock_lapse[t, c]
                dec = a.open_[p, c] and deciding and not lp
                both = a.alive[p, s.payer[c]] and a.alive[p, s.payee[c]]
                cv = dec and both and convert[p, c] < s.p_convert[c]
                lp = lp or (dec and not cv)
                conv[c] = cv
                lapse[c] = lp
                any_conv = any_conv or cv
                any_lapse = any_lapse or lp
            ov = f1
            for f in range(F):
                ov[f] = 0.0
            for c in range(C):
                ov[s.payee[c]] += (1.0 if a.open_[p, c] else 0.0) * (s.remaining[c, t] + s.sched[c, t])
            for which in range(2):
                mask = conv if which == 0 else lapse
                if (which == 0 and not any_conv) or (which == 1 and not any_lapse):
                    continue
                part = f2
                for f in range(F):
                    part[f] = 0.0
                for c in range(C):
                    part[s.payee[c]] += (1.0 if mask[c] else 0.0) * (s.remaining[c, t]
                                                                      + s.sched[c, t])
                for f in range(F):
                    pf = part[f] / ov[f] if ov[f] > 0 else 0.0
                    moved = a.loi_debt[p, f] * min(max(pf, 0.0), 1.0)
                    a.loi_debt[p, f] = a.loi_debt[p, f] - moved
                    if which == 1 and sc[LAPSE_CALLS] > 0:
                        a.called[p, f] = a.called[p, f] + moved
            for c in range(C):
                if conv[c] or lapse[c]:
                    a.open_[p, c] = False
                if conv[c]:
                    a.live[p, c] = True
            if any_lapse:
                if sc[LAPSE_CALLS] > 0 and n_ln:
                    for c in range(C):
                        if not lapse[c]:
                            continue
                        for j in range(s.link_ptr[c], s.link_ptr[c + 1]):
                            k = s.link_k[j]
                            if a.loan_out[p, k] > 0:
                                a.loan_accel[p, k] = True
                            a.live[p, s.ln[k]] = False
                if s.any_depends:
                    for b in range(C):
                        cmask[b] = False
                    for c in range(C):
                        if lapse[c]:
                            for j in range(s.dep_ptr[c], s.dep_ptr[c + 1]):
                                cmask[s.dep_idx[j]] = True
                    _terminate(s, a, p, t, cmask, ctmp)

        # 1. demand
        for f in range(F):
            end[f] = 0.0
            rerent[f] = 0.0
        demand = 0.0
        for d in range(ND):
            corr = s.dev_corr[d]
            eps[d] = math.sqrt(corr) * dem[p, 0, t] + math.sqrt(1.0 - corr) * dem[p, 1 + d, t]
        for d in range(ND):
            phi, vol = s.dev_persistence[d], s.dev_vol[d]
            if t == 0:
                a.dem_x[p, d] = vol * eps[d]
            else:
                xd = phi * a.dem_x[p, d] + math.sqrt(1.0 - phi ** 2) * vol * eps[d]
                a.dem_x[p, d] = xd
                growth = s.dev_mu[t, d] + xd
                room = min(max(1.0 - a.dem_level[p, d] / s.dev_saturation[d], 0.0), 1.0)
                if growth > 0:
                    growth = growth * room
                a.dem_level[p, d] = a.dem_level[p, d] * math.exp(growth / 4.0)
        for d in range(ND):
            fd = s.dev_firm[d]
            shock = s.shock_demand[t, fd]
            demand += a.dem_level[p, d] * s.dev_multiplier[d] * shock
            end[fd] = a.dem_level[p, d] * a.dem_mult[p, d] * shock / 4.0 * (
                1.0 if a.alive[p, fd] else 0.0)
        for f in range(F):
            ai = s.ai_share[f]
            non_loop[f] = s.non_loop_q[t, f] * ((1.0 - ai) + ai * a.sent_eff[p, f]
                                                 * s.shock_non_loop[t, f]) * (
                1.0 if a.alive[p, f] else 0.0)
        for k in range(n_cc):
            c = s.cc[k]
            cloud = s.payee[c]
            price = s.sched[c, t] * sc[SPOT] * s.shock_rerent[t, cloud] * sc[UTIL]
            rerent_cc[k] = a.stranded[p, k] * (1.0 if a.alive[p, cloud] else 0.0) * price
        for k in range(n_cc):
            if a.stranded[p, k] != 0.0:
                c = s.cc[k]
                cloud = s.payee[c]
                base = a.stranded[p, k] * s.sched[c, t] * (1.0 if a.alive[p, cloud] else 0.0)
                rerent[cloud] += rerent_cc[k]
                _loss(a, p, F, max(base - rerent_cc[k], 0.0), cloud, s.payer[c], 3)
        tot = 0.0
        for f in range(F):
            amt = end[f] + non_loop[f] + rerent[f]
            _post(bal, f, p, amt, CASH, EQUITY)
            tot += amt
        a.world_cash[p] -= tot

        # 3. scheduled flows
        for e in range(E):
            A[e] = 0.0
        for k in range(n_cc):
            c = s.cc[k]
            A[g[G_CC] + k] = s.sched[c, t] * (1.0 if a.live[p, c] else 0.0)
        ti = 0
        for j in range(n_capex):
            k = s.capex_cc[j]
            cap = s.cc_capex[k, t] * s.capex_share[j] * (1.0 if a.live[p, s.cc[k]] else 0.0)
            vendor = s.e_payee[g[G_CAPEX] + j]
            ok = a.alive[p, vendor] if vendor < F else True
            A[g[G_CAPEX] + j] = cap * (1.0 if ok else 0.0)
            if vendor < F:
                A[g[G_CAPEX_TWIN] + ti] = cap * (0.0 if ok else 1.0)
                ti += 1
        for k in range(n_cp):
            c = s.cp[k]
            A[g[G_CP] + k] = s.sched[c, t] * (1.0 if a.live[p, c] else 0.0)
        if n_eq:
            for i in range(n_it):
                met = True
                for j in range(s.item_cptr[i], s.item_cptr[i + 1]):
                    if not a.cond_ok[p, s.item_cidx[j]]:
                        met = False
                        break
                items_due[i] = (s.item_at[i] <= t and not a.item_paid[p, i] and met
                                and a.live[p, s.item_contract[i]])
            for i in range(n_it):
                A[g[G_EQ] + s.item_eq[i]] += (1.0 if items_due[i] else 0.0) * s.item_amount[i]
        for k in range(n_ln):
            c = s.ln[k]
            A[g[G_DRAW] + k] = s.sched[c, t] * (1.0 if a.live[p, c] else 0.0)
            owing = 1.0 if a.alive[p, s.payee[c]] else 0.0
            lo = a.loan_out[p, k]
            interest = lo * (s.loan_rate_q[t, k] / 4.0) * owing
            linear = t >= s.ln_linear_from[k] and t < s.ln_maturity_full[k]
            instal = lo / max(s.ln_maturity_full[k] - t + 1, 1)
            pr = (lo if s.ln_maturity[k] == t else (instal if linear else 0.0)) * owing
            maturing[k] = 0.0 if a.loan_accel[p, k] else pr
            if a.loan_accel[p, k]:
                pr = lo * owing
            a.loan_accel[p, k] = False
            prin_sched[k] = pr
            sold = a.loan_sold[p, k]
            A[g[G_INT] + k] = interest * (0.0 if sold else 1.0)
            A[g[G_INT_TWIN] + k] = interest * (1.0 if sold else 0.0)
            A[g[G_PRIN] + k] = pr * (0.0 if sold else 1.0)
            A[g[G_PRIN_TWIN] + k] = pr * (1.0 if sold else 0.0)
        for f in range(F):
            al = 1.0 if a.alive[p, f] else 0.0
            d_ = a.world_debt[p, f]
            w_int[f] = d_ * a.world_rate[p, f] / 4.0 * al
            cl = min(a.called[p, f], d_)
            ws = (d_ - cl) * s.ladder[f] * al
            w_sched[f] = ws
            w_prin[f] = ws + cl * al
            a.called[p, f] = 0.0
        roll_share = sc[REFINANCE] * max(1.0 - sc[STRESS_RESPONSE] * stress, 0.0)
        for f in range(F + 1):
            inn[f] = 0.0
            out[f] = 0.0
            loop_in[f] = 0.0
        for e in range(E):
            ae = A[e]
            if ae != 0.0:
                pe = s.e_payee[e]
                inn[pe] += ae
                out[s.e_payer[e]] += ae
                if s.e_commercial[e] and pe < F:
                    loop_in[pe] += ae
        for f in range(F):
            al = 1.0 if a.alive[p, f] else 0.0
            outside = end[f] + non_loop[f] + rerent[f]
            revenue_q[f] = outside + loop_in[f]
            oo = (s.opex_fixed_q[t, f] + ratio[f] * outside) * al
            opex_out[f] = oo
            opex[f] = oo + ratio[f] * loop_in[f] * al
        # the credit market (step._market)
        recv, parts = f1, f2
        for f in range(F):
            recv[f] = 0.0
            parts[f] = 0.0
        for c in range(C):
            rem = s.remaining[c, t]
            if s.commercial_kind[c] and rem != 0:
                recv[s.payee[c]] += (1.0 if a.live[p, c] else 0.0) * rem
            lv = rem + s.sched[c, t]
            if s.conditional[c] and lv != 0:
                parts[s.payee[c]] += (1.0 if a.open_[p, c] else 0.0) * lv
        scale = max(1.0 - sc[STRESS_RESPONSE] * stress, 0.0)
        bs = sc[BASE_RATE] + sc[SPREAD]
        for f in range(F):
            pl = sc[ADV_LOI] * parts[f]
            cv = scale * (sc[ADV_COMPUTE] * bal[p, f, COMPUTE] + sc[ADV_RECV] * recv[f] + pl)
            mkt[0, f] = cv
            mkt[1, f] = (scale * pl) / cv if cv > 0 else 0.0
            assets = (bal[p, f, 0] + bal[p, f, 1] + bal[p, f, 2] + bal[p, f, 3] + bal[p, f, 4]
                      + bal[p, f, 5])
            lev = bal[p, f, DEBT] / assets if assets > 1.0 else 5.0
            base = bs + s.shock_credit[t, f]
            rate = base + sc[SPL] * min(max(lev, 0.0), 5.0) + sc[STRESS_SPREAD] * stress
            mkt[2, f] = sc[MAX_DEBT_REV] * 4.0 * revenue_q[f]
            mkt[3, f] = max(rate, 0.0)
            mkt[4, f] = max(base, 0.0) + 0.0 * stress
        # maturing debt is refinanced by outside lenders
        for f in range(F):
            f1[f] = 0.0
        for k in range(n_ln):
            f1[s.payee[s.ln[k]]] += maturing[k]
        tot = 0.0
        for f in range(F):
            rl = (w_sched[f] + f1[f]) * roll_share
            roll[f] = rl
            _post(bal, f, p, rl, CASH, DEBT)
            tot += rl
        a.world_cash[p] -= tot
        for f in range(F):
            _add_world_debt(a, f, p, roll[f], mkt[3, f])
            o.raised[p, f, 1] = roll[f]
            for i in (0, 2, 3, 4):
                o.raised[p, f, i] = 0.0

        # 3b. take-or-pay flex, then backstop calls
        if sc[HAS_FLEX] > 0:
            gap, flex_f = f1, f2
            for f in range(F):
                xx = bal[p, f, CASH] + inn[f] - out[f] - (opex[f] + w_int[f] + w_prin[f])
                gap[f] = max(s.min_cash[f] - xx, 0.0) * (1.0 if a.alive[p, f] else 0.0)
                flex_f[f] = 0.0
            for k in range(n_cc):
                flexible[k] = A[g[G_CC] + k] * (1.0 - s.cc_take_or_pay[k])
                flex_f[s.payer[s.cc[k]]] += flexible[k]
            for f in range(F):
                gap[f] = min(gap[f], flex_f[f]) / flex_f[f] if flex_f[f] > 0 else 0.0
            for f in range(F):
                w[0, f] = 0.0
                w[1, f] = 0.0
            for k in range(n_cc):
                c = s.cc[k]
                less = flexible[k] * gap[s.payer[c]]
                A[g[G_CC] + k] -= less
                w[0, s.payer[c]] += less
                w[1, s.payee[c]] += less
            for f in range(F):
                out[f] = out[f] - w[0, f]
                inn[f] = inn[f] - w[1, f]
        if n_bk:
            for f in range(F):
                w[0, f] = 0.0
                w[1, f] = 0.0
            for b in range(n_bk):
                i = s.bk[b]
                j = s.bk_covers[b]
                if j >= 0:
                    cj = s.cc[j]
                    base = (1.0 if (a.live[p, cj] or a.stranded[p, j] > 0) else 0.0) * s.sched[cj, t]
                    gotu = A[g[G_CC] + j] + rerent_cc[j]
                else:
                    base = 0.0
                    gotu = 0.0
                    for k in range(n_cc):
                        ck = s.cc[k]
                        if s.payee[ck] == s.payee[i]:
                            base += (1.0 if (a.live[p, ck] or a.stranded[p, k] > 0) else 0.0) \
                                * s.sched[ck, t]
                            gotu += A[g[G_CC] + k] + rerent_cc[k]
                gp = max(s.bk_threshold[b] * base - gotu, 0.0)
                active = a.live[p, i] and s.bk_start[b] <= t and t <= s.bk_end[b]
                call = min(gp, a.bk_left[p, b]) * (1.0 if active else 0.0)
                A[g[G_BK] + b] = call
                w[0, s.payer[i]] += call
                w[1, s.payee[i]] += call
            for f in range(F):
                out[f] = out[f] + w[0, f]
                inn[f] = inn[f] + w[1, f]
        if n_cc or n_bk:
            for f in range(F):
                f1[f] = 0.0
            for e in range(E):
                pe = s.e_payee[e]
                if A[e] != 0.0 and s.e_commercial[e] and pe < F:
                    f1[pe] += A[e]
            for f in range(F):
                opex[f] = opex_out[f] + ratio[f] * f1[f] * (1.0 if a.alive[p, f] else 0.0)

        # 4. funding waterfall
        for f in range(F):
            ww_ = opex[f] + w_int[f] + w_prin[f]
            wo[f] = ww_
            xx = bal[p, f, CASH] + inn[f] - out[f] - ww_
            x[f] = xx
            if a.alive[p, f]:
                need[f] = max(s.min_cash[f] - xx, 0.0)
                deficit[f] = max(-xx, 0.0)
            else:
                need[f] = 0.0
                deficit[f] = 0.0
        _waterfall(s, a, p, F, need, deficit, mkt, got, sc, w)
        anyshort = False
        for f in range(F):
            for i in range(5):
                o.raised[p, f, i] += got[i, f]
            xx = x[f] + (got[0, f] + got[1, f] + got[2, f] + got[3, f] + got[4, f])
            sh = a.alive[p, f] and (xx < -(1e-9 * (out[f] + wo[f] + abs(bal[p, f, CASH])) + 1e-3))
            Dv[f] = sh
            anyshort = anyshort or sh
        for f in range(F):
            alive0[f] = 1.0 if a.alive[p, f] else 0.0
            rf[f] = 1.0
            w_accel[f] = 0.0
        anyD = False

        # 5. clearing and cascades
        if anyshort:
            for e in range(E):
                A0[e] = A[e]
            for i in range(5):
                for f in range(F):
                    raised_s[i, f] = 0.0
            for _round in range(F + 1):
                # _apply_default: the quarter's edges when the firms in Dv default
                for e in range(E):
                    A[e] = A0[e]
                for k in range(n_ln):
                    c = s.ln[k]
                    owes = Dv[s.payee[c]]
                    if owes:
                        A[g[G_DRAW] + k] = A[g[G_DRAW] + k] * 0.0
                    left = max(a.loan_out[p, k] - prin_sched[k], 0.0) * (1.0 if owes else 0.0)
                    sold = a.loan_sold[p, k]
                    A[g[G_ACC] + k] = left * (0.0 if sold else 1.0)
                    A[g[G_ACC_TWIN] + k] = left * (1.0 if sold else 0.0)
                for e_ in range(n_eq):
                    if Dv[s.payee[s.eq[e_]]]:
                        A[g[G_EQ] + e_] = A[g[G_EQ] + e_] * 0.0
                for k in range(n_cc):
                    c = s.cc[k]
                    value = s.remaining[c, t] * (1.0 if a.live[p, c] else 0.0)
                    A[g[G_PEN] + k] = s.cc_penalty[k] * value * (1.0 if Dv[s.payer[c]] else 0.0)
                for f in range(F):
                    world_cl[f] = opex_out[f] + w_int[f] + w_prin[f] + (1.0 if Dv[f] else 0.0) * max(
                        a.world_debt[p, f] - w_prin[f], 0.0)
                for f in range(F):
                    claims[f] = 0.0
                for e in range(E):
                    claims[s.e_payer[e]] += A[e]
                for f in range(F):
                    claims[f] = claims[f] + world_cl[f]
                # estate
                for f in range(F):
                    stakes_live[f] = 0.0
                for e_ in range(n_eq):
                    c = s.eq[e_]
                    stakes_live[s.payer[c]] += a.stake_val[p, e_] * (
                        1.0 if a.alive[p, s.payee[c]] else 0.0)
                for f in range(F):
                    estate[f] = (bal[p, f, CASH] + sc[ALPHA] * (bal[p, f, COMPUTE] + bal[p, f, OTHER]
                                                                + stakes_live[f])
                                 + sc[BETA] * bal[p, f, LOANS])
                # network: M[i, j] what j owes i, net of i's variable costs on it
                for i in range(F):
                    for j in range(F):
                        M[i, j] = 0.0
                for e in range(E):
                    pe, pa = s.e_payee[e], s.e_payer[e]
                    if pe < F and pa < F:
                        M[pe, pa] += A[e] * s.e_keep[e]
                _clear(M, estate, claims, Dv, sc[BETA], F, r, inflow, Dc, tmp)
                anyp = False
                for f in range(F):
                    cash = bal[p, f, CASH]
                    y = cash + inflow[f] - claims[f]
                    tol = 1e-9 * (claims[f] + abs(cash)) + 1e-3
                    pushed[f] = (not Dv[f]) and a.alive[p, f] and y < -tol
                    need[f] = -y if pushed[f] else 0.0
                    anyp = anyp or pushed[f]
                if not anyp:
                    break
                _waterfall(s, a, p, F, need, need, mkt, got, sc, w)
                for f in range(F):
                    for i in range(5):
                        raised_s[i, f] += got[i, f]
                    tg = got[0, f] + got[1, f] + got[2, f] + got[3, f] + got[4, f]
                    if pushed[f] and tg <= 0.0:
                        Dv[f] = True
            for f in range(F):
                for i in range(5):
                    o.raised[p, f, i] += raised_s[i, f]
                if Dv[f]:
                    w_accel[f] = max(a.world_debt[p, f] - w_prin[f], 0.0)
                rf[f] = r[f]
                anyD = anyD or Dv[f]
            for e in range(E):
                paid[e] = A[e] * r[s.e_payer[e]]
        else:
            for e in range(E):
                paid[e] = A[e]

        # post the payments (step._post_edges)
        _post_edges(s, a, p, t, F, paid, Dv, anyshort, w, v[27], v[28], legs, bought)
        for f in range(F):
            f1[f] = 0.0
        for e in range(E):
            pe = s.e_payee[e]
            if paid[e] != 0.0 and s.e_commercial[e] and pe < F:
                f1[pe] += paid[e]
        for f in range(F):
            got_loop[f] = f1[f]
        if anyshort:
            for f in range(F):
                opex[f] = opex_out[f] * rf[f] + ratio[f] * f1[f] * alive0[f]
        # pay the world (step._pay_world)
        tot = 0.0
        for f in range(F):
            amt = opex[f] + w_int[f] * rf[f] if anyshort else opex[f] + w_int[f]
            _post(bal, f, p, amt, EQUITY, CASH)
            tot += amt
        a.world_cash[p] += tot
        tot = 0.0
        for f in range(F):
            pr_ = (w_prin[f] + w_accel[f]) * rf[f] if anyshort else w_prin[f]
            _post(bal, f, p, pr_, DEBT, CASH)
            tot += pr_
            a.world_debt[p, f] = max(a.world_debt[p, f] - pr_, 0.0)
            a.loi_debt[p, f] = min(a.loi_debt[p, f], a.world_debt[p, f])
        a.world_cash[p] += tot
        if anyD:
            # losses on unpaid edges and world claims, then liquidation
            for e in range(E):
                m = s.e_mech[e]
                if m >= 0:
                    _loss(a, p, F, A[e] * (1.0 - r[s.e_payer[e]]), s.e_payee[e], s.e_payer[e], m)
            for f in range(F):
                wc = opex_out[f] + w_int[f] + w_prin[f] + w_accel[f]
                _loss(a, p, F, wc * (1.0 - r[f]), F, f, 0)
            for f in range(F):
                f2[f] = 0.0
            for e in range(E):
                pe = s.e_payee[e]
                if pe < F:
                    f2[pe] += paid[e] * s.e_keep[e]
            _settle(s, a, p, t, F, Dv, r, f2, sc, w, cmask, ctmp)
            for q in range(a.dep_change.shape[2]):
                for f in range(F):
                    if Dv[f]:
                        a.dep_change[p, f, q] = 0.0
        if n_eq:
            for i in range(n_it):
                if items_due[i]:
                    a.item_paid[p, i] = True

        # 6. valuation
        for f in range(F):
            a.dep_rate[p, f] = a.dep_rate[p, f] + a.dep_change[p, f, t]
            dd = max(min(a.dep_rate[p, f], bal[p, f, COMPUTE]), 0.0) * (
                1.0 if a.alive[p, f] else 0.0)
            dep[f] = dd
            _post(bal, f, p, dd, EQUITY, COMPUTE)
        _revalue(s, a, p, t, F, end, non_loop, rerent, got_loop, demand,
                 Dv, zprice, sc, v[29])
        _mark(s, a, p, t, F, w)

        # 7. milestones, warrant expiry
        if K:
            for kk in range(K):
                m = s.cond_metric[kk]
                fk = s.cond_firm[kk]
                if m == 2:
                    val = a.price[p, fk]
                elif m == 3:
                    val = 4.0 * end[fk]
                else:
                    val = 0.0
                    for j in range(s.gw_ptr[kk], s.gw_ptr[kk + 1]):
                        c = s.gw_c[j]
                        val += s.gw_w[j] * (a.cum_paid[p, c] * s.inv_amount[c])
                a.cond_ok[p, kk] = val >= s.cond_threshold[kk]
        if n_wt:
            for k in range(n_wt):
                met = True
                for j in range(s.wt_cptr[k], s.wt_cptr[k + 1]):
                    if not a.cond_ok[p, s.wt_cidx[j]]:
                        met = False
                        break
                wr = s.wt_warrant[k]
                ok = met and a.live[p, s.wr[wr]] and t <= s.wr_expiry[wr]
                if ok:
                    a.wt_vested[p, k] = True
            anyexp = False
            for k in range(n_wt):
                wr = s.wt_warrant[k]
                exp_ = s.wr_expiry[wr] == t and a.wt_vested[p, k] and a.wt_val[p, k] > 0
                w[3, k] = 1.0 if exp_ else 0.0
                anyexp = anyexp or exp_
            if anyexp:
                _exercise(s, a, p, w[3], F, w[4], w[5], w[6])
            for k in range(n_wt):
                if s.wr_expiry[s.wt_warrant[k]] == t:
                    a.wt_left[p, k] = 0.0
                    a.wt_val[p, k] = 0.0

        # 8. flows for the record
        for f in range(F):
            f1[f] = 0.0
            f2[f] = 0.0
        for k in range(n_ln):
            b_ = s.payee[s.ln[k]]
            f1[b_] += A[g[G_INT] + k] + A[g[G_INT_TWIN] + k]
            f2[b_] += prin_sched[k]
        for f in range(F):
            o.revenue_end[p, f] = end[f]
            o.revenue_loop[p, f] = got_loop[f]
            o.revenue_non_loop[p, f] = non_loop[f] + rerent[f]
            o.revenue_rerent[p, f] = rerent[f]
            o.opex[p, f] = opex[f]
            o.depreciation[p, f] = dep[f]
            o.interest_due[p, f] = f1[f] + w_int[f]
            o.principal_due[p, f] = f2[f] + w_prin[f]
            o.capex[p, f] = 0.0
            o.commitments_due[p, f] = 0.0
            o.paid_out_loop[p, f] = 0.0
            o.cash_change[p, f] = bal[p, f, CASH] - cash_start[f]
        for e in range(E):
            pa = s.e_payer[e]
            if s.e_capex_edge[e]:
                o.capex[p, pa] += paid[e]
            if s.e_committed[e]:
                o.commitments_due[p, pa] += A[e]
            if s.e_payee[e] < F:
                o.paid_out_loop[p, pa] += paid[e]
            o.A[p, e] = A[e]
            o.paid[p, e] = paid[e]
        o.world_cash_change[p] = a.world_cash[p] - world_start


@_jit_inline
def _post_edges(s: Any, a: Any, p: int, t: int, F: int, paid: Any, D: Any, has_default: bool,
                w: Any, life_amount: Any, tmp: Any, legs: Any, bought: Any) -> None:  # pragma: no cover
    """step._post_edges for one path: post every payment with both sides' other account.

    ``legs`` (2, 9, F + 1) and ``bought`` (E,) are scratch.
    """
    bal = a.bal
    E = paid.shape[0]
    g = s.g
    for acct in s.payer_accts:
        for f in range(F + 1):
            legs[0, acct, f] = 0.0
    for acct in s.payee_accts:
        for f in range(F + 1):
            legs[1, acct, f] = 0.0
    out_f = w[0]
    in_f = w[1]
    for f in range(F + 1):
        out_f[f] = 0.0
        in_f[f] = 0.0
    for e in range(E):
        x = paid[e]
        if x == 0.0:
            continue
        pa, pe = s.e_payer[e], s.e_payee[e]
        out_f[pa] += x
        in_f[pe] += x
        legs[0, s.e_payer_acct[e], pa] += x
        if pe < F:
            legs[1, s.e_payee_acct[e], pe] += x
    for f in range(F):
        bal[p, f, CASH] += in_f[f]
    for f in range(F):
        bal[p, f, CASH] -= out_f[f]
    a.world_cash[p] += in_f[F] - out_f[F]
    for acct in s.payer_accts:
        for f in range(F):
            if acct < DEBT:
                bal[p, f, acct] += legs[0, acct, f]
            else:
                bal[p, f, acct] -= legs[0, acct, f]
    for acct in s.payee_accts:
        for f in range(F):
            if acct < DEBT:
                bal[p, f, acct] -= legs[1, acct, f]
            else:
                bal[p, f, acct] += legs[1, acct, f]
    # a defaulter's payments for chips and build-out are claims for goods it will not get
    for e in range(E):
        bought[e] = paid[e]
    if has_default:
        for f in range(F):
            tmp[f] = 0.0
        anyc = False
        for e in range(E):
            if s.e_capex_edge[e] and D[s.e_payer[e]]:
                cl = paid[e]
                tmp[s.e_payer[e]] += cl
                bought[e] = paid[e] - cl
                anyc = anyc or cl != 0.0
        if anyc:
            for f in range(F):
                _post(bal, f, p, tmp[f], EQUITY, COMPUTE)
    n_cc, n_cp, n_eq, n_ln, n_bk = (s.cc.shape[0], s.cp.shape[0], s.eq.shape[0], s.ln.shape[0],
                                    s.bk.shape[0])
    if n_cc:
        for k in range(n_cc):
            a.cum_paid[p, s.cc[k]] += paid[g[G_CC] + k]
        for f in range(F):
            life_amount[f] = 0.0
        anys = False
        for e in range(E):
            if s.e_capex_only[e] and bought[e] != 0.0:
                life_amount[s.e_payer[e]] += bought[e]
                anys = True
        if anys:
            _add_vintage(s, a, p, t, life_amount, s.life0, 0.0)
    if n_cp:
        for k in range(n_cp):
            a.cum_paid[p, s.cp[k]] += paid[g[G_CP] + k]
        for gi in range(s.group_life.shape[0]):
            for f in range(F):
                life_amount[f] = 0.0
            anys = False
            for k in range(n_cp):
                if s.cp_group[k] == gi:
                    x = bought[g[G_CP] + k]
                    life_amount[s.payer[s.cp[k]]] += x
                    anys = anys or x != 0.0
            if anys:
                _add_vintage(s, a, p, t, life_amount, s.life0, s.group_life[gi])
    if n_eq:
        for e_ in range(n_eq):
            a.cum_paid[p, s.eq[e_]] += paid[g[G_EQ] + e_]
        # investees issue units for the tranches paid (step._issue_stakes)
        add_units = w[2]
        for f in range(F):
            add_units[f] = 0.0
        for e_ in range(n_eq):
            x = paid[g[G_EQ] + e_]
            if x == 0.0:
                continue
            c = s.eq[e_]
            tee = s.payee[c]
            pm = s.eq_post_money[e_]
            pre = a.mv[p, tee] if math.isnan(pm) else pm - x
            if not pre >= 1.0:
                pre = max(x, 1.0)
            nu = x * a.units[p, tee] / pre
            a.stake_units[p, e_] = a.stake_units[p, e_] + nu
            a.stake_val[p, e_] = a.stake_val[p, e_] + x
            add_units[tee] += nu
        for f in range(F):
            a.units[p, f] = a.units[p, f] + add_units[f]
    if n_ln:
        for k in range(n_ln):
            back = (paid[g[G_PRIN] + k] + paid[g[G_PRIN_TWIN] + k] + paid[g[G_ACC] + k]
                    + paid[g[G_ACC_TWIN] + k])
            draw = paid[g[G_DRAW] + k]
            a.loan_out[p, k] = max(a.loan_out[p, k] + draw - back, 0.0)
            a.cum_paid[p, s.ln[k]] += draw
    if n_bk:
        for b in range(n_bk):
            x = paid[g[G_BK] + b]
            a.bk_left[p, b] = a.bk_left[p, b] - x
            a.cum_paid[p, s.bk[b]] += x


@_jit_inline
def _revalue(s: Any, a: Any, p: int, t: int, F: int, end: Any, non_loop: Any, rerent: Any,
             got_loop: Any, demand: float, Dnew: Any, zprice: Any, sc: Any,
             tmp: Any) -> None:  # pragma: no cover
    """valuation.revalue for one path: sentiment, market values, share prices."""
    prev = a.demand_prev[p]
    has = demand > 0 and prev > 0
    g_dem = 4.0 * math.log(max(demand, 1.0) / max(prev, 1.0)) if has else 0.0
    a.demand_prev[p] = demand
    hit = 0.0
    for f in range(F):
        hit += s.core_weight[f] * (1.0 if Dnew[f] else 0.0)
    x = a.sentiment[p]
    x = x + sc[SENT_REVERSION] * (1.0 - x)
    x = x + sc[SENT_GROWTH] * ((g_dem - s.expectation[t]) if has else 0.0) / 4.0
    x = x - sc[SENT_DEFAULT] * hit
    x = min(max(x, sc[SENT_FLOOR]), 5.0)
    a.sentiment[p] = x
    pv = sc[PRICE_VOL]
    for f in range(F):
        se = s.shock_equity[t, f] * x
        a.sent_eff[p, f] = se
        revenue = end[f] + non_loop[f] + rerent[f] + got_loop[f]
        g_obs = 4.0 * math.log(max(revenue, 1.0) / max(a.rev_prev[p, f], 1.0))
        gh = a.ghat[p, f]
        gh = gh + 0.25 * (min(max(g_obs, -2.0), 4.0) - gh)
        a.ghat[p, f] = gh
        a.rev_prev[p, f] = revenue
        if pv > 0:
            if s.has_shares[f]:
                a.eta[p, f] = 0.9 * a.eta[p, f] + 0.5 * pv * zprice[p, f, t]
            else:
                a.eta[p, f] = 0.0
        mult = max(sc[REV_MULT] + sc[GROWTH_PREMIUM] * min(max(gh, -0.5), 1.5), 0.5)
        fundamental = mult * 4.0 * revenue
        market = (s.value_premium[f] + s.value_scale[f] * fundamental) * se * math.exp(a.eta[p, f])
        book = max(a.bal[p, f, EQUITY], 0.0)
        mv = book if s.by_book[f] else market
        if not a.alive[p, f]:
            mv = 0.0
        a.mv[p, f] = mv
        if s.has_shares[f] and a.alive[p, f]:
            u = a.units[p, f]
            a.price[p, f] = mv / u if u > 0 else 0.0
        else:
            a.price[p, f] = 0.0


@_jit_inline
def _mark(s: Any, a: Any, p: int, t: int, F: int, w: Any) -> None:  # pragma: no cover
    """valuation.mark for one path: stakes and vested warrants to the new values."""
    bal = a.bal
    n_eq, n_wt = s.eq.shape[0], s.wt_warrant.shape[0]
    if n_eq:
        x1 = w[0]
        for f in range(F):
            x1[f] = 0.0
        for e in range(n_eq):
            c = s.eq[e]
            tee = s.payee[c]
            old = a.stake_val[p, e]
            if a.alive[p, tee] and a.alive[p, s.payer[c]]:
                u = a.units[p, tee]
                new = (a.stake_units[p, e] / u if u > 0 else 0.0) * a.mv[p, tee]
            else:
                new = old
            x1[s.payer[c]] += new - old
            a.stake_val[p, e] = new
        for f in range(F):
            _post(bal, f, p, x1[f], STAKES, EQUITY)
    if n_wt:
        x1, x2 = w[0], w[1]
        for f in range(F):
            x1[f] = 0.0
            x2[f] = 0.0
        for k in range(n_wt):
            wr = s.wt_warrant[k]
            ww = s.wr[wr]
            issuer, holder = s.payer[ww], s.payee[ww]
            old = a.wt_val[p, k]
            if a.alive[p, issuer] and a.alive[p, holder] and t <= s.wr_expiry[wr]:
                new = a.wt_left[p, k] * (1.0 if a.wt_vested[p, k] else 0.0) * max(
                    a.price[p, issuer] - s.wr_strike[wr], 0.0)
            else:
                new = old
            x1[holder] += new - old
            x2[issuer] += new - old
            a.wt_val[p, k] = new
        for f in range(F):
            _post(bal, f, p, x1[f], WARRANTS, EQUITY)
        for f in range(F):
            _post(bal, f, p, x2[f], EQUITY, WLIAB)
