"""loopwatch: map, simulate and stress-test the web of deals financing AI compute.

The public facade; heavy parts (DuckDB, Dask, Plotly, the web stack) load only
where they are used.
"""

from __future__ import annotations

from loopwatch.errors import (
    AccountingError,
    ConvergenceError,
    DealBookError,
    LoopwatchError,
    ScenarioError,
    StoreError,
)
from loopwatch.io import load_deal_book, load_scenario
from loopwatch.model import DealBook, Firm, Period, Scenario

__version__ = "0.1.0"

__all__ = [
    "AccountingError",
    "ConvergenceError",
    "DealBook",
    "DealBookError",
    "Firm",
    "LoopwatchError",
    "Period",
    "Scenario",
    "ScenarioError",
    "StoreError",
    "__version__",
    "load_deal_book",
    "load_scenario",
]
