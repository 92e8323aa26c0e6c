"""Money-origin tracing, return probability and round-trip share (DESIGN §3, Q1).

Proportional mixing: every dollar a firm pays has the origin mix of the pool
of everything the firm took in over the window. A dollar therefore follows
an absorbing Markov chain over the firms: from firm i it moves to firm j with
probability ``Q[i, j] = W[i, j] / T[i]`` (the share of i's pool paid to j)
and leaves the network (to opex, outside lenders, retained cash...) with the
rest of the row.

* **Origin shares.** The dollars of each origin in the pools, ``Y`` (firm ×
  source, USD), satisfy ``Y = B + Qᵀ Y`` (B: what each firm took directly
  from each outside source), i.e. ``(I − Q)ᵀ Y = B``: one sparse LU of
  ``I − Q`` and one transposed solve with S right-hand sides. The origin
  mix of a firm's *revenue* is then the mix of what each payer paid it.
* **Return probability** ρ_i: the probability that a dollar firm i pays into
  the network (to other firms) comes back to i before leaving the network.
  With the fundamental matrix ``G = (I − Q)⁻¹``, the probability of reaching
  i from j ≠ i before absorption is ``G[j, i] / G[i, i]``, so the return
  probability from i's full out-row is ``r_i = 1 − 1 / G[i, i]`` and,
  conditioning on the first step going to a firm (probability
  ``q_i = Σ_j Q[i, j]``), ``ρ_i = r_i / q_i``. Only the diagonal of ``G`` is
  needed: one solve per firm with the *same* LU factors (blocks of unit
  right-hand sides), and only for firms in a non-trivial strongly
  connected component (a firm on no cycle has ρ = 0 without solving).
  This avoids n separate factorisations with firm i made absorbing.
* **Round-trip share** of i = ρ_i × i's payments into the network / i's
  receipts from the network: the share of what i receives from other firms
  that is its own money coming back.

Closed classes (a group of firms that pays only within itself, with no leak)
make ``I − Q`` singular: their members get ρ = 1 and their pools, which no
outside source feeds, are reported as unattributed.

The reference twin, :mod:`loopwatch.analysis.tracing_reference`, follows
individual dollars by Monte Carlo random walk; tests hold the two together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse import csgraph
from scipy.sparse.linalg import splu

from loopwatch.analysis.flows import PeriodLike, Window, as_flows
from loopwatch.analysis.network import FlowNetwork, flow_network, ratio, sums
from loopwatch.model import ContractType, DealBook, Status

__all__ = [
    "OriginTrace",
    "origin_shares",
    "return_probability",
    "round_trip_share",
    "trace",
    "trace_network",
]

Array = NDArray[np.float64]

_CLOSED_TOL = 1e-12
_BLOCK = 256


@dataclass(frozen=True, eq=False)
class _Chain:
    """The transient part of the absorbing chain, factorised once."""

    Q: sp.csr_matrix
    closed: NDArray[np.bool_]  # (n,) member of a closed class
    cyclic: NDArray[np.bool_]  # (n,) member of a non-trivial open SCC
    transient: NDArray[np.int64]  # indices of the non-closed firms
    lu: Any  # scipy SuperLU of (I - Q) on the transient firms, or None


def _chain(net: FlowNetwork) -> _Chain:
    Q = net.Q()
    n = net.n
    ncomp, label = csgraph.connected_components(Q, directed=True, connection="strong")
    size = np.bincount(label, minlength=ncomp)
    coo = Q.tocoo()
    inside = label[coo.row] == label[coo.col]
    within = np.bincount(coo.row[inside], weights=coo.data[inside], minlength=n)
    leaky = np.bincount(label, weights=(within < 1.0 - _CLOSED_TOL).astype(float), minlength=ncomp)
    closed_comp = (size > 1) & (leaky == 0)
    closed = closed_comp[label]
    cyclic = (size[label] > 1) & ~closed
    transient = np.flatnonzero(~closed)
    lu = None
    if transient.size:
        Qt = Q[transient][:, transient]
        A = (sp.identity(transient.size, format="csc") - Qt).tocsc()
        lu = splu(A, permc_spec="MMD_AT_PLUS_A")
    return _Chain(Q, closed, cyclic, transient, lu)


def _origin_pools(net: FlowNetwork, ch: _Chain) -> Array:
    """USD of each origin in each firm's pool, (n, S); rows sum to T."""
    Y = np.zeros_like(net.B)
    if ch.lu is not None:
        Y[ch.transient] = ch.lu.solve(np.ascontiguousarray(net.B[ch.transient]), trans="T")
    Y[ch.closed, :] = 0.0
    Y[ch.closed, -1] = net.T[ch.closed]
    return np.maximum(Y, 0.0)


def _pool_mix(net: FlowNetwork, Y: Array) -> Array:
    return ratio(Y, Y.sum(axis=1, keepdims=True))


