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
    Picard iteration from ``pbar`` that only touches the rows of defaulting
    debtors (``p = pbar`` elsewhere), switching to a compact gather-form
    matrix restricted to the defaulting subsystem once the default set settles.
``iterate_batch``
    Picard iteration on blocks of ``CHUNK`` scenarios (cache-sized blocks of
    ``Pi^T @ P``), dropping scenarios from the block as they converge.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from loopwatch.errors import ConvergenceError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]

#: relative shortfall below which a node counts as solvent (exact-arithmetic ties)
SLACK = 1e-12
#: largest defaulting subsystem solved with dense LAPACK in ``exact_single``
DENSE_LIMIT = 1500
#: scenarios per block in ``iterate_batch`` (keeps a block of P in L2 cache)
CHUNK = 64
#: smallest row-block (in stored entries) worth compacting into a gather matrix
COMPACT_MIN_NNZ = 200_000


def obligations(L: sp.csr_array) -> tuple[FloatArray, FloatArray]:
    """Total obligations ``pbar`` and their reciprocals (0 where ``pbar == 0``)."""
    pbar = np.asarray(L.sum(axis=1), dtype=np.float64).ravel()
    inv = np.zeros_like(pbar)
    np.divide(1.0, pbar, out=inv, where=pbar > 0)
    return pbar, inv


def relative_matrix_T(L: sp.csr_array, inv: FloatArray) -> sp.csr_array:
    """``Pi^T`` as CSR: ``Pi^T[i, j] = L[j, i] / pbar_j`` (what i receives per unit j pays)."""
    scaled = sp.csr_array(sp.diags_array(inv) @ L)
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
    for rounds in range(1, n + 2):
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
        for rounds in range(1, n + 2):
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


def _compact(
    L: sp.csr_array, idx: IntArray, inv: FloatArray
) -> sp.csr_array:
    """Gather-form ``Pi^T`` restricted to the nodes ``idx`` (local numbering)."""
    n = L.shape[0]
    rows = L[idx]
    local = np.full(n, -1, dtype=np.int64)
    local[idx] = np.arange(idx.size)
    cols = local[rows.indices]
    keep = cols >= 0
    csum = np.concatenate(([0], np.cumsum(keep, dtype=np.int64)))
    indptr = csum[rows.indptr]
    lens = np.diff(indptr)
    data = rows.data[keep] * np.repeat(inv[idx], lens)
    sub = sp.csr_array((data, cols[keep], indptr), shape=(idx.size, idx.size))
    return sp.csr_array(sub.T)


def iterate_single(
    L: sp.csr_array,
    pbar: FloatArray,
    inv: FloatArray,
    e: FloatArray,
    alpha: float,
    beta: float,
    tol: float,
    max_iter: int,
) -> tuple[FloatArray, int]:
    """Monotone Picard iteration from ``pbar`` for one scenario (large sparse n).

    Only debtors in default pay less than ``pbar``, so the inflow is
    ``c - L_D^T z_D`` with ``c = L^T 1`` and ``z = 1 - p / pbar``: each sweep
    reads the rows of defaulting debtors only. Once a sweep adds no new
    default, the defaulting subsystem is compacted into a gather-form CSR
    matrix and iterated alone; the full sweeps that follow check that no
    solvent node defaults (and resume if one does).
    """
    n = pbar.size
    target = tol * max(float(pbar.max(initial=0.0)), np.finfo(float).tiny)
    c: FloatArray = np.bincount(L.indices, weights=L.data, minlength=n).astype(np.float64)
    p = pbar.copy()
    inD = np.zeros(n, dtype=bool)
    blocks: list[tuple[IntArray, sp.csr_array]] = []
    it = 0
    prev = np.inf
    compactions = 0
    while True:
        inflow = c.copy()
        for idx, blk in blocks:
            inflow -= blk.T @ ((pbar[idx] - p[idx]) * inv[idx])
        p_new = np.minimum(_step(e, inflow, pbar, alpha, beta), p)
        new = (p_new < pbar) & ~inD
        n_new = int(new.sum())
        delta = float(np.max(p - p_new, initial=0.0))
        p = p_new
        it += 1
        if n_new:
            fresh = np.flatnonzero(new)
            inD[fresh] = True
            blocks.append((fresh, L[fresh]))
            if len(blocks) > 6:
                every = np.flatnonzero(inD)
                blocks = [(every, L[every])]
        elif _stop(delta, prev, target):
            return p, it
        prev = delta
        if it >= max_iter:
            raise ConvergenceError(it, delta)
        nnz_D = sum(blk.nnz for _, blk in blocks)
        if n_new == 0 and compactions < 3 and nnz_D >= COMPACT_MIN_NNZ:
            compactions += 1
            p, it, prev = _iterate_compact(
                L, c, pbar, inv, e, alpha, beta, target, max_iter, p, inD, it, prev
            )


