"""The answers on the command line: ``minsky``, ``ponzi-test``, ``break-even``,
``amplification``, ``stress`` and ``counterfactual``.

Each command runs on the bundled book by default, prints Rich tables with the
numbers behind each verdict, and with ``--json`` prints pure JSON on stdout
(the same ``to_dict()`` the Python API returns) and nothing else.
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from loopwatch.cli import app, console
from loopwatch.io import (
    DEFAULT_BOOK,
    bundled_scenarios,
    dump_deal_book,
    load_deal_book,
    load_scenario,
    write_deal_book,
)
from loopwatch.model import Period, Shock, ShockKind, format_money

BookArg = Annotated[str, typer.Argument(help="Bundled book name or YAML path.")]
PathsOpt = Annotated[int, typer.Option("--paths", "-n", min=1, help="Monte Carlo paths per run.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (the same for every run: common random numbers).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print pure JSON on stdout.")]
ScenarioOpt = Annotated[str, typer.Option("--scenario", "-s", help="Bundled scenario name or YAML path.")]
ScenariosOpt = Annotated[
    list[str] | None,
    typer.Option("--scenarios", "--scenario", "-s",
                 help="Scenarios (repeat or comma-separate); default every bundled scenario."),
]


def _emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, allow_nan=False, default=str) + "\n")


def _scenario_list(values: list[str] | None) -> list[str]:
    if not values:
        return bundled_scenarios()
    return [s.strip() for v in values for s in v.split(",") if s.strip()]


def _pct(x: float) -> str:
    return "—" if x != x else f"{x:.1%}"


def _money(x: float) -> str:
    return "—" if x != x else format_money(x)


# --------------------------------------------------------------------------- minsky


@app.command("minsky")
def minsky_cmd(
    book: BookArg = DEFAULT_BOOK,
    scenario: ScenarioOpt = "base",
    paths: PathsOpt = 1000,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Minsky classes (hedge / speculative / Ponzi) per firm and quarter; the system Ponzi share."""
    from loopwatch.analysis.minsky import MinskyClass, minsky_classes
    from loopwatch.engine import simulate

    b, sc = load_deal_book(book), load_scenario(scenario)
    variables = ["revenue_end", "revenue_loop", "revenue_non_loop", "opex", "interest_due",
                 "commitments_due", "principal_due", "defaulted", "debt"]
    res = minsky_classes(simulate(b, sc, paths=paths, seed=seed, variables=variables, events=False))
    if as_json:
        _emit_json({"book": b.name, "scenario": sc.name, "seed": seed, **res.to_dict()})
        return
    year_ends = [i for i, p in enumerate(res.periods) if p.endswith("Q4")] or [len(res.periods) - 1]
    t = Table(title=f"Minsky classes — {b.name}, {sc.name}, {paths} paths",
              caption="% of paths hedge/speculative/Ponzi/defaulted, trailing four quarters")
    t.add_column("firm")
    for i in year_ends:
        t.add_column(res.periods[i], justify="right")
    for firm in res.firms:
        cells = []
        for i in year_ends:
            s = [float(res.shares.sel(firm=firm, minsky_class=c.name).values[i]) for c in MinskyClass]
            cells.append("/".join(f"{x * 100:.0f}" for x in s))
        t.add_row(firm, *cells)
    console.print(t)
    sps = res.system_ponzi_share
    st = Table(title="System Ponzi share", caption="debt and commitments owed by Ponzi units / by live units")
    for col in ("quarter", "mean", "5th pct", "95th pct"):
        st.add_column(col, justify="right")
    mean, lo, hi = sps.mean("path").values, sps.quantile(0.05, "path").values, sps.quantile(0.95, "path").values
    for i in year_ends:
        st.add_row(res.periods[i], _pct(float(mean[i])), _pct(float(lo[i])), _pct(float(hi[i])))
    console.print(st)
    console.print("Classes after Minsky (1992); commitments count like lease payments. "
                  "Defaulted firms are their own class; firms owing nothing are hedge.")


# --------------------------------------------------------------------------- ponzi-test


