"""A DuckDB file holding runs, their parameters, per-firm-quarter quantiles and events.

Location: ``--store PATH``, else ``$LOOPWATCH_STORE``, else
``$XDG_DATA_HOME/loopwatch/runs.duckdb`` (``~/.local/share/loopwatch/runs.duckdb``).

Atomicity: a run is written inside one DuckDB transaction; the ``runs`` row
is inserted last, and readers list only runs present in ``runs``. A process
killed part-way leaves an uncommitted transaction that DuckDB's write-ahead
log discards on the next open, so no partial record appears and earlier runs
are untouched (``tests/store/test_kill.py`` kills a real writer to check).

Tables::

    runs(run_id, created_at, deal_book, scenarios, paths, seed, version, summary JSON)
    parameters(run_id, key, value)
    quantiles(run_id, scenario, firm, period, variable, mean, q05, q25, q50, q75, q95)
    events(run_id, scenario, path, period, firm, event, amount, counterparty)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopwatch.errors import StoreError

if TYPE_CHECKING:  # pandas loads only when a table is read or written
    import pandas as pd

__all__ = ["DEFAULT_STORE_ENV", "RunRecord", "RunStore", "default_store_path"]

DEFAULT_STORE_ENV = "LOOPWATCH_STORE"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, created_at TIMESTAMP, deal_book VARCHAR, scenarios VARCHAR,
    paths BIGINT, seed BIGINT, version VARCHAR, summary JSON);
CREATE TABLE IF NOT EXISTS parameters (run_id VARCHAR, key VARCHAR, value VARCHAR);
CREATE TABLE IF NOT EXISTS quantiles (
    run_id VARCHAR, scenario VARCHAR, firm VARCHAR, period VARCHAR, variable VARCHAR,
    mean DOUBLE, q05 DOUBLE, q25 DOUBLE, q50 DOUBLE, q75 DOUBLE, q95 DOUBLE);
CREATE TABLE IF NOT EXISTS events (
    run_id VARCHAR, scenario VARCHAR, path BIGINT, period VARCHAR, firm VARCHAR, event VARCHAR,
    amount DOUBLE, counterparty VARCHAR);
"""
QUANTILE_COLUMNS = ["scenario", "firm", "period", "variable", "mean", "q05", "q25", "q50", "q75", "q95"]
EVENT_COLUMNS = ["scenario", "path", "period", "firm", "event", "amount", "counterparty"]


def default_store_path() -> Path:
    """``$LOOPWATCH_STORE``, else ``$XDG_DATA_HOME/loopwatch/runs.duckdb``."""
    env = os.environ.get(DEFAULT_STORE_ENV)
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "loopwatch" / "runs.duckdb"


@dataclass(frozen=True)
class RunRecord:
    """One row of ``runs``."""

    run_id: str
    created_at: dt.datetime
    deal_book: str
    scenarios: str
    paths: int
    seed: int
    version: str


