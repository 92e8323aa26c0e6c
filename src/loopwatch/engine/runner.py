"""Run the engine: :func:`simulate` and its :class:`SimulationResult`."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import NDArray

from loopwatch.engine.draws import Draws, draw, seed_sequence
from loopwatch.engine.events import EventLog, empty_events
from loopwatch.engine.plan import MECHANISMS, Plan, compile_plan
from loopwatch.engine.record import (
    ALWAYS,
    CONTRACT_VARIABLES,
    FIRM_VARIABLES,
    OPTIONAL,
    PATH_VARIABLES,
    SUMMARIES,
    VARIABLES,
    Recorder,
    dtype_of,
)
from loopwatch.engine.record import shape as record_shape
from loopwatch.engine.state import State
from loopwatch.engine.step import step
from loopwatch.errors import Problem, ScenarioError
from loopwatch.model import DealBook, Period, Scenario

__all__ = ["DEFAULT_CHUNK", "SimulationResult", "simulate"]

DEFAULT_CHUNK = 1536
"""Paths advanced together by default: large enough to amortise the fixed cost of a
quarter (≈ 0.3–0.4 ms a chunk-quarter), small enough that memory stays flat; the fastest
size measured on the bundled book (see ``docs/engine.md``)."""


@dataclass(frozen=True)
class SimulationResult:
    """The outcome of :func:`simulate`.

    Attributes
    ----------
    book, scenario : DealBook, Scenario
        What was simulated (the scenario after the ``deterministic`` override).
    seed : int or numpy.random.SeedSequence
    periods : list of str
        Quarter labels, e.g. ``"2025Q1"``.
    firms, contracts : list of str
        Ids in book order.
    data : xarray.Dataset
        Labelled arrays; dims ``path``, ``period``, ``firm``, ``contract``,
        ``counterparty`` (firms + ``"world"``) and ``mechanism``. See
        :mod:`loopwatch.engine.record` for every variable.
    events : pandas.DataFrame
        Columns ``path, period, firm, event, amount, counterparty, round``.
    """

    book: DealBook
    scenario: Scenario
    seed: int | np.random.SeedSequence
    periods: list[str]
    firms: list[str]
    contracts: list[str]
    data: xr.Dataset
    events: pd.DataFrame

    @property
    def paths(self) -> int:
        """Number of Monte Carlo paths."""
        return int(self.data.sizes["path"])

    def default_probability(self) -> pd.Series:
        """Share of paths in which each firm defaults by the horizon."""
        dp = self.data["default_period"].values
        return pd.Series((dp >= 0).mean(axis=0), index=self.firms, name="default_probability")


_PLANS: dict[tuple[int, int, int], tuple[DealBook, Scenario, Plan]] = {}


def _plan(book: DealBook, scenario: Scenario, quarters: int) -> Plan:
    """Compiled plan, cached on the identity of the (frozen) inputs."""
    key = (id(book), id(scenario), quarters)
    hit = _PLANS.get(key)
    if hit is not None and hit[0] is book and hit[1] is scenario:
        return hit[2]
    plan = compile_plan(book, scenario, quarters)
    if len(_PLANS) > 16:
        _PLANS.clear()
    _PLANS[key] = (book, scenario, plan)
    return plan


def _quarters(book: DealBook, horizon: Period | str | int | None) -> int:
    if horizon is None:
        return book.quarters
    if isinstance(horizon, bool):
        raise TypeError("horizon must be a quarter, a quarter label or a number of quarters")
    if isinstance(horizon, int | np.integer):
        return int(horizon)
    return int(Period.parse(horizon) - book.start) + 1


def _names(variables: Collection[str] | str | None) -> list[str]:
    """The variables to record: per-quarter ones, then the loss summaries."""
    if variables is None:
        return [n for n in (*FIRM_VARIABLES, *CONTRACT_VARIABLES, *PATH_VARIABLES, *SUMMARIES)
                if n not in OPTIONAL]
    if isinstance(variables, str):
        variables = [variables]
    wanted = list(dict.fromkeys(variables))
    if "all" in wanted:
        return [*FIRM_VARIABLES, *CONTRACT_VARIABLES, *PATH_VARIABLES, *SUMMARIES]
    unknown = [n for n in wanted if n not in VARIABLES]
    if unknown:
        raise ValueError(f"unknown variable(s) {', '.join(map(repr, unknown))} "
                         f"(known: {', '.join(VARIABLES)})")
    return [n for n in wanted if n not in ALWAYS]


def simulate(
    book: DealBook,
    scenario: Scenario,
    *,
    paths: int = 1,
    seed: int | np.random.SeedSequence = 0,
    horizon: Period | str | int | None = None,
    chunk: int | None = None,
    demand_multiplier: float | NDArray[np.floating[Any]] = 1.0,
    variables: Collection[str] | None = None,
    deterministic: bool | None = None,
    dtype: str = "float64",
    events: bool = True,
    check: bool = True,
) -> SimulationResult:
    """Simulate ``book`` under ``scenario``, quarter by quarter, on many paths at once.

    Parameters
    ----------
    book : DealBook
    scenario : Scenario
    paths : int, keyword-only
        Monte Carlo paths (≥ 1).
    seed : int or numpy.random.SeedSequence, keyword-only
        Root of the random streams; the same seed gives identical results
        whatever ``chunk``.
    horizon : Period, str, int or None, keyword-only
        Last quarter (``"2028Q4"``), or a number of quarters from the book's
        start; default the book's horizon.
    chunk : int, keyword-only
        Paths advanced together (memory ∝ chunk); default 1536
        (:data:`DEFAULT_CHUNK`, the fastest measured). Results do not depend on it.
    demand_multiplier : float or ndarray, shape (paths,), keyword-only
        Scales every developer's end-demand path (per path if an array).
        Shocks do not depend on it (common random numbers).
    variables : collection of str, keyword-only
        Variables to record (names from :data:`~loopwatch.engine.VARIABLES`);
        default all but the optional ones
        (:data:`~loopwatch.engine.record.OPTIONAL`); ``"all"`` for everything.
        ``default_period`` is always there. Record few at 10^5 paths: memory
        is dominated by what is recorded, not by the engine.
    deterministic : bool, keyword-only
        Override the scenario's ``deterministic`` flag: no demand or price
        shocks, and a conditional deal converts iff its probability > 1/2.
    dtype : {"float64", "float32"}, keyword-only
        Storage type of recorded money variables (the engine computes in float64).
    events : bool, keyword-only
        Collect the events table (default True).
    check : bool, keyword-only
        Check every firm's balance sheet each quarter (default True).

    Returns
    -------
    SimulationResult

    Raises
    ------
    ScenarioError
        Bad run options (paths, horizon, chunk, multipliers).
    DealBookError
        A book the engine cannot run (e.g. an LOI converting to a warrant).
    AccountingError
        A quarter's postings broke some firm's balance sheet.

    Examples
    --------
    >>> from loopwatch import load_deal_book, load_scenario
    >>> book = load_deal_book("three-party-loop")
    >>> res = simulate(book, load_scenario("base"), paths=4, seed=1,
    ...                variables=["cash", "cash_change", "world_cash_change"])
    >>> res.data["cash"].dims, res.periods[0], len(res.firms)
    (('path', 'period', 'firm'), '2025Q1', 3)
    >>> total = res.data["cash_change"].sum("firm") + res.data["world_cash_change"]
    >>> float(abs(total).max()) < 1.0     # stock-flow consistency, USD
    True
    """
    def bad(path: str, message: str) -> ScenarioError:
        return ScenarioError(Problem("<simulate>", None, path, message))

    if isinstance(paths, bool) or not isinstance(paths, int | np.integer) or paths < 1:
        raise bad("paths", f"paths must be a positive integer, not {paths!r}")
    paths = int(paths)
    try:
        quarters = _quarters(book, horizon)
    except ValueError as exc:
        raise bad("horizon", str(exc)) from None
    if quarters < 1:
        raise bad("horizon", f"horizon {horizon!r} is before the book's start {book.start}")
    size = DEFAULT_CHUNK if chunk is None else chunk
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise bad("chunk", f"chunk must be a positive integer, not {chunk!r}")
    size = min(int(size), paths)
    dm = np.broadcast_to(np.asarray(demand_multiplier, float), (paths,)).copy() \
        if np.ndim(demand_multiplier) == 0 or np.shape(demand_multiplier) == (paths,) else None
    if dm is None:
        raise bad("demand_multiplier", f"must be a number or an array of {paths} numbers, "
                                       f"not shape {np.shape(demand_multiplier)}")
    if not np.all(np.isfinite(dm)) or (dm < 0).any():
        raise bad("demand_multiplier", "must be finite and ≥ 0")
    names = _names(variables)
    store = np.dtype(dtype)
    if store not in (np.dtype("float64"), np.dtype("float32")):
        raise bad("dtype", f"dtype must be float64 or float32, not {dtype!r}")
    det = scenario.deterministic if deterministic is None else bool(deterministic)
    if det != scenario.deterministic:
        scenario = scenario.model_copy(update={"deterministic": det})
    plan = _plan(book, scenario, quarters)
    root = seed_sequence(seed)

    F = plan.F
    per_quarter = [n for n in names if n not in SUMMARIES]
    summaries = [n for n in names if n in SUMMARIES]
    # the result's arrays, filled chunk by chunk in place (no concatenation at the end, which
    # would hold every recorded variable twice)
    out: dict[str, NDArray[Any]] = {
        n: np.zeros(record_shape(plan, paths, n), dtype_of(n, store)) for n in per_quarter}
    out["default_period"] = np.empty((paths, F), np.int64)
    sizes = {"losses": (F, F + 1), "losses_by_mechanism": (F, 4), "world_losses": (F,)}
    for n in summaries:
        out[n] = np.empty((paths, *sizes[n]), store)
    frames: list[pd.DataFrame] = []
    st: State | None = None
    dr: Draws | None = None
    for lo in range(0, paths, size):
        hi = min(lo + size, paths)
        P = hi - lo
        # (the last chunk's largest arrays are reused, zeroed: see ``State``)
        st = State(plan, P, dm[lo:hi], reuse=st)
        st.keep_cash_start = "cash_change" in per_quarter
        dr = draw(plan, root, lo, hi, deterministic=det, reuse=dr)
        rec = Recorder(plan, {n: out[n][lo:hi] for n in per_quarter})
        log = EventLog(events)
        for t in range(plan.Q):
            q = step(plan, st, t, dr, log)
            rec.record(t, st, q)
            if check:
                st.ledger.check(plan.periods[t], plan.firm_ids)
        rec.finish()
        out["default_period"][lo:hi] = st.default_t.T
        if "losses" in summaries:
            out["losses"][lo:hi] = st.losses.T.reshape(P, F, F + 1)
        if "losses_by_mechanism" in summaries:
            out["losses_by_mechanism"][lo:hi] = st.loss_mech.T.reshape(P, F, 4)
        if "world_losses" in summaries:
            out["world_losses"][lo:hi] = st.world_losses.T
        if events:
            frames.append(log.frame(plan.periods, plan.firm_ids, offset=lo))

    dims = {**{n: ("path", "period", "firm") for n in FIRM_VARIABLES},
            **{n: ("path", "period", "contract") for n in CONTRACT_VARIABLES},
            **{n: ("path", "period") for n in PATH_VARIABLES},
            "default_period": ("path", "firm"), "losses": ("path", "firm", "counterparty"),
            "losses_by_mechanism": ("path", "firm", "mechanism"),
            "world_losses": ("path", "firm")}
    data = xr.Dataset(
        {n: (dims[n], out[n]) for n in (*names, *ALWAYS)},
        coords={"path": np.arange(paths), "period": plan.periods, "firm": plan.firm_ids,
                "contract": plan.contract_ids, "counterparty": [*plan.firm_ids, "world"],
                "mechanism": list(MECHANISMS)},
        attrs={"book": book.name, "scenario": scenario.name, "deterministic": int(det),
               "units": "USD; flows per quarter, stocks at the quarter's end"},
    )
    ev = pd.concat(frames, ignore_index=True) if len(frames) > 1 else (
        frames[0] if frames else empty_events())
    return SimulationResult(book=book, scenario=scenario, seed=seed, periods=plan.periods,
                            firms=plan.firm_ids, contracts=plan.contract_ids, data=data, events=ev)
