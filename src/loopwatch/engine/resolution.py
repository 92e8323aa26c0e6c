"""Default resolution (DESIGN §2, step 5): clearing with cascades inside the quarter.

A firm that cannot cover the quarter's obligations even after the funding
waterfall **defaults**. Its obligations become claims on its estate:

* everything due this quarter (contract payments, capex orders, interest,
  principal, operating costs owed to the world), **plus**
* accelerated claims: the remaining principal of its loans and world debt,
  and ``cancellation_penalty`` × the remaining value of each compute
  commitment it bought.

Deliveries to a defaulter stop: lenders do not disburse to it, investors do
not pay its equity tranches, and what it owes for chips and capacity this
quarter is a claim (no asset is delivered). Its estate is its cash plus
``recovery_assets`` (α) of its compute, other assets and stakes (sold to
outside buyers) plus ``recovery_receivables`` (β) of the loans it made and of
what the network pays it. The payments follow the greatest clearing vector of
Rogers & Veraart (2013): each defaulter pays the same share ``r`` of every
claim, ``r = min(1, (estate + β inflow) / claims)`` (a defaulter whose
estate covers its claims pays them in full, with no default cost). The share
``1 − β`` of its network receipts is a resolution cost paid to the world.

Firms that receive less than they were due can fall short in turn: they go
through the waterfall again (with whatever capacity they have left), and
those that still cannot pay join the defaulters. The round repeats until no
new firm defaults; the round in which each firm failed is recorded (the
cascade order).

After clearing, the defaulter's remaining debt is written off (its creditors'
loss), a residual after paying every claim in full goes to its shareholders,
stakes and warrants in it are written off, and its contracts terminate.

References
----------
L. Eisenberg and T. H. Noe, "Systemic risk in financial systems",
Management Science 47(2):236-249, 2001.
L. C. G. Rogers and L. A. M. Veraart, "Failure and rescue in an interbank
network", Management Science 59(4):882-898, 2013.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from loopwatch.engine._kernels import clear_paths, resolve_calm
from loopwatch.engine.events import EventLog
from loopwatch.engine.funding import Raised, Terms, waterfall
from loopwatch.engine.incidence import Sum, cached_sum
from loopwatch.engine.ledger import Account
from loopwatch.engine.plan import Kind, Plan
from loopwatch.engine.state import State, gather, scatter
from loopwatch.errors import ConvergenceError

__all__ = ["Claims", "clear", "resolve", "settle_defaults", "terminate"]

F64 = NDArray[np.float64]
B8 = NDArray[np.bool_]
I64 = NDArray[np.int64]


def clear(A: F64, payer: I64, payee: I64, estate: F64, claims: F64, default: B8,
          beta: float) -> tuple[F64, F64]:
    """Greatest clearing vector (Rogers–Veraart) for a batch of paths, from an edge list.

    Parameters
    ----------
    A : ndarray, shape (E, S)
        Amount due on each edge (USD), for ``S`` paths.
    payer, payee : ndarray of int, shape (E,)
        Parties of each edge; ``F`` (the number of firms) is the world, which
        always pays and whose receipts leave the network.
    estate : ndarray, shape (F, S)
        What a defaulter realises outside the network (USD).
    claims : ndarray, shape (F, S)
        Total obligations of each firm (USD).
    default : ndarray of bool, shape (F, S)
        Firms that may default; the others pay in full.
    beta : float
        Share of network receipts a defaulter realises.

    Returns
    -------
    (ndarray, ndarray)
        Payment ratio ``r`` (F + 1, S) (world row 1) and network inflow (F, S).

    Notes
    -----
    The "greatest clearing vector algorithm" of Rogers & Veraart (2013,
    Algorithm 3.6): start from the firms insolvent when everybody pays in
    full; given the set ``D`` of defaulters, solve the linear system
    ``c_i r_i − β Σ_{j∈D} M_ij r_j = e_i + β Σ_{j∉D} M_ij`` for ``i ∈ D``
    (``M_ij`` what ``j`` owes ``i``); add the firms that this leaves insolvent
    and repeat (at most ``F`` rounds). With ``β = 1`` it is Eisenberg–Noe's
    fictitious default algorithm. Cost O(S F³) per round; exact, so a path's
    result does not depend on the other paths of the batch.

    Examples
    --------
    A chain 0 → 1 → 2 with 10 due on each edge; firm 0 has 6, firm 1 has 5:

    >>> import numpy as np
    >>> A = np.array([[10.0], [10.0]])
    >>> r, inflow = clear(A, np.array([0, 1]), np.array([1, 2]), np.array([[6.0], [5.0], [0.0]]),
    ...                   np.array([[10.0], [10.0], [0.0]]), np.array([[True], [True], [False]]), 1.0)
    >>> r[:3, 0].tolist(), inflow[:, 0].tolist()
    ([0.6, 1.0, 1.0], [0.0, 6.0, 10.0])
    """
    F, S = estate.shape
    # the edges between firms that carry anything on these paths (the others add exact zeros)
    inside = (payer < F) & (payee < F)
    k = np.flatnonzero(inside & A.any(axis=1))
    Ak, pk, qk = np.ascontiguousarray(A[k]), payer[k], payee[k]
    if beta < 1.0 and _compiled_clearing:
        got = clear_paths(Ak, pk, qk, estate, claims, default, beta)
        if got is not None:
            out = np.ones((F + 1, S))
            out[:F] = got[0]
            return out, got[1]
    return _clear_batch(A, payer, payee, estate, claims, default, beta)


#: Whether :func:`clear`, and :func:`resolve` for its first round, use the compiled per-path
#: kernels for β < 1 (tests switch it off to run the batched numpy algorithms, their twins).
_compiled_clearing = True


def _clear_batch(A: F64, payer: I64, payee: I64, estate: F64, claims: F64, default: B8,
                 beta: float) -> tuple[F64, F64]:
    """:func:`clear` in numpy on a whole batch of paths (any β; the twin of the kernel)."""
    F, S = estate.shape
    inside = (payer < F) & (payee < F)
    k = np.flatnonzero(inside & A.any(axis=1))
    Ak, pk, qk = np.ascontiguousarray(A[k]), payer[k], payee[k]
    # one total per edge list (cached), restricted to the rows that carry anything
    to_payee = cached_sum(np.where(inside, payee, -1), F).rows(k)
    e, c, dflt = estate, claims, default
    r = np.ones((F, S))
    inflow = to_payee @ Ak
    short = 1.0 - 1e-12  # a firm exactly at its claims (to rounding) is solvent
    D = dflt & (e + inflow < c * short)
    M: F64 | None = None  # the dense (S, F, F) network, built only for β = 1 (closed rings)
    every = np.arange(S)
    for _ in range(F + 1):
        if not D.any():
            break
        # the system couples only the defaulters: solve it on them alone (padded to the
        # largest set among the paths), not on all F firms
        d = int(D.sum(axis=0).max())
        idx = np.argsort(~D, axis=0, kind="stable")[:d]  # (d, S): defaulters first
        ok = np.take_along_axis(D, idx, 0)
        at = np.full((F, S), -1, np.int64)  # each defaulter's place in its path's system
        at[idx[ok], np.broadcast_to(every, idx.shape)[ok]] = np.broadcast_to(
            np.arange(d)[:, None], idx.shape)[ok]
        i_at, j_at = at[qk], at[pk]  # (n, S): payee's and payer's places (-1: pays in full)
        ei, si = np.nonzero((i_at >= 0) & (j_at >= 0))
        Mdd = np.zeros((S, d, d))  # Mdd[s, a, b]: what defaulter b owes defaulter a
        np.add.at(Mdd, (si, i_at[ei, si], j_at[ei, si]), Ak[ei, si])
        from_payers = to_payee @ (Ak * ~D[pk])  # what firms paying in full send
        okT = ok.T
        eye = np.eye(d)
        mat = np.where(okT[:, :, None],
                       np.take_along_axis(c, idx, 0).T[:, :, None] * eye - beta * Mdd, eye)
        rhs = np.where(okT, np.take_along_axis(e + beta * from_payers, idx, 0).T, 1.0)
        x = np.clip(_solve(mat, rhs), 0.0, 1.0)
        r = np.ones((F, S))
        r[idx[ok], np.broadcast_to(every, idx.shape)[ok]] = x.T[ok]
        if beta >= 1.0:
            if M is None:
                pairs = cached_sum(np.where(inside, payee * F + payer, -1), F * F).rows(k)
                M = np.ascontiguousarray((pairs @ Ak).T).reshape(S, F, F)  # M[s, i, j]: j owes i
            ring = _closed_ring(M, c.T, D.T)
            if ring.any():  # singular: the greatest solution is the limit from above
                r[:, ring] = np.where(D[:, ring], np.clip(
                    _picard(M[ring], e.T[ring], c.T[ring], D.T[ring], beta), 0.0, 1.0).T, 1.0)
        inflow = to_payee @ (Ak * r[pk])
        grown = D | (dflt & (e + inflow < c * short))
        if np.array_equal(grown, D):
            break
        D = grown
    out = np.ones((F + 1, S))
    out[:F] = r
    return out, inflow


def _closed_ring(M: F64, c: F64, D: B8) -> B8:
    """Paths (S,) where some defaulters owe nothing outside the defaulters, directly or not.

    Then (with β = 1) the linear system is singular and money could circulate in
    the ring at any level: its greatest clearing vector is found by iteration.
    """
    to_d = (M * D[:, :, None]).sum(axis=1)  # what each firm owes to defaulters
    drains = D & (c - to_d > 1e-12 * c)
    owes = (M > 0) & D[:, :, None]  # [s, i, j]: j owes defaulter i
    for _ in range(M.shape[1]):
        more = drains | (D & (owes & drains[:, :, None]).any(axis=1))
        if np.array_equal(more, drains):
            break
        drains = more
    out: B8 = (D & ~drains).any(axis=1)
    return out


def _picard(M: F64, e: F64, c: F64, D: B8, beta: float, *, tol: float = 1e-13,
            max_iter: int = 1_000_000) -> F64:
    """Iterate the clearing map from ``r = 1`` down to its greatest fixed point (rare paths)."""
    r = np.ones_like(e)
    for _ in range(max_iter):
        inflow = (M * r[:, None, :]).sum(axis=2)
        ratio = np.divide(e + beta * inflow, c, out=np.ones_like(e), where=c > 0)
        new = np.where(D & (e + inflow < c * (1.0 - 1e-12)), np.clip(ratio, 0.0, 1.0), 1.0)
        if np.abs(new - r).max() <= tol:
            return new
        r = new
    raise ConvergenceError(max_iter, float(np.abs(new - r).max()))


def _solve(mat: F64, rhs: F64) -> F64:
    """Solve a stack of systems; a singular one (a closed ring of defaulters) by least squares."""
    try:
        return np.asarray(np.linalg.solve(mat, rhs[..., None])[..., 0], np.float64)
    except np.linalg.LinAlgError:
        out = np.empty_like(rhs)
        for k in range(len(rhs)):
            try:
                out[k] = np.linalg.solve(mat[k], rhs[k])
            except np.linalg.LinAlgError:
                out[k] = np.linalg.lstsq(mat[k], rhs[k], rcond=None)[0]
        return out


@dataclass
class Claims:
    """What falls due this quarter, before clearing.

    ``A`` (E, P) edge amounts; ``opex`` (F, P) operating costs but the variable
    cost of contract revenue (netted off receipts instead), ``w_int``, ``w_prin`` (F, P) owed to
    the world; ``w_accel`` (F, P) accelerated world debt of defaulters;
    ``prin_sched`` (n_ln, P) scheduled loan principal.
    """

    A: F64
    opex: F64
    w_int: F64
    w_prin: F64
    w_accel: F64
    prin_sched: F64

    @property
    def world(self) -> F64:
        return self.opex + self.w_int + self.w_prin + self.w_accel


def estate(plan: Plan, st: State, cols: I64) -> F64:
    """Cash plus what a liquidation would realise, per firm, on paths ``cols`` (F, S)."""
    cr = plan.scenario.credit
    bal = st.ledger.bal
    stakes_live = plan.incidence(np.arange(len(plan.eq)), plan.payer[plan.eq]) @ (
        gather(st.stake_val, cols) * gather(st.alive, cols)[plan.payee[plan.eq]])
    out: F64 = (gather(bal[Account.cash], cols)
                + cr.recovery_assets * (gather(bal[Account.compute], cols)
                                        + gather(bal[Account.other], cols) + stakes_live)
                + cr.recovery_receivables * gather(bal[Account.loans], cols))
    return out


def _apply_default(plan: Plan, st: State, t: int, cols: I64, cl: Claims,
                   D: B8) -> tuple[F64, F64]:
    """Edge amounts and world claims on paths ``cols`` when the firms in ``D`` (F, S) default."""
    g = plan.edges.groups
    A = gather(cl.A, cols)
    ln, eq, cc = plan.ln, plan.eq, plan.cc
    if len(ln):
        owes = D[plan.payee[ln]]
        A[g["draw"]] *= ~owes
        left = np.maximum(st.loan_out[:, cols] - cl.prin_sched[:, cols], 0.0) * owes
        sold = st.loan_sold[:, cols]
        A[g["accelerated"]] = left * ~sold
        A[g["accelerated_twin"]] = left * sold
    if len(eq):
        A[g["eq"]] *= ~D[plan.payee[eq]]
    if len(cc):
        value = plan.remaining[cc, t][:, None] * st.live[cc][:, cols]
        A[g["penalty"]] = plan.cc_penalty[:, None] * value * D[plan.payer[cc]]
    world = cl.opex[:, cols] + cl.w_int[:, cols] + cl.w_prin[:, cols] + D * np.maximum(
        st.world_debt[:, cols] - cl.w_prin[:, cols], 0.0)
    return A, world


def resolve(plan: Plan, st: State, t: int, cl: Claims, short: B8, mkt: Terms,
            raised: Raised, rows: I64 | None = None) -> tuple[F64, B8, I64]:
    """Clear the quarter's obligations with cascades; update ``cl`` in place.

    Parameters
    ----------
    short : ndarray of bool, shape (F, P)
        Firms that cannot cover their obligations after the waterfall.
    raised : Raised
        Accumulates any money raised by firms pushed short in the cascade.
    rows : ndarray of int, optional
        The rows of ``cl.A`` that may be nonzero (a superset is fine; default: all).

    Returns
    -------
    (ndarray, ndarray, ndarray)
        Payment ratio ``r`` (F + 1, P), the defaulters ``D`` (F, P) and the
        cascade round in which each failed (F, P), -1 elsewhere.
    """
    P, F = st.P, plan.F
    cols = np.flatnonzero(short.any(axis=0))
    if not len(cols):
        return np.ones((F + 1, P)), np.zeros((F, P), bool), np.full((F, P), -1, np.int64)
    E = plan.edges
    out_f = E.out_inc[:, :F]
    beta = plan.scenario.credit.recovery_receivables
    if beta < 1.0 and _compiled_clearing and cl.A.flags.c_contiguous \
            and cl.w_accel.flags.c_contiguous:
        # the paths where nobody is pushed short (nearly all): compiled; the rest below
        r_full, Dfull, rounds, done = resolve_calm(cols, short, cl.A, cl.opex, cl.w_int,
                                                   cl.w_prin, cl.w_accel, cl.prin_sched, st,
                                                   plan, t, rows)
        cols = cols[~done]
        if not len(cols):
            return r_full, Dfull, rounds
    else:
        r_full, Dfull = np.ones((F + 1, P)), np.zeros((F, P), bool)
        rounds = np.full((F, P), -1, np.int64)
    D = short[:, cols]
    rnd = np.where(D, 0, -1)
    for k in range(F + 1):
        A, world = _apply_default(plan, st, t, cols, cl, D)
        claims = out_f @ A + world
        # network receipts net of the payee's variable costs on them (see ``edge_keep``)
        r, inflow = clear(A * plan.edge_keep[:, None], E.payer, E.payee,
                          estate(plan, st, cols), claims, D, beta)
        cash = st.ledger[Account.cash][:, cols]
        y = cash + inflow - claims
        tol = 1e-9 * (claims + np.abs(cash)) + 1e-3
        pushed = ~D & st.alive[:, cols] & (y < -tol)
        if not pushed.any():
            break
        need = np.zeros((F, P))
        need[:, cols] = np.where(pushed, -y, 0.0)
        got = waterfall(plan, st, need, need, mkt)
        raised.add(got)
        fail = pushed & (got.total[:, cols] <= 0.0)
        D = D | fail
        rnd[fail] = k + 1
    r_full[:, cols] = r
    Dfull[:, cols] = D
    rounds[:, cols] = rnd
    scatter(cl.A, cols, A)
    cl.w_accel[:, cols] = D * np.maximum(st.world_debt[:, cols] - cl.w_prin[:, cols], 0.0)
    return r_full, Dfull, rounds


def add_losses(st: State, amount: F64, sufferer: I64, counterparty: I64, mechanism: I64) -> None:
    """Add ``amount`` (k, P) to the losses of ``sufferer`` on ``counterparty`` (``F`` = world).

    A sufferer equal to ``F`` (the world) adds to ``world_losses`` instead.
    """
    add_losses_by(st, loss_sums(st.world_losses.shape[0], sufferer, counterparty, mechanism),
                  amount)


def loss_sums(F: int, sufferer: I64, counterparty: I64, mechanism: I64
              ) -> tuple[Sum, Sum, Sum | None]:
    """The totals :func:`add_losses` adds through: into ``losses``, ``loss_mech`` and
    (``None`` if no row is the world's) ``world_losses``. Cached by their targets."""
    firm = sufferer < F
    return (cached_sum(np.where(firm, sufferer * (F + 1) + counterparty, -1), F * (F + 1)),
            cached_sum(np.where(firm, sufferer * 4 + mechanism, -1), F * 4),
            cached_sum(np.where(firm, -1, counterparty), F) if (~firm).any() else None)


def add_losses_by(st: State, sums: tuple[Sum, Sum, Sum | None], amount: F64,
                  rows: I64 | None = None) -> None:
    """:func:`add_losses` through its :func:`loss_sums` (a caller with fixed rows keeps them).

    With ``rows`` (sorted), only those rows of ``amount`` are read: the others must be zero.
    """
    to_pair, to_mech, to_world = sums
    for s, out in ((to_pair, st.losses), (to_mech, st.loss_mech), (to_world, st.world_losses)):
        if s is None:
            continue
        if rows is None:
            s.add_into(out, amount)
        else:
            s.add_into_over(out, amount, rows)


def edge_losses(plan: Plan, st: State, A: F64, r: F64) -> None:
    """Record what each unpaid edge costs its payee (missed draws and tranches are not losses)."""
    E = plan.edges
    keep = E.loss_mechanism >= 0
    short = A[keep] * (1.0 - r[E.payer[keep]])
    add_losses(st, short, E.payee[keep], E.payer[keep], E.loss_mechanism[keep])


def terminate(plan: Plan, st: State, t: int, mask: B8, ev: EventLog) -> None:
    """End the contracts in ``mask`` (C, P) and every contract that depends on them.

    A compute commitment ended while its cloud lives leaves the built share
    of its capacity stranded (re-rented from next quarter). A loan ended
    while both parties live (its collateral or dependency fell away) is
    called: its principal falls due next quarter.
    """
    mask = mask & (st.live | st.open)
    if not mask.any():
        return
    if plan.depends.any():
        mask |= plan.dependents(mask) & (st.live | st.open)
    was_live = mask & st.live
    if ev.enabled:
        ev.add(t, "contract_terminated", plan.remaining[:, t][:, None] * was_live,
               firm=plan.payer, counterparty=plan.payee, mask=was_live)
    cc = plan.cc
    if len(cc):
        ended = was_live[cc] & st.alive[plan.payee[cc]]
        st.stranded = np.where(ended & (st.stranded == 0), plan.cc_built[:, t][:, None], st.stranded)
    ln = plan.ln
    if len(ln):
        both = st.alive[plan.payer[ln]] & st.alive[plan.payee[ln]]
        st.loan_accel |= mask[ln] & both & (st.loan_out > 0)
    st.live &= ~mask
    st.open &= ~mask


def settle_defaults(plan: Plan, st: State, t: int, D: B8, r: F64, inflow: F64,
                    ev: EventLog) -> None:
    """Liquidate the new defaulters ``D`` (F, P), write off what they leave, end their contracts.

    ``r`` (F + 1, P) is the clearing ratio and ``inflow`` (F, P) what each
    firm received from the network this quarter (after clearing).
    """
    if not D.any():
        return
    led, cr = st.ledger, plan.scenario.credit
    a, b = cr.recovery_assets, cr.recovery_receivables
    Df = D.astype(float)
    eq, ln = plan.eq, plan.ln
    inv_inc = plan.incidence(np.arange(len(eq)), plan.payer[eq])  # stake → holder
    tee_inc = plan.incidence(np.arange(len(eq)), plan.payee[eq])  # stake → investee
    # 1. liquidation: compute, other assets and stakes at α, loans made at β
    for acct in (Account.compute, Account.other):
        bal = led[acct] * Df
        led.from_world(a * bal, acct)
        led.post((1 - a) * bal, Account.equity, acct)
    st.dep_rate = st.dep_rate * ~D  # (its scheduled changes are cleared by the caller)
    # (each block below is skipped when it touches nobody: its postings would add zeros)
    held = D[plan.payer[eq]] & st.alive[plan.payee[eq]]
    if held.any():
        val = st.stake_val * held
        led.from_world(inv_inc @ (a * val), Account.stakes)
        led.post(inv_inc @ ((1 - a) * val), Account.equity, Account.stakes)
        st.stake_val = st.stake_val * ~held
        st.stake_units = st.stake_units * ~held
    lend = D[plan.payer[ln]] & ~st.loan_sold & (st.loan_out > 0)
    if lend.any():
        face = st.loan_out * lend
        l_inc = plan.incidence(np.arange(len(ln)), plan.payer[ln])
        led.from_world(l_inc @ (b * face), Account.loans)
        led.post(l_inc @ ((1 - b) * face), Account.equity, Account.loans)
    st.loan_sold |= D[plan.payer[ln]]
    # warrants held by or issued by a defaulter lapse
    k = plan.wt_warrant
    w = plan.wr[k]
    lost = D[plan.payee[w]] | D[plan.payer[w]]
    if lost.any():
        val = st.wt_val * lost
        led.post(plan.incidence(k, plan.payee[plan.wr]) @ val, Account.equity, Account.warrants)
        led.post(plan.incidence(k, plan.payer[plan.wr]) @ val, Account.warrant_liability,
                 Account.equity)
        by_issuer = D[plan.payer[w]] & ~D[plan.payee[w]]
        add_losses(st, val * by_issuer, plan.payee[w], plan.payer[w],
                   np.full(len(w), 1, np.int64))
        st.wt_val = st.wt_val * ~lost
        st.wt_left = st.wt_left * ~lost
    # 2. resolution costs: 1 − β of network receipts when the claims are not met
    partial = D & (r[: plan.F] < 1.0)
    led.to_world((1 - b) * inflow * partial, Account.equity)
    # 3. remaining debts are written off (the creditors' loss is the unpaid claim)
    led.post(st.world_debt * Df, Account.debt, Account.equity)
    st.world_debt = st.world_debt * ~D
    st.loi_debt = st.loi_debt * ~D
    st.called = st.called * ~D
    st.facility = st.facility * ~D
    owes = D[plan.payee[ln]]
    if owes.any():
        left = st.loan_out * owes
        b_inc = plan.incidence(np.arange(len(ln)), plan.payee[ln])
        l_inc = plan.incidence(np.arange(len(ln)), plan.payer[ln])
        led.post(b_inc @ left, Account.debt, Account.equity)
        led.post(l_inc @ (left * ~st.loan_sold), Account.equity, Account.loans)
        st.loan_out = st.loan_out * ~owes
    # 4. a residual after paying every claim goes to the shareholders
    resid = np.maximum(led[Account.cash], 0.0) * Df
    if len(eq):
        of_d = D[plan.payee[eq]]
        units = st.units[plan.payee[eq]]
        share = np.divide(st.stake_units, units, out=np.zeros_like(st.stake_units), where=units > 0)
        to_holder = resid[plan.payee[eq]] * share * of_d * st.alive[plan.payer[eq]]
        if to_holder.any():
            led.transfer(to_holder, plan.incidence(np.arange(len(eq)), plan.payee[eq], world=True),
                         plan.incidence(np.arange(len(eq)), plan.payer[eq], world=True),
                         Account.equity, Account.stakes)
            st.stake_val = st.stake_val - to_holder
        resid = resid - tee_inc @ to_holder
    led.to_world(resid, Account.equity)
    # 5. stakes in a defaulter are written off
    of_d = D[plan.payee[eq]]
    if of_d.any():
        val = st.stake_val * of_d
        led.post(inv_inc @ val, Account.equity, Account.stakes)
        add_losses(st, val, plan.payer[eq], plan.payee[eq], np.full(len(eq), 1, np.int64))
        ev.add(t, "stake_written_off", val, firm=plan.payer[eq], counterparty=plan.payee[eq],
               mask=of_d & (val > 0))
        st.stake_val = st.stake_val * ~of_d
        st.stake_units = st.stake_units * ~of_d
    # 6. the defaulter is gone; its contracts end
    st.alive &= ~D
    st.default_t = np.where(D, t, st.default_t)
    st.mv = st.mv * ~D
    st.price = st.price * ~D
    ends = (D[plan.payer] | D[plan.payee]) & (plan.kind != Kind.loan)[:, None]
    ends |= D[plan.payee] & (plan.kind == Kind.loan)[:, None]  # a defaulted borrower's loans
    terminate(plan, st, t, ends, ev)
    if len(ln):  # a defaulted lender draws no more (its loans, sold, live on)
        st.live[ln] &= ~D[plan.payer[ln]]
