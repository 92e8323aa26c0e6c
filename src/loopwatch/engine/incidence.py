"""Group sums of rows, bit-for-bit the same whatever the number of paths.

The engine keeps its arrays **entity-major**: ``(firm, path)``, ``(edge,
path)``, ``(contract, path)``, so that every per-entity vector is a
contiguous row and every reduction over entities adds whole rows. Totalling
edge amounts per firm is then a sparse matrix product ``S @ A`` with ``S`` a
0/1 (or weighted) CSR matrix of shape ``(n, k)``: a compiled kernel
(:func:`loopwatch.engine._fused.csr_matmul`, the same sums as SciPy's
``csr_matvecs``, :func:`spmm_reference`) adds, for each target, the rows of
its entries in index order, so the result of a path does not depend on how
many paths share its chunk (a dense BLAS product picks kernels, and
summation orders, by size). It is also fast: one pass over the nonzeros,
each a vectorised row operation, in a single call.

Examples
--------
>>> import numpy as np
>>> s = Sum(np.array([2, 0, 2]), 3)
>>> (s @ np.array([[1.0], [2.0], [3.0]])).ravel().tolist()
[2.0, 0.0, 4.0]
>>> w = Weighted(np.array([0, 1]), np.array([1, 1]), np.array([0.5, 2.0]), n=2, k=2)
>>> (w @ np.array([[4.0], [1.0]])).ravel().tolist()
[0.0, 4.0]
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse._sparsetools import csr_matvecs as _csr_matvecs

from loopwatch.engine import _fused

__all__ = ["Sum", "Weighted", "cached_sum", "spmm_reference"]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


_SUMS: dict[tuple[bytes, int], Sum] = {}


def cached_sum(target: I64, n: int) -> Sum:
    """A :class:`Sum` for ``(target, n)``, built once per process (small LRU-free cache)."""
    t = np.asarray(target, np.int64)
    key = (t.tobytes(), int(n))
    hit = _SUMS.get(key)
    if hit is None:
        if len(_SUMS) > 4096:
            _SUMS.clear()
        hit = _SUMS[key] = Sum(t, n)
    return hit


def _dense(A: NDArray[np.generic], k: int) -> F64:
    """``A`` as a C-contiguous float64 ``(k, P)`` array (1-D: one column); ``A`` itself when it
    is one already (no copy)."""
    if A.dtype == np.float64 and A.ndim == 2 and A.flags.c_contiguous and A.shape[0] == k:
        return A  # type: ignore[return-value]
    X = np.ascontiguousarray(A, dtype=np.float64)
    if X.ndim == 1:
        X = X.reshape(len(X), 1)
    if X.ndim != 2 or X.shape[0] != k:
        raise ValueError(f"cannot total an array of shape {np.shape(A)} over {k} rows")
    return X


def _spmm(m: _CSR, A: F64) -> F64:
    """``m @ A`` for a CSR ``m`` (n, k) and a dense ``A`` (k, P), in one compiled pass.

    Each output row adds the input rows of its entries in index order
    (deterministic), as SciPy's ``csr_matvecs`` does (:func:`spmm_reference`),
    into a fresh array without zero-filling it first.
    """
    n, k = m.shape
    X = _dense(A, k)
    out = np.empty((n, X.shape[1]))
    _fused.csr_matmul(m.indptr, m.indices, m.data, X, out)
    return out


def spmm_reference(m: sp.csr_matrix | _CSR, A: F64) -> F64:
    """The twin of :func:`_spmm` through SciPy's kernel (for tests)."""
    n, k = m.shape
    P = A.shape[1] if A.ndim == 2 else 1
    out = np.zeros((n, P))
    if m.nnz:
        X = np.ascontiguousarray(A, dtype=np.float64)
        _csr_matvecs(n, k, P, m.indptr, m.indices, m.data, X.ravel(), out.ravel())
    return out