@app.command("ponzi-test")
def ponzi_cmd(
    book: BookArg = DEFAULT_BOOK,
    scenarios: ScenariosOpt = None,
    paths: PathsOpt = 1000,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """External-capital dependency: does the loop's need for outside money outgrow end revenue?"""
    from loopwatch.analysis.breakeven import REFERENCES
    from loopwatch.analysis.ponzi import FUNDING_SOURCES, ponzi_test
    from loopwatch.engine import simulate

    b = load_deal_book(book)
    variables = [*FUNDING_SOURCES, "revenue_end", "paid"]
    tests = []
    for name in _scenario_list(scenarios):
        sc = load_scenario(name)
        tests.append(ponzi_test(simulate(b, sc, paths=paths, seed=seed, variables=variables,
                                                events=False), book=b))
    refs = [r for r in REFERENCES if r.compares_to == "outside_capital"]
    if as_json:
        _emit_json({"book": b.name, "paths": paths, "seed": seed,
                    "scenarios": {t.scenario: t.to_dict() for t in tests},
                    "references": [r.to_dict() for r in refs]})
        return
    summary = Table(title=f"Ponzi test — {b.name}, {paths} paths: outside capital need vs end revenue")
    for col in ("scenario", "verdict", "need growth/yr", "end revenue growth/yr", "need per $ revenue/yr",
                "need CAGR", "revenue CAGR", "years", "paths with signature"):
        summary.add_column(col, justify="left" if col in ("scenario", "verdict") else "right")
    for t in tests:
        summary.add_row(t.scenario, f"[red]{t.verdict}[/]" if t.ponzi else f"[green]{t.verdict}[/]",
                        _pct(t.need_growth), _pct(t.revenue_growth), _pct(t.dependency_growth),
                        _pct(t.need_cagr), _pct(t.revenue_cagr),
                        f"{t.window[0]}–{t.window[-1]}" if t.window else "—", _pct(t.share_of_paths))
    console.print(summary)
    for t in tests:
        y = Table(title=f"{t.scenario}: {t.reason}")
        fixed = ("need", "need_p05", "need_p95", "end_revenue", "need_per_revenue")
        sources = [c for c in t.yearly.columns if c not in fixed and float(t.yearly[c].abs().sum()) > 0]
        for col in ("year", "need (mean)", "need 5–95%", "end revenue", "need / revenue",
                    *[c.replace("_", " ") for c in sources]):
            y.add_column(col, justify="right")
        for year, row in t.yearly.iterrows():
            y.add_row(str(year), _money(row["need"]), f"{_money(row['need_p05'])}–{_money(row['need_p95'])}",
                      _money(row["end_revenue"]), _pct(row["need_per_revenue"]),
                      *[_money(float(row[c])) for c in sources])
        console.print(y)
        for r in refs:
            span = [int(yr) for yr in t.yearly.index if int(r.period[:4]) <= int(yr) <= int(r.period[-4:])]
            ours = float(t.yearly.loc[span, "need"].sum()) if span else float("nan")
            covered = f"{span[0]}–{span[-1]}" if span else "no year of it in the run"
            console.print(f"  beside {r.author}: {r.figure} {format_money(r.value)}; "
                          f"this loop's need {covered}: {_money(ours)}  ({r.source_title}, {r.source_url})")
    console.print(f"Core (the loop): {', '.join(tests[0].core) if tests else ''}")


# --------------------------------------------------------------------------- break-even


@app.command("break-even")
def break_even_cmd(
    book: BookArg = DEFAULT_BOOK,
    scenario: ScenarioOpt = "base",
    paths: PathsOpt = 1000,
    seed: SeedOpt = 0,
    alpha: Annotated[float, typer.Option(help="Accepted probability of a core default.")] = 0.05,
    tol: Annotated[float, typer.Option(help="Bisection tolerance on the demand multiplier.")] = 0.01,
    target_year: Annotated[int | None, typer.Option(
        help="Year whose end revenue is reported (default 2030, or the book's last year if earlier).")] = None,
    deterministic: Annotated[bool, typer.Option(help="Solve on the deterministic path.")] = False,
    coarse: Annotated[bool, typer.Option(help="Bracket on the first eighth of the paths first.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Break-even demand: the smallest end revenue at which no core firm defaults with prob. ≥ 1 − α."""
    from loopwatch.analysis.breakeven import break_even, no_default_probability
    from loopwatch.engine import core_firms, simulate
    from loopwatch.errors import ConvergenceError

    b = load_deal_book(book)
    sc = load_scenario(scenario)
    year = target_year if target_year is not None else min(2030, b.horizon.year)
    try:
        r = break_even(b, sc, paths=paths, seed=seed, alpha=alpha, tol=tol,
                       deterministic=deterministic, target_year=year, coarse=coarse)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    except ConvergenceError:
        # no demand level is enough: say which core firms still fail at the largest multiplier tried
        top = float(inspect.signature(break_even).parameters["max_multiplier"].default)
        res = simulate(b, sc, paths=1 if deterministic else paths, seed=seed, demand_multiplier=top,
                       variables=["default_period"], events=False, deterministic=deterministic or None)
        core = core_firms(b) or [f.id for f in b.firms]
        probs = res.default_probability()
        failing = {f: float(probs[f]) for f in core if probs[f] > 0}
        p_ok = no_default_probability(res, core)
        if as_json:
            _emit_json({"book": b.name, "scenario": sc.name, "converged": False, "multiplier": None,
                        "max_multiplier": top, "probability_no_core_default": p_ok, "alpha": alpha,
                        "core_default_probability_at_max": failing})
            return
        console.print(f"[bold]No break-even[/] for {sc.name}: even at {top:g}× the scenario's end demand "
                      f"P(no core default) = {p_ok:.1%} < {1 - alpha:.0%}. Core firms that still fail: "
                      + ", ".join(f"{f} ({p:.1%})" for f, p in sorted(failing.items(), key=lambda kv: -kv[1])))
        return
    if as_json:
        _emit_json({"book": b.name, "converged": True, **r.to_dict()})
        return
    mode = "deterministic path" if r.deterministic else f"{r.paths} paths, seed {r.seed}"
    t = Table(title=f"Break-even demand — {b.name}, {r.scenario} ({mode})")
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_row("demand multiplier m*", f"{r.multiplier:.4f}")
    t.add_row("bracket", f"[{r.lower:.4f}, {r.multiplier:.4f}]")
    t.add_row(f"P(no core default by horizon) at m*  (target ≥ {1 - r.alpha:.0%})", _pct(r.probability))
    t.add_row("P(no core default) at lower end", _pct(r.probability_lower))
    t.add_row(f"end revenue {r.target_year} at m*", _money(r.end_revenue))
    t.add_row("today's end revenue (annual)", _money(r.opening_end_revenue))
    t.add_row(f"CAGR to {r.target_year}", _pct(r.cagr))
    t.add_row("tolerance / bisection iterations / engine runs", f"{r.tolerance:g} / {r.iterations} / {r.evaluations}")
    if r.coarse_paths:
        t.add_row(f"coarse bracketing on the first {r.coarse_paths} paths",
                  f"{r.coarse_iterations} iterations / {r.coarse_evaluations} runs")
    console.print(t)
    refs = Table(title="Beside published estimates (global AI revenue; this book covers only its firms)")
    for col in ("estimate", "figure", "value", "this book / estimate", "source"):
        refs.add_column(col, justify="right" if col in ("value", "this book / estimate") else "left")
    for ref, ratio in r.references():
        refs.add_row(f"{ref.author}, {ref.period}", ref.figure, format_money(ref.value) + "/yr",
                     _pct(ratio), f"{ref.source_title} {ref.source_url}")
    console.print(refs)
    console.print(f"Core firms: {', '.join(r.core)}")


# --------------------------------------------------------------------------- amplification


@app.command("amplification")
def amplification_cmd(
    book: BookArg = DEFAULT_BOOK,
    scenario: ScenarioOpt = "base",
    paths: PathsOpt = 1000,
    seed: SeedOpt = 0,
    shock_kind: Annotated[str, typer.Option(help="Shock kind: demand, non_loop, credit, equity, loi_lapse, rerent.")] = "demand",
    shock_size: Annotated[float, typer.Option(help="Shock size (−0.3 = −30 %).")] = -0.3,
    shock_period: Annotated[str | None, typer.Option(help="First quarter of the shock (default: start + 1 year).")] = None,
    shock_quarters: Annotated[int, typer.Option(help="Quarters the shock lasts (0 = permanent).")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Amplification: response of the circular book / response of its counterfactual, same shocks."""
    from loopwatch.analysis.amplification import amplification

    b = load_deal_book(book)
    try:
        kind = ShockKind(shock_kind)
    except ValueError:
        raise typer.BadParameter(f"unknown shock kind {shock_kind!r}", param_hint="--shock-kind") from None
    try:
        period = Period.parse(shock_period) if shock_period else b.start + 4
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--shock-period") from None
    shock = Shock(kind=kind, period=period, size=shock_size, quarters=shock_quarters)
    a = amplification(b, load_scenario(scenario), shock=shock, paths=paths, seed=seed)
    if as_json:
        _emit_json({"book": b.name, **a.to_dict()})
        return
    t = Table(title=f"Amplification — {b.name}, {a.scenario}, {paths} paths: "
                    f"{kind.value} shock {shock_size:+.0%} from {period}"
                    + (f" for {shock_quarters} quarters" if shock_quarters else " (permanent)"))
    for col in ("metric", "circular: base → shocked", "response", "counterfactual: base → shocked",
                "response", "amplification"):
        t.add_column(col, justify="left" if col == "metric" else "right")
    for metric, row in a.table.iterrows():
        factor = float(row["amplification"])
        t.add_row(str(metric).replace("_", " "),
                  f"{_money(row['circular_base'])} → {_money(row['circular_shocked'])}",
                  _money(row["response_circular"]),
                  f"{_money(row['counterfactual_base'])} → {_money(row['counterfactual_shocked'])}",
                  _money(row["response_counterfactual"]),
                  "—" if factor != factor else f"{factor:.2f}×")
    console.print(t)
    console.print(f"Counterfactual replaced {len(a.links)} vendor-financing links: {', '.join(a.links) or 'none'}")


# --------------------------------------------------------------------------- stress


@app.command("stress")
def stress_cmd(
    book: BookArg = DEFAULT_BOOK,
    scenarios: ScenariosOpt = None,
    paths: PathsOpt = 1000,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """The stress set: default probabilities, who fails first and when, who loses what, by mechanism."""
    from loopwatch.analysis.stress import MECHANISMS, stress

    res = stress(load_deal_book(book), _scenario_list(scenarios), paths=paths, seed=seed)
    if as_json:
        _emit_json(res.to_dict())
        return
    summary = Table(title=f"Stress set — {res.book}, {paths} paths each, seed {seed}")
    for col in ("scenario", "P(any default)", "first to fail", "share first", *[m.replace("_", " ") for m in MECHANISMS]):
        summary.add_column(col, justify="left" if col in ("scenario", "first to fail") else "right")
    for name, s in res.scenarios.items():
        first = s.first_to_fail
        mech = s.mechanism_totals
        summary.add_row(name, _pct(s.any_default), first or "—",
                        _pct(float(s.first_failure[first])) if first else "—",
                        *[_money(float(mech.get(m, 0.0))) for m in MECHANISMS])
    console.print(summary)
    for name, s in res.scenarios.items():
        t = Table(title=f"{name}: firms that default or lose")
        for col in ("firm", "P(default)", "P(first)", "median quarter", "expected loss", "largest loss on"):
            t.add_column(col, justify="left" if col in ("firm", "largest loss on") else "right")
        rows = 0
        for firm in s.default_probability.sort_values(ascending=False).index:
            p, loss = float(s.default_probability[firm]), float(s.expected_loss.get(firm, 0.0))
            if p == 0 and loss <= 0:
                continue
            worst = ""
            if firm in s.expected_loss_by_debtor.index and loss > 0:
                row = s.expected_loss_by_debtor.loc[firm]
                worst = f"{row.idxmax()} ({_money(float(row.max()))})"
            t.add_row(str(firm), _pct(p), _pct(float(s.first_failure[firm])),
                      s.median_failure_quarter[firm] or "—", _money(loss), worst)
            rows += 1
        if rows:
            console.print(t)
        else:
            console.print(f"{name}: no defaults and no losses on any path.")


# --------------------------------------------------------------------------- counterfactual


@app.command("counterfactual")
def counterfactual_cmd(
    book: BookArg = DEFAULT_BOOK,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write the counterfactual book here.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The counterfactual book: vendor financing replaced by outside investors' cash (YAML on stdout without -o)."""
    from loopwatch.analysis.counterfactual import counterfactual_book, vendor_links

    b = load_deal_book(book)
    links = vendor_links(b)
    cf = counterfactual_book(b)
    if output is not None:
        write_deal_book(cf, output)
    if as_json:
        _emit_json({"book": b.name, "counterfactual": cf.name, "output": str(output) if output else None,
                    "links": [x.to_dict() for x in links],
                    **({} if output else {"deal_book": cf.model_dump(mode="json", exclude_defaults=True)})})
        return
    if output is None:
        sys.stdout.write(dump_deal_book(cf))
        return
    t = Table(title=f"{len(links)} vendor-financing links of {b.name} now paid by outside_investors")
    for col in ("contract", "type", "vendor → customer", "amount", "money returns via"):
        t.add_column(col, justify="right" if col == "amount" else "left",
                     no_wrap=col == "contract", overflow="fold")
    for x in links:
        t.add_row(x.contract, x.type, f"{x.vendor} → {x.customer}", format_money(x.amount), " → ".join(x.route))
    console.print(t)
    console.print(f"wrote {output} ({cf.name}: {len(cf.firms)} firms, {len(cf.contracts)} contracts)")
