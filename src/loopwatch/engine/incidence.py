"""Sums of columns into groups, bit-for-bit the same whatever the number of rows.

A matrix product ``A @ M`` with a 0/1 incidence matrix ``M`` is the natural
way to total edge amounts per firm, but BLAS picks different kernels (and
summation orders) for different row counts, so the totals of a path would
depend on how many paths share its chunk. :class:`Sum` instead sorts the
columns by target once and adds each group left to right with
:func:`numpy.add.reduceat`, which fixes the order per row: a run is
identical whatever its chunking.

Examples
--------
>>> import numpy as np
>>> s = Sum(np.array([2, 0, 2]), 3)
>>> s(np.array([[1.0, 2.0, 3.0]])).tolist()
[[2.0, 0.0, 4.0]]
>>> w = Weighted(np.array([0, 1]), np.array([1, 1]), np.array([0.5, 2.0]), 2)
>>> w(np.array([[4.0, 1.0]])).tolist()
[[0.0, 4.0]]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["Sum", "Weighted"]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


class Sum:
    """Total the columns of a ``(P, k)`` array into ``n`` targets: column ``j`` adds to ``target[j]``.

    ``A @ s`` is ``s(A)``, so a :class:`Sum` stands in for a dense incidence
    matrix in matrix products.

    Parameters
    ----------
    target : ndarray of int, shape (k,)
        Target of each column; columns with a target outside ``[0, n)`` are ignored.
    n : int
        Number of targets.
    """

    __array_ufunc__ = None  # make ``ndarray @ Sum`` defer to :meth:`__rmatmul__`

    def __init__(self, target: I64, n: int) -> None:
        target = np.asarray(target, np.int64)
        self.target = target
        self.k, self.n = len(target), int(n)
        keep = np.flatnonzero((target >= 0) & (target < n))
        self.order = keep[np.argsort(target[keep], kind="stable")]
        st = target[self.order]
        m = len(st)
        self.starts = np.flatnonzero(np.r_[True, st[1:] != st[:-1]]) if m else np.zeros(0, np.int64)
        self.targets = st[self.starts] if m else np.zeros(0, np.int64)
        self.identity = self.k == self.n and bool(np.array_equal(target, np.arange(self.n)))
        self._cache: dict[tuple[int | None, int | None, int | None, int], Sum] = {}

    def __call__(self, A: F64) -> F64:
        """Totals (P, n) of ``A`` (P, k)."""
        P = A.shape[0]
        if self.identity:
            return np.array(A, float)
        out = np.zeros((P, self.n))
        if len(self.order):
            out[:, self.targets] = np.add.reduceat(A[:, self.order], self.starts, axis=1)
        return out

    def __rmatmul__(self, A: F64) -> F64:
        return self(np.asarray(A, float))

    def __getitem__(self, key: slice | tuple[slice, slice]) -> Sum:
        """Restrict to some columns (``s[rows]``) and/or the first targets (``s[:, :n]``)."""
        rows, cols = key if isinstance(key, tuple) else (key, slice(None))
        n = len(range(*cols.indices(self.n)))
        tag = (rows.start, rows.stop, rows.step, n)
        hit = self._cache.get(tag)
        if hit is None:
            hit = self._cache[tag] = Sum(self.target[rows], n)
        return hit


class Weighted:
    """``out[:, col[m]] += A[:, row[m]] * weight[m]`` for every entry ``m``, in a fixed order.

    A sparse ``(k, n)`` matrix applied from the right, chunk-invariant.
    """

    __array_ufunc__ = None

    def __init__(self, row: I64, col: I64, weight: F64, n: int) -> None:
        keep = np.asarray(weight) != 0
        self.row = np.asarray(row, np.int64)[keep]
        self.weight = np.asarray(weight, float)[keep]
        self.sum = Sum(np.asarray(col, np.int64)[keep], n)

    @classmethod
    def dense(cls, M: F64) -> Weighted:
        """From a dense ``(k, n)`` matrix."""
        r, c = np.nonzero(M)
        return cls(r, c, M[r, c], M.shape[1])

    def __call__(self, A: F64) -> F64:
        return self.sum(A[:, self.row] * self.weight)

    def __rmatmul__(self, A: F64) -> F64:
        return self(np.asarray(A, float))
