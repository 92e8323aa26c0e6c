"""The funding waterfall (DESIGN §2, step 4).

A firm whose cash after the quarter's scheduled flows would fall below its
buffer (``min_cash``) raises money, in this order, each source up to its
capacity:

1. **committed facility** — the undrawn part of ``credit_facility``, at base
   rate + spread;
2. **new borrowing** within collateral capacity: ``advance_compute`` × compute
   assets + ``advance_receivables`` × remaining binding receivables (compute
   and chip contracts owed to the firm) + ``advance_loi`` × the value of open
   letters of intent (and other undecided deals) in its favour, each advance
   rate scaled down by ``stress_response`` × system stress, and never above
   ``max_debt_to_revenue`` × annual revenue, less the debt it already has.
   The rate is base + spread + ``spread_per_leverage`` × debt/assets +
   ``stress_spread`` × stress + credit shocks. The share of the new loan that
   stands on open letters of intent is tracked (it is called if they lapse);
3. **equity issuance** — up to ``issuance_appetite`` × market value a quarter,
   sold to outside investors at the market price (existing holders are diluted);
4. **warrant exercise and sale** — vested in-the-money warrants, exercised
   (strike paid to the issuer, whose share count grows) and sold to the market;
5. **stake sales** — equity stakes in live firms sold to outside investors at
   ``stake_haircut`` below their marked value.

Decision: money is raised only by a firm that can close its gap (cash ≥ 0
after the quarter): nobody lends into a firm that fails this quarter anyway,
so a firm whose sources fall short raises nothing and defaults (its assets
are then liquidated in resolution). A firm that can reach zero but not its
buffer raises all it can.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from loopwatch.engine import _fused, _kernels
from loopwatch.engine.incidence import Sum
from loopwatch.engine.ledger import Account, Ledger, row_total
from loopwatch.engine.plan import Plan
from loopwatch.engine.state import State, kernel_index, owned
from loopwatch.engine.state import contiguous as _c

__all__ = [
    "Market",
    "Raised",
    "add_world_debt",
    "add_world_debt_reference",
    "exercise_warrants",
    "exercise_warrants_reference",
    "waterfall",
    "waterfall_reference",
]

F64 = NDArray[np.float64]

SOURCES = ("facility", "debt", "equity", "warrant", "stake_sale")


@dataclass
class Market:
    """Credit and equity conditions of one quarter, per firm and path.

    ``collateral`` (F, P) is lendable value after advance rates, ``loi_share``
    the part of it that stands on open conditional deals, ``debt_cap`` the
    revenue cap on total debt, ``new_rate`` / ``facility_rate`` annual rates.
    """

    collateral: F64
    loi_share: F64
    debt_cap: F64
    new_rate: F64
    facility_rate: F64


class LazyMarket:
    """:class:`Market` whose terms but the new-loan rate are worked out when read, for the
    firms asked for.

    The funding waterfall reads the terms on the firms that want money only
    (a few of them), the roll-over the new-loan rate where debt matures. The
    rate depends on cash and debt, which the roll-over changes next, so it is
    worked out for every firm at once, here; the other terms read the firms'
    compute assets, the contracts in force and the open deals, which do not
    change before the quarter's settlement, so they are worked out when first
    asked for (:meth:`rows`), with the same numbers as the whole market
    (:func:`~loopwatch.engine._kernels.market_reference`) would have given here.
    The full arrays (``collateral`` …) are there for any other reader, computed on
    first access. Read it before the quarter's settlement.
    """

    def __init__(self, plan: Plan, st: State, t: int, stress: F64, revenue_q: F64) -> None:
        self._plan, self._at, self._cr = plan, plan.at(t), plan.scenario.credit
        self._bal, self._live, self._open = st.ledger.bal, st.live, st.open
        self._stress, self._shock, self._revenue_q = stress, plan.shock_credit[t], revenue_q
        self.new_rate: F64 = _kernels.new_rate(st.ledger.bal, stress, self._shock, self._cr)

    def rows(self, R: NDArray[np.int64]) -> tuple[F64, F64, F64, F64, F64]:
        """Collateral, LOI share, debt cap, new-loan rate and facility rate of the firms
        ``R`` ((len(R), P) each)."""
        at, cr, k = self._at, self._cr, _kernels
        recv = k.masked_total(at.recv_sum, self._live, at.recv_rows, at.recv_value, targets=R)
        loi = k.masked_total(at.loi_sum, self._open, at.loi_rows, at.loi_value, cr.advance_loi,
                             targets=R)
        coll, share, cap, fac = k.market_rows(self._bal, recv, loi, self._stress, self._shock,
                                              cr, self._revenue_q, R)
        return coll, share, cap, self.new_rate[R], fac

    @cached_property
    def _full(self) -> tuple[F64, F64, F64, F64, F64]:
        return self.rows(np.arange(self._plan.F))

    @property
    def collateral(self) -> F64:
        return self._full[0]

    @property
    def loi_share(self) -> F64:
        return self._full[1]

    @property
    def debt_cap(self) -> F64:
        return self._full[2]

    @property
    def facility_rate(self) -> F64:
        return self._full[4]


Terms = Market | LazyMarket
"""The credit market's terms of a quarter, as the funding waterfall takes them."""