def _iterate_compact(
    L: sp.csr_array,
    c: FloatArray,
    pbar: FloatArray,
    inv: FloatArray,
    e: FloatArray,
    alpha: float,
    beta: float,
    target: float,
    max_iter: int,
    p: FloatArray,
    inD: BoolArray,
    it: int,
    prev: float,
) -> tuple[FloatArray, int, float]:
    """Iterate the defaulting subsystem alone (solvent nodes pay ``pbar``)."""
    idx = np.flatnonzero(inD)
    M = _compact(L, idx, inv)
    eD, pbD = e[idx], pbar[idx]
    base = c[idx] - M @ pbD  # inflow from solvent debtors, fixed while D is
    pD = p[idx].copy()
    while True:
        pD_new = np.minimum(_step(eD, base + M @ pD, pbD, alpha, beta), pD)
        delta = float(np.max(pD - pD_new, initial=0.0))
        pD = pD_new
        it += 1
        if _stop(delta, prev, target):
            break
        prev = delta
        if it >= max_iter:
            raise ConvergenceError(it, delta)
    out = p.copy()
    out[idx] = pD
    return out, it, delta


def iterate_batch(
    PiT: sp.csr_array,
    pbar: FloatArray,
    E: FloatArray,
    alpha: float,
    beta: float,
    tol: float,
    max_iter: int,
) -> tuple[FloatArray, int]:
    """Monotone Picard iteration for every row of ``E`` (B, n), blockwise.

    Scenarios are processed ``CHUNK`` at a time as an ``(n, CHUNK)`` block so
    that ``Pi^T @ P`` runs from cache; each scenario leaves its block as soon
    as its own a-posteriori error estimate is below ``tol * max(pbar)``.
    """
    target = tol * max(float(pbar.max(initial=0.0)), np.finfo(float).tiny)
    out = np.empty_like(E)
    most = 0
    pb = pbar[:, None]
    en = alpha == 1.0 and beta == 1.0
    for s in range(0, E.shape[0], CHUNK):
        Ec = np.ascontiguousarray(E[s : s + CHUNK].T)
        live = np.arange(Ec.shape[1])
        P = np.repeat(pb, Ec.shape[1], axis=1)
        prev = np.full(Ec.shape[1], np.inf)
        it = 0
        while live.size:
            inflow = PiT @ P
            if en:
                P_new = np.minimum(inflow + Ec, pb)
            else:
                P_new = np.where(Ec + inflow >= pb, pb, alpha * Ec + beta * inflow)
            np.minimum(P_new, P, out=P_new)
            delta = (P - P_new).max(axis=0)
            P = P_new
            it += 1
            rho = np.minimum(np.divide(delta, prev, out=np.ones_like(delta), where=prev > 0), 0.999)
            done = delta <= target * (1.0 - rho)
            prev = delta
            if done.any():
                out[s + live[done]] = P[:, done].T
                keep = ~done
                live = live[keep]
                P = np.ascontiguousarray(P[:, keep])
                Ec = np.ascontiguousarray(Ec[:, keep])
                prev = prev[keep]
            if live.size and it >= max_iter:
                raise ConvergenceError(it, float(delta.max()))
        most = max(most, it)
    return out, most
