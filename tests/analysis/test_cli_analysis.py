"""``loopwatch cycles | trace | loi | warrants``: tables, pure JSON, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loopwatch.cli import main
from loopwatch.io import write_deal_book
from loopwatch.model import DealBook


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def book_path(tmp_path: Path, loop_book: DealBook) -> str:
    path = tmp_path / "loop.yaml"
    write_deal_book(loop_book, path)
    return str(path)


def test_cycles_table_and_json(capsys: pytest.CaptureFixture[str], book_path: str) -> None:
    code, out, _ = _run(capsys, "cycles", "three-party-loop", "--null", "10")
    assert code == 0 and "SCC 0 (3 firms)" in out and "$10B" in out and "nvidia →" in out
    code, out, _ = _run(capsys, "cycles", book_path, "--json", "--binding", "--null", "5",
                        "--end", "2026")
    data = json.loads(out)
    assert code == 0 and data["window"] == {"start": "2025Q1", "end": "2026Q4"}
    assert data["sccs"] == [["cloud", "dev", "vendor"]]
    assert data["significance"]["samples"] == 5


def test_trace_table_and_json(capsys: pytest.CaptureFixture[str], book_path: str) -> None:
    code, out, _ = _run(capsys, "trace", "three-party-loop")
    assert code == 0 and "round trip" in out and "nvidia" in out
    code, out, _ = _run(capsys, "trace", book_path, "--json", "--start", "2025", "--end", "2025")
    data = json.loads(out)
    vendor = next(f for f in data["firms"] if f["firm"] == "vendor")
    assert 0 < vendor["round_trip_share"] < 1
    assert abs(sum(vendor["revenue_origin"].values()) - 1) < 1e-9
    code, out, _ = _run(capsys, "trace", book_path, "--of", "network")
    assert code == 0 and "receipts from other firms" in out
    code, _, err = _run(capsys, "trace", book_path, "--of", "moon")
    assert code == 2 and "unknown" in err
    code, out, _ = _run(capsys, "trace", book_path, "--firm", "vendor", "--firm", "dev")
    assert code == 0 and "cloud" not in out.split("Origin")[0].split("┡")[1]


def test_loi_and_warrants(capsys: pytest.CaptureFixture[str], book_path: str) -> None:
    code, out, _ = _run(capsys, "loi", book_path)
    assert code == 0 and "$6B" in out and "secured by cc2" in out
    code, out, _ = _run(capsys, "loi", book_path, "--json")
    assert json.loads(out)["debt"] == pytest.approx(6e9)
    code, out, _ = _run(capsys, "warrants", "three-party-loop")
    assert code == 0 and "no warrants" in out
    code, out, _ = _run(capsys, "warrants", "--json", "--paths", "500")
    data = json.loads(out)
    assert code == 0 and data["book"] == "ai-compute-2025"
    assert all(w["value"] >= 0 for w in data["warrants"])


def test_default_book_commands(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["cycles", "--null", "5"], ["trace"], ["loi"], ["warrants", "--paths", "500"]):
        code, out, err = _run(capsys, *argv)
        assert code == 0, (argv, err)
        assert "ai-compute-2025" in out


def test_bad_input_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], book_path: str) -> None:
    code, _, err = _run(capsys, "cycles", book_path, "--type", "swap")
    assert code == 2 and "unknown contract type" in err and "Traceback" not in err
    code, _, err = _run(capsys, "trace", book_path, "--start", "2030", "--end", "2026")
    assert code == 2 and "empty window" in err
    code, _, err = _run(capsys, "loi", "no-such-book")
    assert code == 2 and "no such file" in err
    code, _, err = _run(capsys, "warrants", book_path, "--id", "nope")
    assert code == 2 and "no warrant" in err
