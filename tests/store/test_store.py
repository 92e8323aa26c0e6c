"""The DuckDB run store: record, list, show, export; a killed writer leaves no trace."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from loopwatch.errors import StoreError
from loopwatch.store import RunStore


def _quantiles(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame({
        "scenario": ["base"] * n, "firm": [f"f{i}" for i in range(n)], "period": ["2025Q1"] * n,
        "variable": ["cash"] * n, "mean": 1.0, "q05": 0.1, "q25": 0.5, "q50": 1.0, "q75": 1.5, "q95": 2.0,
    })


def _events(n: int) -> pd.DataFrame:
    return pd.DataFrame({
        "scenario": "base", "path": range(n), "period": "2026Q2", "firm": "oracle",
        "event": "default", "amount": 1.5e9, "counterparty": "openai",
    })


def test_record_list_show_export(tmp_path: Path) -> None:
    with RunStore(tmp_path / "s.duckdb") as store:
        a = store.record_run(deal_book="b", scenarios=["base", "bear"], paths=100, seed=1,
                             summary={"x": 1}, parameters={"paths": 100}, quantiles=_quantiles(),
                             events=_events(5), run_id="run-a")
        b = store.record_run(deal_book="b", scenarios=["base"], paths=10, seed=2, summary={"x": 2},
                             run_id="run-b")
        assert {r.run_id for r in store.list_runs()} == {a, b}
        record, summary, params = store.run("run-a")
        assert (record.paths, record.seed, record.scenarios) == (100, 1, "base,bear")
        assert summary == {"x": 1} and params == {"paths": 100}
        assert len(store.table("events", "run-a")) == 5
        with pytest.raises(StoreError, match="matches 2 runs"):
            store.resolve("run-")
        with pytest.raises(StoreError, match="no run 'zzz'"):
            store.resolve("zzz")
        files = store.export("run-a", tmp_path / "pq", fmt="parquet")
        assert pd.read_parquet(tmp_path / "pq" / "quantiles.parquet").shape[0] == 3
        assert len(files) == 4
        store.export("run-a", tmp_path / "r.xlsx", fmt="xlsx")
        assert set(pd.read_excel(tmp_path / "r.xlsx", sheet_name=None)) == {"run", "parameters", "quantiles", "events"}


def test_failed_write_rolls_back(tmp_path: Path) -> None:
    with RunStore(tmp_path / "s.duckdb") as store:
        store.record_run(deal_book="b", scenarios=["base"], paths=1, seed=0, summary={}, run_id="ok")
        with pytest.raises(StoreError, match="missing columns"):
            store.record_run(deal_book="b", scenarios=["base"], paths=1, seed=0, summary={},
                             quantiles=_quantiles(), events=pd.DataFrame({"path": [1]}), run_id="bad")
        assert [r.run_id for r in store.list_runs()] == ["ok"]
        assert len(store.table("quantiles", "ok")) == 0
        assert store._con.execute("SELECT count(*) FROM quantiles").fetchone() == (0,)


WRITER = textwrap.dedent("""
    import sys, pandas as pd
    from loopwatch.store import RunStore
    n = int(sys.argv[2])
    events = pd.DataFrame({"scenario": "base", "path": range(n), "period": "2026Q2", "firm": "oracle",
                           "event": "default", "amount": 1.0, "counterparty": "openai"})
    store = RunStore(sys.argv[1])
    print("writing", flush=True)
    for k in range(1000):
        store.record_run(deal_book="b", scenarios=["base"], paths=n, seed=k, summary={},
                         events=events, run_id=f"victim-{k}")
        print("committed", k, flush=True)
""")


def test_killed_writer_leaves_no_partial_record(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with RunStore(path) as store:
        store.record_run(deal_book="b", scenarios=["base"], paths=7, seed=0, summary={"keep": True},
                         events=_events(7), run_id="earlier")
    script = tmp_path / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.Popen([sys.executable, str(script), str(path), "3000000"],
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "writing"
    time.sleep(0.4)  # inside the first or a later transaction
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    committed = [line for line in proc.stdout.read().splitlines() if line.startswith("committed")]
    print("committed before the kill:", len(committed))

    with RunStore(path) as store:  # reopening replays the WAL and drops the torn transaction
        ids = {r.run_id for r in store.list_runs()}
        assert "earlier" in ids
        assert ids == {"earlier"} | {f"victim-{line.split()[1]}" for line in committed}
        record, summary, _ = store.run("earlier")
        assert summary == {"keep": True} and record.paths == 7
        per_run = dict(store._con.execute("SELECT run_id, count(*) FROM events GROUP BY run_id").fetchall())
        assert set(per_run) == ids  # no orphan rows of an unlisted run
        assert per_run["earlier"] == 7
        assert all(per_run[i] == 3_000_000 for i in ids - {"earlier"})
        store.record_run(deal_book="b", scenarios=["base"], paths=1, seed=9, summary={}, run_id="after")
