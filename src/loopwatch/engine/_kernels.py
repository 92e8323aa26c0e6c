"""Compiled single-pass kernels for the hot blocks of :mod:`loopwatch.engine.step`.

Each kernel computes, in one pass over ``(firm, path)`` arrays (entity outer,
path inner, so memory access stays contiguous), exactly the expressions of
the numpy block it replaces, in the same order of operations (numba without
``fastmath`` keeps IEEE semantics, so results agree to the last bit but for
transcendental functions). Every path is computed on its own, so results do
not depend on the chunk size. The numpy twin of each kernel is kept next to
it (``*_reference``) and ``tests/engine/test_kernels.py`` checks one against
the other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
from numba import njit
from numpy.typing import NDArray

from loopwatch.engine._fused import any_nonzero
from loopwatch.engine.incidence import Sum
from loopwatch.engine.ledger import Account, row_total
from loopwatch.engine.state import kernel_index

__all__ = [
    "backstop",
    "backstop_reference",
    "clear_paths",
    "flex",
    "flex_reference",
    "income",
    "income_reference",
    "market_reference",
    "market_rows",
    "masked_total",
    "masked_total_reference",
    "new_rate",
    "opex",
    "opex_reference",
    "pay",
    "pay_reference",
    "position",
    "position_reference",
    "resolve_calm",
    "schedule",
    "schedule_reference",
    "short",
    "short_reference",
    "world_debt_due",
    "world_debt_due_reference",
]

F64 = NDArray[np.float64]

_T = TypeVar("_T", bound=Callable[..., Any])


def _jit(fn: _T) -> _T:
    """``numba.njit``, cached on disk (typed for mypy)."""
    return cast(_T, njit(cache=True, nogil=True)(fn))




@_jit
def _new_rate(bal: Any, stress: Any, shock: Any, base_rate: float, spread: float, spl: float,
              stress_spread: float, out: Any) -> None:  # pragma: no cover
    F, P = out.shape
    bs = base_rate + spread
    for f in range(F):
        base = bs + shock[f]
        for p in range(P):
            assets = bal[0, f, p] + bal[1, f, p] + bal[2, f, p] + bal[3, f, p] \
                + bal[4, f, p] + bal[5, f, p]
            lev = bal[6, f, p] / assets if assets > 1.0 else 5.0
            lev = min(max(lev, 0.0), 5.0)
            r = base + spl * lev + stress_spread * stress[p]
            out[f, p] = max(r, 0.0)


def new_rate(bal: F64, stress: F64, shock: F64, cr: Any) -> F64:
    """The new-loan rate (F, P), annual: base rate + spread + the credit shock (``shock``
    (F,)), plus ``spread_per_leverage`` × debt / assets (clipped to [0, 5]) and
    ``stress_spread`` × ``stress`` (P,); at least 0. The term of the credit market that
    reads cash and debt (see :func:`market_reference`, the twin of both kernels)."""
    F, P = bal.shape[1:]
    out = np.empty((F, P))
    _new_rate(bal, np.ascontiguousarray(stress, dtype=np.float64).reshape(P),
              np.asarray(shock, float), cr.base_rate, cr.spread, cr.spread_per_leverage,
              cr.stress_spread, out)
    return out


@_jit
def _market_rows(bal: Any, recv: Any, parts_loi: Any, stress: Any, shock: Any,
                 adv_compute: float, adv_recv: float, resp: float, base_rate: float,
                 spread: float, debt_mult: float, revenue_q: Any, rows: Any, coll: Any,
                 loi_share: Any, debt_cap: Any, facility_rate: Any) -> None:  # pragma: no cover
    P = recv.shape[1]
    bs = base_rate + spread
    for i in range(rows.shape[0]):
        f = rows[i]
        fac = max(bs + shock[f], 0.0)
        for p in range(P):
            scale = max(1.0 - resp * stress[p], 0.0)
            pl = parts_loi[i, p]
            c = scale * (adv_compute * bal[1, f, p] + adv_recv * recv[i, p] + pl)
            coll[i, p] = c
            loi_share[i, p] = (scale * pl) / c if c > 0 else 0.0
            facility_rate[i, p] = fac + 0.0 * stress[p]
            debt_cap[i, p] = debt_mult * revenue_q[f, p]


def market_rows(bal: F64, recv: F64, parts_loi: F64, stress: F64, shock: F64, cr: Any,
                revenue_q: F64, rows: NDArray[np.int64]) -> tuple[F64, F64, F64, F64]:
    """Collateral, LOI share, debt cap and facility rate on the firms ``rows`` only ((n, P)
    each, row ``i`` firm ``rows[i]``): lendable value (compute assets, receivables
    ``recv`` and the LOI advance ``parts_loi``, given on those rows, at their advance
    rates, scaled down by ``stress``), the part of it on LOIs, ``max_debt_to_revenue``
    × annual revenue, and the facility rate (see :func:`market_reference`)."""
    n, P = len(rows), bal.shape[2]
    out = np.empty((4, n, P))
    _market_rows(bal, np.ascontiguousarray(recv, np.float64),
                 np.ascontiguousarray(parts_loi, np.float64),
                 np.ascontiguousarray(stress, dtype=np.float64).reshape(P),
                 np.asarray(shock, float), cr.advance_compute, cr.advance_receivables,
                 cr.stress_response, cr.base_rate, cr.spread, cr.max_debt_to_revenue * 4.0,
                 np.ascontiguousarray(revenue_q, np.float64),
                 np.ascontiguousarray(rows, np.int64), out[0], out[1], out[2], out[3])
    return out[0], out[1], out[2], out[3]


def market_reference(bal: F64, recv: F64, parts_loi: F64, stress: F64, shock: F64, cr: Any,
                     revenue_q: F64) -> tuple[F64, F64, F64, F64, F64]:
    """The credit market in numpy, every firm at once: collateral, LOI share, debt cap,
    new-loan rate and facility rate (F, P) each; the twin of :func:`new_rate` and
    :func:`market_rows`."""
    scale = np.maximum(1.0 - cr.stress_response * stress, 0.0)
    coll = scale * (cr.advance_compute * bal[1] + cr.advance_receivables * recv + parts_loi)
    loi_share = np.divide(scale * parts_loi, coll, out=np.zeros_like(coll), where=coll > 0)
    assets = bal[:6].sum(axis=0)
    lev = np.divide(bal[6], assets, out=np.full_like(assets, 5.0), where=assets > 1.0)
    base = cr.base_rate + cr.spread + shock[:, None]
    new_rate = base + cr.spread_per_leverage * np.clip(lev, 0.0, 5.0) + cr.stress_spread * stress
    return (coll, loi_share, cr.max_debt_to_revenue * 4.0 * revenue_q, np.maximum(new_rate, 0.0),
            np.maximum(base, 0.0) + 0.0 * stress)


@_jit
def _demand_growth(z: Any, corr: Any, phi: Any, vol: Any, mu: Any, sat: Any, x: Any,
                   level: Any, first: bool, x_new: Any, g4: Any) -> None:  # pragma: no cover
    D, P = x.shape
    for i in range(D):
        c, ph, v = corr[i], phi[i], vol[i]
        a, b = np.sqrt(c), np.sqrt(1.0 - c)
        k = np.sqrt(1.0 - ph * ph) * v
        m, s = mu[i], sat[i]
        for p in range(P):
            eps = a * z[0, p] + b * z[1 + i, p]
            if first:
                x_new[i, p] = v * eps
                continue
            xi = ph * x[i, p] + k * eps
            x_new[i, p] = xi
            g = m + xi
            room = min(max(1.0 - level[i, p] / s, 0.0), 1.0)
            if g > 0:
                g = g * room
            g4[i, p] = g / 4.0


@_jit
def _demand_out(level: Any, e: Any, first: bool, mult: Any, shock: Any, dem_mult: Any,
                alive: Any, dev: Any, level_new: Any, demand: Any,
                end: Any) -> None:  # pragma: no cover
    D, P = level.shape
    for i in range(D):
        m, sh, f = mult[i], shock[i], dev[i]
        for p in range(P):
            lv = level[i, p] if first else level[i, p] * e[i, p]
            level_new[i, p] = lv
            d = (lv * m) * sh
            if i == 0:
                demand[p] = d
            else:
                demand[p] += d
            end[f, p] = (((lv * dem_mult[i, p]) * sh) / 4.0) * (1.0 if alive[f, p] else 0.0)


def demand(z: F64, corr: F64, phi: F64, vol: F64, mu: F64, sat: F64, x: F64, level: F64,
           first: bool, mult: F64, shock: F64, dem_mult: F64, alive: NDArray[np.bool_],
           dev: NDArray[np.int64], end: F64) -> tuple[F64, F64, F64]:
    """End demand of the developers ``dev`` (D,) this quarter.

    ``z`` (1 + D, P) the quarter's shocks (common factor first), ``corr``, ``phi``,
    ``vol``, ``mu`` (this quarter's expected log growth), ``sat`` (D,) each
    developer's correlation, persistence, volatility, drift and saturation; ``x``
    (D, P) the growth deviation, ``level`` (D, P) the annual level. The first quarter
    only draws the deviation; later ones grow the level by ``exp(g / 4)`` (numpy's
    ``exp``, as the twin), growth slowed by the room left below saturation. Writes
    end revenue of a quarter (``level × dem_mult × shock / 4`` for live developers)
    into the rows ``dev`` of ``end`` (F, P); returns the new deviation, the new level
    and the scenario's demand (``Σ level × mult × shock``, (P,)).
    """
    D, P = x.shape
    c = np.ascontiguousarray
    x_new, g4 = np.empty((D, P)), np.empty((D, P))
    z, level = c(z, np.float64), c(level, np.float64)
    _demand_growth(z, c(corr, float), c(phi, float), c(vol, float), c(mu, float),
                   c(sat, float), c(x, np.float64), level, first, x_new, g4)
    if not first:
        np.exp(g4, out=g4)
    level_new, total = np.empty((D, P)), (np.empty(P) if D else np.zeros(P))
    _demand_out(level, g4, first, c(mult, float), c(shock, float), c(dem_mult, np.float64),
                alive, c(dev, np.int64), level_new, total, end)
    return x_new, level_new, total


def demand_reference(z: F64, corr: F64, phi: F64, vol: F64, mu: F64, sat: F64, x: F64,
                     level: F64, first: bool, mult: F64, shock: F64, dem_mult: F64,
                     alive: NDArray[np.bool_], dev: NDArray[np.int64],
                     end: F64) -> tuple[F64, F64, F64]:
    """The numpy twin of :func:`demand`."""
    corr = corr[:, None]
    eps = np.sqrt(corr) * z[:1] + np.sqrt(1.0 - corr) * z[1:]
    phi, vol = phi[:, None], vol[:, None]
    if first:
        x = vol * eps
    else:
        x = phi * x + np.sqrt(1.0 - phi**2) * vol * eps
        growth = mu[:, None] + x
        room = np.clip(1.0 - level / sat[:, None], 0.0, 1.0)
        growth = np.where(growth > 0, growth * room, growth)
        level = level * np.exp(growth / 4.0)
    shock = shock[:, None]
    total = row_total(level * mult[:, None] * shock)
    end[dev] = level * dem_mult * shock / 4.0 * alive[dev]
    return x, level, total


@_jit
def _world_debt_due(debt: Any, rate: Any, called: Any, ladder: Any, alive: Any, w_int: Any,
                    w_sched: Any, w_prin: Any) -> None:  # pragma: no cover
    F, P = debt.shape
    for f in range(F):
        lad = ladder[f]
        for p in range(P):
            a = 1.0 if alive[f, p] else 0.0
            d = debt[f, p]
            w_int[f, p] = d * rate[f, p] / 4.0 * a
            c = min(called[f, p], d)
            called[f, p] = 0.0  # (falls due now: nothing is left called)
            s = (d - c) * lad * a
            w_sched[f, p] = s
            w_prin[f, p] = s + c * a


def world_debt_due(debt: F64, rate: F64, called: F64, ladder: F64,
                   alive: NDArray[np.bool_]) -> tuple[F64, F64, F64]:
    """World-debt interest, scheduled principal and principal incl. called LOI credit (F, P).

    Called credit is part of world debt; the ladder (``ladder`` (F,), share a
    quarter) runs on the rest, so no dollar is repaid twice. ``called`` falls due
    now: it is zeroed in place.
    """
    out = np.empty((3, *debt.shape))
    _world_debt_due(debt, rate, called, np.asarray(ladder, float), alive, out[0], out[1], out[2])
    return out[0], out[1], out[2]


def world_debt_due_reference(debt: F64, rate: F64, called: F64, ladder: F64,
                             alive: NDArray[np.bool_]) -> tuple[F64, F64, F64]:
    """The numpy twin of :func:`world_debt_due`."""
    w_int = debt * rate / 4.0 * alive
    c = np.minimum(called, debt)
    w_sched = (debt - c) * ladder[:, None] * alive
    called[...] = 0.0
    return w_int, w_sched, w_sched + c * alive


@_jit
def _opex(fixed: Any, ratio: Any, end: Any, non_loop: Any, rerent: Any, loop_in: Any,
          alive: Any, revenue_q: Any, opex_out: Any, opex: Any) -> None:  # pragma: no cover
    F, P = end.shape
    for f in range(F):
        fx, r = fixed[f], ratio[f]
        for p in range(P):
            a = 1.0 if alive[f, p] else 0.0
            outside = end[f, p] + non_loop[f, p] + rerent[f, p]
            revenue_q[f, p] = outside + loop_in[f, p]
            o = (fx + r * outside) * a
            opex_out[f, p] = o
            opex[f, p] = o + r * loop_in[f, p] * a


def opex(fixed: F64, ratio: F64, end: F64, non_loop: F64, rerent: F64, loop_in: F64,
         alive: NDArray[np.bool_]) -> tuple[F64, F64, F64]:
    """The quarter's revenue due, operating costs but the variable cost of contract revenue,
    and all operating costs (F, P) each.

    ``fixed`` (F,) this quarter's fixed costs, ``ratio`` (F,) variable cost per
    dollar of revenue, ``loop_in`` (F, P) contract revenue due.
    """
    out = np.empty((3, *end.shape))
    _opex(np.asarray(fixed, float), np.asarray(ratio, float), end, non_loop, rerent,
          np.ascontiguousarray(loop_in), alive, out[0], out[1], out[2])
    return out[0], out[1], out[2]


def opex_reference(fixed: F64, ratio: F64, end: F64, non_loop: F64, rerent: F64, loop_in: F64,
                   alive: NDArray[np.bool_]) -> tuple[F64, F64, F64]:
    """The numpy twin of :func:`opex`."""
    outside = end + non_loop + rerent
    opex_out = (fixed[:, None] + ratio[:, None] * outside) * alive
    return outside + loop_in, opex_out, opex_out + ratio[:, None] * loop_in * alive


@_jit
def _position(cash: Any, inn: Any, out: Any, opex: Any, w_int: Any, w_prin: Any,
              min_cash: Any, alive: Any, x: Any, wo: Any, need: Any,
              deficit: Any, short0: Any) -> None:  # pragma: no cover
    F, P = cash.shape
    flag = short0.shape[0] > 0
    for f in range(F):
        mc = min_cash[f]
        for p in range(P):
            w = opex[f, p] + w_int[f, p] + w_prin[f, p]
            wo[f, p] = w
            v = cash[f, p] + inn[f, p] - out[f, p] - w
            x[f, p] = v
            if alive[f, p]:
                need[f, p] = max(mc - v, 0.0)
                deficit[f, p] = max(-v, 0.0)
            else:
                need[f, p] = 0.0
                deficit[f, p] = 0.0
            if flag:  # ``_short`` with nothing raised and this cash
                short0[f, p] = alive[f, p] and (v < -(1e-9 * (out[f, p] + w
                                                               + abs(cash[f, p])) + 1e-3))


def position(cash: F64, inn: F64, out: F64, opex: F64, w_int: F64, w_prin: F64,
             min_cash: F64, alive: NDArray[np.bool_], short0: NDArray[np.bool_] | None = None
             ) -> tuple[F64, F64, F64, F64]:
    """Cash after the quarter's flows ``x``, what is owed the world ``wo``, and the money
    wanted (to the buffer ``min_cash`` (F,)) and needed (to zero) by live firms (F, P) each.

    ``short0`` (F, P), if given, gets :func:`short` of a firm that raises nothing
    and whose cash stays ``cash``: the shortfall of every firm the funding
    waterfall leaves alone (see :func:`short`).
    """
    res = np.empty((4, *cash.shape))
    flags = np.empty((0, 0), np.bool_) if short0 is None else short0
    _position(cash, np.ascontiguousarray(inn), np.ascontiguousarray(out), opex, w_int, w_prin,
              np.asarray(min_cash, float), alive, res[0], res[1], res[2], res[3], flags)
    return res[0], res[1], res[2], res[3]


def position_reference(cash: F64, inn: F64, out: F64, opex: F64, w_int: F64, w_prin: F64,
                       min_cash: F64, alive: NDArray[np.bool_],
                       short0: NDArray[np.bool_] | None = None) -> tuple[F64, F64, F64, F64]:
    """The numpy twin of :func:`position`."""
    wo = opex + w_int + w_prin
    x = cash + inn - out - wo
    need = np.where(alive, np.maximum(min_cash[:, None] - x, 0.0), 0.0)
    if short0 is not None:
        short0[...] = alive & (x < -(1e-9 * (out + wo + np.abs(cash)) + 1e-3))
    return x, wo, need, np.where(alive, np.maximum(-x, 0.0), 0.0)


@_jit
def _income(nlq: Any, ai: Any, sent_eff: Any, shock_nl: Any, alive: Any, end: Any,
            stranded: Any, sched_cc: Any, cloud: Any, price: Any, any_stranded: bool,
            non_loop: Any, rerent_cc: Any, rerent: Any, loss: Any, total: Any, post: bool,
            cash: Any, equity: Any, world: Any) -> None:  # pragma: no cover
    F, P = alive.shape
    for f in range(F):
        a, lo, sh = nlq[f], 1.0 - ai[f], shock_nl[f]
        for p in range(P):
            non_loop[f, p] = (a * (lo + (ai[f] * sent_eff[f, p]) * sh)) * (
                1.0 if alive[f, p] else 0.0)
            rerent[f, p] = 0.0
    for k in range(cloud.shape[0]):
        c, pr, s = cloud[k], price[k], sched_cc[k]
        for p in range(P):
            on = 1.0 if alive[c, p] else 0.0
            rr = (stranded[k, p] * on) * pr
            rerent_cc[k, p] = rr
            if any_stranded:
                loss[k, p] = max((stranded[k, p] * s) * on - rr, 0.0)
                rerent[c, p] += rr  # from 0.0, commitments in order (as the sparse total)
    for f in range(F):
        for p in range(P):
            total[f, p] = (end[f, p] + non_loop[f, p]) + rerent[f, p]
    if post and F:  # ``Ledger.from_world(total, equity)``: the same operations
        tot = total[0].copy()
        for f in range(F):
            for p in range(P):
                a = total[f, p]
                cash[f, p] += 1.0 * a
                equity[f, p] += 1.0 * a
                if f:
                    tot[p] += a
        for p in range(P):
            world[p] += -1.0 * tot[p]


def income(nlq: F64, ai: F64, sent_eff: F64, shock_nl: F64, alive: NDArray[np.bool_], end: F64,
           stranded: F64, sched_cc: F64, cloud: NDArray[np.int64], price: F64,
           ledger: Any = None) -> tuple[F64, F64, F64, F64 | None, F64]:
    """The quarter's income from outside the loop, per firm (F, P).

    Non-loop revenue (``nlq`` (F,) a quarter's, its AI share ``ai`` scaled by
    ``sent_eff`` (F, P) and the scenario's ``shock_nl`` (F,)); re-rent revenue of
    stranded capacity (``stranded`` (n_cc, P) at ``price`` (n_cc,) a unit, to the
    commitment's ``cloud``) per commitment and per firm; the loss of stranded
    capacity (its value ``sched_cc`` (n_cc,) less its re-rent, ``None`` when
    nothing is stranded); and ``end + non_loop + rerent``, all for live firms.
    Returns ``(non_loop, rerent_cc, rerent, loss, total)``. With a ``ledger``
    (:class:`~loopwatch.engine.ledger.Ledger`), the world pays each firm its total
    (``ledger.from_world(total, equity)``) in the same pass.
    """
    F, P = alive.shape
    n = len(cloud)
    any_stranded = bool(n and any_nonzero(np.ascontiguousarray(stranded, np.float64)))
    non_loop, rerent, total = np.empty((F, P)), np.empty((F, P)), np.empty((F, P))
    rerent_cc, loss = np.empty((n, P)), np.empty((n if any_stranded else 0, P))
    c = np.ascontiguousarray
    _income(c(nlq, float), c(ai, float), c(sent_eff, float), c(shock_nl, float),
            c(alive, np.bool_), c(end, float), c(stranded, float), c(sched_cc, float),
            c(cloud, np.int64), c(price, float), any_stranded, non_loop, rerent_cc, rerent, loss,
            total, ledger is not None, *((ledger.bal[Account.cash], ledger.bal[Account.equity],
                                          ledger.world_cash)
                                         if ledger is not None
                                         else (np.empty((0, 0)), np.empty((0, 0)), np.empty(0))))
    return non_loop, rerent_cc, rerent, (loss if any_stranded else None), total


def income_reference(nlq: F64, ai: F64, sent_eff: F64, shock_nl: F64,
                     alive: NDArray[np.bool_], end: F64, stranded: F64, sched_cc: F64,
                     cloud: NDArray[np.int64], price: F64, ledger: Any = None
                     ) -> tuple[F64, F64, F64, F64 | None, F64]:
    """The numpy twin of :func:`income`."""
    F, P = alive.shape
    non_loop = nlq[:, None] * ((1.0 - ai[:, None]) + ai[:, None] * sent_eff
                               * shock_nl[:, None]) * alive
    rerent_cc = stranded * alive[cloud] * price[:, None]
    rerent, loss = np.zeros((F, P)), None
    if len(cloud) and stranded.any():
        base = stranded * sched_cc[:, None] * alive[cloud]
        rerent = _total(cloud, rerent_cc, F)
        loss = np.maximum(base - rerent_cc, 0.0)
    total = end + non_loop + rerent
    if ledger is not None:
        ledger.from_world_reference(total, Account.equity)
    return non_loop, rerent_cc, rerent, loss, total


@_jit
def _backstop(live: Any, stranded: Any, sched_t: Any, a_cc: Any, rerent_cc: Any, cc: Any,
              ptr: Any, idx: Any, threshold: Any, active: Any, left: Any, bk_live: Any,
              residual: Any, opened: Any, out: Any) -> None:  # pragma: no cover
    P = a_cc.shape[1]
    for k in range(ptr.shape[0] - 1):
        if not active[k]:
            continue
        lo, hi, th, rv = ptr[k], ptr[k + 1], threshold[k], residual[k]
        for p in range(P):
            base, got = 0.0, 0.0
            for m in range(lo, hi):  # the covered commitments, summed in order
                j = idx[m]
                on = live[cc[j], p] or stranded[j, p] > 0 or (rv and not opened[cc[j], p])
                cap = (1.0 if on else 0.0) * sched_t[j]
                used = a_cc[j, p] + rerent_cc[j, p]
                if m == lo:
                    base, got = cap, used
                else:
                    base += cap
                    got += used
            gap = max(th * base - got, 0.0)
            out[k, p] = min(gap, left[k, p]) * (1.0 if bk_live[k, p] else 0.0)


def _covered(covers: NDArray[np.int64], beneficiary: NDArray[np.int64],
             cc_payee: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The commitments each backstop covers, as (ptr, idx): one, or all of its beneficiary's.

    The same book asks the same question every quarter: answers are kept (read-only) by
    the inputs' values.
    """
    c, b, pay = (np.ascontiguousarray(x, np.int64) for x in (covers, beneficiary, cc_payee))
    key = (c.tobytes(), b.tobytes(), pay.tobytes())
    hit = _COVERED.get(key)
    if hit is None:
        if len(_COVERED) > 256:
            _COVERED.clear()
        hit = _COVERED[key] = _covered_lists(c, b, pay)
    return hit


_COVERED: dict[tuple[bytes, bytes, bytes], tuple[NDArray[np.int64], NDArray[np.int64]]] = {}


def _covered_lists(covers: NDArray[np.int64], beneficiary: NDArray[np.int64],
                   cc_payee: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    parts = [np.array([j]) if j >= 0 else np.flatnonzero(cc_payee == b)
             for j, b in zip(covers, beneficiary, strict=True)]
    ptr = np.zeros(len(parts) + 1, np.int64)
    ptr[1:] = np.cumsum([len(x) for x in parts])
    idx = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
    ptr.flags.writeable = idx.flags.writeable = False
    return ptr, idx


def backstop(live: NDArray[np.bool_], stranded: F64, sched_t: F64, a_cc: F64, rerent_cc: F64,
             cc: NDArray[np.int64], cc_payee: NDArray[np.int64], covers: NDArray[np.int64],
             beneficiary: NDArray[np.int64], threshold: F64, active: NDArray[np.bool_],
             left: F64, bk_live: NDArray[np.bool_], residual: NDArray[np.bool_],
             opened: NDArray[np.bool_]) -> F64:
    """What each backstop owes this quarter (n_bk, P): the shortfall below its threshold.

    A backstop covers one compute commitment (``covers`` its position in ``cc``) or,
    with ``covers`` −1, all of its ``beneficiary``'s commitments (payee ``cc_payee``).
    Its base is the covered capacity (``sched_t`` (n_cc,) on commitments ``live``
    (C, P) or ``stranded`` (n_cc, P)), what is used is what buyers pay (``a_cc``) and
    re-rent revenue; it owes ``threshold`` × base − used, at most ``left``, while
    ``active`` (in its window) and ``bk_live`` (its contract live). A ``residual``
    (n_bk,) backstop covers a conditional deal's capacity whether or not the deal
    converts: once it is no longer ``opened`` (C, P) — lapsed, or ended — its capacity
    counts as covered and unused (a residual value guarantee on a lease renewal).
    """
    n_bk, P = left.shape
    ptr, idx = _covered(covers, beneficiary, cc_payee)
    out = np.zeros((n_bk, P))
    _backstop(live, np.ascontiguousarray(stranded, np.float64), np.ascontiguousarray(sched_t, float),
              np.ascontiguousarray(a_cc), np.ascontiguousarray(rerent_cc, np.float64),
              np.ascontiguousarray(cc, np.int64), ptr, idx, np.ascontiguousarray(threshold, float),
              np.ascontiguousarray(active, np.bool_), np.ascontiguousarray(left, np.float64),
              np.ascontiguousarray(bk_live, np.bool_), np.ascontiguousarray(residual, np.bool_),
              np.ascontiguousarray(opened, np.bool_), out)
    return out


def backstop_reference(live: NDArray[np.bool_], stranded: F64, sched_t: F64, a_cc: F64,
                       rerent_cc: F64, cc: NDArray[np.int64], cc_payee: NDArray[np.int64],
                       covers: NDArray[np.int64], beneficiary: NDArray[np.int64],
                       threshold: F64, active: NDArray[np.bool_], left: F64,
                       bk_live: NDArray[np.bool_], residual: NDArray[np.bool_],
                       opened: NDArray[np.bool_]) -> F64:
    """The numpy twin of :func:`backstop`."""
    on = live[cc] | (stranded > 0)
    used = a_cc + rerent_cc
    out = np.zeros(left.shape)
    for k, j in enumerate(covers):
        # a residual backstop counts the capacity of deals no longer open, converted or not
        capacity = (on | (residual[k] & ~opened[cc])) * sched_t[:, None]
        if j >= 0:
            base, got = capacity[j], used[j]
        else:
            mine = cc_payee == beneficiary[k]
            base, got = capacity[mine].sum(axis=0), used[mine].sum(axis=0)
        gap = np.maximum(threshold[k] * base - got, 0.0)
        out[k] = np.minimum(gap, left[k]) * (bk_live[k] & active[k])
    return out


@_jit
def _revenue(end: Any, non_loop: Any, rerent: Any, loop: Any, out: Any) -> None:  # pragma: no cover
    F, P = end.shape
    for f in range(F):
        for p in range(P):
            out[f, p] = ((end[f, p] + non_loop[f, p]) + rerent[f, p]) + loop[f, p]


def revenue(end: F64, non_loop: F64, rerent: F64, loop: F64) -> F64:
    """A quarter's revenue (F, P): ``((end + non_loop) + rerent) + loop``, one pass."""
    c = np.ascontiguousarray
    out = np.empty(end.shape)
    _revenue(c(end, np.float64), c(non_loop, np.float64), c(rerent, np.float64),
             c(loop, np.float64), out)
    return out


def revenue_reference(end: F64, non_loop: F64, rerent: F64, loop: F64) -> F64:
    """The numpy twin of :func:`revenue`."""
    out = end + non_loop
    out += rerent
    out += loop
    return out


@_jit
def _contract_opex(due_in: Any, ratio: Any, alive: Any, base: Any) -> None:  # pragma: no cover
    F, P = due_in.shape
    for f in range(F):
        r = ratio[f]
        for p in range(P):
            due_in[f, p] = ((due_in[f, p] * r) * (1.0 if alive[f, p] else 0.0)) + base[f, p]


def contract_opex(due_in: F64, ratio: F64, alive: NDArray[np.bool_], base: F64) -> F64:
    """Operating costs (F, P) with the variable cost of contract revenue ``due_in``:
    ``due_in × ratio (F,) × alive + base``, in place in ``due_in`` (returned)."""
    _contract_opex(due_in, np.ascontiguousarray(ratio, np.float64), alive,
                   np.ascontiguousarray(base, np.float64))
    return due_in


def contract_opex_reference(due_in: F64, ratio: F64, alive: NDArray[np.bool_],
                            base: F64) -> F64:
    """The numpy twin of :func:`contract_opex` (in place as well)."""
    due_in *= ratio[:, None]
    due_in *= alive
    due_in += base
    return due_in


@_jit
def _opex_cols(opex: Any, base: Any, rf: Any, ratio: Any, paid: Any, alive: Any, cols: Any,
               indptr: Any, full: Any, data: Any) -> None:  # pragma: no cover
    for f in range(opex.shape[0]):
        a0, a1 = indptr[f], indptr[f + 1]
        r = ratio[f]
        for j in range(cols.shape[0]):
            p = cols[j]
            x = 0.0
            if a1 > a0:  # the row's entries in index order from 0.0 (``csr_matmul``)
                x = 0.0 + data[a0] * paid[full[a0], p]
                for jj in range(a0 + 1, a1):
                    x += data[jj] * paid[full[jj], p]
            opex[f, p] = base[f, p] * rf[f, p] + (r * x) * (1.0 if alive[f, p] else 0.0)


def opex_cols(opex: F64, base: F64, rf: F64, ratio: F64, paid: F64, alive: NDArray[np.bool_],
              cols: NDArray[np.int64], revenue: Sum, nz: NDArray[np.int64]) -> None:
    """Operating costs on the short paths ``cols`` as cleared, in place in ``opex`` (F, P).

    ``base × rf + ratio × (revenue @ paid) × alive`` on those columns: the
    fixed and revenue-linked costs ``base`` at the payer's clearing ratio
    ``rf``, plus the variable cost of the contract revenue actually received
    (``revenue`` the edges → payee map, over the rows ``nz`` of ``paid``).
    Reads only the columns ``cols`` of each input, and of ``paid`` only the
    rows the map reads.
    """
    indptr, full, data = revenue.csr_over(nz)
    c = np.ascontiguousarray
    _opex_cols(opex, c(base, np.float64), c(rf, np.float64), c(ratio, np.float64),
               c(paid, np.float64), c(alive, np.bool_), c(cols, np.int64), indptr, full, data)


def opex_cols_reference(opex: F64, base: F64, rf: F64, ratio: F64, paid: F64,
                        alive: NDArray[np.bool_], cols: NDArray[np.int64], revenue: Sum,
                        nz: NDArray[np.int64]) -> None:
    """The numpy twin of :func:`opex_cols`."""
    opex[:, cols] = (base[:, cols] * rf[:, cols] + ratio[:, None]
                     * revenue.over(np.ascontiguousarray(paid[:, cols]), nz)
                     * alive[:, cols])


@_jit
def _repay_loans(loan_out: Any, draw: Any, prin: Any, prin_tw: Any, acc: Any,
                 acc_tw: Any) -> None:  # pragma: no cover
    n, P = loan_out.shape
    for k in range(n):
        for p in range(P):
            back = ((prin[k, p] + prin_tw[k, p]) + acc[k, p]) + acc_tw[k, p]
            loan_out[k, p] = max((loan_out[k, p] + draw[k, p]) - back, 0.0)


def repay_loans(loan_out: F64, draw: F64, prin: F64, prin_tw: F64, acc: F64,
                acc_tw: F64) -> None:
    """Loan balances (n_ln, P) after this quarter's draws and repayments, in place:
    ``max(loan_out + draw − (principal + its twin + accelerated + its twin), 0)``."""
    c = np.ascontiguousarray
    _repay_loans(loan_out, c(draw), c(prin), c(prin_tw), c(acc), c(acc_tw))


def repay_loans_reference(loan_out: F64, draw: F64, prin: F64, prin_tw: F64, acc: F64,
                          acc_tw: F64) -> None:
    """The numpy twin of :func:`repay_loans`."""
    loan_out[...] = np.maximum(loan_out + draw - (prin + prin_tw + acc + acc_tw), 0.0)


@_jit
def _flag_rows(a: Any, lo: int, hi: int, filled: Any, every: bool,
               cols: Any) -> None:  # pragma: no cover
    P = a.shape[1]
    for e in range(lo, hi):
        if filled[e]:
            continue
        if every:
            for p in range(P):
                if a[e, p] != 0.0:  # (NaN too, as ``any``)
                    filled[e] = True
                    break
        else:
            for j in range(cols.shape[0]):
                if a[e, cols[j]] != 0.0:
                    filled[e] = True
                    break


def flag_rows(a: F64, rows: slice, filled: NDArray[np.bool_],
              cols: NDArray[np.int64] | None = None) -> None:
    """``filled[rows] |= a[rows].any(axis=1)`` in place, stopping at a row's first nonzero.

    With ``cols``, only those columns are read (the caller knows the rest of the rows
    ``rows`` are zero: e.g. written on those paths only).
    """
    _flag_rows(a, rows.start, rows.stop, filled, cols is None,
               np.zeros(0, np.int64) if cols is None else np.ascontiguousarray(cols, np.int64))


def flag_rows_reference(a: F64, rows: slice, filled: NDArray[np.bool_],
                        cols: NDArray[np.int64] | None = None) -> None:
    """The numpy twin of :func:`flag_rows`."""
    filled[rows] |= (a[rows] if cols is None else a[rows][:, cols]).any(axis=1)


@_jit
def _pay(A: Any, r: Any, payer: Any, rows: Any, paid: Any,
         dirty: Any) -> None:  # pragma: no cover
    # the rows ``rows`` (sorted) are written, the others zeroed where ``dirty`` (elsewhere
    # ``paid`` is zero already)
    E, P = A.shape
    k, n = 0, rows.shape[0]
    for e in range(E):
        if k < n and rows[k] == e:
            k += 1
            b = payer[e]
            for p in range(P):
                paid[e, p] = A[e, p] * r[b, p]
        elif dirty[e]:
            paid[e, :] = 0.0


def pay(A: F64, r: F64, payer: NDArray[np.int64], rows: NDArray[np.int64],
        out: F64 | None = None, dirty: NDArray[np.bool_] | None = None) -> F64:
    """What is paid on each edge (E, P): ``A`` at its payer's clearing ratio ``r`` (F + 1, P).

    Only the rows ``rows`` (sorted, unique) may carry anything (a superset is fine);
    the others are zeroed without reading ``A``. ``out``, if given, is written in place
    and returned: it may hold anything on the rows ``dirty`` (E,) and must be zero on
    the others.
    """
    if out is None:
        out = np.empty_like(A)  # (the kernel zeroes the rows outside ``rows``)
        dirty = np.ones(len(A), np.bool_)
    assert dirty is not None
    _pay(A, np.ascontiguousarray(r), np.ascontiguousarray(payer, np.int64),
         np.ascontiguousarray(rows, np.int64), out, np.ascontiguousarray(dirty, np.bool_))
    return out


def pay_reference(A: F64, r: F64, payer: NDArray[np.int64], rows: NDArray[np.int64],
                  out: F64 | None = None, dirty: NDArray[np.bool_] | None = None) -> F64:
    """The numpy twin of :func:`pay` (always a fresh array: ``out`` is ignored)."""
    paid = np.zeros_like(A)
    paid[rows] = A[rows] * r[payer[rows]]
    return paid


@_jit
def _short(x: Any, fac: Any, debt: Any, eq: Any, wt: Any, stake: Any, out: Any, wo: Any,
           cash: Any, alive: Any, rows: Any, res: Any) -> None:  # pragma: no cover
    P = x.shape[1]
    for i in range(rows.shape[0]):
        f = rows[i]
        for p in range(P):
            v = x[f, p] + (fac[f, p] + debt[f, p] + eq[f, p] + wt[f, p] + stake[f, p])
            res[f, p] = alive[f, p] and (v < -(1e-9 * (out[f, p] + wo[f, p]
                                                       + abs(cash[f, p])) + 1e-3))


def short(x: F64, raised: Any, out: F64, wo: F64, cash: F64, alive: NDArray[np.bool_],
          short0: NDArray[np.bool_] | None = None,
          rows: NDArray[np.int64] | None = None) -> NDArray[np.bool_]:
    """Live firms (F, P) still short of cash after raising ``raised`` (a ``Raised``).

    With ``short0`` from :func:`position` (the same ``x``, ``out``, ``wo``) and
    ``rows``, the firms whose cash or funding the waterfall may have changed
    (those that wanted money, and warrant issuers, paid the strike), only those
    rows are worked out: every other firm raised nothing and kept its cash, so
    its row of ``short0`` is its answer (``x + 0.0`` compares as ``x``).
    ``short0`` is updated in place and returned.
    """
    if short0 is None or rows is None:
        res = np.empty(x.shape, np.bool_)
        rows = np.arange(x.shape[0])
    else:
        res = short0
    _short(x, raised.facility, raised.debt, raised.equity, raised.warrant, raised.stake_sale,
           np.ascontiguousarray(out), wo, cash, alive, np.ascontiguousarray(rows, np.int64), res)
    return res


def short_reference(x: F64, raised: Any, out: F64, wo: F64, cash: F64,
                    alive: NDArray[np.bool_], short0: NDArray[np.bool_] | None = None,
                    rows: NDArray[np.int64] | None = None) -> NDArray[np.bool_]:
    """The numpy twin of :func:`short` (every row; ``short0`` and ``rows`` unused)."""
    x = x + raised.total
    res: NDArray[np.bool_] = alive & (x < -(1e-9 * (out + wo + np.abs(cash)) + 1e-3))
    return res


@_jit
def _flex(cash: Any, inn: Any, out: Any, opex: Any, w_int: Any, w_prin: Any, min_cash: Any,
          alive: Any, a_cc: Any, top: Any, cc_payer: Any, cc_payee: Any, items_due: Any,
          milestone: Any, amount: Any, it_payer: Any, it_payee: Any,
          items_cut: Any) -> None:  # pragma: no cover
    """The flex on the cells (firm, path) with a gap only (about one in ten).

    Everything off those cells is an exact zero in the twin (``items_cut``
    zero-filled by the caller, cuts and totals that take off nothing), so skipping
    it changes no bit. ``a_cc``, ``inn`` and ``out`` are cut in place.
    """
    F, P = cash.shape
    n_cc, n_it = a_cc.shape[0], items_due.shape[0]
    for i in range(n_it):  # (the other rows of ``items_cut`` are zero and stay so)
        if milestone[i]:
            items_cut[i, :] = 0.0
    gap = np.empty((F, P))
    for f in range(F):
        mc = min_cash[f]
        for p in range(P):
            x = cash[f, p] + inn[f, p] - out[f, p] - (opex[f, p] + w_int[f, p] + w_prin[f, p])
            gap[f, p] = max(mc - x, 0.0) * (1.0 if alive[f, p] else 0.0)
    # flexible payments by payer, on the cells with a gap (rows added in row order); the
    # totals below are zeroed only on the rows of firms that take part (``has_*``), the
    # others count as exact zeros
    has_fcc, has_fit = np.zeros(F, np.bool_), np.zeros(F, np.bool_)
    has_occ, has_icc = np.zeros(F, np.bool_), np.zeros(F, np.bool_)
    has_oit, has_iit = np.zeros(F, np.bool_), np.zeros(F, np.bool_)
    for k in range(n_cc):
        b, e = cc_payer[k], cc_payee[k]
        if 0 <= b < F:
            has_fcc[b] = has_occ[b] = True
            if 0 <= e < F:
                has_icc[e] = True
    for i in range(n_it):
        b, e = it_payer[i], it_payee[i]
        if 0 <= b < F and milestone[i]:
            has_fit[b] = has_oit[b] = True
            if 0 <= e < F:
                has_iit[e] = True
    f_cc, f_it = _rows_zeroed(has_fcc, P), _rows_zeroed(has_fit, P)
    for k in range(n_cc):
        b = cc_payer[k]
        if 0 <= b < F:
            share = 1.0 - top[k]
            for p in range(P):
                if gap[b, p] > 0:
                    f_cc[b, p] += a_cc[k, p] * share
    for i in range(n_it):
        b = it_payer[i]
        if 0 <= b < F and milestone[i]:
            amt = amount[i]
            for p in range(P):
                if gap[b, p] > 0 and items_due[i, p]:
                    f_it[b, p] += amt * 1.0
    cut = gap  # reuse: the share cut of each firm's flexible payments (0 off the gaps)
    for f in range(F):
        a_cc_, a_it_ = has_fcc[f], has_fit[f]
        for p in range(P):
            g = gap[f, p]
            if g > 0:
                ff = (f_cc[f, p] if a_cc_ else 0.0) + (f_it[f, p] if a_it_ else 0.0)
                cut[f, p] = min(g, ff) / ff if ff > 0 else 0.0
    o_cc, i_cc = _rows_zeroed(has_occ, P), _rows_zeroed(has_icc, P)
    for k in range(n_cc):
        b, e = cc_payer[k], cc_payee[k]
        if 0 <= b < F:
            share = 1.0 - top[k]
            for p in range(P):
                c = cut[b, p]
                if c > 0:
                    v = (a_cc[k, p] * share) * c
                    a_cc[k, p] = a_cc[k, p] - v
                    o_cc[b, p] += v
                    if 0 <= e < F:
                        i_cc[e, p] += v
    o_it, i_it = _rows_zeroed(has_oit, P), _rows_zeroed(has_iit, P)
    for i in range(n_it):
        b, e = it_payer[i], it_payee[i]
        if 0 <= b < F and milestone[i]:
            amt = amount[i]
            for p in range(P):
                c = cut[b, p]
                if c > 0 and items_due[i, p]:
                    v = (amt * 1.0) * c
                    items_cut[i, p] = v
                    o_it[b, p] += v
                    if 0 <= e < F:
                        i_it[e, p] += v
    # (rows with no cut are left alone: ``x − 0.0 − 0.0`` is ``x``)
    for f in range(F):
        h1, h2, h3, h4 = has_occ[f], has_oit[f], has_icc[f], has_iit[f]
        if h1 or h2:
            for p in range(P):
                out[f, p] = (out[f, p] - (o_cc[f, p] if h1 else 0.0)) - (
                    o_it[f, p] if h2 else 0.0)
        if h3 or h4:
            for p in range(P):
                inn[f, p] = (inn[f, p] - (i_cc[f, p] if h3 else 0.0)) - (
                    i_it[f, p] if h4 else 0.0)


@_jit
def _rows_zeroed(has: Any, P: int) -> Any:  # pragma: no cover
    """An uninitialised (F, P) array whose rows ``has`` are zero (the others are not read)."""
    out = np.empty((has.shape[0], P))
    for f in range(has.shape[0]):
        if has[f]:
            out[f, :] = 0.0
    return out


def flex(cash: F64, inn: F64, out: F64, opex: F64, w_int: F64, w_prin: F64, min_cash: F64,
         alive: NDArray[np.bool_], a_cc: F64, top: F64, cc_payer: NDArray[np.int64],
         cc_payee: NDArray[np.int64], items_due: NDArray[np.bool_],
         milestone: NDArray[np.bool_], amount: F64, it_payer: NDArray[np.int64],
         it_payee: NDArray[np.int64], items_cut: F64 | None = None) -> F64:
    """The take-or-pay and milestone flex of buyers short of cash, pro rata.

    A live firm whose cash after the quarter's flows falls below ``min_cash``
    (F,) cuts the flexible part of its compute commitments (``a_cc`` (n_cc, P)
    due, ``1 − top`` flexible) and its milestone equity tranches due
    (``items_due`` & ``milestone``, ``amount`` each) by the same share, at most
    all of them. ``a_cc`` (what is due on each commitment), ``out`` and ``inn``
    (F, P) (the firms' payments out and receipts in) are cut in place (C-contiguous
    float arrays, e.g. rows of the edge array); returns what is cut from each tranche
    (n_items, P). Payers and payees outside ``[0, F)`` (the world) are not totalled.
    ``items_cut``: an array to return that in, reused from quarter to quarter (only
    milestone tranches are ever cut: its other rows must be zero, and stay so; the
    milestone rows are zeroed by the kernel); default a new one.
    """
    c = np.ascontiguousarray
    for x in (inn, out, a_cc):
        if x.dtype != np.float64 or not x.flags.c_contiguous or not x.flags.writeable:
            raise ValueError("flex cuts inn, out and a_cc in place: C-contiguous float64")
    if items_cut is None:
        items_cut = np.zeros((len(amount), cash.shape[1]))
    else:
        if (items_cut.dtype != np.float64 or not items_cut.flags.c_contiguous
                or items_cut.shape != (len(amount), cash.shape[1])):
            raise ValueError("items_cut must be a C-contiguous float64 (n_items, P) array")
    _flex(cash, inn, out, c(opex), c(w_int), c(w_prin), c(min_cash, np.float64), alive,
          a_cc, c(top, np.float64), c(cc_payer, np.int64), c(cc_payee, np.int64),
          c(items_due, np.bool_), c(milestone, np.bool_), c(amount, np.float64),
          c(it_payer, np.int64), c(it_payee, np.int64), items_cut)
    return items_cut


def _total(target: NDArray[np.int64], X: F64, n: int) -> F64:
    """Rows of ``X`` added into ``target`` (targets outside ``[0, n)`` dropped), in row order."""
    return Sum(np.asarray(target, np.int64), n) @ X


def flex_reference(cash: F64, inn: F64, out: F64, opex: F64, w_int: F64, w_prin: F64,
                   min_cash: F64, alive: NDArray[np.bool_], a_cc: F64, top: F64,
                   cc_payer: NDArray[np.int64], cc_payee: NDArray[np.int64],
                   items_due: NDArray[np.bool_], milestone: NDArray[np.bool_], amount: F64,
                   it_payer: NDArray[np.int64],
                   it_payee: NDArray[np.int64], items_cut: F64 | None = None) -> F64:
    """The numpy twin of :func:`flex` (cuts ``a_cc``, ``inn`` and ``out`` in place too;
    with ``items_cut``, returns the cuts in it)."""
    F = cash.shape[0]
    x = cash + inn - out - (opex + w_int + w_prin)
    gap = np.maximum(min_cash[:, None] - x, 0.0) * alive
    flexible = a_cc * (1.0 - top)[:, None]
    flex_items = (items_due & milestone[:, None]) * amount[:, None]
    flex_f = _total(cc_payer, flexible, F) + _total(it_payer, flex_items, F)
    cut = np.divide(np.minimum(gap, flex_f), flex_f, out=np.zeros_like(gap), where=flex_f > 0)
    cut_w = np.concatenate([cut, np.zeros((1, cut.shape[1]))])  # the world cuts nothing
    less = flexible * cut_w[np.where((cc_payer >= 0) & (cc_payer < F), cc_payer, F)]
    cuts: F64 = flex_items * cut_w[np.where((it_payer >= 0) & (it_payer < F), it_payer, F)]
    out[...] = out - _total(cc_payer, less, F) - _total(it_payer, cuts, F)
    inn[...] = inn - _total(cc_payee, less, F) - _total(it_payee, cuts, F)
    a_cc -= less
    if items_cut is not None:
        items_cut[...] = cuts
        return items_cut
    return cuts


@_jit
def _scheduled(A: Any, r: int, contracts: Any, sched: Any, live: Any, blank: Any,
               dirty: Any) -> None:  # pragma: no cover
    """Rows ``r + k`` of ``A``: this quarter's amount of contract ``contracts[k]`` where it is
    live; a zero amount marks the row ``blank`` (zeroed if ``dirty``)."""
    P = A.shape[1]
    for k in range(contracts.shape[0]):
        s, c = sched[k], contracts[k]
        if s == 0.0:
            blank[r + k] = True
            if dirty[r + k]:
                A[r + k, :] = 0.0
            continue
        for p in range(P):
            A[r + k, p] = s * (1.0 if live[c, p] else 0.0)


@_jit
def _schedule(A: Any, live: Any, alive: Any, g: Any, cc: Any, sched_cc: Any, cap_cc: Any,
              cap_amount: Any, vendor: Any, cp: Any, sched_cp: Any, item_due_now: Any,
              item_paid: Any, failing: Any, item_contract: Any, item_amount: Any, item_eq: Any,
              ln: Any, sched_ln: Any, borrower: Any, rate_q: Any, mat_now: Any, linear: Any,
              denom: Any, loan_out: Any, accel: Any, sold: Any, items_due: Any,
              prin_sched: Any, maturing: Any, rows: Any, filled: Any,
              dirty: Any) -> None:  # pragma: no cover
    F, P = alive.shape
    # ``A`` arrives with garbage on the rows ``dirty`` and zeros elsewhere: rows outside
    # the groups written here, the equity rows (items add into them) and the rows whose
    # amount is zero this quarter are zeroed where dirty (the last are not scanned for the
    # filled flags either); every other row is written in full below
    E = A.shape[0]
    for e in range(E):
        if dirty[e] and (e < rows[0] or e >= rows[1] or g[4] <= e < g[10]):
            A[e, :] = 0.0
    blank = np.zeros(E, np.bool_)
    _scheduled(A, g[0], cc, sched_cc, live, blank, dirty)  # compute commitments
    r, tw = g[1], g[2]  # build-out orders; their twins (a vendor that has failed: the world)
    for j in range(cap_cc.shape[0]):
        c, amt, v = cc[cap_cc[j]], cap_amount[j], vendor[j]
        if amt == 0.0:
            blank[r + j] = True
            if dirty[r + j]:
                A[r + j, :] = 0.0
            if v < F:
                blank[tw] = True
                if dirty[tw]:
                    A[tw, :] = 0.0
                tw += 1
            continue
        for p in range(P):
            cap = amt * (1.0 if live[c, p] else 0.0)
            if v < F:
                ok = alive[v, p]
                A[r + j, p] = cap * (1.0 if ok else 0.0)
                A[tw, p] = cap * (0.0 if ok else 1.0)
            else:
                A[r + j, p] = cap * 1.0
        if v < F:
            tw += 1
    _scheduled(A, g[3], cp, sched_cp, live, blank, dirty)  # chip purchases
    r = g[4]  # equity tranches: items due add into their contract's row, in item order
    for i in range(item_amount.shape[0]):
        c, e, amt, now = item_contract[i], item_eq[i], item_amount[i], item_due_now[i]
        for p in range(P):
            due = now and not item_paid[i, p] and failing[i, p] == 0 and live[c, p]
            items_due[i, p] = due
            A[r + e, p] += amt * (1.0 if due else 0.0)
    n = ln.shape[0]
    for k in range(n):  # loans: draws, interest, principal (each to the lender or its buyer)
        c, b, rq, s = ln[k], borrower[k], rate_q[k], sched_ln[k]
        if s == 0.0:
            blank[g[5] + k] = True
            if dirty[g[5] + k]:
                A[g[5] + k, :] = 0.0
        for p in range(P):
            if s != 0.0:
                A[g[5] + k, p] = s * (1.0 if live[c, p] else 0.0)
            owe = 1.0 if alive[b, p] else 0.0
            lo = loan_out[k, p]
            interest = lo * rq * owe
            if mat_now[k]:
                pr = lo * owe
            elif linear[k]:
                pr = (lo / denom[k]) * owe
            else:
                pr = 0.0 * owe
            if accel[k, p]:
                maturing[k, p] = 0.0
                pr = lo * owe
            else:
                maturing[k, p] = pr
            accel[k, p] = False
            prin_sched[k, p] = pr
            on = 0.0 if sold[k, p] else 1.0
            A[g[6] + k, p] = interest * on
            A[g[7] + k, p] = interest * (1.0 - on)
            A[g[8] + k, p] = pr * on
            A[g[9] + k, p] = pr * (1.0 - on)
    # the rows written that carry anything (a nonzero or NaN entry), early exit per row
    for e in range(rows[0], rows[1]):
        if blank[e]:
            continue
        for p in range(P):
            if A[e, p] != 0.0:
                filled[e] = True
                break


def schedule(n_edges: int, groups: Any, live: NDArray[np.bool_], alive: NDArray[np.bool_],
             cc: NDArray[np.int64], sched_cc: F64, cap_cc: NDArray[np.int64], cap_amount: F64,
             vendor: NDArray[np.int64], cp: NDArray[np.int64], sched_cp: F64,
             item_due_now: NDArray[np.bool_], item_paid: NDArray[np.bool_], failing: F64,
             item_contract: NDArray[np.int64], item_amount: F64, item_eq: NDArray[np.int64],
             ln: NDArray[np.int64], sched_ln: F64, borrower: NDArray[np.int64], rate_q: F64,
             mat_now: NDArray[np.bool_], linear: NDArray[np.bool_], denom: F64, loan_out: F64,
             accel: NDArray[np.bool_], sold: NDArray[np.bool_], out: F64 | None = None,
             dirty: NDArray[np.bool_] | None = None
             ) -> tuple[F64, NDArray[np.bool_], F64, F64, NDArray[np.bool_]]:
    """The quarter's scheduled payments on every edge (E, P), before any flex or default.

    Compute commitments, build-out orders (``cap_amount`` (n_capex,) for
    commitment ``cap_cc``, paid to ``vendor``, or to the world when the vendor
    has failed: the twin row), chip purchases, equity tranches due (their
    milestones met: ``failing`` (n_items, P) zero), loan draws, interest and
    principal (to the lender, or to the world when the loan was sold). Returns
    ``A``, the tranches due (n_items, P), the scheduled principal and the part
    of it that matures (refinanced like world debt) (n_ln, P), and which rows of ``A``
    carry anything (E,) (``A.any(axis=1)``). Clears ``accel`` (n_ln, P) in place: an
    accelerated loan's whole principal falls due now.

    ``out`` (E, P), if given, is written in place and returned as ``A``: it may hold
    anything on the rows ``dirty`` (E,) and must be zero on the others (last quarter's
    array, whose rows outside ``dirty`` carried nothing); those rows are not written
    again when they stay zero. Without it, a fresh array.
    """
    P = alive.shape[1]
    c = np.ascontiguousarray
    if out is None:
        A = np.empty((n_edges, P))  # (the kernel zeroes every row it does not write in full)
        dirty = np.ones(n_edges, np.bool_)
    else:
        A = out
        assert dirty is not None
    keys = ("cc", "capex", "capex_twin", "cp", "eq", "draw", "interest", "interest_twin",
            "principal", "principal_twin")
    g = np.array([groups[k].start for k in keys] + [groups["eq"].stop], np.int64)
    rows = np.array([min(groups[k].start for k in keys), max(groups[k].stop for k in keys)],
                    np.int64)  # the rows written
    items_due = np.empty((len(item_amount), P), np.bool_)
    prin_sched, maturing = np.empty((len(ln), P)), np.empty((len(ln), P))
    filled = np.zeros(n_edges, np.bool_)
    _schedule(A, live, alive, g, c(cc, np.int64), c(sched_cc, float), c(cap_cc, np.int64),
              c(cap_amount, float), c(vendor, np.int64), c(cp, np.int64), c(sched_cp, float),
              c(item_due_now, np.bool_), c(item_paid, np.bool_), c(failing, float),
              c(item_contract, np.int64), c(item_amount, float), c(item_eq, np.int64),
              c(ln, np.int64), c(sched_ln, float), c(borrower, np.int64), c(rate_q, float),
              c(mat_now, np.bool_), c(linear, np.bool_), c(denom, float), c(loan_out, float),
              accel, c(sold, np.bool_), items_due, prin_sched, maturing, rows, filled,
              c(dirty, np.bool_))
    return A, items_due, prin_sched, maturing, filled


def schedule_reference(n_edges: int, groups: Any, live: NDArray[np.bool_],
                       alive: NDArray[np.bool_], cc: NDArray[np.int64], sched_cc: F64,
                       cap_cc: NDArray[np.int64], cap_amount: F64, vendor: NDArray[np.int64],
                       cp: NDArray[np.int64], sched_cp: F64, item_due_now: NDArray[np.bool_],
                       item_paid: NDArray[np.bool_], failing: F64,
                       item_contract: NDArray[np.int64], item_amount: F64,
                       item_eq: NDArray[np.int64], ln: NDArray[np.int64], sched_ln: F64,
                       borrower: NDArray[np.int64], rate_q: F64, mat_now: NDArray[np.bool_],
                       linear: NDArray[np.bool_], denom: F64, loan_out: F64,
                       accel: NDArray[np.bool_], sold: NDArray[np.bool_], out: F64 | None = None,
                       dirty: NDArray[np.bool_] | None = None
                       ) -> tuple[F64, NDArray[np.bool_], F64, F64, NDArray[np.bool_]]:
    """The numpy twin of :func:`schedule` (always a fresh array: ``out`` is ignored)."""
    F, P = alive.shape
    g = groups
    A = np.zeros((n_edges, P))
    A[g["cc"]] = sched_cc[:, None] * live[cc]
    cap = cap_amount[:, None] * live[cc[cap_cc]]
    to_firm = vendor < F
    ok = np.ones((len(vendor), P), bool)
    ok[to_firm] = alive[vendor[to_firm]]
    A[g["capex"]] = cap * ok
    A[g["capex_twin"]] = (cap * ~ok)[to_firm]
    A[g["cp"]] = sched_cp[:, None] * live[cp]
    items_due = item_due_now[:, None] & ~item_paid & (failing == 0) & live[item_contract]
    n_eq = g["eq"].stop - g["eq"].start
    A[g["eq"]] = _total(item_eq, items_due * item_amount[:, None], n_eq)
    A[g["draw"]] = sched_ln[:, None] * live[ln]
    owing = alive[borrower]
    interest = loan_out * rate_q[:, None] * owing
    instal = loan_out / denom[:, None]
    prin = np.where(mat_now[:, None], loan_out, np.where(linear[:, None], instal, 0.0)) * owing
    maturing = np.where(accel, 0.0, prin)
    prin = np.where(accel, loan_out * owing, prin)
    accel &= False
    A[g["interest"]] = interest * ~sold
    A[g["interest_twin"]] = interest * sold
    A[g["principal"]] = prin * ~sold
    A[g["principal_twin"]] = prin * sold
    filled = cast(NDArray[np.bool_], A.any(axis=1))
    return A, items_due, prin, maturing, filled


@_jit
def _clear_path(Ak: Any, pk: Any, qk: Any, e: Any, c: Any, dflt: Any, beta: float, r: Any,
                inn: Any, s: int, D: Any, from_payers: Any, at: Any) -> bool:  # pragma: no cover
    """The greatest clearing vector on path (column) ``s`` of ``Ak``/``e``/``c``/``dflt``.

    Writes ``r[:, s]`` and the network inflow into ``inn`` (F,); ``D``,
    ``from_payers``, ``at`` (F,) are scratch. False if the system is singular.
    """
    F = e.shape[0]
    n = Ak.shape[0]
    short = 1.0 - 1e-12
    for i in range(F):
        inn[i] = 0.0
        r[i, s] = 1.0
    for k in range(n):
        inn[qk[k]] += Ak[k, s]
    for i in range(F):
        D[i] = dflt[i, s] and e[i, s] + inn[i] < c[i, s] * short
    for _ in range(F + 1):
        d = 0
        for i in range(F):
            if D[i]:
                at[i] = d
                d += 1
            else:
                at[i] = -1
        if d == 0:
            break
        # the system on the defaulters alone: c_i r_i − β Σ_{j∈D} M_ij r_j = e_i + β Σ_{j∉D} M_ij
        Mdd = np.zeros((d, d))
        for i in range(F):
            from_payers[i] = 0.0
        for k in range(n):
            a, b = at[qk[k]], at[pk[k]]
            if a >= 0 and b >= 0:
                Mdd[a, b] += Ak[k, s]
            from_payers[qk[k]] += Ak[k, s] * (0.0 if D[pk[k]] else 1.0)
        mat = np.empty((d, d))
        rhs = np.empty(d)
        for i in range(F):
            a = at[i]
            if a < 0:
                continue
            for b in range(d):
                mat[a, b] = c[i, s] * (1.0 if a == b else 0.0) - beta * Mdd[a, b]
            rhs[a] = e[i, s] + beta * from_payers[i]
        if d == 1:  # (LAPACK's LU solve of a 1 × 1 system is this division, bit for bit)
            if mat[0, 0] == 0.0:
                return False  # singular: the caller solves this batch in numpy
            x = rhs / mat[0, 0]
        else:
            try:
                x = np.linalg.solve(mat, rhs)
            except Exception:  # singular: the caller solves this batch in numpy
                return False
        for i in range(F):
            r[i, s] = 1.0 if at[i] < 0 else min(max(x[at[i]], 0.0), 1.0)
        for i in range(F):
            inn[i] = 0.0
        for k in range(n):
            inn[qk[k]] += Ak[k, s] * r[pk[k], s]
        grown = False
        for i in range(F):
            if not D[i] and dflt[i, s] and e[i, s] + inn[i] < c[i, s] * short:
                D[i] = True
                grown = True
        if not grown:
            break
    return True


@_jit
def _clear(Ak: Any, pk: Any, qk: Any, e: Any, c: Any, dflt: Any, beta: float, r: Any,
           inflow: Any) -> bool:  # pragma: no cover
    F, S = e.shape
    inn, D = np.zeros(F), np.zeros(F, np.bool_)
    from_payers, at = np.zeros(F), np.empty(F, np.int64)
    for s in range(S):
        if not _clear_path(Ak, pk, qk, e, c, dflt, beta, r, inn, s, D, from_payers, at):
            return False
        for i in range(F):
            inflow[i, s] = inn[i]
    return True


def clear_paths(Ak: F64, pk: NDArray[np.int64], qk: NDArray[np.int64], e: F64, c: F64,
                default: NDArray[np.bool_], beta: float) -> tuple[F64, F64] | None:
    """Greatest clearing vector, path by path, for β < 1 (see :func:`loopwatch.engine.resolution.clear`).

    ``Ak`` (n, S) the amounts on the edges between firms, ``pk``/``qk`` their
    payers and payees; returns ``r`` (F, S) and the network inflow (F, S), or
    ``None`` if some path's system is singular (the caller then uses the numpy
    twin, which solves such a path by least squares). Each path's system is
    solved on its own (LAPACK ``gesv``, as the twin's batched solve), so the
    result does not depend on the other paths.
    """
    F, S = e.shape
    r, inflow = np.empty((F, S)), np.empty((F, S))
    ok = _clear(np.ascontiguousarray(Ak, np.float64), np.ascontiguousarray(pk, np.int64),
                np.ascontiguousarray(qk, np.int64), np.ascontiguousarray(e, np.float64),
                np.ascontiguousarray(c, np.float64), np.ascontiguousarray(default, np.bool_),
                float(beta), r, inflow)
    return (r, inflow) if ok else None


@_jit
def _masked_total(indptr: Any, indices: Any, data: Any, mask: Any, rows: Any, weight: Any,
                  scale: float, targets: Any, out: Any) -> None:  # pragma: no cover
    n, P = out.shape
    for t in range(n):
        i = targets[t]
        row = out[t]
        a0, a1 = indptr[i], indptr[i + 1]
        if a0 == a1:
            for p in range(P):
                row[p] = scale * 0.0
            continue
        j = indices[a0]
        d, m, w = data[a0], mask[rows[j]], weight[j]
        for p in range(P):
            row[p] = 0.0 + d * ((1.0 if m[p] else 0.0) * w)
        for jj in range(a0 + 1, a1):
            j = indices[jj]
            d, m, w = data[jj], mask[rows[j]], weight[j]
            for p in range(P):
                row[p] += d * ((1.0 if m[p] else 0.0) * w)
        for p in range(P):
            row[p] = scale * row[p]


def masked_total(s: Sum, mask: NDArray[np.bool_], rows: NDArray[np.int64], weight: F64,
                 scale: float = 1.0, targets: NDArray[np.int64] | None = None) -> F64:
    """``scale × (s @ (mask[rows] × weight[:, None]))`` without building the (k, P) product.

    ``s`` totals ``k = len(rows)`` inputs; input ``j`` is row ``rows[j]`` of the
    flags ``mask`` (C, P) valued at ``weight[j]``. Used for the receivables still
    to come (live contracts × remaining value) and the LOI advance (open deals ×
    their value). With ``targets``, only those rows of the total ((len(targets), P),
    the same numbers).
    """
    indptr, indices, data = s.csr
    tg = np.arange(s.n) if targets is None else np.ascontiguousarray(targets, np.int64)
    out = np.empty((len(tg), mask.shape[1]))
    _masked_total(indptr, indices, data, mask, np.ascontiguousarray(rows, np.int64),
                  np.ascontiguousarray(weight, np.float64), float(scale), tg, out)
    return out


def masked_total_reference(s: Sum, mask: NDArray[np.bool_], rows: NDArray[np.int64],
                           weight: F64, scale: float = 1.0,
                           targets: NDArray[np.int64] | None = None) -> F64:
    """The numpy twin of :func:`masked_total`."""
    out: F64 = scale * (s @ (mask[rows] * weight[:, None]))
    return out if targets is None else out[targets]


@_jit
def _fmax(a: float, b: float) -> float:  # pragma: no cover
    """``np.maximum(a, b)`` for two floats: NaN if either is NaN."""
    return a if (a >= b or a != a) else b


@_jit
def _resolve_calm(cols: Any, short: Any, A: Any, opex: Any, w_int: Any, w_prin: Any,
                  prin_sched: Any, loan_out: Any, loan_sold: Any, live: Any, alive: Any,
                  world_debt: Any, cash: Any, compute: Any, other: Any, loans: Any,
                  stake_val: Any, g: Any, ln_payee: Any, eq_payer: Any, eq_payee: Any,
                  cc: Any, cc_payer: Any, cc_value: Any, cc_penalty: Any, e_payer: Any,
                  e_payee: Any, e_keep: Any, inside: Any, a_rec: float, b_rec: float,
                  beta: float, r_full: Any, D_full: Any, rounds: Any,
                  w_accel: Any, done: Any, rows: Any) -> None:  # pragma: no cover
    F = short.shape[0]
    E, S = A.shape[0], cols.shape[0]
    n_ln, n_eq, n_cc = ln_payee.shape[0], eq_payer.shape[0], cc.shape[0]
    # the edges that may carry anything: ``rows``, and the claims a default adds (accelerated
    # loans, cancellation penalties); the others are zero on every path and would add exact
    # zeros to the claims and the clearing's sums
    maybe = np.zeros(E, np.bool_)
    for i in range(rows.shape[0]):
        maybe[rows[i]] = True
    for k in range(n_ln):
        maybe[g[1] + k] = True
        maybe[g[2] + k] = True
    for k in range(n_cc):
        maybe[g[4] + k] = True
    k_in = np.flatnonzero(inside & maybe)
    n = k_in.shape[0]
    pk, qk = e_payer[k_in], e_payee[k_in]
    owed = np.flatnonzero(maybe & (e_payer < F))  # the edges whose payer is a firm
    Aloc = np.zeros((E, S))
    Ak = np.empty((n, S))
    est, claims = np.empty((F, S)), np.empty((F, S))
    r = np.empty((F, S))
    inn, Dsc, fp, at = np.zeros(F), np.zeros(F, np.bool_), np.zeros(F), np.empty(F, np.int64)
    # the columns ``cols`` of everything read, gathered first, row by row (each row's
    # entries in ascending order: a few pages and cache lines per row, not one per entry);
    # rows of ``A`` outside ``rows`` are zero: only ``rows`` are read, and only what the
    # defaults change is written back
    for i in range(rows.shape[0]):
        e = rows[i]
        for j in range(S):
            Aloc[e, j] = A[e, cols[j]]
    dflt = _take_b(short, cols)
    lo_c, ps_c, sold_c = _take(loan_out, cols), _take(prin_sched, cols), _take_b(loan_sold, cols)
    live_c = np.empty((n_cc, S), np.bool_)
    for k in range(n_cc):
        for j in range(S):
            live_c[k, j] = live[cc[k], cols[j]]
    opex_c, wi_c, wp_c = _take(opex, cols), _take(w_int, cols), _take(w_prin, cols)
    wd_c, cash_c, comp_c = _take(world_debt, cols), _take(cash, cols), _take(compute, cols)
    other_c, loans_c = _take(other, cols), _take(loans, cols)
    sv_c, alive_c = _take(stake_val, cols), _take_b(alive, cols)
    for j in range(S):
        # the defaulters' accelerated and cancelled claims (``_apply_default``)
        for k in range(n_ln):
            owes = dflt[ln_payee[k], j]
            Aloc[g[0] + k, j] *= 0.0 if owes else 1.0
            left = _fmax(lo_c[k, j] - ps_c[k, j], 0.0) * (1.0 if owes else 0.0)
            sold = sold_c[k, j]
            Aloc[g[1] + k, j] = left * (0.0 if sold else 1.0)
            Aloc[g[2] + k, j] = left * (1.0 if sold else 0.0)
        for i in range(n_eq):
            Aloc[g[3] + i, j] *= 0.0 if dflt[eq_payee[i], j] else 1.0
        for k in range(n_cc):
            value = cc_value[k] * (1.0 if live_c[k, j] else 0.0)
            Aloc[g[4] + k, j] = cc_penalty[k] * value * (1.0 if dflt[cc_payer[k], j] else 0.0)
        for f in range(F):
            claims[f, j] = 0.0
        for i in range(owed.shape[0]):
            e = owed[i]
            claims[e_payer[e], j] += Aloc[e, j]
        for f in range(F):
            world = ((opex_c[f, j] + wi_c[f, j]) + wp_c[f, j]) + (
                1.0 if dflt[f, j] else 0.0) * _fmax(wd_c[f, j] - wp_c[f, j], 0.0)
            claims[f, j] = claims[f, j] + world
        # the estate: cash, α of compute, other assets and stakes in live firms, β of loans
        for f in range(F):
            est[f, j] = 0.0
        for i in range(n_eq):
            est[eq_payer[i], j] += sv_c[i, j] * (1.0 if alive_c[eq_payee[i], j] else 0.0)
        for f in range(F):
            est[f, j] = (cash_c[f, j] + a_rec * ((comp_c[f, j] + other_c[f, j]) + est[f, j])
                         + b_rec * loans_c[f, j])
        for m in range(n):
            Ak[m, j] = Aloc[k_in[m], j] * e_keep[k_in[m]]
        done[j] = _clear_path(Ak, pk, qk, est, claims, dflt, beta, r, inn, j, Dsc, fp, at)
        if not done[j]:  # singular: solved in numpy
            continue
        # a creditor pushed short by the clearing goes through the waterfall: not here
        for f in range(F):
            c = cash_c[f, j]
            y = (c + inn[f]) - claims[f, j]
            tol = 1e-9 * (claims[f, j] + abs(c)) + 1e-3
            if not dflt[f, j] and alive_c[f, j] and y < -tol:
                done[j] = False
    # written back row by row, on the paths done
    for f in range(F):
        for j in range(S):
            if done[j]:
                p = cols[j]
                r_full[f, p] = r[f, j]
                D_full[f, p] = dflt[f, j]
                rounds[f, p] = 0 if dflt[f, j] else -1
                w_accel[f, p] = (1.0 if dflt[f, j] else 0.0) * _fmax(wd_c[f, j] - wp_c[f, j], 0.0)
    for e in range(E):
        if (g[0] <= e < g[0] + n_ln or g[1] <= e < g[1] + n_ln or g[2] <= e < g[2] + n_ln
                or g[3] <= e < g[3] + n_eq or g[4] <= e < g[4] + n_cc):
            for j in range(S):
                if done[j]:
                    A[e, cols[j]] = Aloc[e, j]


@_jit
def _take(X: Any, cols: Any) -> Any:  # pragma: no cover
    """``X[:, cols]`` (float), row by row."""
    out = np.empty((X.shape[0], cols.shape[0]))
    for f in range(X.shape[0]):
        for j in range(cols.shape[0]):
            out[f, j] = X[f, cols[j]]
    return out


@_jit
def _take_b(X: Any, cols: Any) -> Any:  # pragma: no cover
    """``X[:, cols]`` (bool), row by row."""
    out = np.empty((X.shape[0], cols.shape[0]), np.bool_)
    for f in range(X.shape[0]):
        for j in range(cols.shape[0]):
            out[f, j] = X[f, cols[j]]
    return out


def resolve_calm(cols: NDArray[np.int64], short: NDArray[np.bool_], A: F64, opex: F64,
                 w_int: F64, w_prin: F64, w_accel: F64, prin_sched: F64, st: Any, plan: Any,
                 t: int, rows: NDArray[np.int64] | None = None
                 ) -> tuple[F64, NDArray[np.bool_], NDArray[np.int64], NDArray[np.bool_]]:
    """Resolution on the paths where nobody is pushed short by the clearing, compiled.

    The first round of :func:`loopwatch.engine.resolution.resolve`, path by path: the
    short firms ``short`` (F, P) default on the paths ``cols``, their accelerated
    claims and cancellation penalties are added to ``A`` (E, P), the payments are
    cleared (β < 1), and ``A`` and ``w_accel`` (F, P) are written in place (``rows``: the
    rows of ``A`` that may be nonzero, a superset is fine; default all). Returns the
    clearing ratios (F + 1, P), the defaulters and their round (0), and which of
    ``cols`` are done. A path where a creditor is pushed short (it goes through the
    waterfall) or whose system is singular is left untouched, for the caller's numpy
    cascade (this kernel's twin).
    """
    P, F = st.P, plan.F
    c = np.ascontiguousarray
    ix = kernel_index(plan)
    cr = plan.scenario.credit
    bal = st.ledger.bal
    r_full, D_full = np.ones((F + 1, P)), np.zeros((F, P), np.bool_)
    rounds = np.full((F, P), -1, np.int64)
    done = np.zeros(len(cols), np.bool_)
    _resolve_calm(
        c(cols, np.int64), c(short, np.bool_), A, c(opex, np.float64), c(w_int, np.float64),
        c(w_prin, np.float64), c(prin_sched, np.float64), c(st.loan_out, np.float64),
        c(st.loan_sold, np.bool_), c(st.live, np.bool_), c(st.alive, np.bool_),
        c(st.world_debt, np.float64), bal[0], bal[1], bal[2], bal[3],
        c(st.stake_val, np.float64), ix.calm_groups, ix.ln_payee, ix.eq_payer, ix.eq_payee,
        ix.cc, ix.cc_payer, ix.cc_remaining_t[t], c(plan.cc_penalty, np.float64), ix.e_payer,
        ix.e_payee, ix.e_keep, ix.e_inside,
        float(cr.recovery_assets), float(cr.recovery_receivables),
        float(cr.recovery_receivables), r_full, D_full, rounds, w_accel, done,
        np.arange(A.shape[0]) if rows is None else c(rows, np.int64))
    return r_full, D_full, rounds, done
