"""Amplification: does the loop amplify shocks? (DESIGN §3, Q4).

The circular book and its counterfactual (vendor financing replaced by
outside investors, :func:`~loopwatch.analysis.counterfactual.counterfactual_book`)
each run twice — as the scenario is, and with a shock added — on the same
seed, so all four runs see the same random paths. For each book and metric
the **response** is shocked − unshocked; the **amplification factor** is the
circular response divided by the counterfactual response (> 1: the loop
amplifies the shock; 1: no difference; NaN when the counterfactual does not
respond at all).

Metrics (USD, mean over paths, over the firms of the original book — the
outside investors of the counterfactual stand for the world and are left out,
so a loss the loop shifts onto outsiders shows as a smaller response):

* **loop revenue**: revenue from other firms' contracts, summed over the run;
* **market value**: equity value of all firms at the horizon;
* **losses**: clearing losses borne by those firms, summed over the run;
* **outside losses**: losses borne outside them — the world's outside
  lenders and investors (``world_losses``) and, in the counterfactual, the
  outside investors — summed over the run. Reported beside the three, so a
  loss the loop merely moves onto outsiders can be told from one it creates.

The default shock is a permanent 30 % fall in end demand from the second year of the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from loopwatch.analysis.counterfactual import counterfactual_book, vendor_links
from loopwatch.analysis.minsky import dataset_of, need

__all__ = [
    "AMPLIFICATION_VARIABLES",
    "METRICS",
    "Amplification",
    "amplification",
    "amplification_table",
    "default_shock",
    "metrics",
]

METRICS = ("loop_revenue", "market_value", "losses", "outside_losses")
AMPLIFICATION_VARIABLES = ("revenue_loop", "market_value", "losses")


def default_shock(book: Any) -> Any:
    """A permanent 30 % fall in end demand from the second year of the book's run."""
    from loopwatch.model import Shock, ShockKind

    return Shock(kind=ShockKind.demand, period=book.start + 4, size=-0.3)


def metrics(result: Any, firms: list[str] | None = None) -> dict[str, float]:
    """Loop revenue, market value, losses and outside losses of one run (module docstring).

    Parameters
    ----------
    result : SimulationResult or xarray.Dataset
        With ``revenue_loop``, ``market_value`` (path, period, firm), ``losses``
        (path, firm, counterparty) and optionally ``world_losses`` (path, firm), USD.
    firms : list of str, optional
        Firms to sum over; default all. Losses of the other firms count as outside losses.

    Returns
    -------
    dict of str to float
        ``loop_revenue``, ``market_value``, ``losses``, ``outside_losses``: means over paths, USD.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"revenue_loop": (("path", "period", "firm"), np.ones((2, 3, 2))),
    ...                  "market_value": (("path", "period", "firm"), np.arange(12.0).reshape(2, 3, 2)),
    ...                  "losses": (("path", "firm", "counterparty"), np.ones((2, 2, 2)))},
    ...                 coords={"firm": ["a", "b"], "counterparty": ["a", "b"]})
    >>> metrics(ds)
    {'loop_revenue': 6.0, 'market_value': 15.0, 'losses': 4.0, 'outside_losses': 0.0}
    >>> metrics(ds, ["a"])["losses"], metrics(ds, ["a"])["outside_losses"]
    (2.0, 2.0)
    """
    ds = dataset_of(result)
    need(ds, AMPLIFICATION_VARIABLES, "amplification")
    sel = {"firm": firms} if firms is not None else {}
    loop = ds["revenue_loop"].sel(sel).sum(("period", "firm")).mean("path")
    mv = ds["market_value"].sel(sel).isel(period=-1).sum("firm").mean("path")
    losses = ds["losses"].sel(sel).sum(("firm", "counterparty")).mean("path")
    outside = 0.0
    if firms is not None:
        others = [str(f) for f in ds["firm"].values if str(f) not in set(firms)]
        if others:
            outside += float(ds["losses"].sel(firm=others).sum(("firm", "counterparty")).mean("path"))
    if "world_losses" in ds.variables:
        outside += float(ds["world_losses"].sum("firm").mean("path"))
    return {"loop_revenue": float(loop), "market_value": float(mv), "losses": float(losses),
            "outside_losses": outside}


def _num(v: Any) -> float | None:
    x = float(v)
    return x if np.isfinite(x) else None


