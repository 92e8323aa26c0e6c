"""The ledger: every firm's balance sheet as ``(firm, path)`` arrays, changed only by postings.

Each firm keeps double-entry books with six asset accounts (cash, compute
assets, other assets, loans it has made, equity stakes, warrants it holds),
two liability accounts (debt, warrant liabilities) and equity. The world (end
customers, outside investors and lenders, suppliers) keeps only cash.

Two functions change state, and nothing else does:

* :meth:`Ledger.post` — one entry on each firm's own books (debit one
  account, credit another, same amount): depreciation, revaluations,
  write-offs, debt forgiveness.
* :meth:`Ledger.transfer` — cash moving between two parties (firms or the
  world), which is two :meth:`post` calls, one on each side's books, plus the
  world's cash when it is a side. The sum of cash changes over firms and the
  world is zero by construction.

Because every entry debits and credits the same amount, assets − liabilities
− equity stays zero for every firm; :meth:`Ledger.check` verifies it once a
quarter and raises :class:`~loopwatch.errors.AccountingError` on a break
(a state array changed outside the ledger).

References
----------
W. Godley and M. Lavoie, *Monetary Economics*, Palgrave Macmillan, 2007
(stock-flow consistency: every flow comes from somewhere and goes somewhere).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

from loopwatch.engine import _fused
from loopwatch.engine.incidence import Sum
from loopwatch.errors import AccountingError

__all__ = ["Account", "Ledger"]

F64 = NDArray[np.float64]

#: Stacked edge maps of :meth:`Ledger.transfer_legs_over`, by the maps and the live rows
#: (a book has few row patterns; the entry keeps its maps alive, so their ids stay theirs).
_Legs = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64],
              NDArray[np.int64], NDArray[np.float64], NDArray[np.int64], object]
_LEGS: dict[tuple[int, int, int, int, bytes], _Legs] = {}


class Account(IntEnum):
    """A firm's accounts; the first six are assets (debit-normal)."""

    cash = 0
    compute = 1
    other = 2
    loans = 3
    stakes = 4
    warrants = 5
    debt = 6
    warrant_liability = 7
    equity = 8