class _CSR:
    """The fields of a CSR matrix that :func:`_spmm` reads, int64 indices (no SciPy object)."""

    def __init__(self, shape: tuple[int, int], indptr: I64, indices: I64, data: F64) -> None:
        self.shape = (int(shape[0]), int(shape[1]))
        self.indptr = np.ascontiguousarray(indptr, np.int64)
        self.indices = np.ascontiguousarray(indices, np.int64)
        self.data = np.ascontiguousarray(data, np.float64)
        self.nnz = len(self.data)

    @classmethod
    def of(cls, m: sp.csr_matrix) -> _CSR:
        """The (index-sorted) fields of a SciPy CSR matrix."""
        return cls(m.shape, m.indptr, m.indices, m.data)


class Sum:
    """Total the rows of a ``(k, P)`` array into ``n`` targets: row ``j`` adds to ``target[j]``.

    Parameters
    ----------
    target : ndarray of int, shape (k,)
        Target of each row; rows with a target outside ``[0, n)`` are ignored.
    n : int
        Number of targets.
    weight : ndarray, shape (k,), optional
        Multiplier of each row (default 1).
    """

    def __init__(self, target: I64, n: int, weight: F64 | None = None) -> None:
        target = np.asarray(target, np.int64)
        self.target, self.k, self.n = target, len(target), int(n)
        keep = np.flatnonzero((target >= 0) & (target < n))
        w = np.ones(len(keep)) if weight is None else np.asarray(weight, float)[keep]
        self.matrix = sp.csr_matrix((w, (target[keep], keep)), shape=(self.n, self.k))
        self.matrix.sort_indices()
        self._compact()
        self._cache: dict[tuple[int | None, int | None, int | None, int], Sum] = {}
        self._full: I64 | None = None  # a restriction's entries as rows of the full input

    def _compact(self) -> None:
        """The targets that receive anything, and the matrix restricted to them."""
        self.used = np.flatnonzero(np.diff(self.matrix.indptr) > 0)
        self.compact = self.matrix[self.used]
        self.compact.sort_indices()
        self._m, self._c = _CSR.of(self.matrix), _CSR.of(self.compact)

    @property
    def csr(self) -> tuple[I64, I64, F64]:
        """``(indptr, indices, data)`` of the map as an ``(n, k)`` CSR matrix, int64 indices."""
        m = self._m
        return m.indptr, m.indices, m.data

    def add_into(self, out: F64, A: F64) -> None:
        """``out += self @ A`` touching only the targets that receive anything."""
        if not len(self.used):
            return
        c = self._c
        if out.dtype != np.float64 or not out.flags.c_contiguous or out.ndim != 2:
            out[self.used] += _spmm(c, A)
            return
        X = _dense(A, c.shape[1])
        if X.shape[1] != out.shape[1]:
            raise ValueError(f"cannot add {X.shape[1]} paths into {out.shape[1]}")
        _fused.csr_add_rows(c.indptr, c.indices, c.data, X, self.used, out)

    def __matmul__(self, A: F64) -> F64:
        """Totals (n, P) of ``A`` (k, P)."""
        return _spmm(self._m, A)

    __call__ = __matmul__

    def rows(self, nz: I64) -> Sum:
        """The same map on the input rows ``nz`` (sorted) only, cached.

        ``s.rows(nz) @ A[nz]`` equals ``s @ A`` bit for bit when the other rows
        of ``A`` are zero: each target still adds its rows in index order, it
        only skips rows that would add exact zeros. The engine uses it for
        edge arrays, most of whose rows are zero in any one quarter.
        """
        cache: dict[bytes, Sum] | None = getattr(self, "_rows_cache", None)
        if cache is None:
            cache = {}
            self._rows_cache: dict[bytes, Sum] = cache
        key = np.asarray(nz, np.int64).tobytes()
        hit = cache.get(key)
        if hit is None:
            if len(cache) > 512:
                cache.clear()
            hit = cache[key] = self._restricted(np.asarray(nz, np.int64))
        return hit

    def csr_over(self, nz: I64) -> tuple[I64, I64, F64]:
        """``(indptr, indices, data)`` of :meth:`rows` ``(nz)`` with its entries pointed back
        at their rows of the full input: a compiled product reads the rows ``nz`` in place."""
        r = self.rows(nz)
        full = r._full
        if full is None:
            full = np.ascontiguousarray(np.asarray(nz, np.int64)[r._m.indices])
            r._full = full
        return r._m.indptr, full, r._m.data

    def add_into_over(self, out: F64, A: F64, nz: I64) -> None:
        """``out += self @ A`` reading only the rows ``nz`` (sorted) of ``A`` (k, P), in place.

        The other rows of ``A`` must be zero: they would add exact zeros (each target
        still sums its rows in index order, then adds). Targets reached by none of the
        rows ``nz`` are not touched.
        """
        r = self.rows(nz)
        hit: tuple[I64, I64, I64, F64] | None = getattr(r, "_add_over", None)
        if hit is None:
            indptr, full, data = self.csr_over(nz)
            counts = np.diff(indptr)
            used = np.flatnonzero(counts > 0)
            ptr = np.concatenate([[0], np.cumsum(counts[used])]).astype(np.int64)
            hit = (used, ptr, np.ascontiguousarray(full, np.int64), data)
            r._add_over = hit  # type: ignore[attr-defined]
        used, ptr, full, data = hit
        if not len(used):
            return
        X = _dense(A, self.k)
        if out.dtype != np.float64 or not out.flags.c_contiguous or out.ndim != 2 \
                or X.shape[1] != out.shape[1]:
            raise ValueError("add_into_over adds into a C-contiguous float64 (n, P) array")
        _fused.csr_add_rows(ptr, full, data, X, used, out)

    def over(self, A: F64, nz: I64) -> F64:
        """``self.rows(nz) @ A[nz]`` without copying the rows ``nz`` of ``A`` (k, P) out first.

        The restricted map's entries are pointed back at their rows of ``A``, so the
        compiled product reads them in place; same order, so the same bits.
        """
        indptr, full, data = self.csr_over(nz)
        X = _dense(A, self.k)
        out = np.empty((self.n, X.shape[1]))
        _fused.csr_matmul(indptr, full, data, X, out)
        return out

    def _restricted(self, nz: I64) -> Sum:
        """Build :meth:`rows` without SciPy (cheap: it runs whenever the pattern is new)."""
        m = self.matrix
        where = np.full(self.k, -1, np.int64)
        where[nz] = np.arange(len(nz))
        col = where[m.indices]
        keep = col >= 0
        kept = np.concatenate([[0], np.cumsum(keep)])  # kept entries before each position
        indptr = kept[m.indptr]
        out = object.__new__(Sum)
        out._full = None  # the entries' rows of the full input (see :meth:`over`)
        out.target, out.k, out.n = self.target, len(nz), self.n
        out._m = _CSR((self.n, len(nz)), indptr, col[keep], m.data[keep])
        out.matrix = out._m
        return out

    def __getitem__(self, key: slice | tuple[slice, slice]) -> Sum:
        """Restrict to some rows (``s[rows]``) and/or the first targets (``s[rows, :n]``)."""
        rows, cols = key if isinstance(key, tuple) else (key, slice(None))
        n = len(range(*cols.indices(self.n)))
        tag = (rows.start, rows.stop, rows.step, n)
        hit = self._cache.get(tag)
        if hit is None:
            hit = self._cache[tag] = Sum(self.target[rows], n)
        return hit


class Weighted(Sum):
    """``out[col[m]] += weight[m] × A[row[m]]`` for every entry ``m``: a sparse ``(n, k)`` map."""

    def __init__(self, row: I64, col: I64, weight: F64, n: int, k: int) -> None:
        row, col = np.asarray(row, np.int64), np.asarray(col, np.int64)
        self.target, self.k, self.n = col, int(k), int(n)
        self.matrix = sp.csr_matrix((np.asarray(weight, float), (col, row)), shape=(self.n, self.k))
        self.matrix.sort_indices()
        self._compact()
        self._cache = {}
        self._full = None

    @classmethod
    def dense(cls, M: F64) -> Weighted:
        """From a dense ``(k, n)`` matrix ``M`` (row ``j`` of the input adds ``M[j]``)."""
        r, c = np.nonzero(M)
        return cls(r, c, M[r, c], M.shape[1], M.shape[0])
