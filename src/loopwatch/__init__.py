"""loopwatch: map, simulate and stress-test the web of deals financing AI compute.

The public facade; heavy parts (DuckDB, Dask, Plotly, the web stack) load only
where they are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from loopwatch.engine import SimulationResult, simulate


def __getattr__(name: str) -> Any:
    # the engine loads xarray/pandas: only when asked for
    if name in ("simulate", "SimulationResult"):
        from loopwatch import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'loopwatch' has no attribute {name!r}")

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
    "SimulationResult",
    "StoreError",
    "__version__",
    "load_deal_book",
    "load_scenario",
    "simulate",
]
