"""Reference twins of the tracing kernels: follow individual dollars.

Short, obviously-correct versions of :mod:`loopwatch.analysis.tracing`,
tested against it on random networks:

* :func:`return_probability_mc` sends ``walks`` dollars from each firm into
  the network (first step to firm j with probability ∝ ``W[i, j]``), moves
  each on by the flow fractions ``Q`` until it leaves the network or comes
  back to its firm, and counts the returns.
* :func:`origin_shares_mc` walks dollars *backwards*: a dollar in firm k's
  pool came from payer j with probability ``W[j, k] / T[k]`` or from outside
  source s with probability ``B[k, s] / T[k]`` (that is proportional
  mixing); the walk ends at the first outside source, its origin.
* :func:`return_probability_exact` makes each firm absorbing in turn and
  solves the dense first-passage system, n separate solves (O(n⁴) — only
  for small networks).

The walks are vectorised over dollars, one independent random stream per
firm (``SeedSequence.spawn``), so results do not depend on the firm order.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from loopwatch.analysis.flows import PeriodLike, as_flows
from loopwatch.analysis.network import FlowNetwork, flow_network
from loopwatch.analysis.tracing import OriginTrace, _assemble
from loopwatch.model import ContractType, DealBook, Status

__all__ = [
    "origin_shares_mc",
    "return_probability_exact",
    "return_probability_mc",
    "trace_reference",
]

Array = NDArray[np.float64]
Seed = int | np.random.SeedSequence


def _step(cum: Array, indptr: NDArray[np.int32], indices: NDArray[np.int32],
          at: NDArray[np.int64], rng: np.random.Generator) -> NDArray[np.int64]:
    """Move walkers at rows ``at`` by a row-substochastic CSR matrix; -1 = absorbed.

    ``cum`` holds each row's running sum of probabilities plus the row index,
    so one global sorted search picks the column for every walker at once.
    """
    u = at + rng.random(at.size)
    pos = np.searchsorted(cum, u, side="right")
    ok = pos < indptr[at + 1]
    nxt = np.full(at.size, -1, dtype=np.int64)
    nxt[ok] = indices[pos[ok]]
    return nxt


def _cumulative(P: sp.csr_matrix) -> Array:
    rows = np.repeat(np.arange(P.shape[0]), np.diff(P.indptr))
    cum = np.empty(P.nnz)
    for r in range(P.shape[0]):
        lo, hi = P.indptr[r], P.indptr[r + 1]
        cum[lo:hi] = np.cumsum(P.data[lo:hi])
    return np.asarray(cum + rows, dtype=np.float64)


def return_probability_mc(
    net: FlowNetwork, *, walks: int = 20_000, seed: Seed = 0, max_steps: int = 10_000
) -> tuple[Array, Array]:
    """Monte Carlo twin of :func:`~loopwatch.analysis.tracing.return_probability`.

    Parameters
    ----------
    net : FlowNetwork
        The flow network (n firms).
    walks : int
        Dollars sent from each firm.
    seed : int or numpy.random.SeedSequence
        Root seed; each firm gets its own spawned stream.
    max_steps : int
        Walks still in the network after this many steps count as not
        returned (they are in a closed class that excludes the firm, or the
        network barely leaks).

    Returns
    -------
    (ndarray, ndarray), each shape (n,)
        ρ estimates and their standard errors ``sqrt(ρ(1 − ρ)/walks)``.
    """
    Q = net.Q()
    Q.sort_indices()
    cum = _cumulative(Q)
    streams = np.random.SeedSequence(seed) if isinstance(seed, int) else seed
    rho = np.zeros(net.n)
    for i, ss in enumerate(streams.spawn(net.n)):
        row = Q.getrow(i)
        if row.nnz == 0:
            continue
        rng = np.random.default_rng(ss)
        first = rng.choice(row.indices, size=walks, p=row.data / row.data.sum())
        at = first.astype(np.int64)
        back = 0
        for _ in range(max_steps):
            home = at == i
            back += int(home.sum())
            at = at[~home & (at >= 0)]
            if at.size == 0:
                break
            at = _step(cum, Q.indptr, Q.indices, at, rng)
        rho[i] = back / walks
    return rho, np.sqrt(rho * (1.0 - rho) / walks)


def origin_shares_mc(
    net: FlowNetwork,
    *,
    walks: int = 20_000,
    seed: Seed = 0,
    revenue: bool = False,
    max_steps: int = 10_000,
) -> tuple[Array, Array]:
    """Monte Carlo twin of :func:`~loopwatch.analysis.tracing.origin_shares`.

    Parameters
    ----------
    net : FlowNetwork
        The flow network (n firms, S sources).
    walks : int
        Dollars traced back from each firm.
    seed : int or numpy.random.SeedSequence
        Root seed; each firm gets its own spawned stream.
    revenue : bool
        Start from the firm's operating revenue instead of its pool.
    max_steps : int
        Walks that have not reached a source after this many steps (a
        closed class) count as unattributed.

    Returns
    -------
    (ndarray, ndarray), each shape (n, S)
        Shares and standard errors; columns in the order of ``net.sources``.
    """
    n, S = net.B.shape
    T = np.where(net.T > 0, net.T, 1.0)
    # backward chain over n firms + S sources: row k = where a pool dollar of k came from
    back = sp.hstack([sp.csr_matrix(sp.diags(1.0 / T) @ net.W.T), sp.csr_matrix(net.B / T[:, None])])
    back = sp.csr_matrix(back)
    back.sort_indices()
    cum = _cumulative(back)
    first_rev = sp.csr_matrix(sp.hstack([sp.csr_matrix(net.W_rev.T), sp.csr_matrix(net.B_rev)]))
    streams = np.random.SeedSequence(seed) if isinstance(seed, int) else seed
    shares = np.zeros((n, S))
    for i, ss in enumerate(streams.spawn(n)):
        rng = np.random.default_rng(ss)
        row = first_rev.getrow(i) if revenue else back.getrow(i)
        if row.nnz == 0 or row.data.sum() <= 0:
            continue
        at = rng.choice(row.indices, size=walks, p=row.data / row.data.sum()).astype(np.int64)
        for _ in range(max_steps):
            done = at >= n
            np.add.at(shares[i], at[done] - n, 1.0)
            at = at[~done]
            if at.size == 0:
                break
            at = _step(cum, back.indptr, back.indices, at, rng)
        shares[i, -1] += at.size  # never reached a source
        shares[i] /= walks
    return shares, np.sqrt(shares * (1.0 - shares) / walks)


def return_probability_exact(net: FlowNetwork) -> Array:
    """ρ by first passage with each firm made absorbing in turn (dense, n solves).

    For target i: ``h = Q̃ h + Q[:, i]`` on the firms j ≠ i (``Q̃``: ``Q``
    without row and column i) gives ``h_j``, the probability of reaching i
    from j before leaving; ρ_i = Σ_j Q[i, j] h_j / Σ_j Q[i, j].

    Returns
    -------
    ndarray, shape (n,)
    """
    Q = net.Q().toarray()
    n = Q.shape[0]
    rho = np.zeros(n)
    for i in range(n):
        q = Q[i].sum()
        if q <= 0:
            continue
        others = np.delete(np.arange(n), i)
        A = np.eye(n - 1) - Q[np.ix_(others, others)]
        h = np.linalg.lstsq(A, Q[others, i], rcond=None)[0]  # closed classes: min-norm
        rho[i] = float(Q[i, others] @ h) / q
    return np.clip(rho, 0.0, 1.0)


def trace_reference(
    source: DealBook | pd.DataFrame,
    *,
    start: PeriodLike | None = None,
    end: PeriodLike | None = None,
    include: Iterable[ContractType | str] | str | None = None,
    binding: bool | None = None,
    status: Iterable[Status | str] | Status | str | None = None,
    walks: int = 20_000,
    seed: Seed = 0,
) -> OriginTrace:
    """:func:`~loopwatch.analysis.tracing.trace` by following dollars (Monte Carlo).

    Same parameters and result as :func:`~loopwatch.analysis.tracing.trace`,
    plus ``walks`` dollars per firm and a ``seed``; ``firms`` gains a
    ``rho_se`` column (standard error of ρ).

    Examples
    --------
    >>> from loopwatch import load_deal_book
    >>> from loopwatch.analysis.tracing import trace
    >>> book = load_deal_book("three-party-loop")
    >>> ref = trace_reference(book, walks=5000, seed=1).firms
    >>> fast = trace(book).firms
    >>> bool((abs(ref.rho - fast.rho) <= 5 * ref.rho_se + 1e-9).all())
    True
    """
    flows, win = as_flows(source, start=start, end=end, include=include, binding=binding,
                          status=status)
    net = flow_network(flows)
    root = np.random.SeedSequence(seed) if isinstance(seed, int) else seed
    s_rho, s_pool, s_rev = root.spawn(3)
    rho, rho_se = return_probability_mc(net, walks=walks, seed=s_rho)
    pool, _ = origin_shares_mc(net, walks=walks, seed=s_pool)
    rev, _ = origin_shares_mc(net, walks=walks, seed=s_rev, revenue=True)
    return _assemble(net, win, pool, rev, rho, {"rho_se": rho_se})
