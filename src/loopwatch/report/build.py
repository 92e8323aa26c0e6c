"""Turn a run's results into report sections, the HTML file and PNG charts."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd

from loopwatch.model import DealBook, format_money
from loopwatch.report import charts
from loopwatch.report.html import Section, render_report

__all__ = ["SECTION_IDS", "answers_rows", "write_report"]

SECTION_IDS = (
    "answers", "network", "origins", "fans", "minsky", "defaults", "cascade", "break-even",
    "amplification", "warrants-loi", "appendix",
)


def _pct(x: Any) -> str:
    return "—" if x is None else f"{100 * float(x):.1f}%"


def _usd(x: Any) -> str:
    return "—" if x is None else format_money(float(x))


def answers_rows(summary: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(question, answer, figures) for each question of DESIGN, from the summary."""
    rows = []
    rts = summary["round_trip_share"]
    top_rt = sorted(((f, v.get("round_trip_share") or 0.0) for f, v in rts.items()), key=lambda kv: -kv[1])[:3]
    rt_text = ", ".join(f"{f} {_pct(v)}" for f, v in top_rt)
    core = summary["deal_book"]["core_firms"]
    rt_core = ", ".join(f"{f} {_pct(rts.get(f, {}).get('round_trip_share'))}" for f in ("nvidia", "oracle", "openai") if f in rts)
    rows.append(("Q1 Where does revenue come from; how much is own money coming back?",
                 f"Round-trip share: {rt_core or rt_text}.", f"highest: {rt_text}"))
    dep = summary["external_dependency"]
    verdicts = ", ".join(f"{n}: {d['verdict']}" for n, d in dep.items())
    first = next(iter(dep.values()), None)
    rows.append(("Q2 Is the loop a Ponzi scheme?",
                 verdicts,
                 (f"{next(iter(dep))}: outside-capital need grows {_pct(first['need_growth'])}/yr vs end revenue "
                  f"{_pct(first['revenue_growth'])}/yr") if first else ""))
    be = summary["break_even"]
    rows.append(("Q3 How fast must end revenue grow?",
                 f"{_usd(be.get('end_revenue'))} in {be.get('target_year')} (CAGR {_pct(be.get('cagr'))}) for "
                 f"P(no core default) ≥ {1 - float(be.get('alpha', 0.05)):.0%}",
                 f"{float(be.get('multiplier') or 0):.2f}× the scenario's demand; tolerance {be.get('tolerance')}, "
                 f"{be.get('iterations')} bisection steps"))
    amp = summary["amplification"]
    factors = amp.get("factors", {})
    rows.append(("Q4 Does the loop amplify shocks?",
                 ", ".join(f"{k.replace('_', ' ')} ×{v:.2f}" for k, v in factors.items() if v is not None) or "—",
                 "circular response ÷ counterfactual response, same shock and seed"))
    dp = summary["default_probability"]
    el = summary["expected_loss"]
    worst = []
    for name, probs in dp.items():
        if probs:
            f, p = max(probs.items(), key=lambda kv: kv[1])
            worst.append(f"{name}: {f} {_pct(p)}; first to fail {el[name].get('first_to_fail') or '—'}")
    rows.append(("Q5 Who fails if adoption disappoints, and who loses what?", "; ".join(worst[:6]),
                 f"core firms: {', '.join(core)}"))
    w = summary["warrants"]
    rows.append(("Q6 Who bears what in equity-for-orders?",
                 "; ".join(f"{x['warrant']}: value {_usd(x['value'])}, dilution {_pct(x['dilution'])}, "
                           f"implied discount {_pct(x.get('implied_discount'))}" for x in w) or "no warrants",
                 "Monte Carlo under GBM price paths with vesting conditions"))
    loi = summary["loi_leverage"]
    per_b, per_r = loi.get("per_binding_dollar"), loi.get("per_end_revenue_dollar")
    rows.append(("Q7 How much debt stands on letters of intent?",
                 f"{_usd(loi.get('debt'))} at its peak"
                 + (f"; ${float(per_b):.3f} per binding contract dollar" if per_b is not None else ""),
                 f"${float(per_r):.2f} per dollar of annual end revenue" if per_r is not None else ""))
    rows.append(("Q8 Which scenario is the world on?",
                 "Not answered by this run: the indicators watch is not built yet; docs/scenarios.md "
                 "ties each scenario to the indicators it assumes",
                 ", ".join(dp)))
    return rows


