"""The self-contained HTML report: Plotly's JavaScript embedded once, no CDN, works offline."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["Section", "render_report"]

_CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1d2733;color:#fff;padding:24px 40px}header h1{margin:0 0 6px 0;font-size:26px}
header p{margin:0;color:#c9d3dd}nav{padding:10px 40px;background:#eef1f4;font-size:13px}
nav a{margin-right:14px;color:#1d4f91;text-decoration:none}main{padding:10px 40px 60px 40px;max-width:1250px}
section{background:#fff;border:1px solid #e3e6ea;border-radius:6px;padding:18px 24px;margin:18px 0}
h2{margin-top:0;font-size:20px}p.lead{color:#444;max-width:980px}
table.data{border-collapse:collapse;font-size:13px;margin:10px 0}
table.data th,table.data td{border-bottom:1px solid #e6e6e6;padding:4px 10px;text-align:right}
table.data th:first-child,table.data td:first-child{text-align:left}
table.data th{background:#f3f5f7}table.answers td,table.answers th{vertical-align:top;text-align:left}.small{font-size:12px;color:#666}
"""


@dataclass
class Section:
    """One report section: an anchor id, a title, a lead paragraph, figures and tables."""

    id: str
    title: str
    lead: str = ""
    figures: list[Any] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    html: str = ""


def table_html(frame: pd.DataFrame, *, caption: str = "") -> str:
    """A DataFrame as a plain HTML table (escaped)."""
    body = frame.to_html(classes="data", border=0, escape=True, na_rep="—", float_format=lambda v: f"{v:,.4g}")
    cap = f"<p class='small'>{html.escape(caption)}</p>" if caption else ""
    return cap + body


def render_report(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """Assemble the report. Plotly's JavaScript is inlined once in ``<head>``."""
    from plotly.offline import get_plotlyjs

    nav = "".join(f"<a href='#{s.id}'>{html.escape(s.title)}</a>" for s in sections)
    parts = []
    for s in sections:
        inner = [f"<h2>{html.escape(s.title)}</h2>"]
        if s.lead:
            inner.append(f"<p class='lead'>{html.escape(s.lead)}</p>")
        inner.append(s.html)
        for fig in s.figures:
            inner.append(fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False}))
        for caption, frame in s.tables:
            inner.append(table_html(frame, caption=caption))
        parts.append(f"<section id='{s.id}'>{''.join(inner)}</section>")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
        f"<header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p></header>"
        f"<nav>{nav}</nav><main>{''.join(parts)}</main></body></html>"
    )
