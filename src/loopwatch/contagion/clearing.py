"""Clearing vectors: Eisenberg–Noe (2001) and Rogers–Veraart (2013).

Notation (both models): ``L[i, j] >= 0`` is what node ``i`` owes node ``j``;
``pbar_i = sum_j L[i, j]`` is ``i``'s total obligation; ``Pi = L / pbar``
(row-wise, 0 for rows with no obligations) the relative liabilities; ``e`` the
external (non-network) assets. For a payment vector ``p`` node ``i`` receives
``(Pi^T p)_i`` and holds assets ``a_i = e_i + (Pi^T p)_i``.

* **Eisenberg–Noe**: ``p = min(pbar, e + Pi^T p)`` — limited liability and
  absolute priority of debt, pro-rata among creditors.
* **Rogers–Veraart**: a node that cannot pay in full (``a_i < pbar_i``)
  realises only ``alpha e_i + beta (Pi^T p)_i`` and pays that.

Both maps are monotone, so by Tarski there is a greatest clearing vector;
these functions return it (the one regulators use: it is also the limit of
"let banks fail in succession" from full payment).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from loopwatch.contagion import _clearing_kernels as K
from loopwatch.contagion._validate import NetworkError, as_network, as_node_values, as_scalar_in
from loopwatch.errors import ConvergenceError

__all__ = ["ClearingResult", "eisenberg_noe", "rogers_veraart"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Method = Literal["auto", "exact", "iterative"]

#: ``method="auto"`` solves exactly up to this many nodes (one scenario)
EXACT_AUTO_N = 500
#: ``method="auto"`` solves a batch exactly up to this many nodes
EXACT_AUTO_N_BATCH = 48
#: default iteration cap of the iterative kernels
DEFAULT_MAX_ITER = 10_000
#: ``method="auto"``: sweeps after which a slow iteration is finished exactly
FALLBACK_AFTER = 300
#: ``method="auto"``: largest n for that exact finish
EXACT_FALLBACK_N = 5_000


@dataclass(frozen=True)
class ClearingResult:
    """Outcome of a clearing computation.

    Attributes
    ----------
    payments : ndarray, shape (n,) or (B, n)
        Greatest clearing vector ``p`` (what each node pays in total).
    defaulted : ndarray of bool, same shape
        ``True`` where assets ``e + Pi^T p`` fall short of ``pbar`` (by more
        than a relative ``1e-12``, so exact-arithmetic ties count as solvent).
    equity : ndarray, same shape
        ``max(e + Pi^T p - pbar, 0)``: zero for defaulted nodes.
    iterations : int
        Rounds (exact method) or sweeps (iterative method); for a batch the
        largest over scenarios.
    converged : bool
        Always ``True`` on return: non-convergence raises
        :class:`~loopwatch.errors.ConvergenceError` instead.

    Examples
    --------
    >>> r = eisenberg_noe([[0, 2], [1, 0]], [0.5, 0.0])
    >>> r.payments.tolist(), r.defaulted.tolist(), r.n_defaults
    ([1.5, 1.0], [True, False], 1)
    """

    payments: FloatArray
    defaulted: BoolArray
    equity: FloatArray
    iterations: int
    converged: bool

    @property
    def n_defaults(self) -> int | npt.NDArray[np.int64]:
        """Number of defaulted nodes (per scenario for a batch)."""
        counts = self.defaulted.sum(axis=-1)
        return int(counts) if counts.ndim == 0 else counts


def eisenberg_noe(
    liabilities: object,
    external_assets: object,
    *,
    tol: float = 1e-10,
    max_iter: int | None = None,
    method: Method = "auto",
) -> ClearingResult:
    """Greatest clearing vector of Eisenberg & Noe (2001).

    Parameters
    ----------
    liabilities : array_like or scipy.sparse matrix, shape (n, n)
        ``L[i, j]``: nominal amount node ``i`` owes node ``j``. Non-negative,
        finite, zero diagonal.
    external_assets : array_like, shape (n,) or (B, n)
        Non-negative external assets ``e``; a leading axis holds ``B``
        scenarios on the same network, solved together.
    tol : float, keyword-only
        Iterative method: stop when the estimated sup-norm error of ``p`` is
        below ``tol * max(pbar)``. The exact method ignores it.
    max_iter : int, optional, keyword-only
        Cap on sweeps of the iterative method (default 10,000).
    method : {"auto", "exact", "iterative"}, keyword-only
        ``"exact"``: fictitious-default algorithm, an exact linear solve of
        the defaulting subsystem per round (finite, at most n + 1 rounds).
        ``"iterative"``: monotone fixed-point iteration from ``pbar`` on
        sparse matrices. ``"auto"``: exact for n <= 500 (n <= 48 for a
        batch), iterative otherwise; an iteration still running after 300
        sweeps (spectral radius near 1) is finished by the exact method,
        warm-started, when n <= 5,000.

    Returns
    -------
    ClearingResult

    Raises
    ------
    NetworkError
        Bad input (shape, negative or NaN entries, self-loops).
    ConvergenceError
        The iterative method hit ``max_iter``.

    Notes
    -----
    Exact method: each round solves the ``|D| x |D|`` system
    ``(I - Pi_DD^T) p_D = e_D + Pi_SD^T pbar_S`` (dense O(|D|^3) up to 1,500
    defaulters, sparse LU above); rounds <= n + 1, usually the depth of the
    default cascade. Iterative method: O(nnz) per sweep, then O(nnz(L_CC))
    per sweep on a gather-form copy of the defaulting subsystem ``C`` (plus
    solvent nodes at risk) once the default set settles; sweeps grow like
    ``log(1/tol) / log(1/rho)`` with ``rho`` the spectral radius of
    ``Pi_DD``. Both start from ``pbar`` and decrease monotonically, so the
    result is the *greatest* clearing vector even when it is not unique.
    A batch is iterated in blocks of 64 scenarios (sparse ``Pi^T`` times a
    dense block), each scenario leaving as soon as it has converged.

    References
    ----------
    L. Eisenberg and T. H. Noe, "Systemic risk in financial systems",
    Management Science 47(2):236-249, 2001.

    Examples
    --------
    Three banks in a ring; bank 0 has no external assets:

    >>> L = [[0, 10, 0], [0, 0, 10], [10, 0, 0]]
    >>> r = eisenberg_noe(L, [0.0, 2.0, 3.0])
    >>> r.payments.tolist(), r.defaulted.tolist(), r.equity.tolist()
    ([10.0, 10.0, 10.0], [False, False, False], [0.0, 2.0, 3.0])

    A chain 0 -> 1 -> 2 under two scenarios at once (a leading batch axis):

    >>> chain = [[0, 10, 0], [0, 0, 10], [0, 0, 0]]
    >>> eisenberg_noe(chain, [[4, 0, 0], [12, 3, 0]]).payments.tolist()
    [[4.0, 4.0, 0.0], [10.0, 10.0, 0.0]]
    """
    return _clear(liabilities, external_assets, 1.0, 1.0, tol, max_iter, method)


def rogers_veraart(
    liabilities: object,
    external_assets: object,
    *,
    alpha: float,
    beta: float,
    tol: float = 1e-10,
    max_iter: int | None = None,
    method: Method = "auto",
) -> ClearingResult:
    """Greatest clearing vector with default costs (Rogers & Veraart 2013).

    A node whose assets ``e_i + (Pi^T p)_i`` fall short of ``pbar_i`` pays
    ``alpha e_i + beta (Pi^T p)_i``: default destroys a fraction ``1 - alpha``
    of its external assets and ``1 - beta`` of what it receives. ``alpha =
    beta = 1`` is Eisenberg–Noe.

    Parameters
    ----------
    liabilities, external_assets, tol, max_iter, method
        As for :func:`eisenberg_noe`.
    alpha, beta : float in [0, 1], keyword-only
        Recovery rates on external and on interbank assets.

    Returns
    -------
    ClearingResult
        ``equity`` is ``max(e + Pi^T p - pbar, 0)``: zero for defaulters,
        whose shortfall includes the default costs.

    Raises
    ------
    NetworkError
        Bad input, or ``alpha``/``beta`` outside [0, 1].
    ConvergenceError
        The iterative method hit ``max_iter``.

    Notes
    -----
    The map is monotone but discontinuous: clearing vectors need not be
    unique even for regular networks. The greatest one is the limit of the
    "greatest clearing vector algorithm" of Rogers & Veraart (their
    Algorithm 3.6 / Theorem 3.7): fictitious default with the defaulters'
    payments solving ``(I - beta Pi_DD^T) p_D = alpha e_D + beta Pi_SD^T
    pbar_S``. Costs as for :func:`eisenberg_noe`.

    References
    ----------
    L. C. G. Rogers and L. A. M. Veraart, "Failure and rescue in an
    interbank network", Management Science 59(4):882-898, 2013.

    Examples
    --------
    With no default costs bank 0 alone defaults; halving recovery drags bank 1
    down too:

    >>> L = [[0, 10, 0], [0, 0, 10], [0, 0, 0]]
    >>> e = [6.0, 5.0, 0.0]
    >>> rogers_veraart(L, e, alpha=1.0, beta=1.0).defaulted.tolist()
    [True, False, False]
    >>> r = rogers_veraart(L, e, alpha=0.5, beta=0.5)
    >>> r.defaulted.tolist(), r.payments.tolist()
    ([True, True, False], [3.0, 4.0, 0.0])
    """
    a = as_scalar_in("alpha", alpha, 0.0, 1.0)
    b = as_scalar_in("beta", beta, 0.0, 1.0)
    return _clear(liabilities, external_assets, a, b, tol, max_iter, method)


def _clear(
    liabilities: object,
    external_assets: object,
    alpha: float,
    beta: float,
    tol: float,
    max_iter: int | None,
    method: Method,
) -> ClearingResult:
    L = as_network("liabilities", liabilities)
    n = L.shape[0]
    E, batched = as_node_values("external_assets", external_assets, n)
    if not (0.0 < float(tol) < 1.0):
        raise NetworkError(f"tol must be in (0, 1), got {tol!r}")
    if max_iter is not None and (not isinstance(max_iter, int) or max_iter < 1):
        raise NetworkError(f"max_iter must be a positive integer, got {max_iter!r}")
    if method not in ("auto", "exact", "iterative"):
        raise NetworkError(f"method must be 'auto', 'exact' or 'iterative', got {method!r}")
    cap = DEFAULT_MAX_ITER if max_iter is None else max_iter
    auto = method == "auto"
    if auto:
        method = "exact" if n <= (EXACT_AUTO_N_BATCH if batched else EXACT_AUTO_N) else "iterative"
    # "auto" hands slow iterations (spectral radius near 1) to the exact solver
    rescue = auto and n <= EXACT_FALLBACK_N
    budget = min(cap, FALLBACK_AFTER) if rescue else cap
    pbar, den = K.obligations(L)
    PiT = K.relative_matrix_T(L, den) if (batched or method == "exact" or rescue) else None
    if batched:
        assert PiT is not None
        if method == "exact":
            P, its = K.exact_batch(PiT, pbar, E, alpha, beta)
            assets = E + _inflow_batch(PiT, P)
        else:
            P, assets, its, stalled, last = K.iterate_batch(
                PiT, pbar, E, alpha, beta, float(tol), budget
            )
            if stalled.size and not rescue:
                raise ConvergenceError(its, last)
            for b in stalled:  # rare: only scenarios the iteration could not finish
                P[b], rounds = K.exact_single(PiT, pbar, E[b], alpha, beta, p0=P[b])
                assets[b] = E[b] + PiT @ P[b]
                its = max(its, budget + rounds)
    else:
        if method == "exact":
            assert PiT is not None
            p, its = K.exact_single(PiT, pbar, E[0], alpha, beta)
        else:
            p, its, ok, last, flow = K.iterate_single(
                L, pbar, den, E[0], alpha, beta, float(tol), budget
            )
            if not ok and not rescue:
                raise ConvergenceError(its, last)
            if not ok:
                assert PiT is not None
                p, rounds = K.exact_single(PiT, pbar, E[0], alpha, beta, p0=p)
                its += rounds
        P = p[None, :]
        # the last sweep's inflow is within tol of the final one; reuse it
        assets = E + (flow if method == "iterative" and ok else L.T @ (p / den))[None, :]
    defaulted = assets < pbar * (1.0 - K.SLACK)
    equity = np.subtract(assets, pbar, out=assets)  # in place: B x n can be large
    np.maximum(equity, 0.0, out=equity)
    if not batched:
        P, defaulted, equity = P[0], defaulted[0], equity[0]
    return ClearingResult(
        payments=P, defaulted=defaulted, equity=equity, iterations=int(its), converged=True
    )


def _inflow_batch(PiT: sp.csr_array, P: FloatArray) -> FloatArray:
    """``(Pi^T P^T)^T`` for a (B, n) batch, in cache-sized column blocks."""
    out = np.empty_like(P)
    for s in range(0, P.shape[0], K.CHUNK):
        out[s : s + K.CHUNK] = (PiT @ np.ascontiguousarray(P[s : s + K.CHUNK].T)).T
    return out
