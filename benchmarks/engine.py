"""Engine benchmark: path-quarters per second and peak memory, vectorised against a loop.

Run::

    .venv/bin/python benchmarks/engine.py            # 10^3, 10^4, 10^5 paths
    .venv/bin/python benchmarks/engine.py --quick    # smoke run (10^3 paths)
    .venv/bin/python benchmarks/engine.py --profile  # also the top of a cProfile at 10^4

Each size runs in a fresh subprocess pinned to one thread (BLAS threads = 1)
so that its peak RSS is its own. The run records only ``defaulted`` (and the
always-present ``default_period``) in float32 storage, without the events
table: the benchmark measures the engine, not the result's size. The book is
``ai-compute-2025`` (falls back to ``three-party-loop``), the ``base``
scenario, 32 quarters (the book's horizon). Side by side, the same process
times a Python loop of ``paths=1`` calls (each with its own seed) against one
vectorised call, per path (best of three alternating repeats each).
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

ROOT = Path(__file__).resolve().parents[1]
ONE_CORE = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _book():  # type: ignore[no-untyped-def]
    from loopwatch import load_deal_book
    from loopwatch.io import bundled_books

    name = "ai-compute-2025" if "ai-compute-2025" in bundled_books() else "three-party-loop"
    return load_deal_book(name)


def child(paths: int, chunk: int | None) -> dict[str, float]:
    """One timed run in this process; returns seconds, path-quarters/s and peak RSS."""
    from loopwatch import load_scenario
    from loopwatch.engine import simulate

    book, sc = _book(), load_scenario("base")
    # warm caches (imports, the plan, and every compiled kernel the timed run calls, loaded
    # from numba's on-disk cache on first call): the same options on a few paths
    simulate(book, sc, paths=256, variables=["defaulted"], dtype="float32", events=False)
    t0 = time.perf_counter()
    c0 = time.process_time()
    res = simulate(book, sc, paths=paths, chunk=chunk, variables=["defaulted"], dtype="float32",
                   events=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    quarters = len(res.periods)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB → MiB (Linux)
    return {"paths": paths, "quarters": quarters, "seconds": wall, "cpu_seconds": cpu,
            "path_quarters_per_s": paths * quarters / wall, "peak_rss_mb": rss,
            "firms": len(res.firms), "contracts": len(res.contracts), "book": res.book.name,
            "default_probability_max": float(res.default_probability().max())}


def loop_speedup(paths: int, loops: int, repeats: int = 3) -> dict[str, float]:
    """Seconds per path: a loop of ``paths=1`` calls against one call with ``paths`` paths.

    Each side is timed ``repeats`` times, alternating, and its best time is kept (as
    ``timeit`` does: the least disturbed run of the same work).
    """
    import numpy as np

    from loopwatch import load_scenario
    from loopwatch.engine import simulate

    book, sc = _book(), load_scenario("base")
    kw = {"variables": ["defaulted"], "events": False}
    simulate(book, sc, paths=1, **kw)  # type: ignore[arg-type]
    simulate(book, sc, paths=min(paths, 64), **kw)  # type: ignore[arg-type]
    loop, vec = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(loops):
            simulate(book, sc, paths=1, seed=np.random.SeedSequence(i), **kw)  # type: ignore[arg-type]
        loop.append((time.perf_counter() - t0) / loops)
        t0 = time.perf_counter()
        simulate(book, sc, paths=paths, **kw)  # type: ignore[arg-type]
        vec.append((time.perf_counter() - t0) / paths)
    per_loop, per_vec = min(loop), min(vec)
    return {"loop_s_per_path": per_loop, "vectorised_s_per_path": per_vec,
            "speedup": per_loop / per_vec, "loop_calls": loops, "vectorised_paths": paths,
            "repeats": repeats}


def profile(paths: int) -> str:
    """The top of a cProfile of one run (by own time)."""
    import cProfile
    import io
    import pstats

    from loopwatch import load_scenario
    from loopwatch.engine import simulate

    book, sc = _book(), load_scenario("base")
    simulate(book, sc, paths=8, variables=["defaulted"])
    prof = cProfile.Profile()
    prof.enable()
    simulate(book, sc, paths=paths, variables=["defaulted"], dtype="float32", events=False)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(15)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 10^3 paths only")
    ap.add_argument("--profile", action="store_true", help="print a cProfile at 10^4 paths")
    ap.add_argument("--json", type=Path, help="write the figures to this file")
    ap.add_argument("--chunk", type=int, default=None, help="paths per chunk (default engine's)")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.chunk)))
        return 0
    sizes = [1_000] if args.quick else [1_000, 10_000, 100_000]
    env = {**os.environ, **ONE_CORE}
    rows = []
    for n in sizes:
        cmd = [sys.executable, __file__, "--child", str(n)]
        if args.chunk:
            cmd += ["--chunk", str(args.chunk)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=ROOT)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    os.environ.update(ONE_CORE)
    speed = loop_speedup(200 if args.quick else 1_000, 5 if args.quick else 30)
    book = rows[0]["book"]
    print(f"engine benchmark: book {book} ({rows[0]['firms']} firms, {rows[0]['contracts']} "
          f"contracts), scenario base, {rows[0]['quarters']} quarters, one thread")
    print(f"{'paths':>8} {'seconds':>9} {'cpu s':>8} {'path-quarters/s':>16} {'peak RSS MB':>12}")
    for r in rows:
        print(f"{r['paths']:>8,} {r['seconds']:>9.2f} {r['cpu_seconds']:>8.2f} "
              f"{r['path_quarters_per_s']:>16,.0f} {r['peak_rss_mb']:>12.0f}")
    print(f"loop of paths=1 calls: {speed['loop_s_per_path'] * 1e3:.1f} ms a path; vectorised "
          f"({speed['vectorised_paths']} paths): {speed['vectorised_s_per_path'] * 1e3:.3f} ms a "
          f"path; speed-up {speed['speedup']:.0f}×")
    if args.profile:
        print(profile(10_000))
    if args.json:
        args.json.write_text(json.dumps({"sizes": rows, "loop": speed}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
