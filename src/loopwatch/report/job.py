"""The main job behind ``loopwatch run``: deal book → every answer → report, summary, store.

Stages (each reported to an optional progress callback):

1. **book**: load and describe the deal book;
2. **structure**: cycles (with a null model), money-origin tracing, LOI leverage, warrants —
   from the contracts alone;
3. **scenarios**: one simulation per scenario (all paths at once), read for Minsky classes,
   the Ponzi test, the stress figures and per-firm-quarter quantiles;
4. **break-even**: bisection on the end-demand multiplier (common random numbers);
5. **amplification**: circular vs counterfactual book under the same shock;
6. **outputs**: ``summary.json``, ``report.html``, chart PNGs, and the run store.

Memory: the scenario runs record only the variables the answers read, in float32, and no
events; the store's events table comes from a second run of the first :data:`EVENT_PATHS`
paths (identical to those paths of the full run, since paths draw from fixed per-block
random streams).

Determinism: every random step takes a seed derived from ``seed`` alone and
``summary.json`` holds no wall-clock figure, so the same command and seed give a
byte-identical ``summary.json`` (timings go to the store's parameters and the console).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SUMMARY_KEYS", "JobResult", "run_job"]

SUMMARY_KEYS = (
    "deal_book", "run", "cycles", "origin", "round_trip_share", "minsky", "external_dependency",
    "default_probability", "expected_loss", "break_even", "amplification", "loi_leverage", "warrants",
)
FAN_VARIABLES = ("cash", "market_value", "debt")
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
EVENT_PATHS = 256
STAGES = ("book", "structure", "scenarios", "break-even", "amplification", "outputs")
Progress = Callable[[str, float], None]


@dataclass
class JobResult:
    """What a run produced: the summary, the files written and the store's run id."""

    summary: dict[str, Any]
    out: Path
    files: list[Path] = field(default_factory=list)
    run_id: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


def _r(x: Any, digits: int = 6) -> Any:
    """Round floats for a stable, readable summary (None for NaN/inf)."""
    if isinstance(x, float | np.floating):
        v = float(x)
        return None if not np.isfinite(v) else round(v, digits) if abs(v) < 1e3 else round(v, 0)
    if isinstance(x, dict):
        return {str(k): _r(v, digits) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_r(v, digits) for v in x]
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def quantile_table(result: Any, scenario: str, variables: Sequence[str] = FAN_VARIABLES) -> pd.DataFrame:
    """Per firm-quarter mean and quantiles over paths: the run store's ``quantiles`` rows."""
    ds = result.data
    frames = []
    for var in variables:
        if var not in ds:
            continue
        arr = ds[var].transpose("path", "period", "firm").to_numpy().astype(np.float64)
        qs = np.quantile(arr, QUANTILES, axis=0)  # (5, period, firm)
        mean = arr.mean(axis=0)
        periods, firms = list(ds["period"].values), list(ds["firm"].values)
        idx = pd.MultiIndex.from_product([periods, firms], names=["period", "firm"])
        frame = pd.DataFrame({"mean": mean.ravel(), **{f"q{int(q * 100):02d}": qs[k].ravel()
                                                       for k, q in enumerate(QUANTILES)}}, index=idx)
        frame = frame.reset_index()
        frame.insert(0, "variable", var)
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    table.insert(0, "scenario", scenario)
    table["period"] = table["period"].astype(str)
    table["firm"] = table["firm"].astype(str)
    return table[["scenario", "firm", "period", "variable", "mean", "q05", "q25", "q50", "q75", "q95"]]


def _events(result: Any, scenario: str, limit: int = 200_000) -> pd.DataFrame:
    ev = result.events
    if ev is None or len(ev) == 0:
        return pd.DataFrame(columns=["scenario", "path", "period", "firm", "event", "amount", "counterparty"])
    frame: pd.DataFrame = ev.head(limit).copy()
    frame.insert(0, "scenario", scenario)
    for col in ("period", "firm", "event", "counterparty"):
        frame[col] = frame[col].astype(str)
    return frame[["scenario", "path", "period", "firm", "event", "amount", "counterparty"]]


