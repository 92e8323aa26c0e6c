"""A flows table aggregated over a window into a sparse flow network.

:class:`FlowNetwork` is the common input of the tracing kernels: firm-to-firm
amounts as a sparse matrix, inflows from and outflows to the outside world as
dense blocks, and each firm's throughput. Axis order is ``(firm, firm)`` for
firm-to-firm blocks and ``(firm, account)`` for the world blocks; amounts are
USD summed over the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from loopwatch.analysis.flows import REVENUE_KINDS, WORLD, is_world

__all__ = ["FlowNetwork", "flow_network", "random_flow_network", "ratio", "sums"]

Array = NDArray[np.float64]



def sums(m: Any, axis: int) -> Array:
    """Sums of a sparse or dense matrix along ``axis`` as a flat float array."""
    return np.asarray(m.sum(axis=axis), dtype=np.float64).ravel()


def ratio(a: Array, b: Array) -> Array:
    """``a / b`` where ``b > 0``, else 0 (broadcasting)."""
    out = np.zeros(np.broadcast(a, b).shape)
    np.divide(a, b, out=out, where=b > 0)
    return out


_SOURCE_ORDER = (WORLD.END_CUSTOMERS, WORLD.NON_LOOP, WORLD.EQUITY, WORLD.DEBT, WORLD.OPENING_CASH)


@dataclass(frozen=True, eq=False)
class FlowNetwork:
    """Money moved over a window between firms and the outside world.

    Attributes
    ----------
    firms : tuple of str, length n
        Firm ids (every non-``world:`` account in the flows), sorted.
    sources : tuple of str, length S
        Outside accounts money comes from (``world:end_customers``, ...), the
        last one always :attr:`WORLD.UNATTRIBUTED`.
    sinks : tuple of str, length K
        Outside accounts money goes to (``world:opex``, ...).
    W : scipy.sparse.csr_matrix, shape (n, n)
        ``W[i, j]``: USD firm i paid firm j (self-payments dropped).
    B : ndarray, shape (n, S)
        ``B[i, s]``: USD firm i received from outside source s; the
        unattributed column holds ``T - inflow`` (payments a flows table does
        not explain by any inflow).
    sink : ndarray, shape (n, K)
        ``sink[i, k]``: USD firm i paid to outside sink k.
    W_rev : scipy.sparse.csr_matrix, shape (n, n)
        The part of ``W`` whose kind is operating revenue (:data:`REVENUE_KINDS`).
    B_rev : ndarray, shape (n, S)
        The part of ``B`` that is operating revenue (end and non-loop revenue).
    T : ndarray, shape (n,)
        Throughput ``max(inflow, outflow)`` in USD: the pool each firm pays
        from. Money a firm receives but does not pay out stays with it
        (absorbed at the firm).
    """

    firms: tuple[str, ...]
    sources: tuple[str, ...]
    sinks: tuple[str, ...]
    W: sp.csr_matrix
    B: Array
    sink: Array
    W_rev: sp.csr_matrix
    B_rev: Array
    T: Array

    @property
    def n(self) -> int:
        """Number of firms."""
        return len(self.firms)

    @property
    def inflow(self) -> Array:
        """USD each firm received (from firms and the world, not the unattributed part), (n,)."""
        return sums(self.W, 0) + sums(self.B[:, :-1], 1)

    @property
    def outflow(self) -> Array:
        """USD each firm paid (to firms and the world), (n,)."""
        return sums(self.W, 1) + sums(self.sink, 1)

    def Q(self) -> sp.csr_matrix:
        """Flow fractions between firms, ``Q[i, j] = W[i, j] / T[i]``, shape (n, n).

        The transient block of the absorbing chain a dollar follows: row sums
        are ≤ 1, the rest of each row is absorbed by the world or retained.
        """
        inv = ratio(np.ones_like(self.T), self.T)
        return sp.csr_matrix(sp.diags(inv) @ self.W)


def flow_network(flows: pd.DataFrame) -> FlowNetwork:
    """Aggregate a flows table (already windowed and filtered) into a :class:`FlowNetwork`.

    Parameters
    ----------
    flows : pandas.DataFrame
        Rows with ``payer, payee, amount, kind`` (see :mod:`loopwatch.analysis.flows`).

    Returns
    -------
    FlowNetwork

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"payer": ["world:end_customers", "a", "b"], "payee": ["a", "b", "world:opex"],
    ...                   "amount": [10.0, 10.0, 10.0], "kind": ["end_revenue", "x", "opex"]})
    >>> net = flow_network(f)
    >>> net.firms, net.T.tolist()
    (('a', 'b'), [10.0, 10.0])
    """
    f = flows[flows["payer"] != flows["payee"]]
    payer = f["payer"].astype(str).to_numpy()
    payee = f["payee"].astype(str).to_numpy()
    amount = f["amount"].to_numpy(dtype=np.float64)
    rev = f["kind"].astype(str).isin(REVENUE_KINDS).to_numpy()
    world_payer = np.array([is_world(x) for x in payer], dtype=bool)
    world_payee = np.array([is_world(x) for x in payee], dtype=bool)

    firms = tuple(sorted(set(payer[~world_payer]) | set(payee[~world_payee])))
    seen = set(payer[world_payer]) - {WORLD.UNATTRIBUTED}
    known = [s for s in _SOURCE_ORDER if s in seen]
    sources = (*known, *sorted(seen - set(known)), WORLD.UNATTRIBUTED)
    sinks = tuple(sorted(set(payee[world_payee])))
    fi = {x: k for k, x in enumerate(firms)}
    si = {x: k for k, x in enumerate(sources)}
    ki = {x: k for k, x in enumerate(sinks)}
    n, s, k = len(firms), len(sources), len(sinks)

    ff = ~world_payer & ~world_payee
    rows = np.array([fi[x] for x in payer[ff]], dtype=np.int64)
    cols = np.array([fi[x] for x in payee[ff]], dtype=np.int64)
    W = sp.csr_matrix((amount[ff], (rows, cols)), shape=(n, n))
    W_rev = sp.csr_matrix((amount[ff & rev], (rows[rev[ff]], cols[rev[ff]])), shape=(n, n))
    W.sum_duplicates()
    W_rev.sum_duplicates()

    B = np.zeros((n, s))
    B_rev = np.zeros((n, s))
    wf = world_payer & ~world_payee
    for src, dst, a, r in zip(payer[wf], payee[wf], amount[wf], rev[wf], strict=True):
        B[fi[dst], si[src]] += a
        if r:
            B_rev[fi[dst], si[src]] += a
    sink = np.zeros((n, k))
    fw = ~world_payer & world_payee
    np.add.at(sink, ([fi[x] for x in payer[fw]], [ki[x] for x in payee[fw]]), amount[fw])

    inflow = sums(W, 0) + B.sum(axis=1)
    outflow = sums(W, 1) + sink.sum(axis=1)
    T = np.maximum(inflow, outflow)
    B[:, -1] += T - inflow
    return FlowNetwork(firms, sources, sinks, W, B, sink, W_rev, B_rev, T)


def random_flow_network(
    n: int,
    *,
    degree: float = 5.0,
    leak: tuple[float, float] = (0.05, 0.5),
    seed: int | np.random.SeedSequence = 0,
) -> pd.DataFrame:
    """A random flows table of ``n`` firms for tests and benchmarks.

    Each firm pays about ``degree`` random other firms (log-normal amounts),
    leaks a uniform share in ``leak`` of its pool to opex, and receives from
    end customers, non-loop revenue, outside equity and outside debt (random
    mix) what it pays beyond what firms pay it, plus up to 20 % more (kept).

    Parameters
    ----------
    n : int
        Number of firms (≥ 2).
    degree : float
        Mean number of firms each firm pays (Poisson, at least 1).
    leak : (float, float)
        Range of the share of each firm's pool paid to ``world:opex``.
    seed : int or numpy.random.SeedSequence
        Seed of the generator.

    Returns
    -------
    pandas.DataFrame
        A one-period flows table (``period`` ``"2025Q1"``) in which every
        firm takes in at least what it pays out.

    Examples
    --------
    >>> f = random_flow_network(50, seed=1)
    >>> flow_network(f).n
    50
    """
    rng = np.random.default_rng(seed)
    deg = np.maximum(rng.poisson(degree, n), 1)
    src = np.repeat(np.arange(n), deg)
    dst = (src + rng.integers(1, n, src.size)) % n  # never a self-payment
    amt = rng.lognormal(0.0, 1.0, src.size) * 1e9
    paid = np.bincount(src, weights=amt, minlength=n)
    share = rng.uniform(*leak, n)
    opex = paid * share / (1.0 - share)
    received = np.bincount(dst, weights=amt, minlength=n)
    need = np.maximum(paid + opex - received, 0.0) + (paid + opex) * rng.uniform(0.0, 0.2, n)
    inflow = rng.dirichlet(np.ones(4), n) * need[:, None]
    names = [f"f{k:05d}" for k in range(n)]
    worlds = [WORLD.END_CUSTOMERS, WORLD.NON_LOOP, WORLD.EQUITY, WORLD.DEBT]
    kinds = ["end_revenue", "non_loop_revenue", "outside_equity", "outside_debt"]
    payer = [names[i] for i in src] + [w for _ in range(n) for w in worlds] + names
    payee = [names[j] for j in dst] + [x for x in names for _ in worlds] + [WORLD.OPEX] * n
    kind = ["compute_commitment"] * src.size + kinds * n + ["opex"] * n
    amount = np.concatenate([amt, inflow.ravel(), opex])
    return pd.DataFrame(
        {
            "period": "2025Q1",
            "payer": payer,
            "payee": payee,
            "amount": amount,
            "kind": kind,
            "binding": True,
            "status": None,
            "contract": [f"c{k}" for k in range(src.size)] + [None] * (5 * n),
            "leg": ["payment"] * src.size + kinds * n + ["opex"] * n,
        }
    )
