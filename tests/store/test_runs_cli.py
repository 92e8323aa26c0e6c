"""``loopwatch runs`` commands on a real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loopwatch.cli import main
from loopwatch.store import RunStore


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "s.duckdb"
    with RunStore(path) as s:
        s.record_run(deal_book="b", scenarios=["base"], paths=10, seed=1,
                     summary={"default_probability": {"base": {"oracle": 0.1}}}, run_id="r1")
        s.record_run(deal_book="b", scenarios=["base"], paths=10, seed=2,
                     summary={"default_probability": {"base": {"oracle": 0.3}}}, run_id="r2")
    return path


def test_list_show_compare_export(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "list", "--store", str(store), "--json"]) == 0
    assert {r["run_id"] for r in json.loads(capsys.readouterr().out)} == {"r1", "r2"}
    assert main(["runs", "show", "r1", "--store", str(store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["default_probability"]["base"]["oracle"] == 0.1
    assert main(["runs", "compare", "r1", "r2", "--store", str(store), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [{"key": "default_probability.base.oracle", "r1": 0.1, "r2": 0.3,
                     "difference": pytest.approx(0.2)}]
    assert main(["runs", "export", "r2", "--format", "xlsx", "-o", str(tmp_path / "x.xlsx"),
                 "--store", str(store)]) == 0
    assert (tmp_path / "x.xlsx").exists()


def test_missing_store_and_run_are_one_line_errors(store: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "show", "nope", "--store", str(store)]) == 2
    assert capsys.readouterr().err.strip() == f"{store}: no run 'nope'"
    assert main(["runs", "list", "--store", str(tmp_path / "none.duckdb")]) == 2
    assert "no run store here" in capsys.readouterr().err
