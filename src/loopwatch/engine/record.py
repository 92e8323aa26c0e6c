"""What a run records: the variables of :class:`SimulationResult.data`, quarter by quarter.

Flows are USD per quarter, stocks USD at the end of the quarter. Variables
with dims ``(path, period, ...)`` and the per-run loss summaries are
recorded by default, or only those named in ``variables`` (see
:func:`~loopwatch.engine.simulate`); ``default_period`` is always present.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from loopwatch.engine import _fused
from loopwatch.engine.incidence import cached_sum
from loopwatch.engine.ledger import Account, row_total
from loopwatch.engine.plan import Plan
from loopwatch.engine.state import State
from loopwatch.engine.step import Quarter

__all__ = [
    "ALWAYS",
    "CONTRACT_VARIABLES",
    "FIRM_VARIABLES",
    "OPTIONAL",
    "PATH_VARIABLES",
    "VARIABLES",
    "Recorder",
]

F64 = NDArray[np.float64]
Getter = Callable[[Plan, State, Quarter], NDArray[Any]]


def _acct(a: Account) -> Getter:
    return lambda plan, st, q: st.ledger[a]


def _gw(attr: str) -> Getter:
    def get(plan: Plan, st: State, q: Quarter) -> F64:
        out: F64 = getattr(plan, attr) @ (st.cum_paid * plan.inv_amount[:, None])
        return out
    return get


def _loi_debt(plan: Plan, st: State, q: Quarter) -> F64:
    out = st.loi_debt.copy()
    if len(plan.ln):
        on_loi = (plan.ln_loi_link.T @ st.open.astype(float)) > 0
        out += plan.incidence(np.arange(len(plan.ln)), plan.payee[plan.ln]) @ (st.loan_out * on_loi)
    return out


FIRM_VARIABLES: dict[str, Getter] = {
    "cash": _acct(Account.cash),
    "debt": _acct(Account.debt),
    "compute_assets": _acct(Account.compute),
    "other_assets": _acct(Account.other),
    "loan_assets": _acct(Account.loans),
    "stake_assets": _acct(Account.stakes),
    "warrant_assets": _acct(Account.warrants),
    "warrant_liabilities": _acct(Account.warrant_liability),
    "book_equity": _acct(Account.equity),
    "world_debt": lambda plan, st, q: st.world_debt,
    "market_value": lambda plan, st, q: st.mv,
    "share_price": lambda plan, st, q: st.price,
    "units": lambda plan, st, q: st.units,
    "revenue_end": lambda plan, st, q: q.revenue_end,
    "revenue_loop": lambda plan, st, q: q.revenue_loop,
    "revenue_non_loop": lambda plan, st, q: q.revenue_non_loop,
    "revenue_rerent": lambda plan, st, q: q.revenue_rerent,
    "opex": lambda plan, st, q: q.opex,
    "capex": lambda plan, st, q: q.capex,
    "depreciation": lambda plan, st, q: q.depreciation,
    "interest_due": lambda plan, st, q: q.interest_due,
    "principal_due": lambda plan, st, q: q.principal_due,
    "commitments_due": lambda plan, st, q: q.commitments_due,
    "paid_out_loop": lambda plan, st, q: q.paid_out_loop,
    "funding_facility": lambda plan, st, q: q.raised.facility,
    "funding_debt": lambda plan, st, q: q.raised.debt,
    "funding_equity": lambda plan, st, q: q.raised.equity,
    "funding_warrant": lambda plan, st, q: q.raised.warrant,
    "funding_stake_sale": lambda plan, st, q: q.raised.stake_sale,
    "cash_change": lambda plan, st, q: q.cash_change,
    "defaulted": lambda plan, st, q: ~st.alive,
    "loi_secured_debt": _loi_debt,
    "gw_deployed": _gw("gw_deployed"),
    "gw_bought": _gw("gw_bought"),
}
"""Variables with dims (path, period, firm)."""


def _outstanding(plan: Plan, st: State, q: Quarter) -> F64:
    out = np.zeros((plan.C, st.P))
    out[plan.ln] = st.loan_out
    out[plan.eq] = st.stake_val
    if len(plan.wr):
        out += cached_sum(plan.wr[plan.wt_warrant], plan.C) @ st.wt_val
    return out


CONTRACT_VARIABLES: dict[str, Getter] = {
    "due": lambda plan, st, q: q.contract_flows(plan, "due"),
    "paid": lambda plan, st, q: q.contract_flows(plan, "paid"),
    "due_reverse": lambda plan, st, q: q.contract_flows(plan, "due_reverse"),
    "paid_reverse": lambda plan, st, q: q.contract_flows(plan, "paid_reverse"),
    "outstanding": _outstanding,
    "in_force": lambda plan, st, q: st.live,
}
"""Variables with dims (path, period, contract)."""


def _world_loans(plan: Plan, st: State, q: Quarter) -> F64:
    # (rows added in order: numpy's pairwise sum on a one-path chunk would make the last
    # bit depend on the chunking)
    out: F64 = row_total(st.world_debt) + row_total(st.loan_out * st.loan_sold)
    return out


PATH_VARIABLES: dict[str, Getter] = {
    "sentiment": lambda plan, st, q: st.sentiment,
    "world_cash_change": lambda plan, st, q: q.world_cash_change,
    "world_loan_assets": _world_loans,
}
"""Variables with dims (path, period)."""

ALWAYS = ("default_period",)
"""Present in every result."""

SUMMARIES = ("losses", "losses_by_mechanism", "world_losses")
"""Per-run summaries (dims (path, firm, ...)): recorded by default, or when named."""

OPTIONAL = frozenset({"units", "in_force", "outstanding", "due_reverse", "paid_reverse",
                      "other_assets", "world_debt", "world_loan_assets", "revenue_rerent",
                      "loan_assets", "stake_assets", "warrant_assets", "warrant_liabilities",
                      "cash_change"})
"""Recorded only when named (kept out of the default set to save memory)."""

VARIABLES = (*FIRM_VARIABLES, *CONTRACT_VARIABLES, *PATH_VARIABLES, *ALWAYS, *SUMMARIES)
"""Every variable name :func:`~loopwatch.engine.simulate` knows."""

_BOOL = {"defaulted", "in_force"}


def shape(plan: Plan, P: int, name: str) -> tuple[int, ...]:
    """The shape of per-quarter variable ``name`` for ``P`` paths: (P, Q[, F or C])."""
    if name in FIRM_VARIABLES:
        return (P, plan.Q, plan.F)
    if name in CONTRACT_VARIABLES:
        return (P, plan.Q, plan.C)
    return (P, plan.Q)


def dtype_of(name: str, dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The storage dtype of per-quarter variable ``name`` (flags are bool)."""
    return np.dtype(bool) if name in _BOOL else dtype


