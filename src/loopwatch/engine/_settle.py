"""The settlement of a quarter's defaults, compiled: losses, liquidation, write-offs, endings.

:func:`settle` does, path by path and in place on the chunk's state, what the
engine otherwise does on a sub-state of the defaulters' paths
(:meth:`~loopwatch.engine.state.State.take`, then
:func:`~loopwatch.engine.resolution.edge_losses`, the world's losses,
:func:`~loopwatch.engine.resolution.settle_defaults` with
:func:`~loopwatch.engine.resolution.terminate`, then
:meth:`~loopwatch.engine.state.State.put` and the clearing of the defaulters'
scheduled depreciation changes). That numpy sequence is its twin: every
operation is replayed in the same order on each path, with the same
per-target sums (rows added in index order from 0.0) and the same
accumulation of the quarter's losses (summed per call, then added), so the
results are the same bits (but for the sign of zeros where the twin adds
exact zeros that this kernel skips). It writes no events: the engine uses it
only when the events table is off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
from numpy.typing import NDArray

from loopwatch.engine.plan import Plan
from loopwatch.engine.state import State, kernel_index, owned

__all__ = ["settle", "settle_paths"]

_T = TypeVar("_T", bound=Callable[..., Any])


def _jit(fn: _T) -> _T:
    return cast(_T, numba.njit(cache=True, error_model="numpy")(fn))


@_jit
def _fmax0(a: float) -> float:
    """``np.maximum(a, 0.0)``."""
    return a if (a >= 0.0 or a != a) else 0.0


@_jit
def _group(tmp: Any, hit: Any, order: Any, n: int, target: int, x: float) -> int:
    """Add ``x`` to ``tmp[target]`` (a per-call sum from 0.0); note a first hit."""
    if not hit[target]:
        hit[target] = True
        tmp[target] = 0.0
        order[n] = target
        n += 1
    tmp[target] += x
    return n


@_jit
def _flush(acc: Any, tmp: Any, hit: Any, order: Any, n: int) -> None:
    """``acc[target] += tmp[target]`` for each target hit in the call; reset the call."""
    for i in range(n):
        g = order[i]
        acc[g] += tmp[g]
        hit[g] = False


@_jit
def _flush_noted(acc: Any, tmp: Any, hit: Any, order: Any, n: int, noted: Any, touch: Any,
                 n_touch: int) -> int:
    """:func:`_flush`, noting each target of ``acc`` touched this path (for the final add)."""
    for i in range(n):
        g = order[i]
        if not noted[g]:
            noted[g] = True
            touch[n_touch] = g
            n_touch += 1
    _flush(acc, tmp, hit, order, n)
    return n_touch


@_jit
def _post(debit: Any, credit: Any, amount: Any, sd: float, sc: float, p: int) -> None:
    """The ledger's ``post`` on path ``p``: ``debit += sd × amount``, ``credit += sc × amount``
    per firm (signs ±1 as :meth:`~loopwatch.engine.ledger.Ledger.post` picks them); firms
    with a zero amount are skipped (they would add zeros)."""
    for f in range(amount.shape[0]):
        if amount[f] != 0.0:
            debit[f, p] += sd * amount[f]
            credit[f, p] += sc * amount[f]


@_jit
def _sold(cash: Any, asset: Any, equity: Any, world: Any, proceeds: Any, loss: Any,
          p: int) -> None:
    """Firms sell ``asset`` to the world on path ``p``: ``proceeds`` (F,) in cash (the
    twin's ``from_world``), ``loss`` (F,) written off against equity (its ``post``)."""
    _post(cash, asset, proceeds, 1.0, -1.0, p)
    tot = 0.0
    for f in range(proceeds.shape[0]):
        if proceeds[f] != 0.0:
            tot += proceeds[f]
    world[p] += -1.0 * tot
    _post(equity, asset, loss, -1.0, -1.0, p)


@_jit
def _add_touched(dst: Any, acc: Any, noted: Any, touch: Any, n: int, p: int) -> None:
    """``dst[g, p] += acc[g]`` for the ``n`` targets noted on this path (the twin's write-back
    of a sub-state's accumulator skips only exact zeros); reset them for the next path."""
    for i in range(n):
        g = touch[i]
        if acc[g] != 0.0 or acc[g] != acc[g]:
            dst[g, p] += acc[g]
        acc[g] = 0.0
        noted[g] = False


@_jit
def settle(cols: Any, t: int, a: float, b: float, D: Any, r: Any, A: Any, paid: Any,
           opex: Any, w_int: Any, w_prin: Any, w_accel: Any,
           e_payer: Any, e_payee: Any, e_mech: Any, e_keep: Any,
           c_payer: Any, c_payee: Any, c_loan: Any, dep_a: Any,
           dep_b: Any, cc: Any, cc_built_t: Any,
           eq_payer: Any, eq_payee: Any, ln: Any, ln_payer: Any, ln_payee: Any,
           wt_holder: Any, wt_issuer: Any,
           bal: Any, world: Any, alive: Any, default_t: Any, live: Any, open_: Any,
           loan_out: Any, loan_sold: Any, loan_accel: Any, stake_val: Any, stake_units: Any,
           units: Any, wt_val: Any, wt_left: Any, world_debt: Any, loi_debt: Any,
           called: Any, facility: Any, mv: Any, price: Any, dep_rate: Any, stranded: Any,
           dep_change: Any, losses: Any, loss_mech: Any, world_losses: Any, lost_rows: Any,
           kept_rows: Any) -> None:
    """Settle the defaults ``D`` (F, P) on the paths ``cols``, in place (see the module).

    ``r`` (F + 1, P) the clearing ratios, ``A`` and ``paid`` (E, P) what was due
    and paid on each edge, ``opex``/``w_int``/``w_prin``/``w_accel`` (F, P) the
    world's claims; ``e_*`` (E,) edge payer, payee, loss mechanism (-1: none),
    share kept by the payee; ``c_*`` (C,) contract payer, payee, is-a-loan;
    ``dep_a``/``dep_b`` the dependency pairs (b falls with
    a); ``cc`` and ``cc_built_t`` (n_cc,) the compute commitments and their
    built share; ``eq_*``, ``ln``/``ln_*``, ``wt_*`` the parties of stakes,
    loans and warrant tranches. ``a``/``b``: recovery on assets / receivables.
    ``lost_rows`` (sorted) the edges that may carry a loss (a loss mechanism, and
    maybe nonzero), ``kept_rows`` (sorted) those that may carry a firm's receipts:
    the other edges would add nothing (``A`` and ``paid`` are zero there).
    """
    F = alive.shape[0]
    C = c_payer.shape[0]
    n_eq, n_ln, n_wt, n_cc = eq_payer.shape[0], ln.shape[0], wt_holder.shape[0], cc.shape[0]
    cash, loans = bal[0], bal[3]
    stakes, warrants, debt, wl, equity = bal[4], bal[5], bal[6], bal[7], bal[8]
    # the quarter's losses (zero at the start of each path, like the twin's sub-state)
    NL, NM = losses.shape[0], loss_mech.shape[0]
    accL, accM, accW = np.zeros(NL), np.zeros(NM), np.zeros(F)
    tmpL, tmpM, tmpW = np.zeros(NL), np.zeros(NM), np.zeros(F)
    hitL, hitM, hitW = np.zeros(NL, np.bool_), np.zeros(NM, np.bool_), np.zeros(F, np.bool_)
    ordL, ordM, ordW = (np.empty(NL, np.int64), np.empty(NM, np.int64),
                        np.empty(F, np.int64))
    inL, inM = np.zeros(NL, np.bool_), np.zeros(NM, np.bool_)  # targets touched on a path
    touchL, touchM = np.empty(NL, np.int64), np.empty(NM, np.int64)
    s1, s2 = np.zeros(F), np.zeros(F)  # per-firm sums of one posting
    mask = np.zeros(C, np.bool_)
    dflt = np.zeros(F, np.bool_)
    th = np.zeros(n_eq)
    resid, dep = np.zeros(F), np.zeros(C, np.bool_)
    for j in range(cols.shape[0]):
        p = cols[j]
        for f in range(F):
            dflt[f] = D[f, p]
        # ---- losses on unpaid edges, then the world's on the defaulters' costs
        nL = nM = nW = 0
        nTL = nTM = 0
        for i in range(lost_rows.shape[0]):
            e = lost_rows[i]
            m = e_mech[e]
            rr = r[e_payer[e], p]
            if rr == 1.0:  # paid in full: no loss (and ``A`` is not read)
                continue
            x = A[e, p] * (1.0 - rr)
            if x == 0.0:
                continue
            q, s = e_payee[e], e_payer[e]
            if q < F:
                nL = _group(tmpL, hitL, ordL, nL, q * (F + 1) + s, x)
                nM = _group(tmpM, hitM, ordM, nM, q * 4 + m, x)
            elif s < F:
                nW = _group(tmpW, hitW, ordW, nW, s, x)
        nTL = _flush_noted(accL, tmpL, hitL, ordL, nL, inL, touchL, nTL)
        nTM = _flush_noted(accM, tmpM, hitM, ordM, nM, inM, touchM, nTM)
        _flush(accW, tmpW, hitW, ordW, nW)
        for f in range(F):
            rr = r[f, p]
            if rr != 1.0:
                x = (((opex[f, p] + w_int[f, p]) + w_prin[f, p]) + w_accel[f, p]) * (1.0 - rr)
                accW[f] += 0.0 + x
        # ---- 1. liquidation: compute and other assets at α (the world buys), the rest lost
        for acct in (1, 2):
            row = bal[acct]
            for f in range(F):
                v = row[f, p] if dflt[f] else 0.0
                s1[f] = a * v
                s2[f] = (1.0 - a) * v
            _sold(cash, row, equity, world, s1, s2, p)
        for f in range(F):
            if dflt[f]:
                dep_rate[f, p] = 0.0
        # stakes held by a defaulter in live investees, at α
        s1[:] = 0.0
        s2[:] = 0.0
        some = False
        for i in range(n_eq):
            h = eq_payer[i]
            if dflt[h] and alive[eq_payee[i], p]:
                v = stake_val[i, p]
                s1[h] += a * v
                s2[h] += (1.0 - a) * v
                stake_val[i, p] = 0.0
                stake_units[i, p] = 0.0
                some = True
        if some:
            _sold(cash, stakes, equity, world, s1, s2, p)
        # loans made by a defaulter (not sold yet), at β
        s1[:] = 0.0
        s2[:] = 0.0
        some = False
        for k in range(n_ln):
            h = ln_payer[k]
            if dflt[h] and not loan_sold[k, p] and loan_out[k, p] > 0:
                face = loan_out[k, p]
                s1[h] += b * face
                s2[h] += (1.0 - b) * face
                some = True
        if some:
            _sold(cash, loans, equity, world, s1, s2, p)
        for k in range(n_ln):
            if dflt[ln_payer[k]]:
                loan_sold[k, p] = True
        # warrants held or issued by a defaulter lapse
        s1[:] = 0.0
        s2[:] = 0.0
        some = False
        for i in range(n_wt):
            h, s = wt_holder[i], wt_issuer[i]
            if dflt[h] or dflt[s]:
                v = wt_val[i, p]
                s1[h] += v
                s2[s] += v
                some = True
        if some:
            _post(equity, warrants, s1, -1.0, -1.0, p)  # the holder's warrants written off
            _post(wl, equity, s2, -1.0, 1.0, p)  # the issuer's liability closed
            nL = nM = 0
            for i in range(n_wt):
                h, s = wt_holder[i], wt_issuer[i]
                if dflt[s] and not dflt[h]:
                    x = wt_val[i, p]
                    if x != 0.0:
                        nL = _group(tmpL, hitL, ordL, nL, h * (F + 1) + s, x)
                        nM = _group(tmpM, hitM, ordM, nM, h * 4 + 1, x)
            nTL = _flush_noted(accL, tmpL, hitL, ordL, nL, inL, touchL, nTL)
            nTM = _flush_noted(accM, tmpM, hitM, ordM, nM, inM, touchM, nTM)
            for i in range(n_wt):
                if dflt[wt_holder[i]] or dflt[wt_issuer[i]]:
                    wt_val[i, p] = 0.0
                    wt_left[i, p] = 0.0
        # ---- 2. resolution costs: 1 − β of the network receipts when claims are not met
        s1[:] = 0.0
        for i in range(kept_rows.shape[0]):  # network receipts of the defaulters that pay
            e = kept_rows[i]                  # less than in full
            q = e_payee[e]
            if dflt[q] and r[q, p] < 1.0:
                s1[q] += paid[e, p] * e_keep[e]
        tot = 0.0
        for f in range(F):
            if dflt[f] and r[f, p] < 1.0:
                x = (1.0 - b) * s1[f] * 1.0
                equity[f, p] += -1.0 * x
                cash[f, p] += -1.0 * x
                tot += x
        world[p] += 1.0 * tot
        # ---- 3. remaining debts are written off
        for f in range(F):
            if dflt[f]:
                x = world_debt[f, p]
                debt[f, p] += -1.0 * x
                equity[f, p] += 1.0 * x
                world_debt[f, p] = 0.0
                loi_debt[f, p] = 0.0
                called[f, p] = 0.0
                facility[f, p] = 0.0
        s1[:] = 0.0
        s2[:] = 0.0
        some = False
        for k in range(n_ln):
            if dflt[ln_payee[k]]:
                left = loan_out[k, p]
                s1[ln_payee[k]] += left
                s2[ln_payer[k]] += left * (0.0 if loan_sold[k, p] else 1.0)
                loan_out[k, p] = 0.0
                some = True
        if some:
            _post(debt, equity, s1, -1.0, 1.0, p)  # the borrower's debt written off
            _post(equity, loans, s2, -1.0, -1.0, p)  # the lender's loss
        # ---- 4. a residual after paying every claim goes to the shareholders
        for f in range(F):
            resid[f] = _fmax0(cash[f, p]) if dflt[f] else 0.0
        if n_eq:
            some = False
            for f in range(F):
                s1[f] = 0.0
                s2[f] = 0.0
            for i in range(n_eq):
                tee, h = eq_payee[i], eq_payer[i]
                th[i] = 0.0
                if dflt[tee]:
                    u = units[tee, p]
                    share = stake_units[i, p] / u if u > 0 else 0.0
                    x = resid[tee] * share * 1.0 * (1.0 if alive[h, p] else 0.0)
                    th[i] = x
                    if x != 0.0:
                        s1[tee] += x
                        s2[h] += x
                        some = True
            if some:
                _post(equity, cash, s1, -1.0, -1.0, p)  # the investee pays out
                _post(cash, stakes, s2, 1.0, -1.0, p)  # the holder receives
                for i in range(n_eq):
                    stake_val[i, p] = stake_val[i, p] - th[i]
                for f in range(F):
                    resid[f] = resid[f] - s1[f]
        tot = 0.0
        for f in range(F):
            if resid[f] != 0.0:
                equity[f, p] += -1.0 * resid[f]
                cash[f, p] += -1.0 * resid[f]
                tot += resid[f]
        world[p] += 1.0 * tot
        # ---- 5. stakes in a defaulter are written off
        s1[:] = 0.0
        some = False
        for i in range(n_eq):
            if dflt[eq_payee[i]]:
                s1[eq_payer[i]] += stake_val[i, p]
                some = True
        if some:
            _post(equity, stakes, s1, -1.0, -1.0, p)
            nL = nM = 0
            for i in range(n_eq):
                tee, h = eq_payee[i], eq_payer[i]
                if dflt[tee]:
                    x = stake_val[i, p]
                    if x != 0.0:
                        nL = _group(tmpL, hitL, ordL, nL, h * (F + 1) + tee, x)
                        nM = _group(tmpM, hitM, ordM, nM, h * 4 + 1, x)
                    stake_val[i, p] = 0.0
                    stake_units[i, p] = 0.0
            nTL = _flush_noted(accL, tmpL, hitL, ordL, nL, inL, touchL, nTL)
            nTM = _flush_noted(accM, tmpM, hitM, ordM, nM, inM, touchM, nTM)
        # ---- 6. the defaulter is gone; its contracts end (and what depends on them)
        for f in range(F):
            if dflt[f]:
                alive[f, p] = False
                default_t[f, p] = t
                mv[f, p] = 0.0
                price[f, p] = 0.0
        some = False
        for c in range(C):
            if c_loan[c]:
                m_ = dflt[c_payee[c]]
            else:
                m_ = dflt[c_payer[c]] or dflt[c_payee[c]]
            m_ = m_ and (live[c, p] or open_[c, p])
            mask[c] = m_
            some = some or m_
        if some:
            for c in range(C):
                dep[c] = False
            for i in range(dep_a.shape[0]):
                if mask[dep_a[i]]:
                    dep[dep_b[i]] = True
            for c in range(C):
                if dep[c] and (live[c, p] or open_[c, p]):
                    mask[c] = True
            for k in range(n_cc):
                c = cc[k]
                if mask[c] and live[c, p] and alive[c_payee[c], p] and stranded[k, p] == 0:
                    stranded[k, p] = cc_built_t[k]
            for k in range(n_ln):
                if (mask[ln[k]] and alive[ln_payer[k], p] and alive[ln_payee[k], p]
                        and loan_out[k, p] > 0):
                    loan_accel[k, p] = True
            for c in range(C):
                if mask[c]:
                    live[c, p] = False
                    open_[c, p] = False
        for k in range(n_ln):
            if dflt[ln_payer[k]]:
                live[ln[k], p] = False
        # ---- the quarter's losses join the run's; the defaulters' depreciation ends
        _add_touched(losses, accL, inL, touchL, nTL, p)
        _add_touched(loss_mech, accM, inM, touchM, nTM, p)
        for f in range(F):
            if accW[f] != 0.0 or accW[f] != accW[f]:
                world_losses[f, p] += accW[f]
            accW[f] = 0.0
            if dflt[f]:
                for q in range(dep_change.shape[0]):
                    dep_change[q, f, p] = 0.0


def settle_paths(plan: Plan, st: State, t: int, cols: NDArray[np.int64], D: NDArray[np.bool_],
                 r: NDArray[np.float64], A: NDArray[np.float64], paid: NDArray[np.float64],
                 opex: NDArray[np.float64], w_int: NDArray[np.float64],
                 w_prin: NDArray[np.float64], w_accel: NDArray[np.float64],
                 rows: NDArray[np.int64] | None = None) -> None:
    """Settle this quarter's defaults ``D`` (F, P) on the paths ``cols`` (see the module).

    ``opex``, ``w_int``, ``w_prin``, ``w_accel`` (F, P) are the world's claims as
    cleared (:class:`~loopwatch.engine.resolution.Claims`); ``rows`` (sorted) the
    rows of ``A`` and ``paid`` that may be nonzero (default: all).
    """
    c = np.ascontiguousarray
    ix = kernel_index(plan)
    rows = np.arange(len(ix.e_payer)) if rows is None else c(rows, np.int64)
    a, b = plan._depends_pair_lists
    cr = plan.scenario.credit
    led = st.ledger
    settle(c(cols, np.int64), int(t), float(cr.recovery_assets), float(cr.recovery_receivables),
           c(D, np.bool_), c(r, np.float64), c(A, np.float64), c(paid, np.float64),
           c(opex, np.float64), c(w_int, np.float64), c(w_prin, np.float64),
           c(w_accel, np.float64), ix.e_payer, ix.e_payee,
           ix.e_mech, ix.e_keep, ix.c_payer, ix.c_payee, ix.c_loan, a, b, ix.cc,
           ix.cc_built_t[t], ix.eq_payer, ix.eq_payee, ix.ln, ix.ln_payer, ix.ln_payee,
           ix.wt_holder, ix.wt_issuer,
           led.bal, led.world_cash, owned(st, "alive", np.bool_),
           owned(st, "default_t", np.int64), owned(st, "live", np.bool_),
           owned(st, "open", np.bool_), owned(st, "loan_out"), owned(st, "loan_sold", np.bool_),
           owned(st, "loan_accel", np.bool_), owned(st, "stake_val"), owned(st, "stake_units"),
           owned(st, "units"), owned(st, "wt_val"), owned(st, "wt_left"),
           owned(st, "world_debt"), owned(st, "loi_debt"), owned(st, "called"),
           owned(st, "facility"), owned(st, "mv"), owned(st, "price"), owned(st, "dep_rate"),
           owned(st, "stranded"), owned(st, "dep_change"), owned(st, "losses"),
           owned(st, "loss_mech"), owned(st, "world_losses"),
           rows[ix.e_mech[rows] >= 0], rows[ix.e_payee[rows] < plan.F])
