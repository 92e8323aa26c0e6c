"""The stress set: every bundled scenario, who fails, when, and who loses what (DESIGN Q5).

For each scenario the engine runs the same book over many paths; from its
defaults and clearing losses this module reports

* **default probability** per firm: share of paths in which it defaults by the horizon;
* **who fails first**: per firm, the share of paths in which it is among the
  first to default (firms defaulting in the same earliest quarter — one
  cascade — are all first), and the firm most often first;
* **median quarter of failure** per firm, over the paths in which it fails
  (the lower median, so that it is a quarter that occurred);
* **expected loss per creditor**, in total and by debtor (USD, mean over all
  paths), and the same for the world — outside lenders and investors —
  when the engine reports ``world_losses``;
* **losses by mechanism** — unpaid contracts, stakes, loans, stranded capacity —
  per firm and in total (USD, mean over all paths).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from loopwatch.analysis.minsky import dataset_of, need

__all__ = ["MECHANISMS", "STRESS_VARIABLES", "ScenarioStress", "StressResult", "stress", "stress_summary"]

MECHANISMS = ("unpaid_contracts", "stakes", "loans", "stranded_capacity")
"""Loss mechanisms, as the engine labels them."""

STRESS_VARIABLES = ("default_period", "losses", "losses_by_mechanism", "world_losses")
"""Engine variables the stress set reads."""


def _money(x: float) -> float:
    return round(float(x), 2)


@dataclass(frozen=True)
class ScenarioStress:
    """Stress figures of one scenario.

    Attributes
    ----------
    scenario : str
    paths : int
    periods : list of str
    default_probability : pandas.Series
        Firm → share of paths with a default by the horizon.
    first_failure : pandas.Series
        Firm → share of all paths in which it is among the first to default.
    median_failure_quarter : pandas.Series
        Firm → median quarter of default over the paths where it defaults (None if never).
    expected_loss : pandas.Series
        Creditor → mean total loss, USD.
    expected_loss_by_debtor : pandas.DataFrame
        Creditor × debtor mean loss, USD.
    losses_by_mechanism : pandas.DataFrame
        Firm × mechanism mean loss, USD.
    world_loss : pandas.Series
        Debtor → mean loss of the world (outside lenders and investors), USD
        (empty when the engine did not report it).
    any_default : float
        Share of paths with at least one default.
    """

    scenario: str
    paths: int
    periods: list[str]
    default_probability: pd.Series
    first_failure: pd.Series
    median_failure_quarter: pd.Series
    expected_loss: pd.Series
    expected_loss_by_debtor: pd.DataFrame
    losses_by_mechanism: pd.DataFrame
    world_loss: pd.Series
    any_default: float

    @property
    def first_to_fail(self) -> str | None:
        """The firm most often first to default (None if no path has a default)."""
        if self.any_default == 0 or self.first_failure.max() <= 0:
            return None
        return str(self.first_failure.idxmax())

    @property
    def mechanism_totals(self) -> pd.Series:
        """Mechanism → mean loss over all firms, USD."""
        return self.losses_by_mechanism.sum(axis=0)

    def to_dict(self) -> dict[str, Any]:
        firms = list(self.default_probability.index)
        return {
            "scenario": self.scenario,
            "paths": self.paths,
            "any_default": round(self.any_default, 6),
            "first_to_fail": self.first_to_fail,
            "firms": {
                f: {
                    "default_probability": round(float(self.default_probability[f]), 6),
                    "first_failure_share": round(float(self.first_failure[f]), 6),
                    "median_failure_quarter": self.median_failure_quarter[f],
                    "expected_loss": _money(self.expected_loss.get(f, 0.0)),
                    "expected_loss_by_debtor": {
                        str(d): _money(v) for d, v in self.expected_loss_by_debtor.loc[f].items() if v > 0
                    } if f in self.expected_loss_by_debtor.index else {},
                    "losses_by_mechanism": {
                        str(m): _money(v) for m, v in self.losses_by_mechanism.loc[f].items()
                    } if f in self.losses_by_mechanism.index else {},
                }
                for f in firms
            },
            "losses_by_mechanism": {str(m): _money(v) for m, v in self.mechanism_totals.items()},
            "world": {
                "expected_loss": _money(self.world_loss.sum()),
                "expected_loss_by_debtor": {str(d): _money(v) for d, v in self.world_loss.items() if v > 0},
            },
        }


@dataclass(frozen=True)
class StressResult:
    """The stress set: one :class:`ScenarioStress` per scenario, in run order."""

    book: str
    seed: int
    scenarios: dict[str, ScenarioStress] = field(default_factory=dict)

    def default_probabilities(self) -> pd.DataFrame:
        """Firm × scenario default probability."""
        return pd.DataFrame({n: s.default_probability for n, s in self.scenarios.items()})

    def to_dict(self) -> dict[str, Any]:
        return {"book": self.book, "seed": self.seed,
                "scenarios": {n: s.to_dict() for n, s in self.scenarios.items()}}


def stress_summary(result: Any, *, scenario: str | None = None) -> ScenarioStress:
    """Summarise defaults and losses of one simulated scenario.

    Parameters
    ----------
    result : SimulationResult or xarray.Dataset
        With ``default_period`` (path, firm; −1 = never), ``losses``
        (path, firm, counterparty; USD lost by ``firm`` on ``counterparty``)
        and ``losses_by_mechanism`` (path, firm, mechanism; USD), and a
        ``period`` coordinate.
    scenario : str, optional
        Label; defaults to ``result.scenario.name`` when there is one.

    Returns
    -------
    ScenarioStress

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset(
    ...     {"default_period": (("path", "firm"), np.array([[2, -1], [1, 1], [-1, -1], [3, 1]])),
    ...      "losses": (("path", "firm", "counterparty"), np.zeros((4, 2, 2))),
    ...      "losses_by_mechanism": (("path", "firm", "mechanism"), np.zeros((4, 2, 4)))},
    ...     coords={"period": ["2025Q1", "2025Q2", "2025Q3", "2025Q4"], "firm": ["a", "b"],
    ...             "counterparty": ["a", "b"], "mechanism": list(MECHANISMS)})
    >>> s = stress_summary(ds, scenario="demo")
    >>> s.default_probability.to_dict(), s.first_failure.to_dict(), s.first_to_fail
    ({'a': 0.75, 'b': 0.5}, {'a': 0.5, 'b': 0.5}, 'a')
    >>> s.median_failure_quarter.to_dict()
    {'a': '2025Q3', 'b': '2025Q2'}
    """
    ds = dataset_of(result)
    need(ds, STRESS_VARIABLES[:3], "the stress set")
    if scenario is None:
        sc = ds.attrs.get("scenario") if result is ds else getattr(result, "scenario", None)
        scenario = str(getattr(sc, "name", sc) if sc is not None else "scenario")
    periods = [str(p) for p in ds["period"].values]
    firms = [str(f) for f in ds["firm"].values]
    dp = np.asarray(ds["default_period"].transpose("path", "firm").values).astype(np.int64)
    n_paths = dp.shape[0]
    failed = dp >= 0
    prob = failed.mean(axis=0) if n_paths else np.zeros(len(firms))

    first_q = np.where(failed, dp, np.iinfo(np.int64).max).min(axis=1)  # per path
    is_first = failed & (dp == first_q[:, None])
    first = is_first.mean(axis=0) if n_paths else np.zeros(len(firms))

    median: dict[str, str | None] = {}
    for j, f in enumerate(firms):
        q = np.sort(dp[failed[:, j], j])
        median[f] = periods[int(q[(len(q) - 1) // 2])] if len(q) else None

    losses = ds["losses"].transpose("path", "firm", "counterparty")
    mean_losses = losses.mean("path")
    by_debtor = pd.DataFrame(
        np.asarray(mean_losses.values), index=[str(x) for x in losses["firm"].values],
        columns=[str(x) for x in losses["counterparty"].values],
    )
    mech = ds["losses_by_mechanism"].transpose("path", "firm", "mechanism").mean("path")
    by_mech = pd.DataFrame(
        np.asarray(mech.values), index=[str(x) for x in mech["firm"].values],
        columns=[str(x) for x in mech["mechanism"].values],
    )
    if "world_losses" in ds.variables:
        wl = ds["world_losses"].transpose("path", "firm").mean("path")
        world = pd.Series(np.asarray(wl.values, dtype=float), index=[str(x) for x in wl["firm"].values],
                          name="world_loss")
    else:
        world = pd.Series(dtype=float, name="world_loss")
    return ScenarioStress(
        scenario=scenario,
        paths=n_paths,
        periods=periods,
        default_probability=pd.Series(prob, index=firms, name="default_probability"),
        first_failure=pd.Series(first, index=firms, name="first_failure"),
        median_failure_quarter=pd.Series(median, name="median_failure_quarter", dtype=object),
        expected_loss=by_debtor.sum(axis=1).rename("expected_loss"),
        expected_loss_by_debtor=by_debtor,
        losses_by_mechanism=by_mech,
        world_loss=world,
        any_default=float(failed.any(axis=1).mean()) if n_paths else 0.0,
    )


def stress(
    book: Any,
    scenarios: Sequence[Any] | None = None,
    *,
    paths: int = 1000,
    seed: int = 0,
) -> StressResult:
    """Run the stress set: every scenario on the same book, seed and number of paths.

    Parameters
    ----------
    book : DealBook or str
        A deal book, or a bundled name / YAML path.
    scenarios : sequence of Scenario or str, optional
        Default: every bundled scenario (``loopwatch.io.bundled_scenarios()``).
    paths : int, default 1000
        Monte Carlo paths per scenario.
    seed : int, default 0
        The same seed for every scenario (common random numbers across scenarios).

    Returns
    -------
    StressResult

    Examples
    --------
    >>> from loopwatch.io import load_deal_book, load_scenario
    >>> from loopwatch.model import Scenario
    >>> weak = Scenario.model_validate({"name": "weak", "demand": {"default": {"multiplier": 0.3}}})
    >>> res = stress(load_deal_book("three-party-loop"), ["base", weak], paths=50, seed=1)
    >>> list(res.scenarios), res.scenarios["weak"].first_to_fail
    (['base', 'weak'], 'openai')
    >>> p = res.default_probabilities()
    >>> bool(p.loc["openai", "weak"] > p.loc["openai", "base"])
    True
    """
    from loopwatch.engine import simulate
    from loopwatch.io import bundled_scenarios, load_deal_book, load_scenario

    b = load_deal_book(book) if isinstance(book, str) else book
    names = list(scenarios) if scenarios is not None else bundled_scenarios()
    out: dict[str, ScenarioStress] = {}
    for sc in names:
        scenario = load_scenario(sc) if isinstance(sc, str) else sc
        res = simulate(b, scenario, paths=paths, seed=seed, variables=list(STRESS_VARIABLES),
                       events=False)
        out[scenario.name] = stress_summary(res, scenario=scenario.name)
    return StressResult(book=b.name, seed=seed, scenarios=out)