@dataclass
class Raised:
    """Money raised this quarter by source, USD (F, P) each."""

    facility: F64
    debt: F64
    equity: F64
    warrant: F64
    stake_sale: F64
    #: whether :meth:`add` has added anything into the arrays since they were made
    added: bool = False

    @classmethod
    def zeros(cls, F: int, P: int) -> Raised:
        z = [np.zeros((F, P)) for _ in SOURCES]
        return cls(z[0], z[1], z[2], z[3], z[4])

    def add(self, other: Raised) -> None:
        for name in SOURCES:
            getattr(self, name).__iadd__(getattr(other, name))
        self.added = True

    @property
    def total(self) -> F64:
        return self.facility + self.debt + self.equity + self.warrant + self.stake_sale


def _holder_inc(plan: Plan) -> tuple[Sum, Sum]:
    """Warrant tranche → holder and → issuer totals over the F + 1 accounts."""
    k = plan.wt_warrant
    return (plan.incidence(k, plan.payee[plan.wr], world=True),
            plan.incidence(k, plan.payer[plan.wr], world=True))


def waterfall(plan: Plan, st: State, need: F64, deficit: F64, mkt: Terms,
              out: F64 | None = None, dirty: NDArray[np.bool_] | None = None) -> Raised:
    """Raise up to ``need`` (F, P) for firms that can cover ``deficit`` (F, P); post it.

    Parameters
    ----------
    plan, st : Plan, State
    need : ndarray, shape (F, P)
        Money wanted (to reach the buffer), USD ≥ 0.
    deficit : ndarray, shape (F, P)
        Money needed to end the quarter with cash ≥ 0, USD ≥ 0 (≤ need).
    mkt : Market or LazyMarket
    out, dirty : ndarray, shape (5, F, P) and (F,) of bool, optional
        An array to return the result in, reused from quarter to quarter: a firm's rows
        may hold anything where ``dirty``, and must be zero elsewhere; ``dirty`` is
        updated to the rows that may now be nonzero. Without them, a fresh array. (A
        firm that wants nothing has zero rows: a reused array's are not written again.)

    Returns
    -------
    Raised
        What was raised, by source; everything is already posted to the ledger.

    Notes
    -----
    One compiled pass (:func:`~loopwatch.engine._fused.waterfall`) over the
    firms that want money on some path; the twin is
    :func:`waterfall_reference`.
    """
    led, eqm = st.ledger, plan.scenario.equity
    ix = kernel_index(plan)
    if out is None or dirty is None:
        out = np.empty((len(SOURCES), *st.alive.shape))  # (the kernel writes every cell)
        dirty = np.ones(plan.F, np.bool_)
    elif (out.shape != (len(SOURCES), *st.alive.shape) or out.dtype != np.float64
          or not out.flags.c_contiguous or dirty.shape != (plan.F,) or dirty.dtype != np.bool_):
        raise ValueError("out must be a C-contiguous float64 (5, F, P) array, dirty (F,) bool")
    need = _c(need)
    # the market terms of the firms that want money only (the kernel's rows, in firm order)
    R = _fused.rows_with_positive(need)
    if isinstance(mkt, LazyMarket):
        coll, share, cap, rate, fac = mkt.rows(R)
    else:
        coll, share, cap, rate, fac = (mkt.collateral[R], mkt.loi_share[R], mkt.debt_cap[R],
                                       mkt.new_rate[R], mkt.facility_rate[R])
    _fused.waterfall(
        need, _c(deficit), _c(st.alive, np.bool_), led.bal, led.world_cash,
        owned(st, "facility"), _c(coll), _c(cap), _c(st.mv),
        owned(st, "issued"), owned(st, "units"), float(eqm.issuance_appetite),
        1.0 - float(eqm.stake_haircut), owned(st, "world_debt"), owned(st, "world_rate"),
        owned(st, "loi_debt"), _c(fac), _c(rate), _c(share),
        ix.wt_holder, ix.wt_issuer, ix.wt_strike, owned(st, "wt_left"),
        _c(st.wt_vested, np.bool_), owned(st, "wt_val"), _c(st.price), ix.eq_payer,
        ix.eq_payee, owned(st, "stake_units"), owned(st, "stake_val"), out, dirty)
    return Raised(*out)


