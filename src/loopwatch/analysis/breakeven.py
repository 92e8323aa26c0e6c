"""Break-even demand: how much end revenue the contracts need (DESIGN §3, Q3).

The break-even multiplier m* is the smallest multiplier on the scenario's
end-revenue paths at which the probability that **no core firm defaults by
the horizon** is at least 1 − α. It is reported as the end revenue of the
target year (default 2030) and as the compound annual growth from today's
end revenue that gets there, beside published estimates of the revenue AI
needs (Bain, Sequoia).

Method
------
Bisection on m with **common random numbers**: every trial runs the engine
with the same seed, so the paths see the same shocks and only the multiplier
changes; the estimated probability p(m) is then (almost) monotone in m and
its sampling noise does not move the bracket. The bracket starts at [0, 1]
if the scenario as given passes (p(1) ≥ 1 − α), else the upper end doubles
until it passes. Bisection stops when the bracket is narrower than ``tol``
(absolute, in multiplier units); the answer is the bracket's upper end (the
smallest multiplier seen to pass). p(0) is evaluated only if every trial
passed; if p(0) ≥ 1 − α the contracts need no end revenue at all and m* = 0.

**Coarse bracketing** (runs of 2,000 paths or more): the search above first
runs on the first eighth of the paths — the same random paths, since the
engine's draws do not depend on how many paths follow — and its answer m_c
guides the search on all paths: p(m_c) is evaluated, then steps of
8 × ``tol``, doubling, go down (if m_c passes) or up (if it fails) until the
outcome flips, and bisection closes that bracket. The final bracket is always
one evaluated on every path (p(upper) ≥ 1 − α > p(lower), width ≤ ``tol``),
so the answer is the same kind of answer; only fewer full-size runs are
spent finding it (typically 6–7 instead of 10–11).

**End revenue in the target year** is the calendar-year sum of every firm's
end revenue at m*, averaged over paths. **CAGR** is
(R_target / R_0)^(1 / (target year − start year)) − 1, where R_0 is today's
annual end revenue: the book's opening ``end_revenue`` of every firm (or the
scenario's ``level`` where it sets one), unscaled.

The **deterministic variant** runs the engine's deterministic mode (one path,
no shocks), where p(m) is 0 or 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from loopwatch.errors import ConvergenceError

__all__ = ["REFERENCES", "BreakEven", "Reference", "break_even", "no_default_probability"]


@dataclass(frozen=True)
class Reference:
    """A published estimate to set an answer beside, with its source.

    ``value`` is USD (a rate per year when ``per_year``); ``compares_to`` names
    the answer it is comparable with (``break_even`` or ``outside_capital``).
    """

    id: str
    figure: str
    value: float
    per_year: bool
    period: str
    author: str
    source_title: str
    source_url: str
    compares_to: str
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


REFERENCES: tuple[Reference, ...] = (
    Reference(
        id="bain-2030", figure="AI revenue needed by 2030 to fund the compute build-out",
        value=2000e9, per_year=True, period="2030", author="Bain Global Technology Report (2025-09-23)",
        source_title="Tom's Hardware: Bain says compute demand is outpacing capital",
        source_url="https://www.tomshardware.com/tech-industry/bain-says-compute-demand-is-outpacing-capital",
        compares_to="break_even",
        note="$800B shortfall; ~$500B/yr data-centre capex; 200 GW incremental compute",
    ),
    Reference(
        id="sequoia-600b", figure="AI revenue gap: revenue needed to pay for the GPU capex",
        value=600e9, per_year=True, period="2024-06", author="Sequoia (David Cahn)",
        source_title="Center Consulting: AI's $600 Billion Question",
        source_url="https://centerconsulting.com/ai-library/stories/ais-600-billion-question",
        compares_to="break_even",
        note="$200B in Sept 2023; ~$840B (Cahn, Oct 2025)",
    ),
    Reference(
        id="morgan-stanley-gap", figure="Data-centre financing gap (outside capital) 2025–2028",
        value=1500e9, per_year=False, period="2025-2028", author="Morgan Stanley",
        source_title="Aigazine: Data center private credit set to dominate funding",
        source_url="https://aigazine.com/industry/data-center-private-credit-set-to-dominate-funding--s",
        compares_to="outside_capital",
        note="$800B private credit, $350B PE/sovereign, $200B corporate debt, $150B ABS",
    ),
)
"""Published estimates shipped with loopwatch (figures and links from the project's research data)."""


@dataclass(frozen=True)
class BreakEven:
    """The break-even demand of one scenario and how it was found.

    Attributes
    ----------
    scenario : str
    multiplier : float
        m*: smallest multiplier seen with p(m) ≥ 1 − α (upper end of the final bracket).
    lower : float
        Largest multiplier seen failing (lower end of the final bracket).
    probability, probability_lower : float
        p(multiplier) and p(lower): share of paths with no core default by the horizon.
    alpha, tolerance : float
    iterations : int
        Bisection steps on all paths (after bracketing).
    evaluations : int
        Engine runs on all paths.
    coarse_paths, coarse_iterations, coarse_evaluations : int
        Paths, bisection steps and engine runs of the coarse phase (0 without one).
    target_year : int
    end_revenue : float
        Mean calendar-year end revenue in ``target_year`` at m*, USD.
    opening_end_revenue : float
        Today's annual end revenue R_0, USD.
    cagr : float
        Growth a year from R_0 to ``end_revenue``.
    paths, seed : int
    deterministic : bool
    core : list of str
    trials : list of (float, float, int)
        Every (multiplier, probability, paths) evaluated, in order.
    """

    scenario: str
    multiplier: float
    lower: float
    probability: float
    probability_lower: float
    alpha: float
    tolerance: float
    iterations: int
    evaluations: int
    coarse_paths: int
    coarse_iterations: int
    coarse_evaluations: int
    target_year: int
    end_revenue: float
    opening_end_revenue: float
    cagr: float
    paths: int
    seed: int
    deterministic: bool
    core: list[str]
    trials: list[tuple[float, float, int]] = field(default_factory=list)

    def references(self) -> list[tuple[Reference, float]]:
        """Published revenue estimates beside this answer: (reference, our figure / theirs)."""
        return [(r, self.end_revenue / r.value) for r in REFERENCES if r.compares_to == "break_even"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "multiplier": self.multiplier,
            "bracket": [self.lower, self.multiplier],
            "probability_no_core_default": self.probability,
            "probability_at_lower": self.probability_lower,
            "alpha": self.alpha,
            "tolerance": self.tolerance,
            "iterations": self.iterations,
            "evaluations": self.evaluations,
            "coarse": {"paths": self.coarse_paths, "iterations": self.coarse_iterations,
                       "evaluations": self.coarse_evaluations},
            "target_year": self.target_year,
            "end_revenue": round(self.end_revenue, 2),
            "opening_end_revenue": round(self.opening_end_revenue, 2),
            "cagr": None if not np.isfinite(self.cagr) else self.cagr,
            "paths": self.paths,
            "seed": self.seed,
            "deterministic": self.deterministic,
            "core": self.core,
            "trials": [{"multiplier": m, "probability": p, "paths": n} for m, p, n in self.trials],
            "references": [
                {**r.to_dict(), "ratio": round(ratio, 6)} for r, ratio in self.references()
            ],
        }


def no_default_probability(result: Any, core: Sequence[str]) -> float:
    """Share of paths on which no firm of ``core`` defaults by the horizon.

    Parameters
    ----------
    result : SimulationResult or xarray.Dataset
        With ``default_period`` (path, firm; −1 = never).
    core : sequence of str

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"default_period": (("path", "firm"), np.array([[-1, -1], [3, -1], [-1, 5], [-1, -1]]))},
    ...                 coords={"firm": ["a", "b"]})
    >>> no_default_probability(ds, ["a", "b"]), no_default_probability(ds, ["a"])
    (0.5, 0.75)
    """
    from loopwatch.analysis.minsky import dataset_of

    ds = dataset_of(result)
    dp = np.asarray(ds["default_period"].sel(firm=list(core)).transpose("path", "firm").values)
    return float((dp < 0).all(axis=1).mean())


def _opening_end_revenue(book: Any, scenario: Any) -> float:
    total = 0.0
    for f in book.firms:
        level = scenario.demand_for(f.id).level if f.end_revenue > 0 or f.role.value == "model_developer" else None
        total += float(level if level is not None else f.end_revenue)
    return total


def _year_revenue(result: Any, year: int) -> float:
    from loopwatch.analysis.minsky import dataset_of

    ds = dataset_of(result)
    periods = [str(p) for p in ds["period"].values]
    idx = [i for i, p in enumerate(periods) if p.startswith(f"{year}Q")]
    if len(idx) != 4:
        raise ValueError(f"the run does not cover all of {year} (periods {periods[0]}–{periods[-1]})")
    rev = ds["revenue_end"].isel(period=idx).sum(("period", "firm"))
    return float(rev.mean())


def _bisect(p: Any, lo: float, p_lo: float, hi: float, p_hi: float, tol: float,
            target: float) -> tuple[float, float, float, float, int]:
    steps = 0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        p_mid = p(mid)
        steps += 1
        if p_mid >= target:
            hi, p_hi = mid, p_mid
        else:
            lo, p_lo = mid, p_mid
    return lo, p_lo, hi, p_hi, steps


def _search(p: Any, target: float, tol: float, max_multiplier: float,
            guess: float | None) -> tuple[float, float, float, float, int]:
    """Bracket and bisect; return (lower, p(lower), upper, p(upper), bisection steps)."""
    nan = float("nan")
    if guess is None:
        # [0, 1] if the scenario passes as given, else double the upper end
        hi, p_hi = 1.0, p(1.0)
        lo, p_lo = 0.0, nan
        while p_hi < target:
            if hi * 2 > max_multiplier:
                raise ConvergenceError(0, target - p_hi)
            lo, p_lo = hi, p_hi
            hi *= 2
            p_hi = p(hi)
    else:
        # from the coarse answer, steps of 8 tol doubling until the outcome flips
        step = 8 * tol
        p_g = p(guess)
        if p_g >= target:
            hi, p_hi, lo, p_lo = guess, p_g, 0.0, nan
            while hi > 0:
                c = max(hi - step, 0.0)
                if c == 0.0:
                    break  # bisect down from [0, hi]; p(0) below if needed
                p_c = p(c)
                if p_c < target:
                    lo, p_lo = c, p_c
                    break
                hi, p_hi = c, p_c
                step *= 2
        else:
            lo, p_lo = guess, p_g
            while True:
                c = lo + step
                if c > max_multiplier:
                    raise ConvergenceError(0, target - p_lo)
                p_c = p(c)
                if p_c >= target:
                    hi, p_hi = c, p_c
                    break
                lo, p_lo = c, p_c
                step *= 2
    lo, p_lo, hi, p_hi, steps = _bisect(p, lo, p_lo, hi, p_hi, tol, target)
    if lo == 0.0 and np.isnan(p_lo):  # never failed: does it pass without any end revenue?
        p_lo = p(0.0)
        if p_lo >= target:
            hi, p_hi = 0.0, p_lo
    return lo, p_lo, hi, p_hi, steps


def break_even(
    book: Any,
    scenario: Any,
    *,
    paths: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    tol: float = 0.01,
    deterministic: bool = False,
    target_year: int = 2030,
    core: Sequence[str] | None = None,
    max_multiplier: float = 1024.0,
    coarse: bool = True,
) -> BreakEven:
    """Smallest end-demand multiplier at which no core firm defaults with probability ≥ 1 − α.

    Parameters
    ----------
    book : DealBook or str
    scenario : Scenario or str
    paths : int, default 1000
        Monte Carlo paths per trial (ignored when ``deterministic``).
    seed : int, default 0
        The same seed for every trial (common random numbers).
    alpha : float, default 0.05
        Accepted probability that some core firm defaults.
    tol : float, default 0.01
        Width of the final bracket, in multiplier units (0.01 = 1 % of the scenario path).
    deterministic : bool, default False
        Solve on the engine's deterministic path instead.
    target_year : int, default 2030
        Year whose end revenue is reported; must be inside the run.
    core : sequence of str, optional
        Firms that must not default; default ``loopwatch.engine.core_firms(book)``,
        or every firm when the book has no cycle (no core).
    max_multiplier : float, default 1024
        Give up bracketing beyond this multiplier.
    coarse : bool, default True
        Find the bracket on the first eighth of the paths first (only for
        2,000 paths or more; see the module docstring).

    Returns
    -------
    BreakEven

    Raises
    ------
    ConvergenceError
        If even ``max_multiplier`` × the scenario's demand leaves p < 1 − α
        (``residual`` is the shortfall in probability).
    ValueError
        For α outside (0, 1), a non-positive tolerance, or a target year outside the run.

    Examples
    --------
    >>> from loopwatch.io import load_deal_book, load_scenario
    >>> r = break_even(load_deal_book("three-party-loop"), load_scenario("base"),
    ...                deterministic=True, target_year=2026)
    >>> r.multiplier - r.lower <= r.tolerance, r.probability, r.probability_lower
    (True, 1.0, 0.0)

    Notes
    -----
    Cost without the coarse phase: 1 + ⌈log2(1 / tol)⌉ engine runs when the
    scenario passes as given (8 at the default tolerance), plus one per
    doubling when it does not. Each run reads only ``default_period`` and
    ``revenue_end``, without the events table.
    """
    from loopwatch.engine import core_firms, simulate
    from loopwatch.io import load_deal_book, load_scenario

    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), not {alpha}")
    if tol <= 0:
        raise ValueError(f"tol must be positive, not {tol}")
    b = load_deal_book(book) if isinstance(book, str) else book
    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    if not b.start.year <= target_year <= b.horizon.year:
        raise ValueError(f"target year {target_year} is outside the run {b.start}–{b.horizon}")
    core_list = list(core) if core is not None else (list(core_firms(b)) or [f.id for f in b.firms])
    n_paths = 1 if deterministic else paths
    n_coarse = n_paths // 8 if coarse and not deterministic and n_paths >= 2000 else 0
    target = 1.0 - alpha
    trials: list[tuple[float, float, int]] = []
    revenue: dict[float, float] = {}

    def runner(n: int) -> Any:
        def p(m: float) -> float:
            res = simulate(b, sc, paths=n, seed=seed, demand_multiplier=m, events=False,
                           variables=["default_period", "revenue_end"],
                           deterministic=deterministic or None)
            prob = no_default_probability(res, core_list)
            trials.append((m, prob, n))
            if n == n_paths:
                revenue[m] = _year_revenue(res, target_year)
            return prob
        return p

    try:
        guess = None
        coarse_steps = 0
        if n_coarse:
            _, _, guess, _, coarse_steps = _search(runner(n_coarse), target, tol, max_multiplier, None)
        lo, p_lo, hi, p_hi, steps = _search(runner(n_paths), target, tol, max_multiplier, guess)
    except ConvergenceError as exc:
        raise ConvergenceError(len(trials), exc.residual) from None
    r0 = _opening_end_revenue(b, sc)
    years = target_year - b.start.year
    r_t = revenue[hi]
    cagr = (r_t / r0) ** (1.0 / years) - 1.0 if r0 > 0 and r_t > 0 and years > 0 else float("nan")
    return BreakEven(
        scenario=sc.name, multiplier=hi, lower=lo, probability=p_hi,
        probability_lower=p_lo, alpha=alpha, tolerance=tol,
        iterations=steps, evaluations=sum(1 for t in trials if t[2] == n_paths),
        coarse_paths=n_coarse, coarse_iterations=coarse_steps,
        coarse_evaluations=sum(1 for t in trials if t[2] == n_coarse) if n_coarse else 0,
        target_year=target_year, end_revenue=r_t, opening_end_revenue=r0, cagr=cagr,
        paths=n_paths, seed=seed, deterministic=deterministic, core=core_list, trials=trials,
    )
