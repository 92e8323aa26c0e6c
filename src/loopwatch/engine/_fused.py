"""Numba kernels of the engine: each fuses a function's numpy passes into one loop.

Every engine function that runs once or more a quarter on ``(entity, path)``
arrays was a sequence of numpy calls, each a full pass over its operands and
1–2 µs of interpreter overhead; at the engine's sizes (34 firms × 1024 paths)
the calls, not the arithmetic, were the cost. A kernel here does the same
arithmetic in one compiled loop, entity outer and path inner so that every
access is contiguous. Each has a plain-numpy twin (the ``*_reference``
functions next to its caller) and ``tests/engine/test_fused.py`` checks the
two agree on random inputs.

Notes
-----
**Same numbers.** Kernels compile with ``fastmath`` off, so each ``+ − × ÷``
is the IEEE operation numpy does, in the same order: sums over entities add
rows in index order starting from ``0.0`` (as SciPy's CSR product does, and
numpy's ``sum(axis=0)`` on more than one path: on one, numpy adds pairwise, so
the twins sum such totals with :func:`~loopwatch.engine.ledger.row_total`), ``np.maximum``/``np.minimum``/``np.clip``
propagate NaN as numpy's do (:func:`fmax`, :func:`fmin`). A kernel treats
each path on its own, never reducing across paths, so a path's result does
not depend on its chunk. Known differences from the twins: ``log``/``exp``
(libm here, numpy's SIMD code there) can differ in the last bit; the sign of
a zero can differ where a twin adds an exact zero a kernel skips; the core
default share in :func:`revalue` is a sequential sum where numpy calls BLAS.

**Compilation.** ``cache=True`` stores the machine code next to this file
(or in ``NUMBA_CACHE_DIR``), so only the first process compiles. Arguments
are kept to few types (float64, int64, bool, uint8 arrays; float and int
scalars) so that each kernel compiles once. numba is imported only by the
engine modules, never by ``import loopwatch``.

Examples
--------
>>> import numpy as np
>>> out = np.empty((2, 3))
>>> indptr, indices, data = np.array([0, 2, 2]), np.array([0, 1]), np.array([1.0, 2.0])
>>> csr_matmul(indptr, indices, data, np.array([[1.0, 2, 3], [10, 20, 30]]), out)
>>> out.tolist()
[[21.0, 42.0, 63.0], [0.0, 0.0, 0.0]]

References
----------
S. K. Lam, A. Pitrou and S. Seibert, "Numba: a LLVM-based Python JIT
compiler", *LLVM-HPC '15*, 2015.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
from numpy.typing import NDArray

__all__ = [
    "add_cols",
    "add_rows",
    "add_rows_reference",
    "any_nonzero",
    "check",
    "cols_with_any",
    "csr_add_rows",
    "csr_matmul",
    "csr_post",
    "csr_post_legs",
    "csr_world",
    "depreciate",
    "evaluate_milestones",
    "exercise",
    "fmax",
    "fmin",
    "mark",
    "nonzero_rows",
    "pay_world",
    "post",
    "put_cols",
    "refinance",
    "revalue",
    "revalue_growth",
    "rows_with_positive",
    "take_cols",
    "transpose_into",
    "transpose_into_reference",
    "vest",
    "vintage",
    "waterfall",
    "world_debt",
    "world_post",
]

F64 = NDArray[np.float64]
B8 = NDArray[np.bool_]
I64 = NDArray[np.int64]
Idx = NDArray[np.integer[Any]]
Arr = NDArray[Any]

_T = TypeVar("_T", bound=Callable[..., Any])


def _jit(fn: _T) -> _T:
    """``numba.njit`` (cached; IEEE division as numpy's: x / 0 is ±inf or NaN, no exception),
    keeping ``fn``'s signature for the type checker."""
    return cast(_T, numba.njit(cache=True, error_model="numpy")(fn))


# ---------------------------------------------------------------- scalar helpers


@_jit
def fmax(a: float, b: float) -> float:
    """``np.maximum(a, b)`` for two floats: NaN if either is NaN."""
    return a if (a >= b or a != a) else b


@_jit
def fmin(a: float, b: float) -> float:
    """``np.minimum(a, b)`` for two floats: NaN if either is NaN."""
    return a if (a <= b or a != a) else b


@_jit
def _clip(a: float, lo: float, hi: float) -> float:
    """``np.clip(a, lo, hi)``."""
    return fmin(fmax(a, lo), hi)


@_jit
def _f(b: bool) -> float:
    """A bool as the float numpy multiplies by (``x * mask``)."""
    return 1.0 if b else 0.0


@_jit
def any_nonzero(a: F64) -> bool:
    """``a.any()`` for a float array (2-d), stopping at the first nonzero (NaN counts)."""
    for i in range(a.shape[0]):
        for p in range(a.shape[1]):
            if a[i, p] != 0.0:
                return True
    return False


@_jit
def zero_nonzero_rows(a: F64) -> None:
    """``a[...] = 0.0`` for a 2-d float array mostly zero already: each row is scanned and
    written only from its first nonzero (NaN counts) on (the rows before are zero)."""
    for i in range(a.shape[0]):
        row = a[i]
        for p in range(row.shape[0]):
            if row[p] != 0.0:
                row[p:] = 0.0
                break


@_jit
def cols_with_any(b: B8) -> I64:
    """``np.flatnonzero(b.any(axis=0))`` for a 2-d bool array: the columns with a True."""
    n, P = b.shape
    hit = np.zeros(P, np.bool_)
    for i in range(n):
        row = b[i]
        for p in range(P):
            hit[p] = hit[p] | row[p]
    return np.flatnonzero(hit)


@_jit
def rows_with_positive(a: F64) -> I64:
    """``np.flatnonzero((a > 0).any(axis=1))`` for a 2-d float array (NaN is not > 0)."""
    out = np.empty(a.shape[0], np.int64)
    n = 0
    for i in range(a.shape[0]):
        row = a[i]
        for p in range(row.shape[0]):
            if row[p] > 0:
                out[n] = i
                n += 1
                break
    return out[:n]


@_jit
def nonzero_rows(a: F64, rows: I64) -> B8:
    """``a[rows].any(axis=1)`` for a float array (2-d) without copying the rows out."""
    out = np.zeros(rows.shape[0], np.bool_)
    for j in range(rows.shape[0]):
        r = a[rows[j]]
        for p in range(r.shape[0]):
            if r[p] != 0.0:
                out[j] = True
                break
    return out


# ---------------------------------------------------------------- sparse sums


@_jit
def _csr_row(indptr: Idx, indices: Idx, data: F64, X: F64, i: int, row: F64) -> bool:
    """``row[:] = (m @ X)[i]``: the rows of ``i``'s entries added in index order from 0.0.

    Returns False (and leaves ``row`` alone) when row ``i`` has no entries.
    """
    a0, a1 = indptr[i], indptr[i + 1]
    if a0 == a1:
        return False
    P = row.shape[0]
    w, x = data[a0], X[indices[a0]]
    for p in range(P):
        row[p] = 0.0 + w * x[p]
    for jj in range(a0 + 1, a1):
        w, x = data[jj], X[indices[jj]]
        for p in range(P):
            row[p] += w * x[p]
    return True


@_jit
def csr_matmul(indptr: Idx, indices: Idx, data: F64, X: F64, out: F64) -> None:
    """``out[:] = m @ X`` for a CSR ``m`` (n, k), ``X`` (k, P), ``out`` (n, P).

    Each output row adds its entries' rows of ``X`` in index order, starting
    from 0.0, exactly as SciPy's ``csr_matvecs``.
    """
    for i in range(out.shape[0]):
        row = out[i]
        if not _csr_row(indptr, indices, data, X, i, row):
            row[:] = 0.0


@_jit
def csr_add_rows(indptr: Idx, indices: Idx, data: F64, X: F64, rows: I64, out: F64) -> None:
    """``out[rows] += m @ X``: each product row is summed first, then added (as numpy would)."""
    tmp = np.empty(X.shape[1])
    for i in range(rows.shape[0]):
        if _csr_row(indptr, indices, data, X, i, tmp):
            o = out[rows[i]]
            for p in range(tmp.shape[0]):
                o[p] += tmp[p]
        else:
            o = out[rows[i]]
            for p in range(tmp.shape[0]):
                o[p] += 0.0


@_jit
def csr_post(indptr: Idx, indices: Idx, data: F64, X: F64, dest: F64, sign: float,
             nrows: int) -> None:
    """``dest[i] += sign × (m @ X)[i]`` for the first ``nrows`` rows of ``m`` that have entries.

    Each product row is summed first (in index order, from 0.0), then added;
    ``sign`` is ±1 (exact).
    """
    tmp = np.empty(X.shape[1])
    for i in range(min(nrows, indptr.shape[0] - 1)):
        if _csr_row(indptr, indices, data, X, i, tmp):
            o = dest[i]
            for p in range(tmp.shape[0]):
                o[p] += sign * tmp[p]


@_jit
def csr_post_legs(legs: I64, indptr: Idx, indices: Idx, data: F64, X: F64, bal: F64,
                  dest: I64, sign: F64, nrows: int, world: F64, world_legs: I64) -> None:
    """:func:`csr_post` for several maps in a row (one call instead of one each).

    Map ``m`` is rows ``legs[m]…legs[m+1]`` of the stacked ``indptr`` (each map's
    ``nrows + 1`` offsets into ``indices``/``data``), posted into account
    ``dest[m]`` of ``bal`` with ``sign[m]``. After the first two maps (the cash
    legs: in, then out), ``world += (in @ X)[nrows] − (out @ X)[nrows]``
    (:func:`csr_world`; ``world_legs`` (2,) is ≥ 0 where that map has a row
    ``nrows``, the world's, and -1 where it has none).
    """
    tmp = np.empty(X.shape[1])
    for m in range(legs.shape[0] - 1):
        ip = indptr[legs[m]:legs[m + 1]]
        d = bal[dest[m]]
        for i in range(min(nrows, ip.shape[0] - 1)):
            if _csr_row(ip, indices, data, X, i, tmp):
                o = d[i]
                for p in range(tmp.shape[0]):
                    o[p] += sign[m] * tmp[p]
        if m == 1:
            P = X.shape[1]
            got, paid = np.zeros(P), np.zeros(P)
            if world_legs[0] >= 0:
                _csr_row(indptr[legs[0]:legs[1]], indices, data, X, nrows, got)
            if world_legs[1] >= 0:
                _csr_row(indptr[legs[1]:legs[2]], indices, data, X, nrows, paid)
            for p in range(P):
                world[p] += got[p] - paid[p]


@_jit
def csr_world(in_ptr: Idx, in_idx: Idx, in_data: F64, out_ptr: Idx, out_idx: Idx,
              out_data: F64, X: F64, row: int, world: F64) -> None:
    """``world += (m_in @ X)[row] − (m_out @ X)[row]`` (each row 0.0 when it has no entries)."""
    P = X.shape[1]
    got, paid = np.zeros(P), np.zeros(P)
    if row < in_ptr.shape[0] - 1:
        _csr_row(in_ptr, in_idx, in_data, X, row, got)
    if row < out_ptr.shape[0] - 1:
        _csr_row(out_ptr, out_idx, out_data, X, row, paid)
    for p in range(P):
        world[p] += got[p] - paid[p]


# ---------------------------------------------------------------- column gather / scatter


@_jit
def take_cols(a: Arr, cols: I64, out: Arr) -> None:
    """``out[:] = a[:, cols]`` for 2-D ``a``."""
    for r in range(a.shape[0]):
        src, dst = a[r], out[r]
        for j in range(cols.shape[0]):
            dst[j] = src[cols[j]]


@_jit
def put_cols(a: Arr, cols: I64, v: Arr) -> None:
    """``a[:, cols] = v`` for 2-D ``a``."""
    for r in range(a.shape[0]):
        dst, src = a[r], v[r]
        for j in range(cols.shape[0]):
            dst[cols[j]] = src[j]


@_jit
def add_rows(dst: F64, src: F64, rows: I64, to: I64) -> None:
    """``dst[to[e]] += src[e]`` for each ``e`` in ``rows`` with ``to[e] ≥ 0`` (each target at
    most once: the order of the additions does not matter)."""
    for i in range(rows.shape[0]):
        e = rows[i]
        c = to[e]
        if c >= 0:
            d, x = dst[c], src[e]
            for p in range(x.shape[0]):
                d[p] += x[p]


def add_rows_reference(dst: F64, src: F64, rows: I64, to: I64) -> None:
    """:func:`add_rows` in numpy (the twin)."""
    sel = rows[to[rows] >= 0]
    dst[to[sel]] += src[sel]


@_jit
def add_cols(a: F64, cols: I64, v: F64) -> None:
    """``a[:, cols] += v`` for 2-D ``a`` (``cols`` without repeats), rows of ``v`` that are all
    zero skipped (mostly-zero accumulators such as the loss matrices)."""
    S = cols.shape[0]
    for r in range(a.shape[0]):
        dst, src = a[r], v[r]
        nonzero = 0
        for j in range(S):  # a branch-free count: vectorised
            nonzero += src[j] != 0.0
        if nonzero:
            for j in range(S):
                dst[cols[j]] += src[j]


# ---------------------------------------------------------------- ledger


@_jit
def post(bal: F64, debit: int, credit: int, amount: F64, sd: float, sc: float) -> None:
    """``bal[debit] += sd × amount; bal[credit] += sc × amount`` (signs ±1: exact)."""
    d, c = bal[debit], bal[credit]
    for f in range(amount.shape[0]):
        a, dd, cc = amount[f], d[f], c[f]
        for p in range(a.shape[0]):
            dd[p] += sd * a[p]
            cc[p] += sc * a[p]


@_jit
def world_post(bal: F64, debit: int, credit: int, amount: F64, sd: float, sc: float,
               world: F64, ws: float) -> None:
    """:func:`post`, then ``world += ws × amount.sum(axis=0)`` (rows added in order)."""
    post(bal, debit, credit, amount, sd, sc)
    F, P = amount.shape
    if F == 0:
        return
    tot = amount[0].copy()
    for f in range(1, F):
        a = amount[f]
        for p in range(P):
            tot[p] += a[p]
    for p in range(P):
        world[p] += ws * tot[p]


@_jit
def pay_world(bal: F64, cash_i: int, debt_i: int, equity_i: int, opex: F64, interest: F64,
              principal: F64, accel: F64, ratio: F64, scaled: bool, world: F64,
              world_debt: F64, loi_debt: F64) -> None:
    """Firms pay the world ``opex + interest`` (from equity) and ``principal`` (off debt).

    The two world postings in order (:func:`world_post` with the equity leg, then the
    debt leg), then ``world_debt = max(world_debt − principal, 0)`` and ``loi_debt =
    min(loi_debt, world_debt)``, in place: one pass instead of five. With ``scaled``,
    interest is ``interest × ratio`` and principal ``(principal + accel) × ratio`` (a
    payer's clearing ratio; ``accel`` the accelerated part), computed in the same pass.

    A firm that pays nothing on any path (its rows of ``opex``, ``interest``,
    ``principal`` and ``accel`` zero) posts nothing (its postings would add exact
    zeros); its debts are only read, and written where the clamps change them (world
    debt is ≥ 0 and LOI debt ≤ world debt in a run: never).
    """
    F, P = opex.shape
    cash, debt, equity = bal[cash_i], bal[debt_i], bal[equity_i]
    if F == 0:
        return
    tot1, tot2 = np.zeros(P), np.zeros(P)
    for f in range(F):
        o, i, pr = opex[f], interest[f], principal[f]
        pays = False
        for p in range(P):
            if o[p] != 0.0 or i[p] != 0.0 or pr[p] != 0.0 or (scaled and accel[f, p] != 0.0):
                pays = True
                break
        wd, ld = world_debt[f], loi_debt[f]
        if not pays:
            for p in range(P):
                x = fmax(wd[p] - 0.0, 0.0)
                y = fmin(ld[p], x)
                if x != wd[p] or y != ld[p]:
                    wd[p] = x
                    ld[p] = y
            continue
        c, d, e = cash[f], debt[f], equity[f]
        for p in range(P):
            if scaled:
                a1 = o[p] + i[p] * ratio[f, p]
                a2 = (pr[p] + accel[f, p]) * ratio[f, p]
            else:
                a1 = o[p] + i[p]
                a2 = pr[p]
            e[p] += -1.0 * a1
            c[p] += -1.0 * a1
            d[p] += -1.0 * a2
            c[p] += -1.0 * a2
            tot1[p] += a1
            tot2[p] += a2
            x = fmax(wd[p] - a2, 0.0)
            wd[p] = x
            ld[p] = fmin(ld[p], x)
    for p in range(P):
        world[p] += 1.0 * tot1[p]
    for p in range(P):
        world[p] += 1.0 * tot2[p]


@_jit
def check(bal: F64, peak: F64, tol: float) -> int:
    """Update ``peak`` with the gross balance sheet; the first ``f × P + p`` that fails, or -1.

    The residual is ``(((cash + compute) + other + loans + stakes + warrants)
    − (debt + warrant liabilities)) − equity``; it fails unless
    ``|residual| ≤ tol × peak + 1`` (NaN fails).
    """
    F, P = peak.shape
    bad = -1
    for f in range(F):
        pk = peak[f]
        nbad = 0
        for p in range(P):
            assets = bal[0, f, p] + bal[1, f, p]
            assets += bal[2, f, p]
            assets += bal[3, f, p]
            assets += bal[4, f, p]
            assets += bal[5, f, p]
            assets -= bal[6, f, p] + bal[7, f, p]
            assets -= bal[8, f, p]
            gross = abs(bal[0, f, p])
            gross += abs(bal[1, f, p])
            gross += abs(bal[2, f, p])
            gross += abs(bal[3, f, p])
            gross += abs(bal[4, f, p])
            gross += abs(bal[5, f, p])
            gross += abs(bal[6, f, p])
            gross += abs(bal[7, f, p])
            gross += abs(bal[8, f, p])
            m = fmax(pk[p], gross)
            pk[p] = m
            nbad += not (abs(assets) <= m * tol + 1.0)
        if nbad and bad < 0:
            for p in range(P):
                assets = bal[0, f, p] + bal[1, f, p]
                for a in range(2, 6):
                    assets += bal[a, f, p]
                assets -= bal[6, f, p] + bal[7, f, p]
                assets -= bal[8, f, p]
                if not (abs(assets) <= pk[p] * tol + 1.0):
                    bad = f * P + p
                    break
    return bad


# ---------------------------------------------------------------- funding


@_jit
def world_debt(debt: F64, rate: F64, amount: F64, new_rate: F64) -> None:
    """Add ``amount`` of world debt at ``new_rate`` (in place; the rate becomes the average).

    Only where ``amount > 0`` and the new total is > 0 does the rate change.
    """
    for f in range(debt.shape[0]):
        d, r, a, nr = debt[f], rate[f], amount[f], new_rate[f]
        for p in range(d.shape[0]):
            total = d[p] + a[p]
            if a[p] > 0 and total > 0:
                r[p] = (d[p] * r[p] + a[p] * nr[p]) / total
            d[p] = total


@_jit
def refinance(indptr: Idx, indices: Idx, data: F64, maturing: F64, w_sched: F64,
              stress: F64, share: float, response: float, bal: F64, cash_i: int, debt_i: int,
              world: F64, w_debt: F64, w_rate: F64, new_rate: F64, roll: F64) -> bool:
    """Outside lenders refinance part of the debt maturing this quarter; True if any.

    ``roll = (m @ maturing + w_sched) × share × max(1 − response × stress, 0)``
    (``m`` the loans → borrowers CSR, rows added in index order from 0.0), then,
    if any is nonzero, the world lends it (cash and debt up, :func:`world_post`)
    and it joins world debt at ``new_rate`` (:func:`world_debt`): the operations
    of the numpy twin in its order, in one pass for the total and one for the
    postings.
    """
    F, P = roll.shape
    some = False
    lends = np.zeros(F, np.bool_)  # firms with something rolled on some path
    for f in range(F):
        row = roll[f]
        if not _csr_row(indptr, indices, data, maturing, f, row):
            row[:] = 0.0
        ws = w_sched[f]
        for p in range(P):
            row[p] += ws[p]
        for p in range(P):
            row[p] *= share * fmax(1.0 - response * stress[p], 0.0)
            lends[f] = lends[f] or row[p] != 0.0
        some = some or lends[f]
    if some:
        # :func:`world_post` and :func:`world_debt` on the rows that carry anything (the
        # others would add exact zeros and leave the rate alone)
        cash, debt = bal[cash_i], bal[debt_i]
        tot = np.zeros(P)
        for f in range(F):
            if not lends[f]:
                continue
            a, c, d, wd, wr, nr = roll[f], cash[f], debt[f], w_debt[f], w_rate[f], new_rate[f]
            for p in range(P):
                c[p] += 1.0 * a[p]
                d[p] += 1.0 * a[p]
                tot[p] += a[p]
                total = wd[p] + a[p]
                if a[p] > 0 and total > 0:
                    wr[p] = (wd[p] * wr[p] + a[p] * nr[p]) / total
                wd[p] = total
        for p in range(P):
            world[p] += -1.0 * tot[p]
    return some


@_jit
def exercise(frac: F64, holder: I64, issuer: I64, strike: F64, wt_left: F64, wt_vested: B8,
             wt_val: F64, price: F64, units: F64, bal: F64, world: F64) -> F64:
    """Exercise ``frac`` (n_wt, P) of each warrant tranche; returns holder's net cash (n_wt, P).

    The fused :func:`loopwatch.engine.funding.exercise_warrants_reference`:
    strike paid holder → issuer (the issuer's units grow by the shares), the
    shares sold to the world at ``price``, both warrant accounts closed at
    the carrying value. Entries with ``frac == 0`` are skipped (they add
    exact zeros).
    """
    n, P = frac.shape
    F = units.shape[0]
    net = np.zeros((n, P))
    # per-firm sums, one row for each firm that holds or issues a tranche (``row``)
    row = np.full(F, -1, np.int64)
    m = 0
    for i in range(n):
        for f in (holder[i], issuer[i]):
            if row[f] < 0:
                row[f] = m
                m += 1
    paid = np.zeros((m, P))   # strike paid, per holder
    got = np.zeros((m, P))    # strike received, per issuer
    sale = np.zeros((m, P))   # sale proceeds, per holder
    value = np.zeros((m, P))  # carrying value closed, per issuer
    shares = np.zeros((m, P))  # new shares, per issuer
    any_ = False
    touched = np.zeros(F, np.bool_)  # firms with an entry (the others would add zeros)
    for i in range(n):
        h, s = holder[i], issuer[i]
        rh, rs = row[h], row[s]
        k = strike[i]
        for p in range(P):
            x = frac[i, p]
            if x == 0.0:
                continue
            any_ = True
            touched[h] = True
            touched[s] = True
            sh = x * wt_left[i, p] * _f(wt_vested[i, p])
            strike_cash = sh * k
            sale_cash = sh * price[s, p]
            val = x * wt_val[i, p]
            paid[rh, p] += strike_cash
            got[rs, p] += strike_cash
            sale[rh, p] += sale_cash
            value[rs, p] += val
            shares[rs, p] += sh
            wt_left[i, p] -= sh
            wt_val[i, p] -= val
            net[i, p] = sale_cash - strike_cash
    if not any_:
        return net
    cash, warrants, wl, equity = bal[0], bal[5], bal[7], bal[8]
    tot = np.zeros(P)
    for f in range(F):
        if not touched[f]:
            continue
        r = row[f]
        for p in range(P):
            cash[f, p] = ((cash[f, p] - paid[r, p]) + got[r, p]) + sale[r, p]
            warrants[f, p] = (warrants[f, p] + paid[r, p]) - sale[r, p]
            equity[f, p] = (equity[f, p] + got[r, p]) + value[r, p]
            wl[f, p] -= value[r, p]
            units[f, p] += shares[r, p]
            tot[p] += sale[r, p]
    for p in range(P):
        world[p] -= tot[p]
    return net


@_jit
def waterfall(need: F64, deficit: F64, alive: B8, bal: F64, world: F64, facility: F64,
              collateral: F64, debt_cap: F64, mv: F64, issued: F64, units: F64,
              appetite: float, keep: float, w_debt: F64, w_rate: F64, loi_debt: F64,
              facility_rate: F64, new_rate: F64, loi_share: F64, wt_holder: I64,
              wt_issuer: I64, strike: F64, wt_left: F64, wt_vested: B8, wt_val: F64,
              price: F64, eq_payer: I64, eq_payee: I64, stake_units: F64,
              stake_val: F64, out: F64, dirty: B8) -> None:
    """The funding waterfall, allocation and postings; returns what each source raised.

    The fused :func:`loopwatch.engine.funding.waterfall_reference`: for the
    firms that want money (``need > 0`` on some path) the capacity of each
    source (undrawn facility; new debt within collateral and the revenue cap;
    equity issuance; warrants held in live issuers; stakes in live investees
    at ``keep`` = 1 − haircut of their value), then, where the total covers
    ``deficit``, each source in turn up to what is still needed. Postings in
    the twin's order: facility draws and new debt (the world lends; the
    world-debt rate becomes the balance-weighted average), equity sold to
    the world at the market price, warrants exercised (:func:`exercise`),
    stakes sold. Every state array is updated in place; ``out`` (5, F, P),
    uninitialised on entry, gets what each source raised: facility, debt,
    equity, warrant, stake-sale (USD), zero where a firm wants nothing. A firm's
    rows of ``out`` are written only if it wants money or is flagged ``dirty`` (F,)
    (its rows may hold anything: every row of a fresh array, the rows written
    last time in a reused one); ``dirty`` is updated to the rows written.
    The market terms ``collateral``, ``debt_cap``, ``facility_rate``,
    ``new_rate`` and ``loi_share`` are given on the firms that want money only,
    in firm order ((n, P): row ``i`` the ``i``-th firm with ``need > 0`` on some path).
    """
    F, P = need.shape
    slot = np.full(F, -1, np.int64)  # position of each firm that wants money, else -1
    n = 0
    for f in range(F):
        cnt = 0
        for p in range(P):
            cnt += need[f, p] > 0
        if cnt:
            slot[f] = n
            n += 1
            dirty[f] = True
        elif dirty[f]:  # raises nothing anywhere
            for j in range(5):
                out[j, f, :] = 0.0
            dirty[f] = False
    if n == 0:
        return
    cash, stakes, debt, equity = bal[0], bal[4], bal[6], bal[8]
    n_wt, n_eq = wt_holder.shape[0], eq_payer.shape[0]
    cap_wt = np.zeros((n, P))
    for i in range(n_wt):
        r = slot[wt_holder[i]]
        if r >= 0:
            s = wt_issuer[i]
            for p in range(P):
                cap_wt[r, p] += wt_val[i, p] * _f(alive[s, p])
    cap_stake = np.zeros((n, P))
    for i in range(n_eq):
        r = slot[eq_payer[i]]
        if r >= 0:
            s = eq_payee[i]
            for p in range(P):
                cap_stake[r, p] += stake_val[i, p] * _f(alive[s, p])
    margin = 1.0 + 1e-12
    tot_fac, tot_new, tot_eq = np.zeros(P), np.zeros(P), np.zeros(P)
    some_wt = some_stake = False
    for f in range(F):
        r = slot[f]
        if r < 0:
            continue
        for p in range(P):
            cap_stake[r, p] = keep * cap_stake[r, p]
            if not need[f, p] > 0:  # wants nothing here: raises nothing
                for j in range(5):
                    out[j, f, p] = 0.0
                continue
            c0 = facility[f, p]
            c1 = fmax(fmin(collateral[r, p], debt_cap[r, p]) - debt[f, p] - c0, 0.0)
            c2 = fmax(appetite * mv[f, p] - issued[f, p], 0.0)
            c3 = cap_wt[r, p]
            c4 = cap_stake[r, p]
            total = c0 + c1 + c2 + c3 + c4
            left = 0.0
            if need[f, p] > 0 and alive[f, p] and total >= deficit[f, p] * margin:
                left = fmin(need[f, p], total)
            g0 = fmin(left, c0)
            left = left - g0
            g1 = fmin(left, c1)
            left = left - g1
            g2 = fmin(left, c2)
            left = left - g2
            g3 = fmin(left, c3)
            left = left - g3
            g4 = fmin(left, c4)
            out[0, f, p], out[1, f, p], out[2, f, p] = g0, g1, g2
            out[3, f, p], out[4, f, p] = g3, g4
            some_wt = some_wt or g3 != 0.0
            some_stake = some_stake or g4 != 0.0
            if g0 != 0.0:
                cash[f, p] += g0
                debt[f, p] += g0
                tot_fac[p] += g0
                d = w_debt[f, p]
                total = d + g0
                if g0 > 0 and total > 0:
                    w_rate[f, p] = (d * w_rate[f, p] + g0 * facility_rate[r, p]) / total
                w_debt[f, p] = total
                facility[f, p] -= g0
            if g1 != 0.0:
                cash[f, p] += g1
                debt[f, p] += g1
                tot_new[p] += g1
                d = w_debt[f, p]
                total = d + g1
                if g1 > 0 and total > 0:
                    w_rate[f, p] = (d * w_rate[f, p] + g1 * new_rate[r, p]) / total
                w_debt[f, p] = total
                loi_debt[f, p] += g1 * loi_share[r, p]
            if g2 != 0.0:
                cash[f, p] += g2
                equity[f, p] += g2
                tot_eq[p] += g2
                m = mv[f, p]
                units[f, p] += g2 / (m / units[f, p] if m > 0 else 1.0)
                issued[f, p] += g2
    for p in range(P):
        world[p] -= tot_fac[p]
    for p in range(P):
        world[p] -= tot_new[p]
    for p in range(P):
        world[p] -= tot_eq[p]
    if some_wt:
        frac = np.zeros((n_wt, P))
        for i in range(n_wt):
            h = wt_holder[i]
            r = slot[h]
            if r < 0:
                continue
            s = wt_issuer[i]
            for p in range(P):
                c = cap_wt[r, p]
                if c > 0 and wt_val[i, p] * _f(alive[s, p]) > 0:
                    frac[i, p] = out[3, h, p] / c
        exercise(frac, wt_holder, wt_issuer, strike, wt_left, wt_vested, wt_val, price, units,
                 bal, world)
    if some_stake:
        pro = np.zeros((n, P))  # rows: the firms that want money (``slot``)
        loss = np.zeros((n, P))
        sold_by = np.zeros(F, np.bool_)  # holders that sold something
        for i in range(n_eq):
            h = eq_payer[i]
            r = slot[h]
            if r < 0:
                continue
            s = eq_payee[i]
            for p in range(P):
                c = cap_stake[r, p]
                if not (c > 0 and stake_val[i, p] * _f(alive[s, p]) > 0):
                    continue
                x = out[4, h, p] / c
                if x == 0.0:
                    continue
                sold_by[h] = True
                sold = x * stake_val[i, p]
                proceeds = keep * sold
                pro[r, p] += proceeds
                loss[r, p] += sold - proceeds
                stake_units[i, p] = stake_units[i, p] * (1.0 - x)
                stake_val[i, p] = stake_val[i, p] - sold
        tot = np.zeros(P)
        for f in range(F):
            if not sold_by[f]:  # (the others would add zeros)
                continue
            r = slot[f]
            for p in range(P):
                cash[f, p] += pro[r, p]
                stakes[f, p] = (stakes[f, p] - pro[r, p]) - loss[r, p]
                equity[f, p] -= loss[r, p]
                tot[p] += pro[r, p]
        for p in range(P):
            world[p] -= tot[p]


# ---------------------------------------------------------------- valuation


@_jit
def depreciate(dep_rate: F64, change: F64, alive: B8, bal: F64, dep: F64) -> None:
    """``dep_rate += change``; ``dep = clip(min(dep_rate, compute), 0) × alive``; post it."""
    compute, equity = bal[1], bal[8]
    for f in range(dep.shape[0]):
        for p in range(dep.shape[1]):
            r = dep_rate[f, p] + change[f, p]
            dep_rate[f, p] = r
            d = fmax(fmin(r, compute[f, p]), 0.0) * _f(alive[f, p])
            dep[f, p] = d
            equity[f, p] -= d
            compute[f, p] -= d


@_jit
def vintage(dep_change: F64, t: int, amount: F64, life: F64) -> None:
    """Schedule ``amount`` (F, P) bought in ``t`` over ``life`` (F,) whole quarters (≥ 1).

    ``dep_change[t + 1] += amount / life`` and, ``life`` quarters later, the
    same comes off again (if within the run). Rows of ``amount`` that are
    all zero change nothing and are skipped (a row whose shares all underflow to
    zero would add zeros: it is not worth a division per cell to skip it).
    """
    Q1 = dep_change.shape[0]
    F, P = amount.shape
    for f in range(F):
        L = life[f]
        a = amount[f]
        nonzero = 0
        for p in range(P):  # a branch-free count: vectorised
            nonzero += a[p] != 0.0
        if nonzero == 0:
            continue
        if t + 1 < Q1:
            row = dep_change[t + 1, f]
            for p in range(P):
                row[p] += a[p] / L
        end = t + 1 + np.int64(L)
        if end < Q1:
            row = dep_change[end, f]
            for p in range(P):
                row[p] -= a[p] / L


@_jit
def revalue_growth(demand: F64, demand_prev: F64, revenue: F64, rev_prev: F64, volatility: float,
                   has_shares: B8, listed: I64, eta: F64, z: F64, ratio: F64) -> None:
    """First half of :func:`revalue`: the arguments of its logarithms, and the new ``eta``.

    ``ratio`` (F + 1, P) gets ``max(revenue, 1) / max(rev_prev, 1)`` per firm
    and, in row F, ``max(demand, 1) / max(demand_prev, 1)``; ``eta`` (F, P)
    steps its AR(1) in place when ``volatility`` > 0, with the shocks ``z``
    (L, P) of the firms ``listed`` (L,) (``flatnonzero(has_shares)``; the
    others' ``eta`` is 0). The caller takes the logarithms (numpy's vectorised
    ``log``, as the twin does).
    """
    F, P = revenue.shape
    for f in range(F):
        for p in range(P):
            ratio[f, p] = fmax(revenue[f, p], 1.0) / fmax(rev_prev[f, p], 1.0)
    for p in range(P):
        ratio[F, p] = fmax(demand[p], 1.0) / fmax(demand_prev[p], 1.0)
    if volatility > 0:
        k = 0.5 * volatility
        for f in range(F):
            if not has_shares[f]:
                eta[f, :] = 0.0
        for j in range(listed.shape[0]):
            e, zj = eta[listed[j]], z[j]
            for p in range(P):
                e[p] = 0.9 * e[p] + k * zj[p]


@_jit
def revalue(demand: F64, demand_prev: F64, newly: B8, core_weight: F64, sentiment: F64,
            reversion: float, growth: float, default: float, floor: float, expectation: float,
            shock_equity: F64, revenue: F64, log_ratio: F64, ghat: F64, has_shares: B8,
            listed_pos: I64, exp_eta: F64, multiple: float, premium_g: float, premium: F64, scale: F64,
            equity: F64, by_book: B8, alive: B8, units: F64, sent_eff: F64, mv: F64,
            price: F64) -> None:
    """Sentiment, market values and prices after a quarter; every output in place.

    The fused :func:`loopwatch.engine.valuation.revalue_reference` (see it for
    the model), after :func:`revalue_growth`: ``log_ratio`` (F + 1, P) holds
    the logarithms of its ratios, ``exp_eta`` (L, P) ``exp(eta)`` of the listed
    firms, row ``listed_pos[f]`` for firm ``f`` (-1: not listed, where ``eta`` is 0
    and its exponential 1).
    ``sentiment`` (P,), ``sent_eff``, ``ghat``, ``mv``, ``price`` (F, P) are
    overwritten.
    """
    F, P = revenue.shape
    hit = np.zeros(P)
    for f in range(F):
        w = core_weight[f]
        if w != 0.0:
            for p in range(P):
                hit[p] += w * _f(newly[f, p])
    for p in range(P):
        s = sentiment[p]
        s = s + reversion * (1.0 - s)
        if demand[p] > 0 and demand_prev[p] > 0:
            s = s + growth * (4.0 * log_ratio[F, p] - expectation) / 4.0
        else:
            s = s + growth * 0.0 / 4.0
        s = s - default * hit[p]
        sentiment[p] = _clip(s, floor, 5.0)
    for f in range(F):
        shock, listed, booked = shock_equity[f], has_shares[f], by_book[f]
        prem, sc = premium[f], scale[f]
        j = listed_pos[f]
        for p in range(P):
            se = shock * sentiment[p]
            sent_eff[f, p] = se
            gh = ghat[f, p]
            gh = gh + 0.25 * (_clip(4.0 * log_ratio[f, p], -2.0, 4.0) - gh)
            ghat[f, p] = gh
            if booked:
                m = fmax(equity[f, p], 0.0)
            else:
                mult = fmax(multiple + premium_g * _clip(gh, -0.5, 1.5), 0.5)
                m = (prem + sc * (mult * 4.0 * revenue[f, p])) * se * (
                    exp_eta[j, p] if j >= 0 else 1.0)
            live = alive[f, p]
            if not live:
                m = 0.0
            mv[f, p] = m
            u = units[f, p]
            price[f, p] = (m / u if u > 0 else 0.0) if (listed and live) else 0.0


@_jit
def mark(alive: B8, units: F64, mv: F64, price: F64, bal: F64, eq_payer: I64, eq_payee: I64,
         stake_units: F64, stake_val: F64, wt_holder: I64, wt_issuer: I64, wt_live: B8,
         strike: F64, wt_left: F64, wt_vested: B8, wt_val: F64) -> None:
    """Mark stakes and vested warrants; post the changes (see :func:`loopwatch.engine.valuation.mark`).

    ``wt_live`` (n_wt,) is False for tranches past their warrant's expiry.
    """
    F, P = units.shape
    stakes, warrants, wl, equity = bal[4], bal[5], bal[7], bal[8]
    n_eq, n_wt = eq_payer.shape[0], wt_holder.shape[0]
    slot = np.full(F, -1, np.int64)  # row of each firm with a stake or warrant in the sums
    n = 0
    for i in range(n_eq):
        if slot[eq_payer[i]] < 0:
            slot[eq_payer[i]] = n
            n += 1
    for i in range(n_wt):
        for f in (wt_holder[i], wt_issuer[i]):
            if slot[f] < 0:
                slot[f] = n
                n += 1
    if n_eq:
        tot = np.zeros((n, P))
        for i in range(n_eq):
            h, s = eq_payer[i], eq_payee[i]
            row = tot[slot[h]]
            for p in range(P):
                old = stake_val[i, p]
                new = old
                if alive[s, p] and alive[h, p]:
                    u = units[s, p]
                    new = (stake_units[i, p] / u if u > 0 else 0.0) * mv[s, p]
                row[p] += new - old
                stake_val[i, p] = new
        for f in range(F):
            r = slot[f]
            if r >= 0:
                for p in range(P):
                    stakes[f, p] += tot[r, p]
                    equity[f, p] += tot[r, p]
    if n_wt:
        hold = np.zeros((n, P))
        iss = np.zeros((n, P))
        for i in range(n_wt):
            h, s, k = wt_holder[i], wt_issuer[i], strike[i]
            rh, rs = hold[slot[h]], iss[slot[s]]
            for p in range(P):
                old = wt_val[i, p]
                new = old
                if alive[s, p] and alive[h, p] and wt_live[i]:
                    new = wt_left[i, p] * _f(wt_vested[i, p]) * fmax(price[s, p] - k, 0.0)
                d = new - old
                rh[p] += d
                rs[p] += d
                wt_val[i, p] = new
        for f in range(F):
            r = slot[f]
            if r >= 0:
                for p in range(P):
                    warrants[f, p] += hold[r, p]
                    equity[f, p] += hold[r, p]
                    equity[f, p] -= iss[r, p]
                    wl[f, p] += iss[r, p]


@_jit
def evaluate_milestones(cum_paid: F64, inv_amount: F64, indptr: Idx, indices: Idx, data: F64,
                        metric: I64, firm: I64, threshold: F64, price: F64, end_rev: F64,
                        cond_ok: B8) -> F64:
    """Each milestone metric (K, P) and ``cond_ok = metric ≥ threshold`` (in place).

    GW metrics add, in contract order from 0.0, ``gw × cum_paid × 1/amount``
    over the CSR rows of the GW matrix; metric 2 is the firm's share price,
    3 its annualised end revenue.
    """
    K, P = cond_ok.shape
    out = np.empty((K, P))
    for k in range(K):
        m, f = metric[k], firm[k]
        row = out[k]
        if m == 2:
            for p in range(P):
                row[p] = price[f, p]
        elif m == 3:
            for p in range(P):
                row[p] = 4.0 * end_rev[f, p]
        else:
            for p in range(P):
                row[p] = 0.0
            for jj in range(indptr[k], indptr[k + 1]):
                c, w = indices[jj], data[jj]
                inv = inv_amount[c]
                for p in range(P):
                    row[p] += w * (cum_paid[c, p] * inv)
        th = threshold[k]
        for p in range(P):
            cond_ok[k, p] = row[p] >= th
    return out


@_jit
def vest(wt_cond: F64, cond_ok: B8, contract_live: B8, in_time: B8, wt_vested: B8,
         wt_left: F64) -> B8:
    """Vest warrant tranches whose conditions all hold; returns the newly vested (n_wt, P).

    ``wt_cond`` (K, n_wt) weights the conditions each tranche needs: it vests
    where ``Σ_k wt_cond[k] × (not cond_ok[k]) == 0``, its contract is live
    (``contract_live`` (n_wt, P)) and its warrant has not expired
    (``in_time`` (n_wt,)); ``wt_vested`` is updated in place.
    """
    K, n = wt_cond.shape
    P = cond_ok.shape[1]
    new = np.zeros((n, P), np.bool_)
    failing = np.empty(P)
    for i in range(n):
        failing[:] = 0.0
        for k in range(K):
            w = wt_cond[k, i]
            for p in range(P):
                failing[p] += w * _f(not cond_ok[k, p])
        for p in range(P):
            ok = failing[p] == 0 and contract_live[i, p] and in_time[i]
            if ok:
                new[i, p] = (not wt_vested[i, p]) and wt_left[i, p] > 0
                wt_vested[i, p] = True
    return new


# ---------------------------------------------------------------- record


@_jit
def transpose_into(src: Any, out: Any) -> None:  # pragma: no cover
    """``out[:] = src.T`` for 2-d arrays of one dtype, in 32 × 32 tiles.

    The recorder's write of a chunk's staged quarters (rows of ``src``) into
    the result's path-major rows (rows of ``out``): within a tile both arrays
    stay in the first-level cache, so each cache line is read and written
    once. A copy: the values are the same bits.
    """
    R, P = src.shape
    B = 32
    for r0 in range(0, R, B):
        r1 = min(r0 + B, R)
        for p0 in range(0, P, B):
            p1 = min(p0 + B, P)
            for p in range(p0, p1):
                for r in range(r0, r1):
                    out[p, r] = src[r, p]


def transpose_into_reference(src: NDArray[Any], out: NDArray[Any]) -> None:
    """The numpy twin of :func:`transpose_into`."""
    out[...] = src.T