def _answers_html(summary: dict[str, Any]) -> str:
    body = "".join(
        f"<tr><td><b>{html.escape(q)}</b></td><td>{html.escape(a)}</td><td class='small'>{html.escape(f)}</td></tr>"
        for q, a, f in answers_rows(summary))
    return f"<table class='data answers'><tr><th>question</th><th>answer</th><th>figures</th></tr>{body}</table>"


def _edges(book: DealBook) -> list[tuple[str, str, float, str]]:
    return [(c.payer, c.payee, c.amount, c.type.value) for c in book.contracts]


def write_report(out: Path, *, book: DealBook, summary: dict[str, Any], quantiles: pd.DataFrame,
                 cycles: Any, origin: Any, per_scenario: dict[str, dict[str, Any]], be: Any, amp: Any,
                 loi: Any, warrants: Any, pngs: bool = True) -> list[Path]:
    """Write ``report.html`` (and ``charts/*.png``) into ``out``; return the files written."""
    loop_edges = set()
    for firms in cycles.cycles["firms"]:
        seq = list(firms)
        loop_edges |= {(seq[i], seq[(i + 1) % len(seq)]) for i in range(len(seq))}
    roles = {f.id: f.role.value for f in book.firms}
    figs: dict[str, Any] = {}
    figs["network"] = charts.network_chart([f.id for f in book.firms], _edges(book), loop_edges, roles=roles)
    rev = origin.firms["revenue"].to_dict()
    top = sorted(rev, key=lambda f: -rev[f])
    top_firms = [f for f in top if f in set(summary["deal_book"]["core_firms"])] or top[:10]
    origin_mix = origin.revenue_origin.to_dict(orient="index")
    figs["origins"] = charts.origin_sankey({f: origin_mix[f] for f in top_firms}, rev)
    base = next(iter(per_scenario))
    fan_firms = top_firms[:6]
    figs["fan_cash"] = charts.fan_chart(quantiles, "cash", fan_firms, scenario=base)
    figs["fan_value"] = charts.fan_chart(quantiles, "market_value", fan_firms, scenario=base)
    m = per_scenario[base]["minsky"]
    ponzi = m.shares.sel(minsky_class="ponzi").transpose("firm", "period").to_pandas()
    ponzi = ponzi.loc[[f for f in ponzi.index if f in set(summary["deal_book"]["core_firms"])] or ponzi.index]
    figs["minsky"] = charts.minsky_heatmap(ponzi, title=f"Share of paths in which each firm is a Ponzi unit ({base})")
    dp = pd.DataFrame(summary["default_probability"])
    dp = dp.loc[dp.max(axis=1) > 0] if (dp.max(axis=1) > 0).any() else dp.head(10)
    figs["defaults"] = charts.default_probability_chart(dp)
    curve = pd.DataFrame([t[:2] for t in be.trials if len(t) < 3 or t[2] == be.paths],
                         columns=["multiplier", "p_no_default"])
    curve["end_revenue"] = curve["multiplier"] * (be.end_revenue / be.multiplier if be.multiplier else 0.0)
    refs = [{"label": r.author.split("(")[0].strip()[:28], "value": r.value} for r, _ in be.references()]
    figs["break_even"] = charts.break_even_chart(curve, alpha=be.alpha, multiplier=be.multiplier, references=refs)
    figs["amplification"] = charts.amplification_chart({k: v for k, v in summary["amplification"].get("factors", {}).items() if v is not None})

    el_rows = []
    for name, d in summary["expected_loss"].items():
        for firm, v in d["by_creditor"].items():
            el_rows.append({"scenario": name, "creditor": firm, "expected loss": _usd(v)})
    el_table = pd.DataFrame(el_rows or [{"scenario": "—", "creditor": "—", "expected loss": "—"}])
    mech = pd.DataFrame({n: d["by_mechanism"] for n, d in summary["expected_loss"].items()}).map(_usd)
    cascade_rows = []
    for name, parts in per_scenario.items():
        s = parts["stress"]
        order = s.median_failure_quarter.dropna().sort_values()
        for firm, q in order.items():
            cascade_rows.append({"scenario": name, "firm": firm, "median quarter of failure": q,
                                 "default probability": _pct(s.default_probability[firm]),
                                 "first to fail (share of paths)": _pct(s.first_failure[firm])})
    cascade = pd.DataFrame(cascade_rows or [{"scenario": "—", "firm": "no defaults"}])
    wt = pd.DataFrame([{"warrant": w.warrant, "issuer": w.issuer, "holder": w.holder, "shares": f"{w.shares:,.0f}",
                        "value": _usd(w.value), "dilution": _pct(w.dilution),
                        "order value": _usd(w.order_value), "implied discount": _pct(w.implied_discount)}
                       for w in warrants] or [{"warrant": "none"}])
    loans = loi.loans.reset_index().rename(columns={"index": "loan"})
    for col in ("amount", "peak_outstanding", "outstanding_end"):
        if col in loans:
            loans[col] = loans[col].map(_usd)
    assumptions = pd.DataFrame([{"id": a.id, "statement": a.statement, "rationale": a.rationale,
                                 "applies to": ", ".join(a.applies_to)} for a in book.assumptions]
                               or [{"id": "none"}])
    sources = pd.DataFrame([{"contract": c.id, "sources": "; ".join(f"{s.title} ({s.url})" if s.url else s.title
                                                                     for s in c.sources)} for c in book.contracts])
    db = summary["deal_book"]
    sections = [
        Section("answers", "Answers", "Each question loopwatch answers, with its figures from this run.",
                html=_answers_html(summary)),
        Section("network", "The deal network", f"{db['firms']} firms and {db['contracts']} contracts worth "
                f"{_usd(db['contract_value'])}; red edges lie on a loop. Core firms: {', '.join(db['core_firms'])}.",
                figures=[figs["network"]]),
        Section("origins", "Where revenue originates", "Proportional mixing over the book's window: each "
                "firm's revenue split by the outside source it entered the network from.",
                figures=[figs["origins"]]),
        Section("fans", "Cash and market value", f"Quantiles over {summary['run']['paths']:,} paths in the "
                f"{base} scenario.", figures=[figs["fan_cash"], figs["fan_value"]]),
        Section("minsky", "Minsky classes over time", "Hedge, speculative or Ponzi on trailing four-quarter "
                "sums (Minsky 1992); the colour is the share of paths in which a firm is a Ponzi unit.",
                figures=[figs["minsky"]]),
        Section("defaults", "Default probability and expected loss", "By scenario, over all paths.",
                figures=[figs["defaults"]],
                tables=[("Expected loss by creditor", el_table), ("Expected loss by mechanism", mech)]),
        Section("cascade", "Cascade order", "Firms ordered by their median quarter of failure.",
                tables=[("", cascade)]),
        Section("break-even", "Break-even end demand", f"Bisection on the end-demand multiplier with common "
                f"random numbers ({be.scenario}); published estimates shown for comparison.",
                figures=[figs["break_even"]]),
        Section("amplification", "Amplification", "The same shock to the circular book and to its "
                "counterfactual, where vendor financing is replaced by outside investors.",
                figures=[figs["amplification"]], tables=[("", amp.table.reset_index())]),
        Section("warrants-loi", "Warrants and letters of intent", "Equity-for-orders and the debt standing "
                "on non-binding letters of intent.", tables=[("Warrants", wt), ("Debt secured by LOIs", loans)]),
        Section("appendix", "Appendix: assumptions and sources", "Every figure without a published source is "
                "an assumption with its rationale; every contract lists its sources.",
                tables=[("Assumptions", assumptions), ("Sources", sources)]),
    ]
    text = render_report(f"loopwatch — {book.title or book.name}",
                         f"{', '.join(summary['run']['scenarios'])} · {summary['run']['paths']:,} paths · "
                         f"seed {summary['run']['seed']}", sections)
    path = out / "report.html"
    path.write_text(text, encoding="utf-8")
    files = [path]
    if pngs:
        chart_dir = out / "charts"
        chart_dir.mkdir(exist_ok=True)
        for name, fig in figs.items():
            target = chart_dir / f"{name}.png"
            fig.write_image(str(target), width=1200, height=int(fig.layout.height or 600), scale=1)
            files.append(target)
    return files