def run_job(
    book_name: str,
    *,
    scenarios: Sequence[str] | None = None,
    paths: int = 10_000,
    seed: int = 0,
    out: str | Path = "loopwatch-out",
    store: str | Path | None = None,
    record: bool = True,
    pngs: bool = True,
    progress: Progress | None = None,
    break_even_scenario: str = "base",
    alpha: float = 0.05,
    null_samples: int = 200,
) -> JobResult:
    """Run everything and write the outputs.

    Parameters
    ----------
    book_name : str
        A bundled deal book name or a YAML path.
    scenarios : sequence of str, optional
        Scenario names or paths; default every bundled scenario.
    paths, seed : int
        Monte Carlo paths per scenario and the master seed.
    out : path
        Output folder (created): ``summary.json``, ``report.html``, ``charts/*.png``.
    store : path, optional
        Run store file (default :func:`loopwatch.store.default_store_path`).
    record : bool
        Write the run to the store.
    pngs : bool
        Export the charts as PNG files too.
    progress : callable(stage, fraction), optional
        Called as the job advances.

    Returns
    -------
    JobResult
    """
    from loopwatch import analysis as an
    from loopwatch.engine import core_firms, simulate
    from loopwatch.io import bundled_scenarios, load_deal_book, load_scenario

    say = progress or (lambda stage, frac: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)

    # 1. book ---------------------------------------------------------------------------------
    say("book", 0.0)
    book = load_deal_book(book_name)
    scenario_names = list(scenarios) if scenarios else bundled_scenarios()
    scen = {name: load_scenario(name) for name in scenario_names}
    core = list(core_firms(book))
    total = sum(c.amount for c in book.contracts)
    binding = sum(c.amount for c in book.contracts if c.binding)
    sourced = sum(c.amount for c in book.contracts if c.sources)
    deal_book = {
        "name": book.name, "title": book.title, "start": str(book.start), "horizon": str(book.horizon),
        "firms": len(book.firms), "contracts": len(book.contracts), "contract_value": total,
        "binding_value": binding, "non_binding_value": total - binding,
        "sourced_share": sourced / total if total else 1.0, "assumptions": len(book.assumptions),
        "core_firms": core,
    }
    timings["book"] = time.perf_counter() - t0

    # 2. structure ----------------------------------------------------------------------------
    say("structure", 0.0)
    t = time.perf_counter()
    cycles = an.find_cycles(book)
    significance = an.cycle_significance(book, samples=null_samples, seed=seed)
    say("structure", 0.4)
    origin = an.trace(book)
    loi = an.loi_leverage(book)
    warrants = an.value_warrants(book, seed=seed)
    timings["structure"] = time.perf_counter() - t

    # 3. scenarios ----------------------------------------------------------------------------
    # record only what the answers read (memory: ~90 MB per variable at 10,000 paths)
    from loopwatch.analysis.minsky import _INPUTS as MINSKY_VARIABLES
    from loopwatch.analysis.ponzi import PONZI_VARIABLES
    from loopwatch.analysis.stress import STRESS_VARIABLES

    variables = sorted({*MINSKY_VARIABLES, *PONZI_VARIABLES, *STRESS_VARIABLES, *FAN_VARIABLES})
    per_scenario: dict[str, dict[str, Any]] = {}
    quantiles, events = [], []
    for k, (name, scenario) in enumerate(scen.items()):
        say("scenarios", k / max(1, len(scen)))
        t = time.perf_counter()
        result = simulate(book, scenario, paths=paths, seed=seed, variables=variables, events=False,
                          dtype="float32")
        minsky = an.minsky_classes(result)
        ponzi = an.ponzi_test(result, core=core, book=book)
        stressed = an.stress_summary(result, scenario=name)
        quantiles.append(quantile_table(result, name))
        # the events table of the first EVENT_PATHS paths: paths draw from fixed per-block
        # streams, so these are exactly the first paths of the full run, at a fraction of the cost
        sample = simulate(book, scenario, paths=min(paths, EVENT_PATHS), seed=seed,
                          variables=["default_period"], events=True)
        events.append(_events(sample, name))
        per_scenario[name] = {"minsky": minsky, "ponzi": ponzi, "stress": stressed}
        timings[f"scenario:{name}"] = time.perf_counter() - t
        del result
    say("scenarios", 1.0)

    # 4. break-even ---------------------------------------------------------------------------
    say("break-even", 0.0)
    t = time.perf_counter()
    be_name = break_even_scenario if break_even_scenario in scen else next(iter(scen))
    be = an.break_even(book, scen[be_name], paths=paths, seed=seed, alpha=alpha, core=core,
                      target_year=min(2030, book.horizon.year))
    timings["break-even"] = time.perf_counter() - t

    # 5. amplification ------------------------------------------------------------------------
    say("amplification", 0.0)
    t = time.perf_counter()
    amp = an.amplification(book, scen[be_name], paths=min(paths, 2_000), seed=seed)
    timings["amplification"] = time.perf_counter() - t

    # 6. summary and outputs ------------------------------------------------------------------
    say("outputs", 0.0)
    t = time.perf_counter()
    summary = build_summary(
        book=book, deal_book=deal_book, scenario_names=scenario_names, paths=paths, seed=seed,
        cycles=cycles, significance=significance, origin=origin, loi=loi, warrants=warrants,
        per_scenario=per_scenario, be=be, amp=amp, alpha=alpha,
    )
    files = []
    summary_path = out_dir / "summary.json"
    summary_path.write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    files.append(summary_path)
    q_all = pd.concat(quantiles, ignore_index=True)
    ev_all = pd.concat(events, ignore_index=True)
    from loopwatch.report.build import write_report

    files += write_report(out_dir, book=book, summary=summary, quantiles=q_all, cycles=cycles,
                          origin=origin, per_scenario=per_scenario, be=be, amp=amp, loi=loi,
                          warrants=warrants, pngs=pngs)
    timings["outputs"] = time.perf_counter() - t
    run_id = None
    if record:
        from loopwatch.store import RunStore

        with RunStore(store) as s:
            run_id = s.record_run(
                deal_book=book.name, scenarios=scenario_names, paths=paths, seed=seed, summary=summary,
                parameters={"book": str(book_name), "scenarios": scenario_names, "paths": paths,
                            "seed": seed, "alpha": alpha, "null_samples": null_samples,
                            "timings_s": {k: round(v, 3) for k, v in timings.items()}},
                quantiles=q_all, events=ev_all)
    say("outputs", 1.0)
    timings["total"] = time.perf_counter() - t0
    return JobResult(summary=summary, out=out_dir, files=files, run_id=run_id, timings=timings,
                     details={"per_scenario": per_scenario, "break_even": be, "amplification": amp})


