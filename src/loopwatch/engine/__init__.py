"""The simulation engine: a stock-flow-consistent quarterly simulation of the deal web.

Given a :class:`~loopwatch.model.DealBook` and a
:class:`~loopwatch.model.Scenario`, :func:`simulate` moves every firm's
balance sheet forward quarter by quarter on many Monte Carlo paths at once
and records every flow, funding decision, default and loss
(:class:`SimulationResult`). The quarter follows DESIGN §2; see
:mod:`loopwatch.engine.step` for the order and the modules it names for the
rules. State is held as ``(path, firm)`` and ``(path, contract)`` arrays;
every change goes through :class:`~loopwatch.engine.ledger.Ledger`, so double
entry holds by construction and is checked every quarter.
"""

from loopwatch.engine.plan import core_firms
from loopwatch.engine.record import VARIABLES
from loopwatch.engine.runner import SimulationResult, simulate

__all__ = ["VARIABLES", "SimulationResult", "core_firms", "simulate"]