def moved_by_waterfall(plan: Plan, need: F64) -> NDArray[np.int64]:
    """The firms (sorted) whose cash :func:`waterfall` may change given ``need`` (F, P): those
    that want money on some path (they draw, borrow, issue, exercise and sell), and the
    issuers of warrants (an exercise pays them the strike). Every other firm raises
    nothing and keeps its cash."""
    wants = _fused.rows_with_positive(np.ascontiguousarray(need, np.float64))
    out: NDArray[np.int64] = np.union1d(wants, np.flatnonzero(plan.warrant_issuer))
    return out


def waterfall_reference(plan: Plan, st: State, need: F64, deficit: F64, mkt: Terms,
                        out: F64 | None = None,
                        dirty: NDArray[np.bool_] | None = None) -> Raised:
    """:func:`waterfall` in numpy (the twin; always fresh arrays: ``out`` and ``dirty`` are
    ignored)."""
    led, eqm = st.ledger, plan.scenario.equity
    P, F = st.P, plan.F
    want = need > 0
    if not want.any():
        return Raised.zeros(F, P)
    R = np.flatnonzero(want.any(axis=1))  # firms that want money on some path
    debt = led[Account.debt][R]
    cap_fac = st.facility[R]
    cap_debt = np.maximum(np.minimum(mkt.collateral[R], mkt.debt_cap[R]) - debt - cap_fac, 0.0)
    cap_eq = np.maximum(eqm.issuance_appetite * st.mv[R] - st.issued[R], 0.0)
    wt_holder, _ = _holder_inc(plan)
    wt_val = st.wt_val * st.alive[plan.payer[plan.wr[plan.wt_warrant]]]
    cap_wt_all = (wt_holder @ wt_val)[:F]
    eq_holder = plan.incidence(np.arange(len(plan.eq)), plan.payer[plan.eq])
    stake_live = st.stake_val * st.alive[plan.payee[plan.eq]]
    cap_stake_all = (1.0 - eqm.stake_haircut) * (eq_holder @ stake_live)
    caps = [cap_fac, cap_debt, cap_eq, cap_wt_all[R], cap_stake_all[R]]
    total = caps[0] + caps[1] + caps[2] + caps[3] + caps[4]
    feasible = want[R] & st.alive[R] & (total >= deficit[R] * (1.0 + 1e-12))
    left = np.where(feasible, np.minimum(need[R], total), 0.0)
    take = []
    for cap in caps:
        got = np.minimum(left, cap)
        full = np.zeros((F, P))
        full[R] = got
        take.append(full)
        left = left - got
    fac, new, eq, wt, stake = take
    cap_wt, cap_stake = cap_wt_all, cap_stake_all
    raised = Raised(fac, new, eq, wt, stake)

    # postings touch only the rows R of firms that want money (zero elsewhere, so the
    # same numbers as full-width postings at a fraction of the passes)
    if fac.any():
        got = fac[R]
        _from_world_rows(led, R, got, Account.debt)
        _add_world_debt_rows(st, R, got, mkt.facility_rate[R])
        st.facility[R] -= got
    if new.any():
        got = new[R]
        _from_world_rows(led, R, got, Account.debt)
        _add_world_debt_rows(st, R, got, mkt.new_rate[R])
        st.loi_debt[R] += got * mkt.loi_share[R]
    if eq.any():
        got = eq[R]
        _from_world_rows(led, R, got, Account.equity)
        mv = st.mv[R]
        price = np.where(mv > 0, mv / st.units[R], 1.0)
        st.units[R] += got / price
        st.issued[R] += got
    if wt.any():
        phi = np.divide(wt, cap_wt, out=np.zeros_like(wt), where=cap_wt > 0)
        frac = phi[plan.payee[plan.wr[plan.wt_warrant]]] * (wt_val > 0)
        exercise_warrants_reference(plan, st, frac)
    if stake.any():
        psi = np.divide(stake, cap_stake, out=np.zeros_like(stake), where=cap_stake > 0)
        frac = psi[plan.payer[plan.eq]] * (stake_live > 0)
        sold = frac * st.stake_val
        proceeds = (1.0 - eqm.stake_haircut) * sold
        led.from_world_reference(eq_holder @ proceeds, Account.stakes)
        led.post_reference(eq_holder @ (sold - proceeds), Account.equity, Account.stakes)
        st.stake_units = st.stake_units * (1.0 - frac)
        st.stake_val = st.stake_val - sold
    return raised


