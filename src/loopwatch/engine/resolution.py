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

from loopwatch.engine.events import EventLog
from loopwatch.engine.funding import Market, Raised, waterfall
from loopwatch.engine.incidence import Sum
from loopwatch.engine.ledger import Account
from loopwatch.engine.plan import LEG_MECHANISM, Kind, Leg, Plan
from loopwatch.engine.state import State

__all__ = ["Claims", "clear", "resolve", "settle_defaults", "terminate"]

F64 = NDArray[np.float64]
B8 = NDArray[np.bool_]
I64 = NDArray[np.int64]


def clear(A: F64, payer: I64, payee: I64, estate: F64, claims: F64, default: B8,
          beta: float) -> tuple[F64, F64]:
    """Greatest clearing vector (Rogers–Veraart) for a batch of paths, from an edge list.

    Parameters
    ----------
    A : ndarray, shape (S, E)
        Amount due on each edge (USD).
    payer, payee : ndarray of int, shape (E,)
        Parties of each edge; ``F`` (the number of firms) is the world, which
        always pays and whose receipts leave the network.
    estate : ndarray, shape (S, F)
        What a defaulter realises outside the network (USD).
    claims : ndarray, shape (S, F)
        Total obligations of each firm (USD).
    default : ndarray of bool, shape (S, F)
        Firms that may default; the others pay in full.
    beta : float
        Share of network receipts a defaulter realises.

    Returns
    -------
    (ndarray, ndarray)
        Payment ratio ``r`` (S, F + 1) (world column 1) and network inflow (S, F).

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
    >>> A = np.array([[10.0, 10.0]])
    >>> r, inflow = clear(A, np.array([0, 1]), np.array([1, 2]), np.array([[6.0, 5.0, 0.0]]),
    ...                   np.array([[10.0, 10.0, 0.0]]), np.array([[True, True, False]]), 1.0)
    >>> r[0, :3].tolist(), inflow[0].tolist()
    ([0.6, 1.0, 1.0], [0.0, 6.0, 10.0])
    """
    S, F = estate.shape
    r = np.ones((S, F + 1))
    inside = (payer < F) & (payee < F)
    M = np.zeros((S, F * F))
    np.add.at(M.T, payee[inside] * F + payer[inside], A[:, inside].T)
    M = M.reshape(S, F, F)
    inflow = M.sum(axis=2)
    D = default & (estate + inflow < claims)
    eye = np.eye(F)
    for _ in range(F + 1):
        if not D.any():
            break
        DD = D[:, :, None] & D[:, None, :]
        mat = np.where(D[:, :, None], claims[:, :, None] * eye - beta * M * DD, eye)
        rhs = np.where(D, estate + beta * (M * ~D[:, None, :]).sum(axis=2), 1.0)
        x = _solve(mat, rhs)
        r[:, :F] = np.where(D, np.clip(x, 0.0, 1.0), 1.0)
        inflow = (M * r[:, None, :F]).sum(axis=2)
        grown = D | (default & (estate + inflow < claims))
        if np.array_equal(grown, D):
            break
        D = grown
    return r, inflow


def _solve(mat: F64, rhs: F64) -> F64:
    """Solve a stack of systems; a singular one (a closed ring of defaulters) by least squares."""
    try:
        return np.linalg.solve(mat, rhs[..., None])[..., 0]
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

    ``A`` (P, E) edge amounts; ``opex``, ``w_int``, ``w_prin`` (P, F) owed to
    the world; ``w_accel`` (P, F) accelerated world debt of defaulters;
    ``prin_sched`` (P, n_ln) scheduled loan principal.
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


def estate(plan: Plan, st: State) -> F64:
    """Cash plus what a liquidation would realise, per path and firm (P, F)."""
    cr = plan.scenario.credit
    led = st.ledger
    stakes_live = (st.stake_val * st.alive[:, plan.payee[plan.eq]]) @ plan.incidence(
        np.arange(len(plan.eq)), plan.payer[plan.eq])
    return (led[Account.cash] + cr.recovery_assets * (led[Account.compute] + led[Account.other]
                                                      + stakes_live)
            + cr.recovery_receivables * led[Account.loans])


def _apply_default(plan: Plan, st: State, t: int, rows: I64, cl: Claims, D: B8) -> tuple[F64, F64]:
    """Edge amounts and world claims of paths ``rows`` when the firms in ``D`` default."""
    g = plan.edges.groups
    A = cl.A[rows].copy()
    Dw = np.concatenate([D, np.zeros((len(rows), 1), bool)], axis=1)
    ln, eq, cc = plan.ln, plan.eq, plan.cc
    if len(ln):
        A[:, g["draw"]] *= ~D[:, plan.payee[ln]]
        left = np.maximum(st.loan_out[rows] - cl.prin_sched[rows], 0.0) * D[:, plan.payee[ln]]
        sold = st.loan_sold[rows]
        A[:, g["accelerated"]] = left * ~sold
        A[:, g["accelerated_twin"]] = left * sold
    if len(eq):
        A[:, g["eq"]] *= ~D[:, plan.payee[eq]]
    if len(cc):
        value = plan.remaining[cc, t] * st.live[np.ix_(rows, cc)]
        A[:, g["penalty"]] = plan.cc_penalty * value * D[:, plan.payer[cc]]
    del Dw
    world = cl.opex[rows] + cl.w_int[rows] + cl.w_prin[rows] + D * np.maximum(
        st.world_debt[rows] - cl.w_prin[rows], 0.0)
    return A, world


