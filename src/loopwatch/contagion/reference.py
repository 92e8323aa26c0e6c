"""Reference twins: each kernel again, in plain Python loops, for testing.

These follow the papers' definitions line by line on lists and dicts, with no
vectorisation, no sparse tricks and no batch axis, so that they are easy to
check by eye. They share only input validation with the fast kernels and
return the same result types. They are slow (pure Python, O(nnz) per sweep).

The clearing twins iterate the clearing map from full payment ``p = pbar``
until the payments stop moving (change ``<= 1e-15 * max(pbar)``): the
sequence decreases monotonically to the greatest clearing vector (Eisenberg
& Noe 2001, Lemma 4; Rogers & Veraart 2013, Theorem 3.7).
"""

from __future__ import annotations

import numpy as np

from loopwatch.contagion._validate import NetworkError, as_network, as_node_values
from loopwatch.contagion.cascade import CascadeResult, as_defaults, as_lgd
from loopwatch.contagion.clearing import ClearingResult
from loopwatch.contagion.debtrank import DebtRankResult
from loopwatch.errors import ConvergenceError

__all__ = [
    "debtrank_reference",
    "eisenberg_noe_reference",
    "furfine_cascade_reference",
    "rogers_veraart_reference",
]

Edges = list[tuple[int, int, float]]


def _edges(name: str, matrix: object) -> tuple[int, Edges]:
    csr = as_network(name, matrix).tocoo()
    edges = list(zip(csr.row.tolist(), csr.col.tolist(), csr.data.tolist(), strict=True))
    return csr.shape[0], edges


def _vector(name: str, values: object, n: int, high: float = float("inf")) -> list[float]:
    arr = as_node_values(name, values, n, batch=False, high=high)[0]
    return [float(x) for x in arr[0]]


def eisenberg_noe_reference(
    liabilities: object, external_assets: object, *, max_iter: int = 1_000_000
) -> ClearingResult:
    """Greatest Eisenberg–Noe clearing vector by plain fixed-point iteration.

    Notes
    -----
    O(nnz) Python operations per sweep; sweeps ~ ``log(eps) / log(rho)``.

    Examples
    --------
    >>> eisenberg_noe_reference([[0, 2], [1, 0]], [0.5, 0.0]).payments.tolist()
    [1.5, 1.0]
    """
    return rogers_veraart_reference(
        liabilities, external_assets, alpha=1.0, beta=1.0, max_iter=max_iter
    )


def rogers_veraart_reference(
    liabilities: object,
    external_assets: object,
    *,
    alpha: float,
    beta: float,
    max_iter: int = 1_000_000,
) -> ClearingResult:
    """Greatest Rogers–Veraart clearing vector by plain fixed-point iteration.

    Notes
    -----
    O(nnz) Python operations per sweep.

    Examples
    --------
    >>> L = [[0, 10, 0], [0, 0, 10], [0, 0, 0]]
    >>> rogers_veraart_reference(L, [6, 5, 0], alpha=0.5, beta=0.5).payments.tolist()
    [3.0, 4.0, 0.0]
    """
    if not (0.0 <= alpha <= 1.0 and 0.0 <= beta <= 1.0):
        raise NetworkError("alpha and beta must be in [0, 1]")
    n, edges = _edges("liabilities", liabilities)
    e = _vector("external_assets", external_assets, n)
    pbar = [0.0] * n
    for i, _, amount in edges:
        pbar[i] += amount
    scale = max(pbar, default=0.0)

    def inflows(p: list[float]) -> list[float]:
        got = [0.0] * n
        for i, j, amount in edges:  # i pays j its pro-rata share of p_i
            got[j] += amount / pbar[i] * p[i]
        return got

    p = list(pbar)
    sweep, change = 0, float("inf")
    while sweep < max_iter:
        sweep += 1
        got = inflows(p)
        new = []
        for i in range(n):
            if e[i] + got[i] >= pbar[i]:
                new.append(pbar[i])
            else:
                new.append(alpha * e[i] + beta * got[i])
        change = max((old - nxt for old, nxt in zip(p, new, strict=True)), default=0.0)
        p = new
        if change <= 1e-15 * scale:
            break
    else:
        raise ConvergenceError(sweep, change)
    got = inflows(p)
    assets = [e[i] + got[i] for i in range(n)]
    return ClearingResult(
        payments=np.array(p),
        defaulted=np.array([assets[i] < pbar[i] * (1 - 1e-12) for i in range(n)], dtype=bool),
        equity=np.array([max(assets[i] - pbar[i], 0.0) for i in range(n)]),
        iterations=sweep,
        converged=True,
    )