def origin_shares(net: FlowNetwork, *, revenue: bool = False) -> Array:
    """Share of each firm's pool (or revenue) that originated from each outside source.

    Parameters
    ----------
    net : FlowNetwork
        The flow network (n firms, S sources).
    revenue : bool
        If true, the mix of the firm's operating revenue (what payers paid
        it as revenue, each with the payer's pool mix) instead of its pool.

    Returns
    -------
    ndarray, shape (n, S)
        Rows sum to 1 (0 for a firm without pool or revenue); columns in
        the order of ``net.sources``.

    Examples
    --------
    >>> import pandas as pd
    >>> from loopwatch.analysis.network import flow_network
    >>> f = pd.DataFrame({"payer": ["world:end_customers", "world:debt", "a", "b"],
    ...                   "payee": ["a", "a", "b", "world:opex"],
    ...                   "amount": [30.0, 10.0, 40.0, 40.0],
    ...                   "kind": ["end_revenue", "outside_debt", "chip_purchase", "opex"]})
    >>> net = flow_network(f)
    >>> net.sources
    ('world:end_customers', 'world:debt', 'world:unattributed')
    >>> origin_shares(net, revenue=True).round(2).tolist()
    [[1.0, 0.0, 0.0], [0.75, 0.25, 0.0]]
    """
    ch = _chain(net)
    mix = _pool_mix(net, _origin_pools(net, ch))
    if not revenue:
        return mix
    return _revenue_mix(net, mix)


def _revenue_mix(net: FlowNetwork, mix: Array) -> Array:
    rev = np.asarray(net.W_rev.T @ mix) + net.B_rev
    return ratio(rev, rev.sum(axis=1, keepdims=True))


def _diag_inverse(ch: _Chain, which: NDArray[np.int64]) -> Array:
    """Diagonal entries of (I − Q)⁻¹ on the transient firms at positions ``which``."""
    m = ch.transient.size
    out = np.empty(which.size)
    for lo in range(0, which.size, _BLOCK):
        idx = which[lo : lo + _BLOCK]
        rhs = np.zeros((m, idx.size))
        rhs[idx, np.arange(idx.size)] = 1.0
        sol = ch.lu.solve(rhs)
        out[lo : lo + idx.size] = sol[idx, np.arange(idx.size)]
    return out


def _rho(net: FlowNetwork, ch: _Chain) -> Array:
    n = net.n
    rho = np.zeros(n)
    rho[ch.closed] = 1.0
    q = sums(ch.Q, 1)
    pos = np.full(n, -1, dtype=np.int64)
    pos[ch.transient] = np.arange(ch.transient.size)
    targets = np.flatnonzero(ch.cyclic & (q > 0))
    if targets.size:
        g = _diag_inverse(ch, pos[targets])
        rho[targets] = (1.0 - 1.0 / g) / q[targets]
    return np.clip(rho, 0.0, 1.0)


def return_probability(net: FlowNetwork) -> Array:
    """Probability ρ_i that a dollar firm i pays to other firms comes back to i first.

    Parameters
    ----------
    net : FlowNetwork
        The flow network (n firms).

    Returns
    -------
    ndarray, shape (n,)
        ρ in [0, 1]; 0 for a firm that pays no firm or is on no cycle, 1 for
        members of a closed class.

    Notes
    -----
    One sparse LU of ``I − Q`` (SuperLU, minimum-degree ordering on
    ``Aᵀ + A``), then one pair of triangular solves per firm on a cycle, in
    blocks of 256 right-hand sides. Cost O(f + c · nnz(L + U)) for
    factorisation cost f and c firms on cycles; 2,000 random firms take
    about a second (``benchmarks/analysis.py``).

    Examples
    --------
    A three-firm loop a → b → c → a in which c keeps 40 % (a leak): a dollar
    a or b pays comes back with probability 0.6; a dollar c pays into the
    network (to a) always comes back.

    >>> import pandas as pd
    >>> from loopwatch.analysis.network import flow_network
    >>> f = pd.DataFrame({"payer": ["world:end_customers", "a", "b", "c", "c"],
    ...                   "payee": ["a", "b", "c", "a", "world:opex"],
    ...                   "amount": [4.0, 10.0, 10.0, 6.0, 4.0], "kind": "x"})
    >>> return_probability(flow_network(f)).round(12).tolist()
    [0.6, 0.6, 1.0]
    """
    return _rho(net, _chain(net))


def _network_totals(net: FlowNetwork) -> tuple[Array, Array]:
    return sums(net.W, 1), sums(net.W, 0)