def resolve(plan: Plan, st: State, t: int, cl: Claims, short: B8, mkt: Market,
            raised: Raised) -> tuple[F64, B8, I64]:
    """Clear the quarter's obligations with cascades; update ``cl`` in place.

    Parameters
    ----------
    short : ndarray of bool, shape (P, F)
        Firms that cannot cover their obligations after the waterfall.
    raised : Raised
        Accumulates any money raised by firms pushed short in the cascade.

    Returns
    -------
    (ndarray, ndarray, ndarray)
        Payment ratio ``r`` (P, F + 1), the defaulters ``D`` (P, F) and the
        cascade round in which each failed (P, F), -1 elsewhere.
    """
    P, F = st.P, plan.F
    r_full = np.ones((P, F + 1))
    rounds = np.full((P, F), -1, np.int64)
    rows = np.nonzero(short.any(axis=1))[0]
    if not len(rows):
        return r_full, np.zeros((P, F), bool), rounds
    E = plan.edges
    out_f = E.out_inc[:, :F]
    beta = plan.scenario.credit.recovery_receivables
    D = short[rows].copy()
    rnd = np.where(D, 0, -1)
    r = np.ones((len(rows), F + 1))
    A = cl.A[rows]
    world = cl.world[rows]
    for k in range(F + 1):
        A, world = _apply_default(plan, st, t, rows, cl, D)
        claims = A @ out_f + world
        r, inflow = clear(A, E.payer, E.payee, estate(plan, st)[rows], claims, D, beta)
        cash = st.ledger[Account.cash][rows]
        y = cash + inflow - claims
        tol = 1e-9 * (claims + np.abs(cash)) + 1e-3
        pushed = ~D & st.alive[rows] & (y < -tol)
        if not pushed.any():
            break
        need = np.zeros((P, F))
        need[rows] = np.where(pushed, -y, 0.0)
        got = waterfall(plan, st, need, need, mkt)
        raised.add(got)
        fail = pushed & (got.total[rows] <= 0.0)
        D |= fail
        rnd[fail] = k + 1
    r_full[rows] = r
    Dfull = np.zeros((P, F), bool)
    Dfull[rows] = D
    rounds[rows] = rnd
    cl.A[rows] = A
    cl.w_accel[rows] = D * np.maximum(st.world_debt[rows] - cl.w_prin[rows], 0.0)
    return r_full, Dfull, rounds


def add_losses(st: State, amount: F64, sufferer: I64, counterparty: I64, mechanism: I64) -> None:
    """Add ``amount`` (P, k) to the losses of ``sufferer`` on ``counterparty`` (``F`` = world).

    A sufferer equal to ``F`` (the world) adds to ``world_losses`` instead.
    """
    F = st.losses.shape[1]
    firm = sufferer < F
    if firm.any():
        a = amount[:, firm]
        flat = st.losses.reshape(st.P, -1)
        np.add.at(flat.T, sufferer[firm] * (F + 1) + counterparty[firm], a.T)
        mflat = st.loss_mech.reshape(st.P, -1)
        np.add.at(mflat.T, sufferer[firm] * 4 + mechanism[firm], a.T)
    if (~firm).any():
        np.add.at(st.world_losses.T, counterparty[~firm], amount[:, ~firm].T)


def edge_losses(plan: Plan, st: State, A: F64, r: F64) -> None:
    """Record what each unpaid edge costs its payee (missed draws and tranches are not losses)."""
    E = plan.edges
    short = A * (1.0 - r[:, E.payer])
    if not (short > 0).any():
        return
    mech = np.array([-1 if LEG_MECHANISM[Leg(int(g))] is None else LEG_MECHANISM[Leg(int(g))]
                     for g in E.leg], np.int64)
    keep = mech >= 0
    add_losses(st, short[:, keep], E.payee[keep], E.payer[keep], mech[keep])


def terminate(plan: Plan, st: State, t: int, mask: B8, ev: EventLog) -> None:
    """End the contracts in ``mask`` (P, C) and every contract that depends on them.

    A compute commitment ended while its cloud lives leaves the built share
    of its capacity stranded (re-rented from next quarter). A loan ended
    while both parties live (its collateral or dependency fell away) is
    called: its principal falls due next quarter.
    """
    mask = mask & (st.live | st.open)
    if not mask.any():
        return
    if plan.depends.any():
        mask |= ((mask.astype(float) @ plan.depends) > 0) & (st.live | st.open)
    was_live = mask & st.live
    value = plan.remaining[:, t][None, :] * was_live
    ev.add(t, "contract_terminated", value, firm=plan.payer, counterparty=plan.payee,
           mask=was_live)
    cc = plan.cc
    if len(cc):
        ended = was_live[:, cc] & st.alive[:, plan.payee[cc]]
        st.stranded = np.where(ended & (st.stranded == 0), plan.cc_built[:, t], st.stranded)
    ln = plan.ln
    if len(ln):
        both = st.alive[:, plan.payer[ln]] & st.alive[:, plan.payee[ln]]
        call = mask[:, ln] & both & (st.loan_out > 0)
        st.loan_accel |= call
    st.live &= ~mask
    st.open &= ~mask


