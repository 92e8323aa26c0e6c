"""Numerical kernels behind :func:`eisenberg_noe` and :func:`rogers_veraart`.

Both models are solved as one: the Rogers–Veraart map

    Phi(p)_i = pbar_i                          if e_i + (Pi^T p)_i >= pbar_i
             = alpha e_i + beta (Pi^T p)_i     otherwise

with ``alpha = beta = 1`` is exactly the Eisenberg–Noe map
``min(pbar, e + Pi^T p)``. ``Phi`` is monotone, so iterating it from
``p = pbar`` gives a decreasing sequence that stays above every clearing vector
and converges to the greatest one; the fictitious-default algorithm is Newton's
method on the same map from the same start (monotone too, finite).

Kernels
-------
``exact_single``
    Fictitious default with an exact linear solve of the defaulting subsystem
    per round (dense LAPACK up to ``DENSE_LIMIT`` defaulters, SuperLU above).
``exact_batch``
    The same, vectorised over scenarios with stacked dense solves (small n).
``iterate_single``
    Picard iteration from ``pbar`` in shortfall form (sparse scatter sweeps),
    switching to a compact gather-form matrix restricted to the defaulting
    subsystem (plus solvent nodes at risk) once the default set settles.
``iterate_batch``
    Picard iteration on blocks of ``CHUNK`` scenarios (cache-sized blocks of
    ``Pi^T @ P``), dropping scenarios from the block as they converge.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import scipy.sparse.linalg as spla

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]

#: relative shortfall below which a node counts as solvent (exact-arithmetic ties)
SLACK = 1e-12
#: largest defaulting subsystem solved with dense LAPACK in ``exact_single``
DENSE_LIMIT = 1500
#: scenarios per block in ``iterate_batch`` (keeps a block of P in L2 cache)
CHUNK = 64
#: smallest network (stored entries) worth compacting into a gather matrix
COMPACT_MIN_NNZ = 200_000
#: compact once a sweep adds fewer new defaulters than this fraction of |D|
COMPACT_SETTLED = 1e-3


def obligations(L: sp.csr_array) -> tuple[FloatArray, FloatArray]:
    """Total obligations ``pbar`` and safe divisors ``den`` (1 where ``pbar == 0``).

    Dividing by ``den`` rather than multiplying by ``1 / pbar`` keeps tiny
    (subnormal) obligations exact.
    """
    pbar = np.asarray(L.sum(axis=1), dtype=np.float64).ravel()
    den: FloatArray = np.where(pbar > 0, pbar, 1.0)
    return pbar, den


def relative_matrix_T(L: sp.csr_array, den: FloatArray) -> sp.csr_array:
    """``Pi^T`` as CSR: ``Pi^T[i, j] = L[j, i] / pbar_j`` (what i receives per unit j pays)."""
    data = L.data / np.repeat(den, np.diff(L.indptr))
    scaled = sp.csr_array((data, L.indices, L.indptr), shape=L.shape)
    return sp.csr_array(scaled.T)


def _defaulting(assets: FloatArray, pbar: FloatArray) -> BoolArray:
    result: BoolArray = assets < pbar * (1.0 - SLACK)
    return result


def _step(
    e: FloatArray, inflow: FloatArray, pbar: FloatArray, alpha: float, beta: float
) -> FloatArray:
    """One application of Phi given the inflow ``Pi^T p``."""
    if alpha == 1.0 and beta == 1.0:
        return np.minimum(pbar, e + inflow)
    out: FloatArray = np.where(e + inflow >= pbar, pbar, alpha * e + beta * inflow)
    return out


# --------------------------------------------------------------------------- exact


def exact_single(
    PiT: sp.csr_array,
    pbar: FloatArray,
    e: FloatArray,
    alpha: float,
    beta: float,
    p0: FloatArray | None = None,
) -> tuple[FloatArray, int]:
    """Greatest clearing vector by fictitious default (exact solve per round).

    ``p0`` must be a supersolution (``p0 >= Phi(p0)``, e.g. ``pbar`` or any
    Picard iterate from ``pbar``); the rounds then decrease monotonically to
    the greatest clearing vector in at most ``n + 1`` rounds.
    """
    n = pbar.size
    p = pbar.copy() if p0 is None else p0.copy()
    D = np.zeros(n, dtype=bool)
    for rounds in range(1, n + 3):
        D_new = _defaulting(e + PiT @ p, pbar) | D
        if rounds > 1 and np.array_equal(D_new, D):
            return p, rounds - 1
        D = D_new
        idx = np.flatnonzero(D)
        p = pbar.copy()
        if idx.size == 0:
            continue
        rows = PiT[idx]
        rhs = alpha * e[idx] + beta * (rows @ np.where(D, 0.0, pbar))
        sub = rows[:, idx]
        if idx.size <= DENSE_LIMIT:
            A = np.eye(idx.size) - beta * sub.toarray()
            p[idx] = np.linalg.solve(A, rhs)
        else:
            A_sp = sp.csc_array(sp.eye_array(idx.size) - beta * sub)
            p[idx] = spla.spsolve(A_sp, rhs)
        p = np.minimum(p, pbar)
    raise AssertionError("fictitious default exceeded n + 1 rounds")  # pragma: no cover


def exact_batch(
    PiT: sp.csr_array,
    pbar: FloatArray,
    E: FloatArray,
    alpha: float,
    beta: float,
) -> tuple[FloatArray, int]:
    """Fictitious default for every row of ``E`` (B, n) with stacked dense solves."""
    n = pbar.size
    dense = PiT.toarray()
    out = np.empty_like(E)
    most = 0
    step = max(1, 2_000_000 // max(n * n, 1))
    eye = np.eye(n)
    for s in range(0, E.shape[0], step):
        Ec = E[s : s + step]
        P = np.broadcast_to(pbar, Ec.shape).copy()
        D = np.zeros(Ec.shape, dtype=bool)
        for rounds in range(1, n + 3):
            D_new = _defaulting(Ec + P @ dense.T, pbar) | D
            if rounds > 1 and np.array_equal(D_new, D):
                most = max(most, rounds - 1)
                break
            D = D_new
            A = eye[None, :, :] - beta * D[:, :, None] * dense[None, :, :]
            rhs = np.where(D, alpha * Ec, pbar)
            P = np.minimum(np.linalg.solve(A, rhs[:, :, None])[:, :, 0], pbar)
        out[s : s + step] = P
    return out, most


# ----------------------------------------------------------------------- iterative


def _stop(delta: float, prev: float, target: float) -> bool:
    """A-posteriori stop: geometric tail estimate of the remaining error."""
    rho = min(delta / prev, 0.999) if prev > 0 else 0.999
    return delta <= target * (1.0 - rho)


def _compact(L: sp.csr_array, idx: IntArray, den: FloatArray) -> sp.csr_array:
    """Gather-form ``Pi^T`` restricted to the nodes ``idx`` (local numbering).

    Entry ``[a, b]`` is ``L[idx[b], idx[a]] / pbar[idx[b]]``. O(nnz(L[idx])).
    """
    n = L.shape[0]
    rows = L[idx]
    local = np.full(n, -1, dtype=np.int32)
    local[idx] = np.arange(idx.size, dtype=np.int32)
    cols = local[rows.indices]
    keep = cols >= 0
    csum = np.zeros(keep.size + 1, dtype=np.int64)
    np.cumsum(keep, out=csum[1:])
    indptr = csum[rows.indptr]
    lens = np.diff(indptr)
    data = rows.data[keep]
    data /= np.repeat(den[idx], lens)
    # rows of L restricted to C, stored column-wise = (L_CC)^T ... transposed once
    sub = sp.csc_array((data, cols[keep], indptr), shape=(idx.size, idx.size))
    return sp.csr_array(sub)


def iterate_single(
    L: sp.csr_array,
    pbar: FloatArray,
    den: FloatArray,
    e: FloatArray,
    alpha: float,
    beta: float,
    tol: float,
    max_iter: int,
) -> tuple[FloatArray, int, bool, float, FloatArray]:
    """Monotone Picard iteration from ``pbar`` for one scenario (large sparse n).

    The inflow is ``c - L^T z`` with ``c = L^T 1`` and ``z = 1 - p / pbar``
    (zero for solvent nodes). Once a sweep adds few new defaults (none, with
    default costs), the defaulting subsystem and the solvent nodes whose
    margin the remaining geometric decrease could still erase are compacted
    into a gather-form CSR matrix and iterated alone; the full sweeps that
    follow check that no other node defaults (and resume if one does).

    Returns ``(p, sweeps, converged, last_change, inflow)`` (``inflow`` from
    the last full sweep); after ``max_iter``
    sweeps ``p`` is the current iterate, still a supersolution (``p >=
    Phi(p)``) and so a valid warm start for :func:`exact_single`.
    """
    n = pbar.size
    target = tol * max(float(pbar.max(initial=0.0)), np.finfo(float).tiny)
    LT = L.T  # CSC view: scatter products, no copy
    en = alpha == 1.0 and beta == 1.0
    p = pbar.copy()
    inflow = np.zeros(n)
    n_def = 0
    it = 0
    prev = np.inf
    compactions = 0
    while True:
        last_inflow, p_old = inflow, p
        inflow = LT @ (p / den)
        assets = e + inflow
        inD = assets < pbar
        if en:
            p = np.minimum(assets, pbar)
        else:
            p = np.where(inD, alpha * e + beta * inflow, pbar)
        count = int(np.count_nonzero(inD))
        n_new, n_def = count - n_def, count
        delta = float(np.max(p_old - p, initial=0.0))
        it += 1
        if n_new == 0 and _stop(delta, prev, target):
            return p, it, True, delta, inflow
        if it >= max_iter:
            return p, it, False, delta, inflow
        # with default costs a new default makes payments jump, so wait for
        # a sweep without one before compacting
        settled = n_new <= (COMPACT_SETTLED * count if en else 0)
        if it > 1 and settled and compactions < 2 and L.nnz >= COMPACT_MIN_NNZ:
            compactions += 1
            # solvent nodes whose inflow, still falling geometrically, may yet
            # drop below their obligations: iterate them along with D
            rho = min(delta / prev, 0.999) if prev > 0 else 0.999
            tail = 4.0 * rho / (1.0 - rho) * (last_inflow - inflow)
            at_risk = ~inD & (pbar > 0) & (assets - pbar <= tail)
            p, it, delta, ok = _iterate_compact(
                L, inflow, p_old, p, inD | at_risk, pbar, den, e, alpha, beta,
                target, max_iter, it, delta,
            )
            if not ok:
                return p, it, False, delta, inflow
            n_def = int(np.count_nonzero(p < pbar))
        prev = delta


def _iterate_compact(
    L: sp.csr_array,
    inflow: FloatArray,
    p_from: FloatArray,
    p: FloatArray,
    inC: BoolArray,
    pbar: FloatArray,
    den: FloatArray,
    e: FloatArray,
    alpha: float,
    beta: float,
    target: float,
    max_iter: int,
    it: int,
    prev: float,
) -> tuple[FloatArray, int, float, bool]:
    """Iterate the subsystem ``C`` (defaulters and solvent nodes at risk) alone.

    ``inflow`` is ``Pi^T p_from``; nodes outside ``C`` keep paying what they
    pay in ``p`` (``pbar``); the caller's next full sweep checks them.
    """
    idx = np.flatnonzero(inC)
    M = _compact(L, idx, den)
    eC, pbC = e[idx], pbar[idx]
    base = inflow[idx] - M @ p_from[idx]  # inflow from debtors outside C
    pC = p[idx].copy()
    ok = True
    while True:
        pC_new = np.minimum(_step(eC, base + M @ pC, pbC, alpha, beta), pC)
        delta = float(np.max(pC - pC_new, initial=0.0))
        pC = pC_new
        it += 1
        if _stop(delta, prev, target):
            break
        prev = delta
        if it >= max_iter:
            ok = False
            break
    out = p.copy()
    out[idx] = pC
    return out, it, delta, ok


def iterate_batch(
    PiT: sp.csr_array,
    pbar: FloatArray,
    E: FloatArray,
    alpha: float,
    beta: float,
    tol: float,
    max_iter: int,
) -> tuple[FloatArray, FloatArray, int, IntArray, float]:
    """Monotone Picard iteration for every row of ``E`` (B, n), blockwise.

    Scenarios are processed ``CHUNK`` at a time as an ``(n, CHUNK)`` block so
    that ``Pi^T @ P`` runs from cache; each scenario leaves its block as soon
    as its own a-posteriori error estimate is below ``tol * max(pbar)``.
    Returns ``(P, assets, sweeps, stalled, last_change)``: ``assets`` is
    ``E + Pi^T p`` from each scenario's last sweep; ``stalled`` lists the
    scenarios still moving after ``max_iter`` sweeps (their rows of ``P`` are
    supersolutions, valid warm starts for :func:`exact_single`).
    """
    target = tol * max(float(pbar.max(initial=0.0)), np.finfo(float).tiny)
    out = np.empty_like(E)
    held = np.empty_like(E)
    most = 0
    stalled: list[IntArray] = []
    worst = 0.0
    pb = pbar[:, None]
    en = alpha == 1.0 and beta == 1.0
    for s in range(0, E.shape[0], CHUNK):
        Ec = np.ascontiguousarray(E[s : s + CHUNK].T)
        live = np.arange(Ec.shape[1])
        P = np.repeat(pb, Ec.shape[1], axis=1)
        prev = np.full(Ec.shape[1], np.inf)
        it = 0
        while live.size:
            flow = PiT @ P
            if en:
                flow += Ec
                assets = flow
                P_new = np.minimum(assets, pb)
            else:
                assets = flow + Ec
                P_new = np.where(assets >= pb, pb, alpha * Ec + beta * flow)
            delta = (P - P_new).max(axis=0)
            P = P_new
            it += 1
            rho = np.minimum(np.divide(delta, prev, out=np.ones_like(delta), where=prev > 0), 0.999)
            done = delta <= target * (1.0 - rho)
            prev = delta
            if done.any():
                out[s + live[done]] = P[:, done].T
                held[s + live[done]] = assets[:, done].T
                keep = ~done
                live = live[keep]
                P = np.ascontiguousarray(P[:, keep])
                Ec = np.ascontiguousarray(Ec[:, keep])
                prev = prev[keep]
            if live.size and it >= max_iter:
                out[s + live] = P.T
                stalled.append(s + live)
                worst = max(worst, float(delta.max()))
                break
        most = max(most, it)
    none: IntArray = np.zeros(0, dtype=np.intp)
    return out, held, most, (np.concatenate(stalled) if stalled else none), worst
