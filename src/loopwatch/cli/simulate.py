"""``loopwatch simulate``: run the engine on a deal book and summarise it per firm."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from loopwatch.cli import app, console
from loopwatch.io import DEFAULT_BOOK, load_deal_book, load_scenario
from loopwatch.model import format_money

_VARIABLES = ["cash", "debt", "market_value", "revenue_end", "revenue_loop", "funding_debt", "losses",
              "funding_equity", "funding_facility", "funding_warrant", "funding_stake_sale"]


def summary(result: Any) -> dict[str, Any]:
    """Per-firm summary of a :class:`~loopwatch.engine.SimulationResult` (JSON-ready).

    For each firm: default probability by the horizon, median default quarter
    (of the paths where it defaults), median cash, debt and market value at
    the horizon, cumulative outside funding (median), and the expected loss it
    suffers on its exposures (mean over paths).
    """
    ds = result.data
    dp = ds["default_period"].values
    last = {v: ds[v].isel(period=-1).values for v in ("cash", "debt", "market_value")}
    raised = sum(ds[v].sum("period").values for v in _VARIABLES if v.startswith("funding_"))
    losses = ds["losses"].sum("counterparty").values
    firms = []
    for k, f in enumerate(result.firms):
        hit = dp[:, k] >= 0
        firms.append({
            "firm": f,
            "default_probability": float(hit.mean()),
            "median_default_period": (result.periods[int(np.median(dp[hit, k]))]
                                      if hit.any() else None),
            "median_cash_at_horizon": float(np.median(last["cash"][:, k])),
            "median_debt_at_horizon": float(np.median(last["debt"][:, k])),
            "median_market_value_at_horizon": float(np.median(last["market_value"][:, k])),
            "median_outside_funding": float(np.median(raised[:, k])),
            "expected_loss_suffered": float(losses[:, k].mean()),
        })
    any_default = (dp >= 0).any(axis=1)
    return {
        "book": result.book.name, "scenario": result.scenario.name, "paths": result.paths,
        "seed": result.seed if isinstance(result.seed, int) else str(result.seed),
        "start": result.periods[0], "horizon": result.periods[-1],
        "probability_any_default": float(any_default.mean()),
        "median_end_revenue_last_year": float(np.median(
            ds["revenue_end"].isel(period=slice(-4, None)).sum(("period", "firm")).values)),
        "firms": firms,
    }


@app.command("simulate")
def simulate_cmd(
    book: Annotated[str, typer.Argument(help="Bundled book name or YAML path.")] = DEFAULT_BOOK,
    scenario: Annotated[str, typer.Option("--scenario", "-s", help="Bundled scenario or YAML path.")] = "base",
    paths: Annotated[int, typer.Option("--paths", "-n", min=1, help="Monte Carlo paths.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    horizon: Annotated[str | None, typer.Option("--horizon", help="Last quarter, e.g. 2030Q4.")] = None,
    deterministic: Annotated[bool, typer.Option("--deterministic", help="No random shocks.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Simulate a deal book under a scenario; print default probabilities and medians per firm."""
    from loopwatch.engine import simulate

    b = load_deal_book(book)
    s = load_scenario(scenario)
    t0 = time.perf_counter()
    res = simulate(b, s, paths=paths, seed=seed, horizon=horizon,
                   deterministic=True if deterministic else None, variables=_VARIABLES, events=False)
    elapsed = time.perf_counter() - t0
    out = summary(res)
    if as_json:
        print(json.dumps(out, indent=2))
        return
    console.print(f"[bold]{out['book']}[/] under [bold]{out['scenario']}[/]: {out['paths']} paths, "
                  f"seed {out['seed']}, {out['start']}–{out['horizon']} ({elapsed:.1f} s)")
    table = Table(title="Per firm (medians at the horizon; funding summed over the run)")
    for col in ("firm", "P(default)", "median default", "cash", "debt", "market value",
                "outside funding", "E[loss suffered]"):
        table.add_column(col, justify="left" if col == "firm" else "right")
    for f in sorted(out["firms"], key=lambda r: -r["default_probability"]):
        table.add_row(
            f["firm"], f"{f['default_probability']:.1%}", f["median_default_period"] or "—",
            format_money(f["median_cash_at_horizon"]), format_money(f["median_debt_at_horizon"]),
            format_money(f["median_market_value_at_horizon"]),
            format_money(f["median_outside_funding"]), format_money(f["expected_loss_suffered"]))
    console.print(table)
    console.print(f"P(at least one default): {out['probability_any_default']:.1%}; median end revenue "
                  f"in the last four quarters: {format_money(out['median_end_revenue_last_year'])}")