class Ledger:
    """Balance sheets of ``F`` firms on ``P`` paths, plus the world's cash.

    Parameters
    ----------
    P, F : int
        Paths and firms.

    Attributes
    ----------
    bal : ndarray, shape (9, F, P)
        Balance of each :class:`Account` (USD), in its normal sign (assets
        and liabilities positive); entity-major like all engine state.
    world_cash : ndarray, shape (P,)
        Cumulative cash change of the world since the start (USD).

    Examples
    --------
    >>> import numpy as np
    >>> from loopwatch.engine.incidence import Sum
    >>> led = Ledger(1, 2)
    >>> led.post(np.array([[5.0], [0.0]]), Account.cash, Account.equity)   # capital
    >>> opex = np.array([[2.0]])   # one edge, firm 0 → the world (index 2)
    >>> _ = led.transfer(opex, Sum([0], 3), Sum([2], 3), Account.equity, Account.equity)
    >>> led.bal[Account.cash].ravel().tolist(), led.world_cash.tolist()
    ([3.0, 0.0], [2.0])
    >>> led.check("2025Q1", ["a", "b"])
    """

    bal: F64
    world_cash: F64
    peak: F64

    def __init__(self, P: int, F: int, reuse: Ledger | None = None) -> None:
        """``reuse``: a ledger of the same shape whose arrays this one takes over, zeroed
        (it must not be used afterwards)."""
        self.P, self.F = P, F
        if reuse is not None:
            old = (reuse.bal, reuse.world_cash, reuse.peak)
            if all(a.shape == shape and a.dtype == np.float64 and a.flags.c_contiguous
                   and a.flags.writeable and not isinstance(a.base, np.ndarray)
                   for a, shape in zip(old, ((len(Account), F, P), (P,), (F, P)),
                                       strict=True)):
                for a in old:
                    a.fill(0.0)
                self.bal, self.world_cash, self.peak = old
                return
        self.bal = np.zeros((len(Account), F, P))
        self.world_cash = np.zeros(P)
        self.peak = np.zeros((F, P))  # largest gross balance sheet seen (rounding scale)

    def __getitem__(self, account: Account) -> F64:
        out: F64 = self.bal[account]
        return out

    def post(self, amount: F64, debit: Account, credit: Account) -> None:
        """Debit ``debit`` and credit ``credit`` by ``amount`` on each firm's books.

        Parameters
        ----------
        amount : ndarray, shape (F, P)
            USD per firm and path (may be negative: a reversed entry).
        debit, credit : Account

        Notes
        -----
        One compiled pass (:func:`~loopwatch.engine._fused.post`); the twin
        is :meth:`post_reference`.
        """
        if debit == credit:
            return
        _fused.post(self.bal, int(debit), int(credit), self._amount(amount),
                    1.0 if debit < Account.debt else -1.0,
                    -1.0 if credit < Account.debt else 1.0)

    def post_reference(self, amount: F64, debit: Account, credit: Account) -> None:
        """:meth:`post` in numpy (the twin the kernel is tested against)."""
        if debit == credit:
            return
        d, c = self.bal[debit], self.bal[credit]
        (np.add if debit < Account.debt else np.subtract)(d, amount, out=d)
        (np.subtract if credit < Account.debt else np.add)(c, amount, out=c)

    def _amount(self, amount: F64) -> F64:
        """``amount`` as a C-contiguous float64 (F, P) array (broadcast if need be)."""
        if (amount.dtype == np.float64 and amount.flags.c_contiguous
                and amount.shape == self.bal.shape[1:]):
            return amount
        out: F64 = np.ascontiguousarray(np.broadcast_to(amount, self.bal.shape[1:]), np.float64)
        return out

    def transfer(self, amount: F64, out_inc: Sum, in_inc: Sum, payer_leg: Account,
                 payee_leg: Account) -> tuple[F64, F64]:
        """Move cash along edges: each payer credits cash, each payee debits it.

        Parameters
        ----------
        amount : ndarray, shape (E, P)
            USD per edge and path.
        out_inc, in_inc : Sum
            Edge → payer and edge → payee totals over the ``F + 1`` parties
            (party ``F`` = the world).
        payer_leg, payee_leg : Account
            The other side of each party's entry: the payer debits
            ``payer_leg`` (an expense is a debit to equity, a purchase a debit
            to an asset), the payee credits ``payee_leg``.

        Returns
        -------
        (ndarray, ndarray), each shape (F + 1, P)
            Cash paid out and received per party (row ``F`` = world).
        """
        paid = out_inc @ amount
        got = in_inc @ amount
        F = self.F
        self.post(paid[:F], payer_leg, Account.cash)
        self.post(got[:F], Account.cash, payee_leg)
        self.world_cash += got[F] - paid[F]
        return paid, got

    def transfer_reference(self, amount: F64, out_inc: Sum, in_inc: Sum, payer_leg: Account,
                           payee_leg: Account) -> tuple[F64, F64]:
        """:meth:`transfer` posting through :meth:`post_reference` (the twin)."""
        paid = out_inc @ amount
        got = in_inc @ amount
        F = self.F
        self.post_reference(paid[:F], payer_leg, Account.cash)
        self.post_reference(got[:F], Account.cash, payee_leg)
        self.world_cash += got[F] - paid[F]
        return paid, got

    def transfer_legs(self, amount: F64, out_inc: Sum, in_inc: Sum,
                      payer_legs: dict[Account, Sum], payee_legs: dict[Account, Sum]) -> None:
        """:meth:`transfer` for edges with different legs, in one pass.

        ``payer_legs[a]`` totals, per firm, the edges whose payer debits
        account ``a``; ``payee_legs[a]`` those whose payee credits it. Every
        edge must appear in exactly one payer leg and (unless its payee is the
        world) one payee leg: each party's entry is then balanced, as in
        :meth:`transfer`. Each total is added straight into its account by a
        compiled kernel (:func:`~loopwatch.engine._fused.csr_post`); the twin
        is :meth:`transfer_legs_reference`.
        """
        F = self.F
        X = np.ascontiguousarray(amount, np.float64)
        sums = (out_inc, in_inc, *payer_legs.values(), *payee_legs.values())
        if X.ndim != 2 or X.shape[1] != self.P or any(s.k != X.shape[0] for s in sums):
            raise ValueError(f"amount of shape {X.shape} does not fit the edge maps")
        bal = self.bal
        cash = bal[Account.cash]
        _fused.csr_post(*in_inc.csr, X, cash, 1.0, F)
        _fused.csr_post(*out_inc.csr, X, cash, -1.0, F)
        _fused.csr_world(*in_inc.csr, *out_inc.csr, X, F, self.world_cash)
        for acct, s in payer_legs.items():
            _fused.csr_post(*s.csr, X, bal[acct], 1.0 if acct < Account.debt else -1.0, F)
        for acct, s in payee_legs.items():
            _fused.csr_post(*s.csr, X, bal[acct], -1.0 if acct < Account.debt else 1.0, F)

    def transfer_legs_over(self, paid: F64, nz: NDArray[np.int64], out_inc: Sum, in_inc: Sum,
                           payer_legs: dict[Account, Sum],
                           payee_legs: dict[Account, Sum]) -> None:
        """:meth:`transfer_legs` of the rows ``nz`` of ``paid`` (E, P), read in place.

        The same as ``transfer_legs(paid[nz], out_inc.rows(nz), …)`` bit for bit
        (the restricted maps' entries point at the rows of ``paid``: see
        :meth:`~loopwatch.engine.incidence.Sum.csr_over`), without the copy.
        """
        F = self.F
        X = paid
        if (X.dtype != np.float64 or X.ndim != 2 or not X.flags.c_contiguous
                or X.shape[1] != self.P or X.shape[0] != out_inc.k):
            raise ValueError(f"amount of shape {X.shape} does not fit the edge maps")
        key = (id(out_inc), id(in_inc), id(payer_legs), id(payee_legs), nz.tobytes())
        hit = _LEGS.get(key)
        if hit is None:
            if len(_LEGS) > 1024:
                _LEGS.clear()
            maps = [(in_inc, Account.cash, 1.0), (out_inc, Account.cash, -1.0)]
            maps += [(m, a, 1.0 if a < Account.debt else -1.0) for a, m in payer_legs.items()]
            maps += [(m, a, -1.0 if a < Account.debt else 1.0) for a, m in payee_legs.items()]
            parts = [m.csr_over(nz) for m, _, _ in maps]
            nnz = np.cumsum([0] + [len(p[1]) for p in parts])
            legs = np.cumsum([0] + [len(p[0]) for p in parts]).astype(np.int64)
            world_legs = np.array([0 if len(parts[j][0]) > F + 1 else -1 for j in (0, 1)],
                                  np.int64)
            hit = _LEGS[key] = (
                legs, np.concatenate([p[0] + o for p, o in zip(parts, nnz, strict=False)]),
                np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts]),
                np.array([int(a) for _, a, _ in maps], np.int64),
                np.array([sg for _, _, sg in maps]), world_legs,
                (in_inc, out_inc, payer_legs, payee_legs))  # (keeps the ids alive)
        legs, indptr, indices, data, dest, sign, world_legs, _ = hit
        _fused.csr_post_legs(legs, indptr, indices, data, X, self.bal, dest, sign, F,
                             self.world_cash, world_legs)

    def transfer_legs_over_reference(self, paid: F64, nz: NDArray[np.int64], out_inc: Sum,
                                     in_inc: Sum, payer_legs: dict[Account, Sum],
                                     payee_legs: dict[Account, Sum]) -> None:
        """:meth:`transfer_legs_over` as a copy of the rows and the numpy twin (the twin)."""
        self.transfer_legs_reference(paid[nz], out_inc.rows(nz), in_inc.rows(nz),
                                     {a: m.rows(nz) for a, m in payer_legs.items()},
                                     {a: m.rows(nz) for a, m in payee_legs.items()})

    def transfer_legs_reference(self, amount: F64, out_inc: Sum, in_inc: Sum,
                                payer_legs: dict[Account, Sum],
                                payee_legs: dict[Account, Sum]) -> None:
        """:meth:`transfer_legs` in numpy (the twin)."""
        F = self.F
        paid = out_inc @ amount
        got = in_inc @ amount
        cash = self.bal[Account.cash]
        cash += got[:F]
        cash -= paid[:F]
        self.world_cash += got[F] - paid[F]
        for acct, s in payer_legs.items():
            b = self.bal[acct]
            (np.add if acct < Account.debt else np.subtract)(b, s @ amount, out=b)
        for acct, s in payee_legs.items():
            b = self.bal[acct]
            (np.subtract if acct < Account.debt else np.add)(b, s @ amount, out=b)

    def from_world(self, amount: F64, leg: Account) -> None:
        """The world pays each firm ``amount`` (F, P); the firm credits ``leg``."""
        if leg == Account.cash:
            self.world_cash -= row_total(amount)
            return
        _fused.world_post(self.bal, int(Account.cash), int(leg), self._amount(amount), 1.0,
                          -1.0 if leg < Account.debt else 1.0, self.world_cash, -1.0)

    def to_world(self, amount: F64, leg: Account) -> None:
        """Each firm pays the world ``amount`` (F, P); the firm debits ``leg``."""
        if leg == Account.cash:
            self.world_cash += row_total(amount)
            return
        _fused.world_post(self.bal, int(leg), int(Account.cash), self._amount(amount),
                          1.0 if leg < Account.debt else -1.0, -1.0, self.world_cash, 1.0)

    def from_world_reference(self, amount: F64, leg: Account) -> None:
        """:meth:`from_world` in numpy (the twin)."""
        self.post_reference(amount, Account.cash, leg)
        self.world_cash -= row_total(amount)

    def to_world_reference(self, amount: F64, leg: Account) -> None:
        """:meth:`to_world` in numpy (the twin)."""
        self.post_reference(amount, leg, Account.cash)
        self.world_cash += row_total(amount)

    @property
    def assets(self) -> F64:
        """Total assets (F, P), USD."""
        out: F64 = self.bal[:6].sum(axis=0)
        return out

    @property
    def liabilities(self) -> F64:
        """Debt plus warrant liabilities (F, P), USD."""
        out: F64 = self.bal[Account.debt] + self.bal[Account.warrant_liability]
        return out

    def check(self, period: str, firm_ids: list[str], tol: float = 1e-9) -> None:
        """Raise :class:`AccountingError` where assets − liabilities − equity ≠ 0.

        The tolerance is ``tol`` × the largest gross balance sheet the firm
        has had, plus 1 USD (float64 rounding on balances of 10^12 USD).
        One compiled pass (:func:`~loopwatch.engine._fused.check`); the twin
        is :meth:`check_reference`.
        """
        bad = _fused.check(self.bal, self.peak, float(tol))
        if bad >= 0:
            f, p = divmod(bad, self.peak.shape[1])
            raise AccountingError(period, firm_ids[f], _residual(self.bal[:, f, p]))

    def check_reference(self, period: str, firm_ids: list[str], tol: float = 1e-9) -> None:
        """:meth:`check` in numpy (the twin)."""
        bal = self.bal
        assets = bal[0] + bal[1]
        for a in range(2, 6):
            assets += bal[a]
        assets -= bal[Account.debt] + bal[Account.warrant_liability]
        assets -= bal[Account.equity]
        residual = assets
        gross = np.abs(bal[0])
        for a in range(1, len(Account)):
            gross += np.abs(bal[a])
        np.maximum(self.peak, gross, out=self.peak)
        bad = ~(np.abs(residual) <= self.peak * tol + 1.0)  # also catches NaN
        if bad.any():
            f, p = np.argwhere(bad)[0]
            raise AccountingError(period, firm_ids[int(f)], float(residual[f, p]))


def row_total(a: F64) -> F64:
    """``a.sum(axis=0)`` for a 2-d array, its rows added in order from 0.0, as the kernels
    add them. (numpy's ``sum`` adds pairwise along a contiguous axis: on one path, with
    eight rows or more, its last bit can differ from the same path in a larger chunk.)
    """
    out = np.zeros(a.shape[1:])
    for row in a:
        out += row
    return out


def _residual(b: F64) -> float:
    """Assets − liabilities − equity of one balance sheet ``b`` (9,), summed as in :meth:`Ledger.check`."""
    assets = float(b[0]) + float(b[1])
    for a in range(2, 6):
        assets += float(b[a])
    assets -= float(b[6]) + float(b[7])
    return assets - float(b[8])
