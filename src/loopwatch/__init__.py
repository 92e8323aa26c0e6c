"""loopwatch: map, simulate and stress-test the web of deals financing AI compute.

The public facade. Only the exception tree is imported eagerly; everything else
loads on first use, so ``import loopwatch`` (and the CLI's start-up) stays light:
pydantic models load with the first deal book, xarray with the first simulation,
and DuckDB, Plotly, Dask and the web stack only where they are used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from loopwatch.errors import (
    AccountingError,
    ConvergenceError,
    DealBookError,
    LoopwatchError,
    ScenarioError,
    StoreError,
)

if TYPE_CHECKING:
    from loopwatch.engine import SimulationResult, simulate
    from loopwatch.io import load_deal_book, load_scenario
    from loopwatch.model import DealBook, Firm, Period, Scenario

__version__ = "0.1.0"

_LAZY = {
    "load_deal_book": "loopwatch.io",
    "load_scenario": "loopwatch.io",
    "DealBook": "loopwatch.model",
    "Firm": "loopwatch.model",
    "Period": "loopwatch.model",
    "Scenario": "loopwatch.model",
    "simulate": "loopwatch.engine",
    "SimulationResult": "loopwatch.engine",
}

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'loopwatch' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