class RunStore:
    """An embedded DuckDB run store.

    Parameters
    ----------
    path : path-like, optional
        The DuckDB file (created with its folder if missing). Default
        :func:`default_store_path`.
    read_only : bool
        Open without write access (listing, showing, exporting).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with RunStore(pathlib.Path(tempfile.mkdtemp()) / "r.duckdb") as store:
    ...     rid = store.record_run(deal_book="b", scenarios=["base"], paths=10, seed=0,
    ...                            summary={"ok": True}, parameters={"paths": 10})
    ...     [r.run_id for r in store.list_runs()] == [rid]
    True
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, read_only: bool = False) -> None:
        import duckdb

        self.path = Path(path) if path is not None else default_store_path()
        try:
            if not read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            elif not self.path.exists():
                raise StoreError(f"{self.path}: no run store here (run `loopwatch run` first)")
            self._con = duckdb.connect(str(self.path), read_only=read_only)
            if not read_only:
                self._con.execute(_SCHEMA)
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: cannot open run store: {exc}") from None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._con.close()

    # -- writing -------------------------------------------------------------------------------

    def record_run(
        self,
        *,
        deal_book: str,
        scenarios: list[str],
        paths: int,
        seed: int,
        summary: Mapping[str, Any],
        parameters: Mapping[str, Any] | None = None,
        quantiles: pd.DataFrame | None = None,
        events: pd.DataFrame | None = None,
        version: str | None = None,
        run_id: str | None = None,
    ) -> str:
        """Write one run atomically and return its id.

        ``quantiles`` has columns :data:`QUANTILE_COLUMNS`, ``events``
        :data:`EVENT_COLUMNS`. Everything lands in one transaction, the
        ``runs`` row last.
        """
        import duckdb

        from loopwatch import __version__

        created = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        summary_text = json.dumps(summary, sort_keys=True, default=str)
        if run_id is None:
            digest = hashlib.sha1(f"{created.isoformat()}{summary_text}".encode()).hexdigest()[:6]
            run_id = f"{created:%Y%m%d-%H%M%S}-{digest}"
        con = self._con
        try:
            con.execute("BEGIN TRANSACTION")
            if parameters:
                rows = [(run_id, str(k), json.dumps(v, default=str)) for k, v in parameters.items()]
                con.executemany("INSERT INTO parameters VALUES (?, ?, ?)", rows)
            for table, frame, cols in (("quantiles", quantiles, QUANTILE_COLUMNS),
                                       ("events", events, EVENT_COLUMNS)):
                if frame is not None and len(frame):
                    missing = set(cols) - set(frame.columns)
                    if missing:
                        raise StoreError(f"{table}: missing columns {sorted(missing)}")
                    staged = frame[cols].copy()
                    staged.insert(0, "run_id", run_id)
                    con.register("_staged", staged)
                    con.execute(f"INSERT INTO {table} SELECT * FROM _staged")
                    con.unregister("_staged")
            con.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, created, deal_book, ",".join(scenarios), int(paths), int(seed),
                 version or __version__, summary_text],
            )
            con.execute("COMMIT")
        except BaseException as exc:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass
            if isinstance(exc, duckdb.Error):
                raise StoreError(f"{self.path}: could not record run: {exc}") from None
            raise
        return run_id

    # -- reading -------------------------------------------------------------------------------

    def list_runs(self, *, limit: int | None = None) -> list[RunRecord]:
        """Runs, newest first."""
        sql = ("SELECT run_id, created_at, deal_book, scenarios, paths, seed, version FROM runs "
               "ORDER BY created_at DESC, run_id DESC")
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [RunRecord(*row) for row in self._con.execute(sql).fetchall()]

    def resolve(self, run_id: str) -> str:
        """The full id of a run given its id or a unique prefix (or ``latest``)."""
        if run_id == "latest":
            row = self._con.execute("SELECT run_id FROM runs ORDER BY created_at DESC, run_id DESC LIMIT 1").fetchone()
            if row is None:
                raise StoreError(f"{self.path}: the store has no runs")
            return str(row[0])
        rows = self._con.execute("SELECT run_id FROM runs WHERE starts_with(run_id, ?)", [run_id]).fetchall()
        if not rows:
            raise StoreError(f"{self.path}: no run {run_id!r}")
        if len(rows) > 1:
            raise StoreError(f"{self.path}: {run_id!r} matches {len(rows)} runs; give more of the id")
        return str(rows[0][0])

    def run(self, run_id: str) -> tuple[RunRecord, dict[str, Any], dict[str, Any]]:
        """``(record, summary, parameters)`` of one run."""
        rid = self.resolve(run_id)
        row = self._con.execute(
            "SELECT run_id, created_at, deal_book, scenarios, paths, seed, version, summary FROM runs WHERE run_id = ?",
            [rid]).fetchone()
        assert row is not None
        params = {k: json.loads(v) for k, v in self._con.execute(
            "SELECT key, value FROM parameters WHERE run_id = ? ORDER BY key", [rid]).fetchall()}
        return RunRecord(*row[:7]), json.loads(row[7]), params

    def table(self, name: str, run_id: str) -> pd.DataFrame:
        """One run's rows of ``quantiles``, ``events`` or ``parameters``."""
        if name not in ("quantiles", "events", "parameters"):
            raise StoreError(f"unknown table {name!r}")
        rid = self.resolve(run_id)
        frame: pd.DataFrame = self._con.execute(f"SELECT * FROM {name} WHERE run_id = ?", [rid]).df()
        return frame

    def export(self, run_id: str, out: str | os.PathLike[str], *, fmt: str) -> list[Path]:
        """Export a run: ``parquet`` (a folder with one file per table) or ``xlsx`` (one sheet per table)."""
        import pandas as pd

        rid = self.resolve(run_id)
        record, summary, params = self.run(rid)
        frames = {
            "run": pd.DataFrame([{**record.__dict__, "summary": json.dumps(summary)}]),
            "parameters": pd.DataFrame([{"key": k, "value": json.dumps(v)} for k, v in params.items()]),
            "quantiles": self.table("quantiles", rid),
            "events": self.table("events", rid),
        }
        target = Path(out)
        if fmt == "parquet":
            target.mkdir(parents=True, exist_ok=True)
            written = []
            for name, frame in frames.items():
                path = target / f"{name}.parquet"
                frame.to_parquet(path, index=False)
                written.append(path)
            return written
        if fmt == "xlsx":
            with pd.ExcelWriter(target, engine="openpyxl") as xl:
                for name, frame in frames.items():
                    frame.to_excel(xl, sheet_name=name, index=False)
            return [target]
        raise StoreError(f"unknown export format {fmt!r} (parquet or xlsx)")