class Recorder:
    """Writes the chosen variables of one chunk into ``buffers``, staged a few quarters at a time.

    ``buffers`` maps each name to a ``(P, Q, ...)`` array (see :func:`shape`),
    typically the chunk's rows of the run's result, so that nothing is copied
    afterwards. Each quarter's values are entity-major (``(F, P)``); written
    straight into a path-major buffer they would touch one cache line per path
    every quarter, a few bytes at a time. They are staged instead in
    ``(BLOCK, ..., P)`` arrays of the storage dtype, which a quarter fills
    contiguously; every ``BLOCK`` quarters (and at :meth:`finish`) each path's
    row of the result gets those quarters at once, by a tiled transpose. The
    stored values are the same (the same casts, from the same numbers); the
    stage costs ``BLOCK`` quarters of the chunk's recorded variables.
    """

    BLOCK = 8
    """Quarters staged before they are written out (8: a path's row of a firm variable
    gets 8 × 34 values at once, and the stage is a quarter of a 32-quarter chunk's)."""

    def __init__(self, plan: Plan, buffers: dict[str, NDArray[Any]]) -> None:
        self.plan, self.names = plan, list(buffers)
        self.buf = buffers
        self.get = {n: FIRM_VARIABLES.get(n) or CONTRACT_VARIABLES.get(n) or PATH_VARIABLES[n]
                    for n in buffers}
        # (BLOCK, ..., P): the buffer's axes with the path axis moved last
        self.stage = {n: np.empty((min(self.BLOCK, b.shape[1]), *b.shape[2:], b.shape[0]),
                                  b.dtype) for n, b in buffers.items()}
        self.start = 0  # the first quarter in the stage
        self.count = 0  # quarters staged

    def record(self, t: int, st: State, q: Quarter) -> None:
        """Stage quarter ``t`` (entity-major, as the state holds it); quarters come in order."""
        if self.count == 0:
            self.start = t
        for n, s in self.stage.items():
            s[self.count] = self.get[n](self.plan, st, q)
        self.count += 1
        if self.count == self.BLOCK:
            self.flush()

    def flush(self) -> None:
        """Write the staged quarters into the buffers and empty the stage."""
        k, t0 = self.count, self.start
        if not k:
            return
        for n, b in self.buf.items():
            # (k, ..., P) → (P, k, ...): the quarters' part of each path's row
            s = self.stage[n][:k]
            part = b[:, t0:t0 + k]
            flat = part.reshape(part.shape[0], -1)  # a view when the quarters are contiguous
            if flat.ctypes.data == part.ctypes.data:
                _fused.transpose_into(s.reshape(-1, s.shape[-1]), flat)
            else:
                part[...] = np.moveaxis(s, -1, 0)
        self.count = 0

    def finish(self) -> None:
        """Write what is still staged (after the chunk's last quarter)."""
        self.flush()