def build_summary(*, book: Any, deal_book: dict[str, Any], scenario_names: list[str], paths: int,
                  seed: int, cycles: Any, significance: Any, origin: Any, loi: Any, warrants: Any,
                  per_scenario: dict[str, dict[str, Any]], be: Any, amp: Any, alpha: float) -> dict[str, Any]:
    """The stable, documented ``summary.json`` (see ``docs/summary.md``)."""
    from loopwatch import __version__

    cyc = cycles.to_dict(top=10)
    firms_origin = origin.to_dict()["firms"]
    minsky, dep, dp, el = {}, {}, {}, {}
    for name, parts in per_scenario.items():
        m = parts["minsky"]
        shares = m.shares  # (period, firm, minsky_class)
        last = shares.isel(period=-1)
        peak_ponzi = shares.sel(minsky_class="ponzi").max("period")
        minsky[name] = {
            "ponzi_share_at_horizon": {str(f): float(last.sel(firm=f, minsky_class="ponzi")) for f in m.firms},
            "peak_ponzi_share": {str(f): float(peak_ponzi.sel(firm=f)) for f in m.firms},
            "system_ponzi_share": {"periods": m.periods,
                                   "mean": [float(x) for x in m.system_ponzi_share.mean("path").values]},
        }
        p = parts["ponzi"]
        dep[name] = {
            "verdict": p.verdict, "reason": p.reason, "need_growth": p.need_growth,
            "revenue_growth": p.revenue_growth, "need_cagr": p.need_cagr, "revenue_cagr": p.revenue_cagr,
            "share_of_paths": p.share_of_paths,
            "yearly": {str(y): {"need": float(r["need"]), "end_revenue": float(r["end_revenue"])}
                       for y, r in p.yearly.iterrows()},
        }
        s = parts["stress"]
        dp[name] = {str(f): float(v) for f, v in s.default_probability.items()}
        el[name] = {
            "by_creditor": {str(f): float(v) for f, v in s.expected_loss.items() if v > 0},
            "by_mechanism": {str(k): float(v) for k, v in s.mechanism_totals.items()},
            "first_to_fail": s.first_to_fail,
            "any_default": float(s.any_default),
            "median_failure_quarter": {str(f): (None if v is None or (isinstance(v, float) and np.isnan(v)) else v)
                                       for f, v in s.median_failure_quarter.items()
                                       if s.default_probability[f] > 0},
        }
    rts = {rec["firm"]: {"return_probability": rec.get("rho"), "round_trip_share": rec.get("round_trip_share")}
           for rec in firms_origin}
    summary = {
        "deal_book": deal_book,
        "run": {"scenarios": scenario_names, "paths": paths, "seed": seed, "version": __version__,
                "alpha": alpha},
        "cycles": {"sccs": cyc["sccs"], "cycle_count": cyc["cycle_count"],
                   "bottleneck_weight": cyc["bottleneck_weight"],
                   "top": [{"firms": c["firms"], "bottleneck": c["bottleneck"], "binding": c["binding"]}
                           for c in cyc["cycles"]],
                   "significance": significance.to_dict()},
        "origin": {rec["firm"]: rec["revenue_origin"] for rec in firms_origin},
        "round_trip_share": rts,
        "minsky": minsky,
        "external_dependency": dep,
        "default_probability": dp,
        "expected_loss": el,
        "break_even": be.to_dict(),
        "amplification": {"factors": {str(m): amp.factor(str(m)) for m in amp.table.index},
                          **amp.to_dict()},
        "loi_leverage": {k: v for k, v in loi.to_dict().items() if k not in ("loans", "lois", "outstanding")},
        "warrants": [{k: v for k, v in w.to_dict().items() if k != "tranches"} for w in warrants],
    }
    out: dict[str, Any] = _r(summary)
    return out
