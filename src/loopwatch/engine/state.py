"""The engine's state for a chunk of paths: arrays with axes ``(path, firm)`` and ``(path, contract)``.

Balance sheets live in the :class:`~loopwatch.engine.ledger.Ledger`; this
object adds the instrument registers the ledger's totals are made of (world
debt per firm, each loan's principal, each stake's units, each warrant
tranche), contract status, demand and market state, and the run's
cumulative losses.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from loopwatch.engine.ledger import Account, Ledger
from loopwatch.engine.plan import Plan

__all__ = ["State"]

F64 = NDArray[np.float64]
B8 = NDArray[np.bool_]
I64 = NDArray[np.int64]


class State:
    """Mutable state of ``P`` paths at the start of a quarter; see the attribute comments."""

    def __init__(self, plan: Plan, P: int, demand_multiplier: F64) -> None:
        F, C, Q = plan.F, plan.C, plan.Q
        self.P = P
        led = self.ledger = Ledger(P, F)
        ones = np.ones((P, 1))
        led.bal[Account.cash] = ones * plan.cash0
        led.bal[Account.compute] = ones * plan.compute0
        led.bal[Account.other] = ones * plan.other0
        led.bal[Account.debt] = ones * plan.debt0
        led.bal[Account.equity] = ones * (plan.cash0 + plan.compute0 + plan.other0 - plan.debt0)
        self.alive: B8 = np.ones((P, F), bool)
        self.default_t: I64 = np.full((P, F), -1, np.int64)
        # contracts in force; conditional ones wait, undecided, in ``open``
        self.live: B8 = np.broadcast_to(~plan.conditional, (P, C)).copy()
        self.open: B8 = np.broadcast_to(plan.conditional, (P, C)).copy()
        self.cum_paid = np.zeros((P, C))  # payer → payee money paid so far
        # world debt per firm (opening debt, facility draws, new borrowing)
        self.world_debt = ones * plan.debt0
        self.world_rate = ones * plan.debt_rate0
        self.loi_debt = np.zeros((P, F))  # the part lent against open conditional deals
        self.called = np.zeros((P, F))  # LOI-secured debt called, due next quarter
        self.facility = ones * plan.facility0
        # book loans
        n_ln = len(plan.ln)
        self.loan_out = np.zeros((P, n_ln))
        self.loan_sold: B8 = np.zeros((P, n_ln), bool)  # lender defaulted: held by the world
        self.loan_accel: B8 = np.zeros((P, n_ln), bool)  # due in full next quarter
        # equity
        self.units = ones * plan.units0
        self.stake_units = np.zeros((P, len(plan.eq)))
        self.stake_val = np.zeros((P, len(plan.eq)))
        self.item_paid: B8 = np.zeros((P, len(plan.item_amount)), bool)
        self.wt_vested: B8 = np.zeros((P, len(plan.wt_shares)), bool)
        self.wt_left = ones * plan.wt_shares
        self.wt_val = np.zeros((P, len(plan.wt_shares)))
        self.bk_left = ones * plan.bk_cap
        self.stranded = np.zeros((P, len(plan.cc)))  # built share of a commitment left idle
        # straight-line depreciation: the rate per quarter and its scheduled changes
        # (a vintage bought in t adds to the rate from t + 1 for ``life`` quarters)
        life = np.maximum(np.rint(plan.life0_q).astype(np.int64), 1)
        self.dep_rate = ones * (plan.compute0 / life)
        self.dep_change = np.zeros((P, F, Q + 1))
        for f in range(F):
            if life[f] <= Q:
                self.dep_change[:, f, life[f]] = -plan.compute0[f] / life[f]
        # demand (latent, before multipliers) and markets
        D = len(plan.dev_firm)
        self.dem_x = np.zeros((P, D))  # growth deviation from the expected path (annual)
        self.dem_level = ones * plan.dev_level  # annual USD
        self.dem_mult = demand_multiplier.reshape(P, 1) * plan.dev_multiplier
        self.demand_prev = ones[:, 0] * (plan.dev_level * plan.dev_multiplier
                                         * np.exp(-plan.dev_mu[0] / 4.0)).sum()
        self.sentiment = np.ones(P)
        self.sent_eff = np.ones((P, F))  # sentiment × equity shocks, per firm
        self.eta = np.zeros((P, F))
        self.mv = ones * plan.mv0
        self.price = np.where(plan.has_shares, plan.mv0 / plan.units0, 0.0) * ones
        self.ghat = ones * plan.growth0
        self.rev_prev = ones * plan.rev0_q
        self.end_rev = np.zeros((P, F))  # last quarter's end revenue (USD a quarter)
        self.cond_ok: B8 = np.zeros((P, len(plan.cond_metric)), bool)
        self.issued = np.zeros((P, F))  # equity issued this quarter
        # losses over the run
        self.losses = np.zeros((P, F, F + 1))
        self.loss_mech = np.zeros((P, F, 4))
        self.world_losses = np.zeros((P, F))
