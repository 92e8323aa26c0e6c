"""Benchmark the answers: ``loopwatch stress`` and ``loopwatch break-even`` at 10,000 paths.

Runs each command as a user would (a fresh process, ``--json``), times it,
reads its answer back, and times single engine calls to show where the time
goes. Prints a table; exits 1 if a target is missed.

    .venv/bin/python benchmarks/answers.py              # 10,000 paths, targets 60 s each
    .venv/bin/python benchmarks/answers.py --paths 2000 # quicker look
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

# the same BLAS default as the ``loopwatch`` command (cli.entry), for the in-process engine calls
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

LOOPWATCH = [sys.executable, "-c", "from loopwatch.cli import entry; entry()"]


def run_cli(args: list[str]) -> tuple[float, float, float, dict[str, object]]:
    """Run ``loopwatch ARGS --json``; return (wall s, CPU s, child peak RSS in MB, parsed JSON).

    CPU time is reported beside wall time because the machine may be shared:
    wall time then includes waiting for a core.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([*LOOPWATCH, *args, "--json"], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"loopwatch {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, max(after.ru_maxrss, before.ru_maxrss) / 1024, json.loads(proc.stdout)


def engine_calls(book: str, paths: int, seed: int) -> list[tuple[str, float, float]]:
    """Time one engine call per configuration the answers use."""
    from loopwatch.analysis.stress import STRESS_VARIABLES
    from loopwatch.engine import simulate
    from loopwatch.io import load_deal_book, load_scenario

    b, sc = load_deal_book(book), load_scenario("base")
    out = []
    for label, kwargs in (
        ("simulate(stress variables)", {"variables": list(STRESS_VARIABLES)}),
        ("simulate(break-even variables)", {"variables": ["default_period", "revenue_end"]}),
        ("simulate(all variables)", {}),
    ):
        t0, c0 = time.perf_counter(), time.process_time()
        simulate(b, sc, paths=paths, seed=seed, events=False, **kwargs)  # type: ignore[arg-type]
        out.append((f"{label}, base, {paths} paths", time.perf_counter() - t0, time.process_time() - c0))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--book", default="ai-compute-2025")
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--target", type=float, default=60.0, help="seconds allowed per command")
    ap.add_argument("--json-out", type=Path, help="also write the answers here")
    a = ap.parse_args()
    console = Console(width=150)

    common = [a.book, "--paths", str(a.paths), "--seed", str(a.seed)]
    load = os.getloadavg()[0]
    t_stress, c_stress, mem_stress, stress = run_cli(["stress", *common])
    t_be, c_be, mem_be, be = run_cli(["break-even", *common])
    calls = engine_calls(a.book, a.paths, a.seed)

    table = Table(title=f"loopwatch answers — {a.book}, {a.paths} paths, seed {a.seed} "
                        f"({os.cpu_count()} cores, load {load:.1f} at start)")
    for col in ("task", "wall s", "CPU s", "target", "ok", "peak MB", "detail"):
        table.add_column(col, justify="left" if col in ("task", "detail") else "right")
    n_sc = len(stress["scenarios"])  # type: ignore[arg-type]
    table.add_row("loopwatch stress (all bundled scenarios)", f"{t_stress:.1f}", f"{c_stress:.1f}",
                  f"{a.target:.0f}", "yes" if t_stress <= a.target else "NO", f"{mem_stress:.0f}",
                  f"{n_sc} scenarios")
    coarse = be["coarse"]
    detail = (f"tol {be['tolerance']}, {be['iterations']} bisection steps, "
              f"{be['evaluations']} runs of {a.paths} paths + {coarse['evaluations']} of "  # type: ignore[index]
              f"{coarse['paths']}, m* = {be['multiplier']:.4f}")  # type: ignore[index]
    table.add_row("loopwatch break-even (base)", f"{t_be:.1f}", f"{c_be:.1f}", f"{a.target:.0f}",
                  "yes" if t_be <= a.target else "NO", f"{mem_be:.0f}", detail)
    for label, secs, cpu in calls:
        table.add_row(label, f"{secs:.2f}", f"{cpu:.2f}", "", "", "", "one engine call")
    console.print(table)

    answers = Table(title="Stress answers")
    for col in ("scenario", "P(any default)", "first to fail", "mechanism losses (mean, USD)"):
        answers.add_column(col)
    for name, s in stress["scenarios"].items():  # type: ignore[union-attr]
        mech = ", ".join(f"{k} {v / 1e9:.1f}B" for k, v in s["losses_by_mechanism"].items())
        answers.add_row(name, f"{s['any_default']:.1%}", str(s["first_to_fail"]), mech)
    console.print(answers)
    console.print(f"break-even (base): end revenue {be['target_year']} = ${be['end_revenue'] / 1e9:,.0f}B, "
                  f"CAGR {be['cagr']:.1%}, P(no core default) {be['probability_no_core_default']:.1%}")
    if a.json_out:
        a.json_out.write_text(json.dumps({"stress": stress, "break_even": be,
                                          "seconds": {"stress": t_stress, "break_even": t_be}}, indent=2))
    return 0 if t_stress <= a.target and t_be <= a.target else 1


if __name__ == "__main__":
    raise SystemExit(main())
