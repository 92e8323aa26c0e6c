"""``loopwatch cycles | trace | loi | warrants``: loop analytics on a deal book's contracts.

Thin commands over :mod:`loopwatch.analysis` (imported when a command runs,
so ``loopwatch --help`` stays quick). Each takes a bundled book name or a
YAML path (default :data:`loopwatch.io.DEFAULT_BOOK`) and a ``--start`` /
``--end`` window; Rich tables by default, ``--json`` prints one JSON
document and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.table import Table

from loopwatch.cli import app, console
from loopwatch.io import DEFAULT_BOOK, load_deal_book
from loopwatch.model import format_money

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["cycles_command", "loi_command", "trace_command", "warrants_command"]

BookArg = Annotated[str, typer.Argument(help="Bundled book name or deal-book YAML path.")]
StartOpt = Annotated[str | None, typer.Option("--start", help="First quarter or year (2025, 2026Q3).")]
EndOpt = Annotated[str | None, typer.Option("--end", help="Last quarter or year (a year means its Q4).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts) instead of tables.")]
TypeOpt = Annotated[list[str] | None, typer.Option("--type", help="Contract type to keep (repeat).")]
StatusOpt = Annotated[list[str] | None, typer.Option("--status", help="Contract status to keep (repeat).")]
BindingOpt = Annotated[bool | None, typer.Option(
    "--binding/--non-binding", help="Only binding, or only non-binding contracts (default both).")]

T = TypeVar("T")


def _run(fn: Callable[[], T]) -> T:
    """Turn bad option values into a usage error (exit 2, one line)."""
    try:
        return fn()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _json(data: Any) -> None:
    def default(x: Any) -> Any:
        if hasattr(x, "item"):
            return x.item()
        if isinstance(x, tuple | set | frozenset):
            return list(x)
        return str(x)

    print(json.dumps(data, default=default, allow_nan=False))


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def _ratio(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts, the index as a column (named by the index, or ``index``)."""
    flat = frame.reset_index() if frame.index.name else frame
    return [{str(k): v for k, v in rec.items()} for rec in flat.to_dict(orient="records")]