@dataclass(frozen=True)
class Amplification:
    """Responses of the circular and counterfactual books to the same shock.

    Attributes
    ----------
    scenario : str
    shock : dict
        The shock added (kind, period, size, quarters, firms).
    table : pandas.DataFrame
        Indexed by metric; columns ``circular_base``, ``circular_shocked``,
        ``counterfactual_base``, ``counterfactual_shocked``,
        ``response_circular``, ``response_counterfactual``, ``amplification``.
    links : list of str
        Contracts the counterfactual replaced.
    paths, seed : int
    """

    scenario: str
    shock: dict[str, Any]
    table: pd.DataFrame
    links: list[str]
    paths: int
    seed: int

    def factor(self, metric: str) -> float:
        """Amplification factor of one metric."""
        return float(self.table["amplification"].to_numpy(dtype=float)[self.table.index.get_loc(metric)])

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "shock": self.shock,
            "paths": self.paths,
            "seed": self.seed,
            "replaced_links": self.links,
            "metrics": {
                str(m): {str(c): _num(v) for c, v in row.items()}
                for m, row in self.table.to_dict(orient="index").items()
            },
        }


def amplification_table(circ: tuple[dict[str, float], dict[str, float]],
                        cf: tuple[dict[str, float], dict[str, float]]) -> pd.DataFrame:
    """The response table from (unshocked, shocked) metrics of both books.

    Examples
    --------
    >>> t = amplification_table(({"losses": 0.0}, {"losses": 30.0}), ({"losses": 0.0}, {"losses": 10.0}))
    >>> float(t.loc["losses", "amplification"])
    3.0
    """
    rows = {}
    for m in circ[0]:
        rc = circ[1][m] - circ[0][m]
        rf = cf[1][m] - cf[0][m]
        factor = rc / rf if rf != 0 else float("nan")
        rows[m] = {"circular_base": circ[0][m], "circular_shocked": circ[1][m],
                   "counterfactual_base": cf[0][m], "counterfactual_shocked": cf[1][m],
                   "response_circular": rc, "response_counterfactual": rf, "amplification": factor}
    return pd.DataFrame.from_dict(rows, orient="index")


def amplification(
    book: Any,
    scenario: Any,
    *,
    shock: Any = None,
    paths: int = 1000,
    seed: int = 0,
) -> Amplification:
    """Amplification of a shock by the loop: circular response / counterfactual response.

    Parameters
    ----------
    book : DealBook or str
        The circular book.
    scenario : Scenario or str
        The scenario both books run under.
    shock : Shock or sequence of Shock, optional
        Added to the scenario's shocks for the shocked runs; default
        :func:`default_shock` (−30 % end demand from the second year, permanent).
    paths : int, default 1000
    seed : int, default 0
        Same seed for all four runs (common random numbers).

    Returns
    -------
    Amplification

    Examples
    --------
    >>> from loopwatch.io import load_deal_book, load_scenario
    >>> a = amplification(load_deal_book("three-party-loop"), load_scenario("base"), paths=50)
    >>> a.links, round(a.factor("loop_revenue"), 2)
    (['nvda-openai-equity'], 1.0)
    >>> a.factor("losses") > 1 > a.factor("outside_losses")  # the vendor bears what outsiders would
    True
    """
    from loopwatch.engine import simulate
    from loopwatch.io import load_deal_book, load_scenario
    from loopwatch.model import Scenario, Shock

    b = load_deal_book(book) if isinstance(book, str) else book
    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    shocks = [default_shock(b)] if shock is None else ([shock] if isinstance(shock, Shock) else list(shock))
    shocked = Scenario.model_validate({**{k: getattr(sc, k) for k in Scenario.model_fields},
                                       "shocks": (*sc.shocks, *shocks)})
    cf_book = counterfactual_book(b)
    firms = [f.id for f in b.firms]
    out = []
    for bk in (b, cf_book):
        pair = []
        for s in (sc, shocked):
            res = simulate(bk, s, paths=paths, seed=seed, variables=list(AMPLIFICATION_VARIABLES),
                           events=False)
            pair.append(metrics(res, firms))
        out.append((pair[0], pair[1]))
    return Amplification(
        scenario=sc.name,
        shock={"shocks": [s.model_dump(mode="json") for s in shocks]},
        table=amplification_table(out[0], out[1]),
        links=[x.contract for x in vendor_links(b)],
        paths=paths,
        seed=seed,
    )
