"""Input checking shared by the contagion kernels.

Every public kernel funnels its inputs through these helpers, so bad input is
rejected the same way everywhere: a :class:`NetworkError` whose message names
the argument, the problem and (where it helps) the first offending entry.

Networks are normalised to a canonical ``scipy.sparse.csr_array`` of float64
(sorted indices, duplicates summed, explicit zeros dropped); node vectors to a
2-D float64 array ``(B, n)`` plus a flag saying whether the caller passed a
batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from loopwatch.errors import LoopwatchError

__all__ = ["NetworkError", "as_network", "as_node_values", "as_scalar_in"]

FloatArray = npt.NDArray[np.float64]


class NetworkError(LoopwatchError, ValueError):
    """Bad network input: negative or non-finite entries, wrong shape, self-loops.

    Examples
    --------
    >>> from loopwatch.contagion import eisenberg_noe
    >>> try:
    ...     eisenberg_noe([[0.0, -1.0], [0.0, 0.0]], [1.0, 1.0])
    ... except NetworkError as err:
    ...     print(err)
    liabilities has 1 negative entry (first at [0, 1]: -1)
    """


def as_network(name: str, matrix: object) -> sp.csr_array:
    """Return ``matrix`` as a canonical float64 CSR array after checking it.

    Parameters
    ----------
    name
        Argument name used in error messages.
    matrix
        Dense array-like or any scipy.sparse matrix/array of shape ``(n, n)``.

    Returns
    -------
    scipy.sparse.csr_array
        Float64, sorted indices, no duplicates, no stored zeros. May share
        memory with the caller's matrix when that is already canonical CSR:
        treat it as read-only.

    Raises
    ------
    NetworkError
        Not 2-D, not square, NaN/inf or negative entries, non-zero diagonal.

    Notes
    -----
    O(nnz) time and memory (O(n^2) for dense input).
    """
    if sp.issparse(matrix):
        csr = sp.csr_array(matrix, dtype=np.float64)  # no copy if already CSR float64
    else:
        try:
            dense = np.array(matrix, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise NetworkError(f"{name} must be a numeric (n, n) matrix: {err}") from None
        if dense.ndim != 2:
            raise NetworkError(f"{name} must be a 2-D (n, n) matrix, got {dense.ndim}-D")
        if not (np.isfinite(dense).all() and (dense >= 0).all()):
            rows, cols = np.nonzero(dense != 0)  # NaN != 0 holds, so NaNs are kept
            _raise_bad_entries(name, rows, cols, dense[rows, cols])
        csr = sp.csr_array(dense)
    if csr.shape[0] != csr.shape[1]:
        raise NetworkError(
            f"{name} must be square (n, n), got shape {csr.shape[0]}x{csr.shape[1]}"
        )
    if not csr.has_canonical_format or not csr.data.all():
        # never canonicalise the caller's matrix in place
        csr = csr.copy() if sp.issparse(matrix) else csr
        csr.sum_duplicates()
        csr.eliminate_zeros()
    data = csr.data
    if data.size and not (np.isfinite(data).all() and data.min() >= 0.0):
        coo = csr.tocoo()
        _raise_bad_entries(name, coo.row, coo.col, coo.data)
    diag = csr.diagonal()
    bad = np.flatnonzero(diag != 0)
    if bad.size:
        i = int(bad[0])
        raise NetworkError(
            f"{name} has {_count(bad.size, 'non-zero diagonal entr')} "
            f"(first at [{i}, {i}]: {diag[i]:.6g}); a node cannot owe itself"
        )
    return csr


def _count(k: int, stem: str) -> str:
    return f"{k} {stem}{'y' if k == 1 else 'ies'}"


def _raise_bad_entries(
    name: str, rows: npt.NDArray[Any], cols: npt.NDArray[Any], vals: FloatArray
) -> None:
    """Raise :class:`NetworkError` for the first NaN/inf, else negative, entry."""
    nonfinite = ~np.isfinite(vals)
    if nonfinite.any():
        k = int(np.argmax(nonfinite))
        raise NetworkError(
            f"{name} has {_count(int(nonfinite.sum()), 'NaN or infinite entr')} "
            f"(first at [{int(rows[k])}, {int(cols[k])}]: {vals[k]})"
        )
    negative = vals < 0
    if negative.any():
        k = int(np.argmax(negative))
        raise NetworkError(
            f"{name} has {_count(int(negative.sum()), 'negative entr')} "
            f"(first at [{int(rows[k])}, {int(cols[k])}]: {vals[k]:.6g})"
        )


def as_node_values(
    name: str,
    values: object,
    n: int,
    *,
    batch: bool = True,
    low: float = 0.0,
    high: float = np.inf,
) -> tuple[FloatArray, bool]:
    """Return ``values`` as a ``(B, n)`` float64 array and whether it was batched.

    Parameters
    ----------
    name
        Argument name used in error messages.
    values
        Array-like of shape ``(n,)``, or ``(B, n)`` when ``batch`` is true.
    n
        Number of nodes.
    batch
        Whether a leading batch axis is allowed.
    low, high
        Closed interval every entry must lie in.

    Raises
    ------
    NetworkError
        Wrong shape, NaN/inf, or an entry outside ``[low, high]``.

    Notes
    -----
    O(B n).
    """
    try:
        arr = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise NetworkError(f"{name} must be numeric: {err}") from None
    expected = f"({n},) or (B, {n})" if batch else f"({n},)"
    if arr.ndim == 1 and arr.shape[0] == n:
        batched = False
        arr = arr[None, :]
    elif batch and arr.ndim == 2 and arr.shape[1] == n:
        batched = True
    else:
        raise NetworkError(
            f"{name} has shape {arr.shape}, expected {expected} to match the {n}-node network"
        )
    if not np.isfinite(arr).all():
        idx = np.argwhere(~np.isfinite(arr))[0]
        where = int(idx[1]) if not batched else (int(idx[0]), int(idx[1]))
        raise NetworkError(f"{name} has a NaN or infinite entry (first at {where})")
    out = (arr < low) | (arr > high)
    if out.any():
        idx = np.argwhere(out)[0]
        where = int(idx[1]) if not batched else (int(idx[0]), int(idx[1]))
        rng = "non-negative" if high == np.inf else f"in [{low:g}, {high:g}]"
        raise NetworkError(
            f"{name} must be {rng}: entry {where} is {arr[tuple(idx)]:.6g}"
        )
    return np.ascontiguousarray(arr), batched


def as_scalar_in(name: str, value: object, low: float, high: float) -> float:
    """Return ``value`` as a float in ``[low, high]`` or raise :class:`NetworkError`.

    Notes
    -----
    O(1).
    """
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise NetworkError(f"{name} must be a number in [{low:g}, {high:g}], got {value!r}") from None
    if not (low <= x <= high):
        raise NetworkError(f"{name} must be in [{low:g}, {high:g}], got {x:g}")
    return x