def settle_defaults(plan: Plan, st: State, t: int, D: B8, r: F64, inflow: F64,
                    ev: EventLog) -> None:
    """Liquidate the new defaulters ``D`` (P, F), write off what they leave, end their contracts.

    ``r`` (P, F + 1) is the clearing ratio and ``inflow`` (P, F) what each
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
    st.dep_rate = st.dep_rate * ~D
    st.dep_change = st.dep_change * ~D[:, :, None]
    if len(eq):
        held = D[:, plan.payer[eq]] & st.alive[:, plan.payee[eq]]
        val = st.stake_val * held
        led.from_world(a * val @ inv_inc, Account.stakes)
        led.post((1 - a) * val @ inv_inc, Account.equity, Account.stakes)
        st.stake_val = st.stake_val * ~held
        st.stake_units = st.stake_units * ~held
    if len(ln):
        lend = D[:, plan.payer[ln]] & ~st.loan_sold & (st.loan_out > 0)
        face = st.loan_out * lend
        l_inc = plan.incidence(np.arange(len(ln)), plan.payer[ln])
        led.from_world(b * face @ l_inc, Account.loans)
        led.post((1 - b) * face @ l_inc, Account.equity, Account.loans)
        st.loan_sold |= D[:, plan.payer[ln]]
    # warrants held by a defaulter lapse
    if len(plan.wt_shares):
        w = plan.wr[plan.wt_warrant]
        lost = (D[:, plan.payee[w]] | D[:, plan.payer[w]])
        val = st.wt_val * lost
        h_inc = plan.incidence(plan.wt_warrant, plan.payee[plan.wr])
        i_inc = plan.incidence(plan.wt_warrant, plan.payer[plan.wr])
        led.post(val @ h_inc, Account.equity, Account.warrants)
        led.post(val @ i_inc, Account.warrant_liability, Account.equity)
        by_issuer = D[:, plan.payer[w]] & ~D[:, plan.payee[w]]
        add_losses(st, val * by_issuer, plan.payee[w], plan.payer[w],
                   np.full(len(w), 1, np.int64))
        st.wt_val = st.wt_val * ~lost
        st.wt_left = st.wt_left * ~lost
    # 2. resolution costs: 1 − β of network receipts when the claims are not met
    partial = D & (r[:, : plan.F] < 1.0)
    led.to_world((1 - b) * inflow * partial, Account.equity)
    # 3. remaining debts are written off (the creditors' loss is the unpaid claim)
    led.post(st.world_debt * Df, Account.debt, Account.equity)
    st.world_debt = st.world_debt * ~D
    st.loi_debt = st.loi_debt * ~D
    st.called = st.called * ~D
    st.facility = st.facility * ~D
    if len(ln):
        owes = D[:, plan.payee[ln]]
        left = st.loan_out * owes
        b_inc = plan.incidence(np.arange(len(ln)), plan.payee[ln])
        l_inc = plan.incidence(np.arange(len(ln)), plan.payer[ln])
        led.post(left @ b_inc, Account.debt, Account.equity)
        led.post((left * ~st.loan_sold) @ l_inc, Account.equity, Account.loans)
        st.loan_out = st.loan_out * ~owes
    # 4. a residual after paying every claim goes to the shareholders
    resid = np.maximum(led[Account.cash], 0.0) * Df
    if len(eq):
        of_d = D[:, plan.payee[eq]]
        share = np.divide(st.stake_units, st.units[:, plan.payee[eq]],
                          out=np.zeros_like(st.stake_units), where=st.units[:, plan.payee[eq]] > 0)
        to_holder = resid[:, plan.payee[eq]] * share * of_d * st.alive[:, plan.payer[eq]]
        ok = np.nonzero(to_holder.any(axis=0))[0]
        if len(ok):
            led.transfer(to_holder, Sum(plan.payee[eq], plan.F + 1),
                         Sum(plan.payer[eq], plan.F + 1), Account.equity, Account.stakes)
            st.stake_val = st.stake_val - to_holder
        resid = resid - to_holder @ tee_inc
    led.to_world(resid, Account.equity)
    # 5. stakes in a defaulter are written off
    if len(eq):
        of_d = D[:, plan.payee[eq]]
        val = st.stake_val * of_d
        led.post(val @ inv_inc, Account.equity, Account.stakes)
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
    ends = D[:, plan.payer] | D[:, plan.payee]
    ends &= plan.kind[None, :] != Kind.loan  # a defaulted lender's loans live on (sold)
    terminate(plan, st, t, ends | (D[:, plan.payee] & (plan.kind == Kind.loan)[None, :]), ev)
    if len(ln):  # a defaulted lender draws no more
        st.live[:, ln] &= ~D[:, plan.payer[ln]]
