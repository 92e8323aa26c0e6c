"""DebtRank: distress propagation on an exposure network.

Notation: ``A[i, j] >= 0`` is ``i``'s exposure to ``j`` (an asset of ``i``
that is a liability of ``j``); ``E_i > 0`` is ``i``'s capital (equity);
``h_i in [0, 1]`` is ``i``'s distress, the relative loss of its capital
(``h = 1``: default). When ``j``'s distress rises, ``i`` loses ``A[i, j]``
times that rise, i.e. ``A[i, j] / E_i`` units of distress.

Two variants:

* ``"battiston2012"`` (Battiston et al. 2012): impact ``W[i, j] = min(1,
  A[i, j] / E_i)``; a node propagates its *whole* distress exactly once, in
  the round after it becomes distressed (states undistressed -> distressed
  -> inactive), which stops loops from re-counting losses:
  ``h_i(t) = min(1, h_i(t-1) + sum_{j distressed at t-1} W[i, j] h_j(t-1))``.
* ``"bardoscia2015"`` (Bardoscia et al. 2015): leverage ``Lambda[i, j] =
  A[i, j] / E_i``; every round each node propagates its latest *increment*
  of distress: ``h_i(t+1) = min(1, h_i(t) + sum_j Lambda[i, j] (h_j(t) -
  h_j(t-1)))`` with ``h(0) = 0``, until increments vanish (below ``tol``).

System value (both): ``R = sum_i v_i (h_i(T) - h_i(1))``, the value-weighted
distress *induced* by the initial shock ``h(1)``. The economic weights ``v``
default to each node's share of total exposures, ``v_i = sum_j A[i, j] /
sum_kj A[k, j]`` (its interbank assets over the system's; uniform ``1/n`` if
there are none); pass ``values=`` to use e.g. total assets instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from loopwatch.contagion._validate import NetworkError, as_network, as_node_values
from loopwatch.errors import ConvergenceError

__all__ = ["DebtRankResult", "debtrank", "default_values", "impact_matrix"]

FloatArray = npt.NDArray[np.float64]
Variant = Literal["battiston2012", "bardoscia2015"]

#: stands in for ``A / 0`` (zero capital): any positive loss means default
_HUGE = 1e300
#: scenarios per block when a batch is propagated
_CHUNK = 64


@dataclass(frozen=True)
class DebtRankResult:
    """Outcome of a DebtRank run.

    Attributes
    ----------
    h : ndarray, shape (n,) or (B, n)
        Final distress of each node, in [0, 1].
    debtrank : float or ndarray of shape (B,)
        System value ``sum_i v_i (h_i - h0_i)``.
    rounds : int
        Propagation rounds until nothing moved (largest over a batch).

    Examples
    --------
    >>> r = debtrank([[0, 5], [0, 0]], [10, 10], [0, 1])
    >>> r.h.tolist(), r.debtrank, r.rounds
    ([0.5, 1.0], 0.5, 2)
    """

    h: FloatArray
    debtrank: float | FloatArray
    rounds: int


def impact_matrix(A: sp.csr_array, capital: FloatArray, *, cap: bool) -> sp.csr_array:
    """``A[i, j] / E_i`` as CSR, capped at 1 if ``cap``; ``A / 0`` is 1 if capped, else huge.

    Notes
    -----
    O(nnz).
    """
    counts = np.diff(A.indptr)
    data = np.repeat(np.where(capital > 0, capital, 1.0), counts)
    with np.errstate(over="ignore"):  # tiny capital: inf, capped below
        np.divide(A.data, data, out=data)
    if not (capital > 0).all():
        data[np.repeat(capital <= 0, counts)] = np.inf
    np.minimum(data, 1.0 if cap else _HUGE, out=data)
    return sp.csr_array((data, A.indices, A.indptr), shape=A.shape)


def default_values(A: sp.csr_array) -> FloatArray:
    """Each node's share of total exposures (uniform if there are none).

    Notes
    -----
    O(nnz).
    """
    n = A.shape[0]
    assets = np.asarray(A.sum(axis=1), dtype=np.float64).ravel()
    total = float(assets.sum())
    return assets / total if total > 0 else np.full(n, 1.0 / max(n, 1))


def debtrank(
    exposures: object,
    capital: object,
    initial_distress: object,
    *,
    variant: Variant = "battiston2012",
    values: object = None,
    tol: float = 1e-12,
    max_rounds: int | None = None,
) -> DebtRankResult:
    """DebtRank of an initial distress on an exposure network.

    Parameters
    ----------
    exposures : array_like or scipy.sparse matrix, shape (n, n)
        ``A[i, j]``: exposure of ``i`` to ``j`` (``i``'s asset, ``j``'s
        liability). Non-negative, finite, zero diagonal.
    capital : array_like, shape (n,)
        Capital (equity) ``E >= 0``. With zero capital the Battiston impact
        is ``min(1, A / 0) = 1`` and the Bardoscia leverage is infinite (any
        loss defaults the node).
    initial_distress : array_like, shape (n,) or (B, n)
        ``h(1)`` in [0, 1]; a leading axis holds ``B`` scenarios.
    variant : {"battiston2012", "bardoscia2015"}, keyword-only
        Propagation rule (see module docstring).
    values : array_like, shape (n,), optional, keyword-only
        Economic weights ``v >= 0``; default: share of total exposures.
    tol : float, keyword-only
        ``"bardoscia2015"`` stops when every increment is ``<= tol``.
    max_rounds : int, optional, keyword-only
        Cap on rounds for ``"bardoscia2015"`` (default 10,000);
        ``"battiston2012"`` always ends within n + 1 rounds.

    Returns
    -------
    DebtRankResult

    Raises
    ------
    NetworkError
        Bad input (shape, negative/NaN entries, distress outside [0, 1]).
    ConvergenceError
        ``"bardoscia2015"`` still moving after ``max_rounds``.

    Notes
    -----
    One sparse product ``W @ x`` per round: O(nnz * rounds) time (times B for
    a batch, propagated in blocks of 64 scenarios), O(nnz + B n) memory.
    ``"battiston2012"`` needs at most the depth of the distressed subgraph
    plus one rounds; ``"bardoscia2015"`` about ``log(1/tol) / log(1/rho)``
    where ``rho`` is the spectral radius of ``Lambda`` on undefaulted nodes
    (it stops early when all reachable nodes default).

    References
    ----------
    S. Battiston, M. Puliga, R. Kaushik, P. Tasca and G. Caldarelli,
    "DebtRank: too central to fail? Financial networks, the FED and systemic
    risk", Scientific Reports 2:541, 2012.
    M. Bardoscia, S. Battiston, F. Caccioli and G. Caldarelli, "DebtRank: a
    microscopic foundation for shock propagation", PLoS ONE 10(6):e0130406,
    2015.

    Examples
    --------
    Node 0 lent 5 to node 1 and node 1 lent 8 to node 0; both hold capital 10.
    Node 1 loses half its capital; node 0 then loses 5/10 * 0.5 = 0.25 and
    hits back once: node 1 ends at 0.5 + 8/10 * 0.25 = 0.7:

    >>> A = [[0, 5], [8, 0]]
    >>> r = debtrank(A, [10, 10], [0, 0.5])
    >>> r.h.tolist(), round(r.debtrank, 6)
    ([0.25, 0.7], 0.219231)

    Battiston's rule lets node 0 hit back only once; Bardoscia's keeps
    feeding increments around the loop (geometric series, ratio 0.4):

    >>> r = debtrank(A, [10, 10], [0, 0.5], variant="bardoscia2015")
    >>> [round(x, 9) for x in r.h.tolist()]
    [0.416666667, 0.833333333]
    """
    if variant not in ("battiston2012", "bardoscia2015"):
        raise NetworkError(
            f"variant must be 'battiston2012' or 'bardoscia2015', got {variant!r}"
        )
    A = as_network("exposures", exposures)
    n = A.shape[0]
    E = as_node_values("capital", capital, n, batch=False)[0][0]
    H0, batched = as_node_values("initial_distress", initial_distress, n, high=1.0)
    v = default_values(A) if values is None else as_node_values(
        "values", values, n, batch=False)[0][0]
    if not (0.0 < float(tol) < 1.0):
        raise NetworkError(f"tol must be in (0, 1), got {tol!r}")
    if max_rounds is not None and (not isinstance(max_rounds, int) or max_rounds < 1):
        raise NetworkError(f"max_rounds must be a positive integer, got {max_rounds!r}")
    battiston = variant == "battiston2012"
    W = impact_matrix(A, E, cap=battiston)
    H = np.empty_like(H0)
    rounds = 0
    for s in range(0, H0.shape[0], _CHUNK):
        block = H0[s : s + _CHUNK]
        x0 = block[0] if block.shape[0] == 1 else np.ascontiguousarray(block.T)
        if battiston:
            x, r = _battiston(W, x0)
        else:
            x, r = _bardoscia(W, x0, float(tol), 10_000 if max_rounds is None else max_rounds)
        H[s : s + _CHUNK] = x if x.ndim == 1 else x.T
        rounds = max(rounds, r)
    value = (H - H0) @ v
    if not batched:
        return DebtRankResult(h=H[0], debtrank=float(value[0]), rounds=rounds)
    return DebtRankResult(h=H, debtrank=value, rounds=rounds)


def _battiston(W: sp.csr_array, h: FloatArray) -> tuple[FloatArray, int]:
    """Battiston et al. (2012) rounds for one vector or an (n, c) block."""
    h = h.copy()
    distressed = h > 0
    inactive = np.zeros_like(distressed)
    rounds = 0
    while distressed.any():
        h = np.minimum(h + W @ np.where(distressed, h, 0.0), 1.0)
        inactive |= distressed
        distressed = (h > 0) & ~inactive
        rounds += 1
    return h, rounds


def _bardoscia(
    Lam: sp.csr_array, h: FloatArray, tol: float, max_rounds: int
) -> tuple[FloatArray, int]:
    """Bardoscia et al. (2015) increments for one vector or an (n, c) block."""
    h = h.copy()
    inc = h.copy()
    rounds = 0
    while True:
        biggest = float(inc.max(initial=0.0))
        if biggest <= tol:
            return h, rounds
        if rounds >= max_rounds:
            raise ConvergenceError(rounds, biggest)
        h_new = np.minimum(h + Lam @ inc, 1.0)
        inc = h_new - h
        h = h_new
        rounds += 1
