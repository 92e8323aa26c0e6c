"""Benchmark the loop analytics: tracing and cycles on the bundled book, tracing at 2,000 firms.

Times each analytic in-process (best of ``--repeat`` runs, after one warm-up),
and sets the fast tracing kernel side by side with its reference twins (the
Monte Carlo dollar walk and the dense per-firm first-passage solve) on a
smaller random network, with their largest disagreement. Prints a table;
exits 1 if a target is missed.

    .venv/bin/python benchmarks/analysis.py
    .venv/bin/python benchmarks/analysis.py --firms 5000 --book /tmp/bm.yaml
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from loopwatch.analysis import (
    cycle_significance,
    find_cycles,
    flow_network,
    loi_leverage,
    random_flow_network,
    return_probability,
    trace,
    value_warrants,
)
from loopwatch.analysis.tracing import origin_shares
from loopwatch.analysis.tracing_reference import (
    origin_shares_mc,
    return_probability_exact,
    return_probability_mc,
)
from loopwatch.io import DEFAULT_BOOK, load_deal_book


def best(fn: Callable[[], Any], repeat: int, *, warm_up: bool = True) -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs (after a warm-up run if asked), and the last result."""
    if warm_up:
        fn()
    times, out = [], None
    for _ in range(max(repeat, 1)):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--book", default=DEFAULT_BOOK)
    p.add_argument("--firms", type=int, default=2000, help="firms in the large random network")
    p.add_argument("--small", type=int, default=100, help="firms in the twin comparison")
    p.add_argument("--walks", type=int, default=20_000, help="dollars per firm in the twin")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)

    book = load_deal_book(args.book)
    rows: list[tuple[str, str, float, float | None, str]] = []

    t, res = best(lambda: trace(book), args.repeat)
    rows.append(("trace", f"{args.book} ({len(book.firms)} firms, {len(book.contracts)} contracts)",
                 t, 1.0, f"{len(res.firms)} firms traced"))
    t, res = best(lambda: find_cycles(book, length_bound=6), args.repeat)
    rows.append(("cycles, length ≤ 6", args.book, t, 1.0,
                 f"{len(res.cycles)} cycles, core of {len(res.core)}"))
    t, _ = best(lambda: cycle_significance(book, samples=200, seed=0), 1, warm_up=False)
    rows.append(("cycle null model, 200 rewirings", args.book, t, None, ""))
    t, _ = best(lambda: loi_leverage(book), args.repeat)
    rows.append(("LOI leverage", args.book, t, None, ""))
    t, _ = best(lambda: value_warrants(book, paths=20_000), 1, warm_up=False)
    rows.append(("warrants, 20,000 paths", args.book, t, None, ""))

    big = random_flow_network(args.firms, seed=0)
    t, res = best(lambda: trace(big), args.repeat)
    rows.append(("trace (table → network → LU → ρ, origins)", f"random, {args.firms} firms",
                 t, 5.0, f"{len(big)} flows"))
    net = flow_network(big)
    t, _ = best(lambda: return_probability(net), args.repeat)
    rows.append(("  ρ kernel alone", f"random, {args.firms} firms", t, None, ""))

    small = flow_network(random_flow_network(args.small, seed=1))
    t_fast, rho = best(lambda: return_probability(small), args.repeat)
    t_exact, rho_exact = best(lambda: return_probability_exact(small), 1, warm_up=False)
    t_mc, (rho_mc, se) = best(lambda: return_probability_mc(small, walks=args.walks, seed=2), 1,
                           warm_up=False)
    z = np.abs(rho_mc - rho) / np.maximum(se, 1e-12)
    rows.append(("ρ fast (sparse LU)", f"random, {args.small} firms", t_fast, None, ""))
    rows.append(("ρ exact twin (dense, n solves)", f"random, {args.small} firms", t_exact, None,
                 f"max |Δ| {np.abs(rho_exact - rho).max():.1e}"))
    rows.append(("ρ Monte Carlo twin", f"{args.walks} dollars/firm", t_mc, None,
                 f"max |Δ|/s.e. {z[se > 0].max():.2f}"))
    t_fast, mix = best(lambda: origin_shares(small), args.repeat)
    t_mc, (mix_mc, se_o) = best(lambda: origin_shares_mc(small, walks=args.walks, seed=3), 1,
                             warm_up=False)
    zo = np.abs(mix_mc - mix) / np.maximum(se_o, 1e-12)
    rows.append(("origins fast (sparse LU)", f"random, {args.small} firms", t_fast, None, ""))
    rows.append(("origins Monte Carlo twin", f"{args.walks} dollars/firm", t_mc, None,
                 f"max |Δ|/s.e. {zo[se_o > 0].max():.2f}"))

    table = Table(title="loopwatch analysis benchmarks (best of runs, seconds)")
    for col in ("what", "on", "seconds", "target", "note"):
        table.add_column(col, justify="right" if col in ("seconds", "target") else "left")
    missed = []
    for what, on, secs, target, note in rows:
        ok = target is None or secs < target
        if not ok:
            missed.append(what)
        table.add_row(what, on, f"{secs:.3f}",
                      "" if target is None else f"< {target:g} {'✓' if ok else '✗'}", note)
    Console().print(table)
    if missed:
        print(f"missed: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
