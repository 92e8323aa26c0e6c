"""Plotly figures of the report. Each function takes plain data and returns a Figure.

Plotly is imported inside the functions so that importing this module stays
cheap. Colours: one per Minsky class and a stable colour per firm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

__all__ = [
    "amplification_chart",
    "break_even_chart",
    "default_probability_chart",
    "fan_chart",
    "minsky_heatmap",
    "network_chart",
    "origin_sankey",
]

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf"]
SOURCE_COLOURS = {"end_customers": "#2ca02c", "outside_equity": "#1f77b4", "outside_debt": "#d62728",
                  "non_loop": "#9467bd", "opening_cash": "#7f7f7f"}


def _rgba(hex_colour: str, alpha: float) -> str:
    """``"#1f77b4", 0.3`` → ``"rgba(31,119,180,0.3)"`` (Plotly 5 rejects 8-digit hex)."""
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _layout(fig: Any, title: str, height: int = 480) -> Any:
    fig.update_layout(title=title, height=height, template="plotly_white",
                      margin={"l": 60, "r": 30, "t": 60, "b": 50}, font={"size": 12})
    return fig


def network_chart(nodes: Sequence[str], edges: Sequence[tuple[str, str, float, str]],
                  loop_edges: set[tuple[str, str]], *, roles: Mapping[str, str] | None = None,
                  title: str = "Deal network (loops highlighted)") -> Any:
    """Directed deal network; ``edges`` are ``(payer, payee, amount_usd, kind)``.

    Edges on a cycle (``loop_edges``) are drawn red and thick; widths grow with
    the square root of the amount. Layout: networkx spring layout with a fixed seed.
    """
    import networkx as nx
    import plotly.graph_objects as go

    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    for a, b, amount, _ in edges:
        w = g.get_edge_data(a, b, {"w": 0.0})["w"]
        g.add_edge(a, b, w=w + amount)
    pos = nx.spring_layout(g.to_undirected(), seed=7, k=1.2 / max(1, len(nodes)) ** 0.5)
    top = max((d["w"] for *_, d in g.edges(data=True)), default=1.0) or 1.0
    fig = go.Figure()
    for a, b, d in g.edges(data=True):
        (x0, y0), (x1, y1) = pos[a], pos[b]
        on_loop = (a, b) in loop_edges
        fig.add_trace(go.Scatter(
            x=[x0, x1], y=[y0, y1], mode="lines", hoverinfo="text",
            text=f"{a} → {b}: ${d['w'] / 1e9:,.1f}B", showlegend=False,
            line={"width": 1 + 7 * (d["w"] / top) ** 0.5, "color": "#d62728" if on_loop else "#b0b0b0"},
            opacity=0.85 if on_loop else 0.5))
        fig.add_annotation(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y",
                           showarrow=True, arrowhead=2, arrowsize=1, arrowwidth=1,
                           arrowcolor="#d62728" if on_loop else "#b0b0b0", standoff=12, text="")
    roles = roles or {}
    role_names = sorted(set(roles.values()))
    for k, role in enumerate(role_names or [""]):
        members = [n for n in nodes if roles.get(n, "") == role]
        fig.add_trace(go.Scatter(
            x=[pos[n][0] for n in members], y=[pos[n][1] for n in members], mode="markers+text",
            text=members, textposition="top center", name=role or "firm",
            marker={"size": 16, "color": PALETTE[k % len(PALETTE)], "line": {"width": 1, "color": "#333"}}))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, title, height=640)


def origin_sankey(origin: Mapping[str, Mapping[str, float]], revenue: Mapping[str, float], *,
                  title: str = "Where each firm's revenue originates") -> Any:
    """Sankey from outside sources to firms: ``origin[firm][source]`` shares × ``revenue[firm]`` USD."""
    import plotly.graph_objects as go

    sources = sorted({s for mix in origin.values() for s in mix})
    firms = [f for f in origin if revenue.get(f, 0) > 0]
    labels = [s.replace("_", " ") for s in sources] + firms
    src, dst, val, col = [], [], [], []
    for j, firm in enumerate(firms):
        for i, s in enumerate(sources):
            v = origin[firm].get(s, 0.0) * revenue[firm]
            if v > 0:
                src.append(i)
                dst.append(len(sources) + j)
                val.append(v / 1e9)
                col.append(SOURCE_COLOURS.get(s, "#999999"))
    fig = go.Figure(go.Sankey(
        node={"label": labels, "pad": 14, "thickness": 16,
              "color": [SOURCE_COLOURS.get(s, "#999") for s in sources] + ["#444"] * len(firms)},
        link={"source": src, "target": dst, "value": val, "color": [_rgba(c, 0.5) for c in col]},
        valueformat=",.1f", valuesuffix=" $B"))
    return _layout(fig, title, height=560)


def fan_chart(quantiles: pd.DataFrame, variable: str, firms: Sequence[str], *, scenario: str,
              title: str | None = None) -> Any:
    """Fan chart: median and 5–95 % / 25–75 % bands per firm over time (USD billions).

    ``quantiles`` columns: scenario, firm, period, variable, q05, q25, q50, q75, q95.
    """
    import plotly.graph_objects as go

    q = quantiles[(quantiles["variable"] == variable) & (quantiles["scenario"] == scenario)]
    fig = go.Figure()
    for k, firm in enumerate(firms):
        d = q[q["firm"] == firm].sort_values("period")
        if d.empty:
            continue
        c = PALETTE[k % len(PALETTE)]
        x = list(d["period"])
        for lo, hi, alpha in (("q05", "q95", 0.13), ("q25", "q75", 0.27)):
            fig.add_trace(go.Scatter(x=x + x[::-1], y=list(d[hi] / 1e9) + list(d[lo] / 1e9)[::-1],
                                     fill="toself", fillcolor=_rgba(c, alpha), line={"width": 0}, mode="lines",
                                     hoverinfo="skip", showlegend=False, legendgroup=firm))
        fig.add_trace(go.Scatter(x=x, y=d["q50"] / 1e9, name=firm, line={"color": c, "width": 2},
                                 legendgroup=firm))
    fig.update_yaxes(title="USD billions")
    return _layout(fig, title or f"{variable.replace('_', ' ')}: median, 25–75 % and 5–95 % ({scenario})")


def minsky_heatmap(share: pd.DataFrame, *, title: str = "Minsky class over time") -> Any:
    """Heat map of a firm × period table of a Minsky score.

    ``share`` is indexed by firm with periods as columns; values are the
    share of paths that are Ponzi units (0–1). Hover shows the share.
    """
    import plotly.graph_objects as go

    fig = go.Figure(go.Heatmap(z=share.to_numpy(), x=[str(c) for c in share.columns],
                               y=[str(i) for i in share.index], zmin=0, zmax=1,
                               colorscale=[[0, "#2ca02c"], [0.5, "#ffdd57"], [1, "#d62728"]],
                               colorbar={"title": "Ponzi share"}))
    return _layout(fig, title, height=max(320, 28 * len(share.index) + 140))


def default_probability_chart(prob: pd.DataFrame, *, title: str = "Default probability by scenario") -> Any:
    """Grouped bars: firms (index) × scenarios (columns), probabilities 0–1."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for k, scenario in enumerate(prob.columns):
        fig.add_trace(go.Bar(x=list(prob.index), y=prob[scenario], name=str(scenario),
                             marker_color=PALETTE[k % len(PALETTE)]))
    fig.update_yaxes(title="probability", tickformat=".0%", range=[0, 1])
    fig.update_layout(barmode="group")
    return _layout(fig, title)