@app.command("cycles")
def cycles_command(
    book_name: BookArg = DEFAULT_BOOK,
    start: StartOpt = None,
    end: EndOpt = None,
    max_length: Annotated[int, typer.Option("--max-length", "-L", help="Longest cycle (edges).")] = 6,
    types: TypeOpt = None,
    binding: BindingOpt = None,
    status: StatusOpt = None,
    null: Annotated[int, typer.Option("--null", help="Null-model samples (0 = skip).")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the null model.")] = 0,
    top: Annotated[int, typer.Option("--top", help="Cycles to show.")] = 15,
    as_json: JsonOpt = False,
) -> None:
    """Loops in the contract graph: strongly connected components, cycles by bottleneck, significance."""
    from loopwatch.analysis.cycles import cycle_significance, find_cycles

    book = load_deal_book(book_name)
    opts: dict[str, Any] = {"start": start, "end": end, "include": types or None,
                            "binding": binding, "status": status or None}
    res = _run(lambda: find_cycles(book, length_bound=max_length, **opts))
    sig = (_run(lambda: cycle_significance(res.graph, samples=null, seed=seed,
                                           length_bound=max_length)) if null > 0 else None)
    if as_json:
        _json({"book": book.name, **res.to_dict(top=top),
               "significance": sig.to_dict() if sig else None})
        return
    console.print(f"[bold]{book.name}[/] contract graph {res.window}: "
                  f"{res.graph.number_of_nodes()} firms, {res.graph.number_of_edges()} edges")
    if res.sccs:
        for k, comp in enumerate(res.sccs):
            console.print(f"SCC {k} ({len(comp)} firms): {', '.join(comp)}")
    else:
        console.print("No strongly connected component: the money does not go round.")
    table = Table(title=f"Top cycles by bottleneck (of {len(res.cycles)}, length ≤ {max_length})")
    for col in ("#", "cycle", "bottleneck", "weakest edge", "kinds", "binding"):
        table.add_column(col, justify="right" if col in ("#", "bottleneck") else "left")
    for k, row in enumerate(_records(res.cycles.head(top)), 1):
        table.add_row(str(k), row["cycle"], format_money(row["bottleneck"]), row["bottleneck_edge"],
                      ", ".join(_KIND_LABEL.get(kind, kind) for kind in row["kinds"]),
                      {True: "yes", False: "no"}.get(row["binding"], "?"))
    console.print(table)
    part = Table(title="Participation")
    for col in ("firm", "cycles", "weight", "share of weight", "SCC"):
        part.add_column(col, justify="left" if col == "firm" else "right")
    for row in _records(res.participation[res.participation["cycles"] > 0]):
        part.add_row(str(row["firm"]), str(int(row["cycles"])), format_money(row["weight"]),
                     _pct(row["weight_share"]), str(int(row["scc"])))
    console.print(part)
    if sig is not None:
        st = Table(title=f"Against {sig.samples} degree-preserving rewirings (seed {seed})")
        for col in ("statistic", "observed", "null mean", "null sd", "z", "p"):
            st.add_column(col, justify="left" if col == "statistic" else "right")
        for row in _records(sig.table):
            name = row["statistic"]
            money = name == "bottleneck_weight"
            fmt: Callable[[float], str] = format_money if money else (lambda x: f"{x:.3g}")
            st.add_row(str(name), fmt(row["observed"]), fmt(row["null_mean"]),
                       fmt(row["null_std"]), f"{row['z']:.2f}", f"{row['p_value']:.3f}")
        console.print(st)


@app.command("trace")
def trace_command(
    book_name: BookArg = DEFAULT_BOOK,
    start: StartOpt = None,
    end: EndOpt = None,
    types: TypeOpt = None,
    binding: BindingOpt = None,
    status: StatusOpt = None,
    firms: Annotated[list[str] | None, typer.Option("--firm", help="Firm to show (repeat).")] = None,
    of: Annotated[str, typer.Option(
        "--of", help="Origin of: revenue (operating), network (receipts from firms) or pool (all).",
    )] = "revenue",
    as_json: JsonOpt = False,
) -> None:
    """Where each firm's revenue comes from; return probability and round-trip share."""
    if of not in ("revenue", "network", "pool"):
        raise typer.BadParameter(f"unknown {of!r} (revenue, network or pool)", param_hint="--of")
    from loopwatch.analysis.tracing import trace

    book = load_deal_book(book_name)
    res = _run(lambda: trace(book, start=start, end=end, include=types or None, binding=binding,
                             status=status or None))
    if as_json:
        _json({"book": book.name, **res.to_dict()})
        return
    shown = res.firms
    if firms:
        unknown = sorted(set(firms) - set(shown.index))
        if unknown:
            raise typer.BadParameter(f"no firm {', '.join(unknown)} in the flows", param_hint="--firm")
        shown = shown.loc[firms]
    else:
        shown = shown[shown["network_receipts"] + shown["network_payments"] > 0]
    shown = shown.sort_values("round_trip_share", ascending=False)
    rt = Table(title=f"{book.name} {res.window}: own money coming back")
    for col in ("firm", "from firms", "to firms", "ρ", "own money back", "round trip"):
        rt.add_column(col, justify="left" if col == "firm" else "right")
    for row in _records(shown):
        rt.add_row(str(row["firm"]), format_money(row["network_receipts"]),
                   format_money(row["network_payments"]), f"{row['rho']:.3f}",
                   format_money(row["own_money_back"]), _pct(row["round_trip_share"]))
    console.print(rt)
    frame, base, what = {
        "revenue": (res.revenue_origin, "revenue", "operating revenue"),
        "network": (res.network_origin, "network_receipts", "receipts from other firms"),
        "pool": (res.pool_origin, "pool", "all money taken in"),
    }[of]
    origin = frame.loc[shown.index]
    sources = [s for s in origin.columns if s != "unattributed" or (origin[s] > 0).any()]
    ot = Table(title=f"Origin of {what} (share that entered from each outside source)")
    ot.add_column("firm")
    ot.add_column({"revenue": "revenue", "network_receipts": "from firms", "pool": "pool"}[base],
                  justify="right")
    for src in sources:
        ot.add_column(_SOURCE_LABEL.get(src, src), justify="right")
    mixes = origin.to_dict(orient="index")
    for row in _records(shown.sort_values(base, ascending=False)):
        ot.add_row(str(row["firm"]), format_money(row[base]),
                   *[_pct(mixes[row["firm"]][src]) for src in sources])
    console.print(ot)
    console.print("ρ: chance a dollar the firm pays to other firms comes back to it before "
                  "leaving the network; round trip = ρ × payments to firms / receipts from "
                  "firms. Origins follow proportional mixing over the window.")


_SOURCE_LABEL = {"end_customers": "end cust.", "non_loop": "non-loop", "opening_cash": "open. cash",
                 "unattributed": "unattr."}
_KIND_LABEL = {"compute_commitment": "compute", "chip_purchase": "chips",
               "equity_investment": "equity", "letter_of_intent": "LOI"}


@app.command("loi")
def loi_command(
    book_name: BookArg = DEFAULT_BOOK,
    start: StartOpt = None,
    end: EndOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Debt standing on non-binding letters of intent, per binding dollar and per end-revenue dollar."""
    from loopwatch.analysis.loi import loi_leverage

    book = load_deal_book(book_name)
    res = _run(lambda: loi_leverage(book, start=start, end=end))
    if as_json:
        _json({"book": book.name, **res.to_dict()})
        return
    console.print(f"[bold]{book.name}[/] {res.window}: LOI-backed debt peaks at "
                  f"[bold]{format_money(res.debt)}[/] ({format_money(res.debt_at_end)} at the end)")
    console.print(f"  per dollar of binding contract ({format_money(res.binding_value)}): "
                  f"{_ratio(res.per_binding_dollar)}")
    console.print(f"  per dollar of annual end revenue ({format_money(res.end_revenue)}/yr): "
                  f"{_ratio(res.per_end_revenue_dollar)}")
    loans = Table(title="Loans and bonds resting on LOIs")
    for col in ("id", "lender → borrower", "amount", "peak outstanding", "LOIs", "link"):
        loans.add_column(col, justify="right" if col in ("amount", "peak outstanding") else "left")
    for row in _records(res.loans):
        loans.add_row(str(row["id"]), f"{row['lender']} → {row['borrower']}", format_money(row["amount"]),
                      format_money(row["peak_outstanding"]), ", ".join(row["lois"]), row["via"])
    console.print(loans)
    lois = Table(title="Letters of intent")
    for col in ("id", "payer → payee", "amount", "decision", "p(convert)", "dependents", "debt on it"):
        lois.add_column(col, justify="left" if col in ("id", "payer → payee") else "right")
    for row in _records(res.lois):
        lois.add_row(str(row["id"]), f"{row['payer']} → {row['payee']}", format_money(row["amount"]),
                     row["decision"], f"{row['conversion_probability']:.2f}",
                     str(int(row["dependents"])), format_money(row["debt"]))
    console.print(lois)


@app.command("warrants")
def warrants_command(
    book_name: BookArg = DEFAULT_BOOK,
    start: StartOpt = None,
    end: EndOpt = None,
    warrant: Annotated[str | None, typer.Option("--id", help="Only this warrant.")] = None,
    paths: Annotated[int, typer.Option("--paths", help="Price paths.")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Seed.")] = 0,
    volatility: Annotated[float, typer.Option("--vol", help="Annual volatility.")] = 0.45,
    rate: Annotated[float, typer.Option("--rate", help="Risk-free rate (annual).")] = 0.04,
    loi_conversion: Annotated[float | None, typer.Option(
        "--loi-conversion", help="Probability every LOI converts (default: each LOI's own).")] = None,
    feedback: Annotated[bool, typer.Option(
        "--dilution-feedback", help="Treat the book's price as already discounting the warrant.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Monte Carlo value of each warrant with its vesting conditions; dilution; implied discount."""
    from loopwatch.analysis.warrants import value_warrant, value_warrants

    book = load_deal_book(book_name)
    opts: dict[str, Any] = {"start": start, "end": end, "paths": paths, "seed": seed,
                            "volatility": volatility, "rate": rate,
                            "loi_conversion": loi_conversion, "dilution_feedback": feedback}
    if warrant:
        res = [_run(lambda: value_warrant(book, warrant, **opts))]
    else:
        res = _run(lambda: value_warrants(book, **opts))
    if as_json:
        _json({"book": book.name, "warrants": [v.to_dict() for v in res]})
        return
    if not res:
        console.print(f"{book.name}: no warrants")
        return
    table = Table(title=f"{book.name}: warrants ({paths} paths, σ {volatility:g}, r {rate:g}, seed {seed})")
    for col in ("warrant", "dilution", "value ± s.e.", "order", "discount", "programme", "discount "):
        table.add_column(col, justify="left" if col == "warrant" else "right")
    for v in res:
        table.add_row(f"{v.warrant}\n{v.issuer} → {v.holder}\n{v.shares:,.0f} sh @ ${v.strike:g}",
                      _pct(v.dilution), f"{format_money(v.value)}\n± {format_money(v.std_error)}",
                      format_money(v.order_value) if v.order_value else "—",
                      _pct(v.implied_discount),
                      format_money(v.programme_value) if v.programme_value else "—",
                      _pct(v.programme_discount))
    console.print(table)
    console.print("discount = warrant value / the order it names; programme = that order plus "
                  "the holder's other purchases from the issuer its GW milestones count.")
    for v in res:
        if len(v.tranches) < 2 and v.tranches["conditions"].iloc[0] == "none":
            continue
        tt = Table(title=f"{v.warrant}: tranches ({v.valuation}–{v.expiry}, from ${v.start_price:,.2f})")
        for col in ("shares", "conditions", "P(vest)", "median vesting", "value"):
            tt.add_column(col, justify="left" if col == "conditions" else "right")
        for row in _records(v.tranches):
            tt.add_row(f"{row['shares']:,.0f}", row["conditions"], _pct(row["vest_probability"]),
                       row["median_vesting"] or "—", format_money(row["value"]))
        console.print(tt)