def debtrank_reference(
    exposures: object,
    capital: object,
    initial_distress: object,
    *,
    variant: str = "battiston2012",
    values: object = None,
    tol: float = 1e-12,
) -> DebtRankResult:
    """DebtRank with explicit node states, exactly as the papers state it.

    Notes
    -----
    O(nnz) Python operations per round.

    Examples
    --------
    >>> debtrank_reference([[0, 5], [8, 0]], [10, 10], [0, 0.5]).h.tolist()
    [0.25, 0.7]
    """
    n, edges = _edges("exposures", exposures)
    E = _vector("capital", capital, n)
    h = _vector("initial_distress", initial_distress, n, high=1.0)
    h0 = list(h)
    if values is None:
        assets = [0.0] * n
        for i, _, amount in edges:
            assets[i] += amount
        total = sum(assets)
        v = [a / total for a in assets] if total > 0 else [1.0 / n] * n
    else:
        v = _vector("values", values, n)

    def impact(i: int, amount: float, capped: bool) -> float:
        if E[i] == 0:
            return 1.0 if capped else float("inf")
        return min(1.0, amount / E[i]) if capped else amount / E[i]

    rounds = 0
    if variant == "battiston2012":
        state = ["D" if x > 0 else "U" for x in h]
        while "D" in state:
            new_h = list(h)
            for i, j, amount in edges:  # distress flows from borrower j to lender i
                if state[j] == "D":
                    new_h[i] += impact(i, amount, True) * h[j]
            new_h = [min(1.0, x) for x in new_h]
            state = [
                "I" if s == "D" else ("D" if s == "U" and x > 0 else s)
                for s, x in zip(state, new_h, strict=True)
            ]
            h = new_h
            rounds += 1
    elif variant == "bardoscia2015":
        previous = [0.0] * n
        while max(x - y for x, y in zip(h, previous, strict=True)) > tol:
            new_h = list(h)
            for i, j, amount in edges:
                step = h[j] - previous[j]
                if step > 0:
                    new_h[i] += impact(i, amount, False) * step
            previous, h = h, [min(1.0, x) for x in new_h]
            rounds += 1
    else:
        raise NetworkError(f"unknown variant {variant!r}")
    value = sum(v[i] * (h[i] - h0[i]) for i in range(n))
    return DebtRankResult(h=np.array(h), debtrank=float(value), rounds=rounds)


def furfine_cascade_reference(
    exposures: object,
    capital: object,
    initial_defaults: object,
    *,
    loss_given_default: object,
) -> CascadeResult:
    """Sequential default cascade, one round at a time, in plain loops.

    Notes
    -----
    O(nnz) Python operations per round.

    Examples
    --------
    >>> A = [[0, 5, 0], [0, 0, 5], [0, 0, 0]]
    >>> furfine_cascade_reference(A, [3, 3, 3], [0, 0, 1],
    ...                           loss_given_default=1).default_round.tolist()
    [2, 1, 0]
    """
    n, edges = _edges("exposures", exposures)
    E = _vector("capital", capital, n)
    flags, batched = as_defaults("initial_defaults", initial_defaults, n)
    if batched:
        raise NetworkError("the reference twin takes one scenario, shape (n,)")
    lgd = [float(x) for x in as_lgd(loss_given_default, n)]
    rnd = [0 if flag else -1 for flag in flags[0].tolist()]
    loss = [0.0] * n
    t = last = 0
    while True:
        t += 1
        for i, j, amount in edges:  # lender i loses on borrower j
            if rnd[j] == t - 1:
                loss[i] += lgd[j] * amount
        new = [i for i in range(n) if rnd[i] == -1 and loss[i] > 0 and loss[i] >= E[i]]
        if not new:
            break
        for i in new:
            rnd[i] = t
        last = t
    return CascadeResult(
        default_round=np.array(rnd, dtype=np.int64),
        defaulted=np.array([r >= 0 for r in rnd], dtype=bool),
        losses=np.array(loss),
        rounds=last,
    )