def break_even_chart(curve: pd.DataFrame, *, alpha: float, multiplier: float | None,
                     references: Sequence[Mapping[str, Any]] = (),
                     title: str = "Break-even end demand") -> Any:
    """Probability that no core firm defaults against end revenue in the target year.

    ``curve`` columns: end_revenue (USD), p_no_default (0–1), from the bisection trials.
    References (published estimates) are vertical lines.
    """
    import plotly.graph_objects as go

    d = curve.sort_values("end_revenue")
    fig = go.Figure(go.Scatter(x=d["end_revenue"] / 1e9, y=d["p_no_default"], mode="lines+markers",
                               name="P(no core default)"))
    fig.add_hline(y=1 - alpha, line_dash="dash", annotation_text=f"1 − α = {1 - alpha:.2f}")
    for ref in references:
        fig.add_vline(x=float(ref["value"]) / 1e9, line_dash="dot", line_color="#888",
                      annotation_text=str(ref["label"]), annotation_position="bottom right")
    fig.update_xaxes(title="end-customer AI revenue in the target year (USD billions, log scale)", type="log")
    fig.update_yaxes(title="probability", range=[0, 1.02])
    return _layout(fig, title)


def amplification_chart(factors: Mapping[str, float], *, title: str = "Amplification: circular vs counterfactual") -> Any:
    """Bars of amplification factors (1 = the loop neither amplifies nor damps)."""
    import plotly.graph_objects as go

    names = list(factors)
    fig = go.Figure(go.Bar(x=[n.replace("_", " ") for n in names], y=[factors[n] for n in names],
                           marker_color=["#d62728" if factors[n] > 1 else "#2ca02c" for n in names]))
    fig.add_hline(y=1.0, line_dash="dash")
    fig.update_yaxes(title="response(circular) / response(counterfactual)")
    return _layout(fig, title)
