"""External-capital dependency: the Ponzi test (DESIGN §3, Q2).

The loop — its core firms, the largest strongly connected component of
binding money-moving contracts — is **Ponzi** in Minsky's sense when it can
meet its obligations only by raising ever more money from outside, faster
than the end revenue that should eventually pay for them.

Definitions
-----------
**Outside capital need** N_y of year y: the money the core firms raise from
outside the loop during the year to meet their obligations,

* everything the funding waterfall raises for a core firm short of its cash
  buffer: committed-facility draws, new borrowing, new equity, warrant
  exercise-and-sale proceeds and stake sales (the engine's ``funding_*``
  variables; they come from the world — outside lenders and investors).
  ``funding_debt`` includes the maturing outside debt that is rolled over:
  refinancing principal is outside money needed to meet an obligation;
* plus scheduled capital from firms outside the core: loan and bond draws
  and equity investments paid into a core firm by a non-core firm (banks,
  bond markets, sovereign and venture investors), read from ``paid``.

Capital moving between core firms (Nvidia's equity in OpenAI) is internal and
not counted. **End revenue** R_y: what end customers pay the core firms in the year.

**Verdict** on the expected (path-mean) yearly figures. Let W be the years in
which both the need and end revenue are positive. The annual growth of the
need, g_N = exp(b_N) − 1, comes from the least-squares slope b_N of log N_y
on y over W; likewise g_R for end revenue over the same years. The loop shows
the **Ponzi signature** when W has at least two years, g_N > g_R — the need
per dollar of end revenue rises, by (1 + g_N) / (1 + g_R) − 1 a year, even
when both shrink (a need falling 20 %/yr while end revenue falls 40 %/yr is a
loop ever more dependent on outside money) — and the need
is still positive in the last year of the run (a need that has stopped before
the horizon is a build-out gap that closed, not a Ponzi scheme). The CAGRs
between the first and last year of W are printed beside the regression
growth; the regression decides because it uses every year, not two end points.
The same rule applied path by path gives the share of paths with the signature.

Only calendar years whose four quarters are all in the run count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from loopwatch.analysis.minsky import dataset_of, need

__all__ = ["FUNDING_SOURCES", "PONZI_VARIABLES", "PonziTest", "ponzi_test"]

FUNDING_SOURCES = (
    "funding_facility",
    "funding_debt",
    "funding_equity",
    "funding_warrant",
    "funding_stake_sale",
)
"""Funding-waterfall variables counted as outside capital."""

PONZI_VARIABLES = (*FUNDING_SOURCES, "revenue_end", "paid")
"""Engine variables the Ponzi test reads (``paid`` is optional)."""

_CAPITAL_CONTRACTS = {"loan": "contract_debt", "bond": "contract_debt", "equity_investment": "contract_equity"}


def _growth(years: np.ndarray[Any, Any], values: np.ndarray[Any, Any], mask: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Annual growth exp(b) − 1 of the least-squares slope b of log(values) on years over mask.

    ``values`` and ``mask`` are (n, years); rows with fewer than two masked years give NaN.
    """
    w = mask.astype(float)
    k = w.sum(axis=1)
    logv = np.log(np.where(mask, values, 1.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        xbar = (w * years).sum(axis=1) / k
        ybar = (w * logv).sum(axis=1) / k
        dx = years[None, :] - xbar[:, None]
        slope = (w * dx * (logv - ybar[:, None])).sum(axis=1) / (w * dx * dx).sum(axis=1)
    return np.where(k >= 2, np.expm1(slope), np.nan)


def _signature(years: np.ndarray[Any, Any], need_y: np.ndarray[Any, Any], rev_y: np.ndarray[Any, Any],
               atol: float) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Per row: (growth of need, growth of revenue, window mask, Ponzi signature)."""
    mask = (need_y > atol) & (rev_y > atol)
    g_n = _growth(years, need_y, mask)
    g_r = _growth(years, rev_y, mask)
    ponzi = (mask.sum(axis=1) >= 2) & (g_n > g_r) & (need_y[:, -1] > atol)
    return g_n, g_r, mask, ponzi


def _cagr(first: float, last: float, years: int) -> float:
    if years <= 0 or first <= 0 or last <= 0:
        return float("nan")
    return float((last / first) ** (1.0 / years) - 1.0)


def _num(x: float) -> float | None:
    return None if not np.isfinite(x) else round(float(x), 6)


@dataclass(frozen=True)
class PonziTest:
    """The external-capital dependency test of one scenario, with the figures behind it.

    Attributes
    ----------
    scenario : str
    core : list of str
        Firms counted as the loop.
    yearly : pandas.DataFrame
        Indexed by year: ``need`` (mean outside capital raised, USD), ``need_p05``,
        ``need_p95``, ``end_revenue`` (mean, USD), ``need_per_revenue`` and one
        column per source of outside capital (mean, USD).
    window : list of int
        Years with positive mean need and end revenue (the regression's years).
    need_growth, revenue_growth : float
        Annual growth from the log-linear regression over ``window`` (NaN if < 2 years).
    dependency_growth : float
        Annual growth of the need per dollar of end revenue, (1 + g_N) / (1 + g_R) − 1.
    need_cagr, revenue_cagr : float
        CAGR between the first and last year of ``window``.
    ponzi : bool
        The verdict: the need grows faster than end revenue (see the module docstring).
    share_of_paths : float
        Share of paths showing the signature under the same rule.
    reason : str
        The verdict in one sentence, with its figures.
    """

    scenario: str
    core: list[str]
    yearly: pd.DataFrame
    window: list[int]
    need_growth: float
    revenue_growth: float
    need_cagr: float
    revenue_cagr: float
    ponzi: bool
    share_of_paths: float
    reason: str

    @property
    def verdict(self) -> str:
        return "ponzi" if self.ponzi else "not ponzi"

    @property
    def dependency_growth(self) -> float:
        """Annual growth of outside capital need per dollar of end revenue."""
        return (1 + self.need_growth) / (1 + self.revenue_growth) - 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "verdict": self.verdict,
            "ponzi": self.ponzi,
            "reason": self.reason,
            "core": self.core,
            "window": self.window,
            "need_growth": _num(self.need_growth),
            "revenue_growth": _num(self.revenue_growth),
            "dependency_growth": _num(self.dependency_growth),
            "need_cagr": _num(self.need_cagr),
            "revenue_cagr": _num(self.revenue_cagr),
            "share_of_paths": round(self.share_of_paths, 6),
            "yearly": {
                str(y): {c: (round(float(v), 6) if c == "need_per_revenue" else round(float(v), 2))
                         if np.isfinite(v) else None for c, v in row.items()}
                for y, row in self.yearly.iterrows()
            },
        }


def _yearly(a: np.ndarray[Any, Any], year_of: np.ndarray[Any, Any], years: list[int]) -> np.ndarray[Any, Any]:
    """(path, period) → (path, year) sums over complete years."""
    return np.stack([a[:, year_of == y].sum(axis=1) for y in years], axis=1)


def ponzi_test(
    result: Any,
    *,
    core: Sequence[str] | None = None,
    book: Any = None,
    atol: float = 1.0,
) -> PonziTest:
    """Does the loop need outside capital faster than end revenue grows?

    Parameters
    ----------
    result : SimulationResult or xarray.Dataset
        With (path, period, firm) ``funding_facility, funding_debt,
        funding_equity, funding_warrant, funding_stake_sale, revenue_end``
        (USD per quarter) and, to count scheduled outside capital, (path,
        period, contract) ``paid``.
    core : sequence of str, optional
        The loop's firms. Default: ``loopwatch.engine.core_firms(book)`` when
        a book is known (every firm if the book has no cycle), else every firm.
    book : DealBook, optional
        Default ``result.book``; needed for the core and for contract parties.
    atol : float, default 1.0
        USD below which a yearly need counts as zero.

    Returns
    -------
    PonziTest

    Raises
    ------
    KeyError
        If a needed variable is missing.
    ValueError
        If the run has no complete calendar year.

    Examples
    --------
    Outside funding doubling every year against end revenue growing by half:

    >>> import numpy as np, xarray as xr
    >>> periods = [f"{y}Q{q}" for y in (2025, 2026, 2027) for q in (1, 2, 3, 4)]
    >>> need = np.repeat([1e9, 2e9, 4e9], 4)[None, :, None]
    >>> rev = np.repeat([10e9, 15e9, 22.5e9], 4)[None, :, None]
    >>> dims = ("path", "period", "firm")
    >>> ds = xr.Dataset({k: (dims, np.zeros((1, 12, 1))) for k in FUNDING_SOURCES},
    ...                 coords={"period": periods, "firm": ["loop"]})
    >>> ds["funding_debt"] = (dims, need)
    >>> ds["revenue_end"] = (dims, rev)
    >>> t = ponzi_test(ds)
    >>> t.verdict, round(t.need_growth, 3), round(t.revenue_growth, 3)
    ('ponzi', 1.0, 0.5)
    """
    ds = dataset_of(result)
    need(ds, [*FUNDING_SOURCES, "revenue_end"], "the Ponzi test")
    if book is None and not isinstance(result, xr.Dataset):  # a Dataset's attrs are not a book
        book = getattr(result, "book", None)
    firms = [str(f) for f in ds["firm"].values]
    if core is None:
        if book is not None:
            from loopwatch.engine import core_firms

            core = list(core_firms(book)) or firms  # a book without a cycle: every firm
        else:
            core = firms
    core_list = [f for f in firms if f in set(core)]
    periods = [str(p) for p in ds["period"].values]
    year_of = np.array([int(p[:4]) for p in periods])
    years = [y for y in sorted(set(year_of.tolist())) if int((year_of == y).sum()) == 4]
    if not years:
        raise ValueError("the Ponzi test needs at least one complete calendar year in the run")

    sel = {"firm": core_list}
    parts: dict[str, np.ndarray[Any, Any]] = {}
    for name in FUNDING_SOURCES:
        a = np.asarray(ds[name].sel(sel).transpose("path", "period", "firm").values).sum(axis=2)
        parts[name.removeprefix("funding_")] = _yearly(a, year_of, years)
    n_paths = next(iter(parts.values())).shape[0]
    if book is not None and "paid" in ds.variables:
        core_set = set(core_list)
        for label in ("contract_debt", "contract_equity"):
            ids = [c.id for c in book.contracts
                   if _CAPITAL_CONTRACTS.get(c.type.value) == label and c.payee in core_set and c.payer not in core_set]
            ids = [i for i in ids if i in set(str(x) for x in ds["contract"].values)]
            if ids:
                a = np.asarray(ds["paid"].sel(contract=ids).transpose("path", "period", "contract").values).sum(axis=2)
                parts[label] = _yearly(a, year_of, years)
            else:
                parts[label] = np.zeros((n_paths, len(years)))
    need_y = sum(parts.values())
    assert isinstance(need_y, np.ndarray)
    rev = np.asarray(ds["revenue_end"].sel(sel).transpose("path", "period", "firm").values).sum(axis=2)
    rev_y = _yearly(rev, year_of, years)

    yrs = np.array(years, dtype=float)
    mean_need, mean_rev = need_y.mean(axis=0), rev_y.mean(axis=0)
    g_n, g_r, mask, sig = _signature(yrs, mean_need[None, :], mean_rev[None, :], atol)
    _, _, _, sig_paths = _signature(yrs, need_y, rev_y, atol)
    window = [y for y, m in zip(years, mask[0], strict=True) if m]
    if window:
        i0, i1 = years.index(window[0]), years.index(window[-1])
        span = window[-1] - window[0]
        need_cagr = _cagr(mean_need[i0], mean_need[i1], span)
        rev_cagr = _cagr(mean_rev[i0], mean_rev[i1], span)
    else:
        need_cagr = rev_cagr = float("nan")

    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(mean_rev > 0, mean_need / np.where(mean_rev > 0, mean_rev, 1.0), np.nan)
    yearly = pd.DataFrame(
        {"need": mean_need, "need_p05": np.quantile(need_y, 0.05, axis=0),
         "need_p95": np.quantile(need_y, 0.95, axis=0), "end_revenue": mean_rev,
         "need_per_revenue": ratio, **{k: v.mean(axis=0) for k, v in parts.items()}},
        index=pd.Index(years, name="year"),
    )
    ponzi = bool(sig[0])
    gn, gr = float(g_n[0]), float(g_r[0])
    if len(window) < 2:
        reason = (f"outside capital is needed in {len(window)} year(s) only: no growth to compare")
    elif mean_need[-1] <= atol:
        reason = (f"the need stops before {years[-1]}: it grew {gn:+.1%}/yr over {window[0]}–{window[-1]} "
                  f"against end revenue {gr:+.1%}/yr, then closed")
    else:
        drift = (1 + gn) / (1 + gr) - 1
        verb = "rises" if ponzi else "falls"
        reason = (f"outside capital per dollar of end revenue {verb} {drift:+.1%}/yr over "
                  f"{window[0]}–{window[-1]}: need {gn:+.1%}/yr against end revenue {gr:+.1%}/yr "
                  f"(log-linear fit of path means)")
    sc = ds.attrs.get("scenario") if isinstance(result, xr.Dataset) else getattr(result, "scenario", None)
    return PonziTest(
        scenario=str(getattr(sc, "name", sc)) if sc is not None else "scenario",
        core=core_list,
        yearly=yearly,
        window=window,
        need_growth=gn,
        revenue_growth=gr,
        need_cagr=need_cagr,
        revenue_cagr=rev_cagr,
        ponzi=ponzi,
        share_of_paths=float(sig_paths.mean()),
        reason=reason,
    )