def exercise_warrants(plan: Plan, st: State, frac: F64) -> F64:
    """Exercise ``frac`` (n_wt, P) of each vested warrant tranche and sell the shares.

    The holder pays the strike to the issuer (whose share count grows) and
    sells the new shares to outside investors at the current price; both
    sides' warrant accounts are closed at the carrying value. Returns the
    holder's net proceeds per tranche (n_wt, P), USD. Compiled
    (:func:`~loopwatch.engine._fused.exercise`); the twin is
    :func:`exercise_warrants_reference`.
    """
    ix = kernel_index(plan)
    net: F64 = _fused.exercise(
        _c(frac), ix.wt_holder, ix.wt_issuer, ix.wt_strike, owned(st, "wt_left"),
        _c(st.wt_vested, np.bool_), owned(st, "wt_val"), _c(st.price), owned(st, "units"),
        st.ledger.bal, st.ledger.world_cash)
    return net


def exercise_warrants_reference(plan: Plan, st: State, frac: F64) -> F64:
    """:func:`exercise_warrants` in numpy (the twin)."""
    led = st.ledger
    F = plan.F
    wt_holder, wt_issuer = _holder_inc(plan)
    shares = frac * st.wt_left * st.wt_vested
    w = plan.wr[plan.wt_warrant]
    strike_cash = shares * plan.wr_strike[plan.wt_warrant][:, None]
    sale_cash = shares * st.price[plan.payer[w]]
    value = frac * st.wt_val
    led.transfer_reference(strike_cash, wt_holder, wt_issuer, Account.warrants, Account.equity)
    led.from_world_reference((wt_holder @ sale_cash)[:F], Account.warrants)
    led.post_reference((wt_issuer @ value)[:F], Account.warrant_liability, Account.equity)
    st.units = st.units + (wt_issuer @ shares)[:F]
    st.wt_left = st.wt_left - shares
    st.wt_val = st.wt_val - value
    return sale_cash - strike_cash


def _from_world_rows(led: Ledger, R: NDArray[np.int64], amount: F64, leg: Account) -> None:
    """:meth:`Ledger.from_world` of ``amount`` (len(R), P) to the firms ``R`` only.

    The world's total is summed row by row, as the kernel does (:func:`row_total`).
    """
    led.bal[Account.cash][R] += amount
    bal = led.bal[leg]
    bal[R] = (bal[R] + amount) if leg >= Account.debt else (bal[R] - amount)
    led.world_cash -= row_total(amount)


def _add_world_debt_rows(st: State, R: NDArray[np.int64], amount: F64, rate: F64) -> None:
    """:func:`add_world_debt` for the firms ``R`` only (``amount``, ``rate``: (len(R), P))."""
    debt = st.world_debt[R]
    total = debt + amount
    st.world_rate[R] = np.divide(debt * st.world_rate[R] + amount * rate, total,
                                 out=st.world_rate[R], where=(amount > 0) & (total > 0))
    st.world_debt[R] = total


def add_world_debt(st: State, amount: F64, rate: F64) -> None:
    """Add new world debt at ``rate``; the firm's rate becomes the balance-weighted average.

    Only where ``amount`` > 0: dividing by the same total is not exact in floating
    point, and a path's numbers must not depend on what other paths do.
    Compiled (:func:`~loopwatch.engine._fused.world_debt`, in place); the
    twin is :func:`add_world_debt_reference`.
    """
    debt = owned(st, "world_debt")
    _fused.world_debt(debt, owned(st, "world_rate"), _c(np.broadcast_to(amount, debt.shape)),
                      _c(np.broadcast_to(rate, debt.shape)))


def add_world_debt_reference(st: State, amount: F64, rate: F64) -> None:
    """:func:`add_world_debt` in numpy (the twin)."""
    total = st.world_debt + amount
    st.world_rate = np.divide(st.world_debt * st.world_rate + amount * rate, total,
                              out=st.world_rate.copy(), where=(amount > 0) & (total > 0))
    st.world_debt = total
