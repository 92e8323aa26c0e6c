"""Analytics on deal books and flows: cycles, origin tracing, LOI leverage, warrants, Minsky, ...

Every analytic takes a deal book (expanded by :func:`flows_from_book`) or a
flows table (``period, payer, payee, amount, kind, ...``, e.g. from a
simulation) plus a window, so the same code answers on contracts alone and
on simulated flows. Heavy dependencies (pandas, scipy, networkx) load only
when this package is imported, never by ``import loopwatch``.
"""

from loopwatch.analysis.cycles import (
    Cycles,
    CycleSignificance,
    contract_graph,
    cycle_significance,
    find_cycles,
    rewire,
)
from loopwatch.analysis.flows import (
    ALL_TYPES,
    CONTINGENT_TYPES,
    MONEY_TYPES,
    WORLD,
    Window,
    as_flows,
    filter_flows,
    flows_from_book,
)
from loopwatch.analysis.loi import LoiLeverage, loi_dependencies, loi_leverage
from loopwatch.analysis.network import FlowNetwork, flow_network, random_flow_network
from loopwatch.analysis.tracing import (
    OriginTrace,
    origin_shares,
    return_probability,
    round_trip_share,
    trace,
)
from loopwatch.analysis.tracing_reference import trace_reference
from loopwatch.analysis.warrants import (
    WarrantValuation,
    black_scholes_call,
    value_warrant,
    value_warrants,
)

__all__ = [
    "ALL_TYPES",
    "CONTINGENT_TYPES",
    "MONEY_TYPES",
    "WORLD",
    "CycleSignificance",
    "Cycles",
    "FlowNetwork",
    "LoiLeverage",
    "OriginTrace",
    "WarrantValuation",
    "Window",
    "as_flows",
    "black_scholes_call",
    "contract_graph",
    "cycle_significance",
    "filter_flows",
    "find_cycles",
    "flow_network",
    "flows_from_book",
    "loi_dependencies",
    "loi_leverage",
    "origin_shares",
    "random_flow_network",
    "return_probability",
    "rewire",
    "round_trip_share",
    "trace",
    "trace_reference",
    "value_warrant",
    "value_warrants",
]

# the answers (Minsky, Ponzi test, break-even, amplification, stress)
from loopwatch.analysis.amplification import Amplification, amplification
from loopwatch.analysis.breakeven import REFERENCES, BreakEven, Reference, break_even
from loopwatch.analysis.counterfactual import counterfactual_book, vendor_links, vendors_of
from loopwatch.analysis.minsky import MinskyClass, MinskyResult, minsky_classes
from loopwatch.analysis.ponzi import PonziTest, ponzi_test
from loopwatch.analysis.stress import ScenarioStress, StressResult, stress, stress_summary

__all__ += [
    "REFERENCES",
    "Amplification",
    "BreakEven",
    "MinskyClass",
    "MinskyResult",
    "PonziTest",
    "Reference",
    "ScenarioStress",
    "StressResult",
    "amplification",
    "break_even",
    "counterfactual_book",
    "minsky_classes",
    "ponzi_test",
    "stress",
    "stress_summary",
    "vendor_links",
    "vendors_of",
]