@dataclass(frozen=True, eq=False)
class OriginTrace:
    """Result of :func:`trace`.

    Attributes
    ----------
    window : Window
        The quarters traced.
    firms : pandas.DataFrame
        Indexed by firm id; USD columns are totals over the window:
        ``pool`` (T, the firm's throughput), ``revenue`` (operating revenue),
        ``network_receipts`` and ``network_payments`` (from and to other
        firms), ``rho`` (return probability), ``own_money_back``
        (ρ × network payments, USD) and ``round_trip_share`` (own money back
        / network receipts).
    revenue_origin : pandas.DataFrame
        Firm × source: share of each firm's operating revenue that originated
        with each outside source (columns ``end_customers``, ``non_loop``,
        ``equity``, ``debt``, ``opening_cash``, ..., ``unattributed``); rows
        sum to 1 (0 without revenue).
    pool_origin : pandas.DataFrame
        Firm × source: the same for all the money the firm took in.
    network_origin : pandas.DataFrame
        Firm × source: the same for what the firm received from other firms
        (its loop receipts, of any kind).
    """

    window: Window
    firms: pd.DataFrame
    revenue_origin: pd.DataFrame
    pool_origin: pd.DataFrame
    network_origin: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict: ``window`` and one record per firm."""
        recs = []
        firms = self.firms.to_dict(orient="index")
        rev = self.revenue_origin.to_dict(orient="index")
        pool = self.pool_origin.to_dict(orient="index")
        network = self.network_origin.to_dict(orient="index")
        for fid, row in firms.items():
            rec: dict[str, Any] = {"firm": str(fid), **{str(k): float(v) for k, v in row.items()}}
            rec["revenue_origin"] = {str(k): float(v) for k, v in rev[fid].items()}
            rec["pool_origin"] = {str(k): float(v) for k, v in pool[fid].items()}
            rec["network_origin"] = {str(k): float(v) for k, v in network[fid].items()}
            recs.append(rec)
        return {"window": {"start": str(self.window.start), "end": str(self.window.end)},
                "firms": recs}


def _assemble(net: FlowNetwork, window: Window, pool_mix: Array, rev_mix: Array,
              rho: Array, extra: dict[str, Array] | None = None) -> OriginTrace:
    paid, received = _network_totals(net)
    revenue = sums(net.W_rev, 0) + net.B_rev.sum(axis=1)
    back = rho * paid
    share = ratio(back, received)
    firms = pd.DataFrame(
        {
            "pool": net.T,
            "revenue": revenue,
            "network_receipts": received,
            "network_payments": paid,
            "rho": rho,
            "own_money_back": back,
            "round_trip_share": np.clip(share, 0.0, 1.0),
            **(extra or {}),
        },
        index=pd.Index(net.firms, name="firm"),
    )
    cols = pd.Index([s.removeprefix("world:") for s in net.sources], name="source")
    idx = pd.Index(net.firms, name="firm")
    net_mix = ratio(np.asarray(net.W.T @ pool_mix), received[:, None])
    return OriginTrace(window, firms, pd.DataFrame(rev_mix, index=idx, columns=cols),
                       pd.DataFrame(pool_mix, index=idx, columns=cols),
                       pd.DataFrame(net_mix, index=idx, columns=cols))


def trace_network(net: FlowNetwork, window: Window) -> OriginTrace:
    """Trace a prepared :class:`FlowNetwork` (one LU shared by origins and ρ)."""
    ch = _chain(net)
    pool = _pool_mix(net, _origin_pools(net, ch))
    return _assemble(net, window, pool, _revenue_mix(net, pool), _rho(net, ch))


def trace(
    source: DealBook | pd.DataFrame,
    *,
    start: PeriodLike | None = None,
    end: PeriodLike | None = None,
    include: Iterable[ContractType | str] | str | None = None,
    binding: bool | None = None,
    status: Iterable[Status | str] | Status | str | None = None,
) -> OriginTrace:
    """Money-origin tracing, return probability and round-trip share for every firm.

    Parameters
    ----------
    source : DealBook or pandas.DataFrame
        A deal book (expanded with :func:`~loopwatch.analysis.flows.flows_from_book`,
        which closes each firm's budget with the outside world) or a flows
        table (e.g. from a simulation).
    start, end : Period, str, int or None
        The window; a bare year covers the whole year. Defaults: the book's
        start–horizon, or the table's first–last period.
    include : contract types, optional
        Contract types that move money (default: the cash-moving types for a
        book, every kind for a table).
    binding, status : optional
        Keep only binding / non-binding contracts, or these statuses.

    Returns
    -------
    OriginTrace

    Raises
    ------
    ValueError
        If the window is empty or the flows table is malformed.

    Notes
    -----
    Flows are summed over the window (the pools mix over the whole window,
    not quarter by quarter). See the module docstring for the formulation
    and its cost.

    References
    ----------
    Kemeny & Snell, *Finite Markov Chains* (1960), ch. 3 (absorbing chains,
    the fundamental matrix and first-passage probabilities).

    Examples
    --------
    >>> from loopwatch import load_deal_book
    >>> t = trace(load_deal_book("three-party-loop"))
    >>> round(float(t.firms.loc["nvidia", "rho"]), 4) > 0
    True
    >>> float(t.revenue_origin.loc["openai"].sum())
    1.0
    """
    flows, win = as_flows(source, start=start, end=end, include=include, binding=binding,
                          status=status)
    return trace_network(flow_network(flows), win)


def round_trip_share(source: DealBook | pd.DataFrame, **options: Any) -> pd.Series:
    """Round-trip share of each firm (a :class:`pandas.Series` by firm id); options as :func:`trace`.

    Examples
    --------
    >>> from loopwatch import load_deal_book
    >>> s = round_trip_share(load_deal_book("three-party-loop"))
    >>> bool(((s >= 0) & (s <= 1)).all())
    True
    """
    return trace(source, **options).firms["round_trip_share"]
