"""Benchmark the main job and the run store.

- ``loopwatch run`` with its defaults (bundled book, every bundled scenario, 10,000 paths):
  wall time and peak memory (RSS of the whole process tree, via /usr/bin/time -v when present);
- ``loopwatch runs list`` on a store holding 100 runs: wall time (median of 5).

Usage::

    python benchmarks/run.py            # full: the default run (minutes) and the store
    python benchmarks/run.py --quick    # 500 paths, two scenarios
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from loopwatch.store import RunStore

LOOPWATCH = str(Path(sys.executable).with_name("loopwatch"))


def timed(cmd: list[str], cwd: Path) -> tuple[float, float | None]:
    """Wall seconds and peak RSS in MB (None when /usr/bin/time is missing)."""
    gnu_time = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    full = [gnu_time, "-v", *cmd] if gnu_time else cmd
    t = time.perf_counter()
    proc = subprocess.run(full, cwd=cwd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return wall, (int(m.group(1)) / 1024 if m else None)


def store_with_runs(path: Path, n: int) -> None:
    q = pd.DataFrame({"scenario": "base", "firm": [f"f{i}" for i in range(34)] * 32,
                      "period": [f"{2025 + k // 4}Q{k % 4 + 1}" for k in range(32) for _ in range(34)],
                      "variable": "cash", "mean": 1.0, "q05": 0.0, "q25": 0.5, "q50": 1.0, "q75": 1.5, "q95": 2.0})
    with RunStore(path) as s:
        for k in range(n):
            s.record_run(deal_book="ai-compute-2025", scenarios=["base"], paths=10_000, seed=k,
                         summary={"k": k}, quantiles=q, run_id=f"bench-{k:03d}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cmd = [LOOPWATCH, "run", "--store", str(work / "runs.duckdb"), "--out", str(work / "out")]
        if args.quick:
            cmd += ["--paths", "500", "--scenarios", "base,bear"]
        wall, rss = timed(cmd, work)
        rows.append(("loopwatch run" + (" --paths 500 (2 scenarios)" if args.quick else " (defaults)"),
                     f"{wall:.1f} s", f"{rss:.0f} MB" if rss else "n/a", "≤ 120 s" if not args.quick else "-"))
        store = work / "hundred.duckdb"
        store_with_runs(store, 100)
        times = []
        for _ in range(5):
            t = time.perf_counter()
            subprocess.run([LOOPWATCH, "runs", "list", "--store", str(store), "--limit", "100"],
                           capture_output=True, check=True)
            times.append(time.perf_counter() - t)
        rows.append(("loopwatch runs list (100 runs)", f"{statistics.median(times):.2f} s", "-", "< 1 s"))
    print(f"| {'what':<44} | {'wall':>9} | {'peak RSS':>9} | {'target':>8} |")
    print(f"|{'-' * 46}|{'-' * 11}|{'-' * 11}|{'-' * 10}|")
    for what, wall_s, rss_s, target in rows:
        print(f"| {what:<44} | {wall_s:>9} | {rss_s:>9} | {target:>8} |")


if __name__ == "__main__":
    main()
