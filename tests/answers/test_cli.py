"""The answer commands: Rich output, and pure JSON on stdout with --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loopwatch.cli import main
from loopwatch.io import load_deal_book, write_deal_book
from loopwatch.model import DealBook

BOOK = "three-party-loop"


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main([*args, "--json"]) == 0
    out = capsys.readouterr().out
    return json.loads(out)  # the whole of stdout is one JSON document


def test_minsky_json(capsys: pytest.CaptureFixture[str]) -> None:
    d = run_json(capsys, "minsky", BOOK, "-s", "base", "--paths", "20", "--seed", "1")
    assert d["book"] == BOOK and d["paths"] == 20 and len(d["periods"]) == 8
    shares = d["shares"]["openai"]
    assert set(shares) == {"hedge", "speculative", "ponzi", "defaulted"}
    assert all(abs(sum(s[i] for s in shares.values()) - 1) < 1e-5 for i in range(8))


def test_ponzi_test_json(capsys: pytest.CaptureFixture[str]) -> None:
    d = run_json(capsys, "ponzi-test", BOOK, "--scenarios", "base", "--paths", "20")
    t = d["scenarios"]["base"]
    assert t["verdict"] in ("ponzi", "not ponzi") and t["reason"]
    assert set(t["yearly"]) == {"2025", "2026"}
    assert d["references"][0]["id"] == "morgan-stanley-gap"


def test_break_even_json(capsys: pytest.CaptureFixture[str]) -> None:
    d = run_json(capsys, "break-even", BOOK, "--paths", "10", "--tol", "0.05")
    assert d["target_year"] == 2026  # the book ends in 2026
    assert d["tolerance"] == 0.05 and d["iterations"] >= 1
    lo, hi = d["bracket"]
    assert hi - lo <= 0.05 and d["probability_no_core_default"] >= 0.95


def test_amplification_json(capsys: pytest.CaptureFixture[str]) -> None:
    d = run_json(capsys, "amplification", BOOK, "--paths", "10", "--shock-size", "-0.5",
                 "--shock-period", "2025Q3")
    assert d["replaced_links"] == ["nvda-openai-equity"]
    assert set(d["metrics"]) == {"loop_revenue", "market_value", "losses", "outside_losses"}


def test_stress_json_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    d = run_json(capsys, "stress", BOOK, "-s", "base", "--paths", "30")
    assert list(d["scenarios"]) == ["base"]
    s = d["scenarios"]["base"]
    assert set(s["firms"]) == {"nvidia", "openai", "oracle"}
    assert set(s["losses_by_mechanism"]) == {"unpaid_contracts", "stakes", "loans", "stranded_capacity"}
    assert main(["stress", BOOK, "-s", "base", "--paths", "30"]) == 0
    assert "Stress set" in capsys.readouterr().out


def test_rich_output_of_each_command(capsys: pytest.CaptureFixture[str]) -> None:
    for args, marker in (
        (["minsky", BOOK, "--paths", "10"], "System Ponzi share"),
        (["ponzi-test", BOOK, "-s", "base", "--paths", "10"], "Ponzi test"),
        (["break-even", BOOK, "--paths", "10", "--tol", "0.1", "--target-year", "2026"], "Bain"),
        (["amplification", BOOK, "--paths", "10"], "Amplification"),
    ):
        assert main(args) == 0, args
        assert marker in capsys.readouterr().out


def test_counterfactual_writes_a_valid_book(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cf.yaml"
    assert main(["counterfactual", BOOK, "-o", str(out)]) == 0
    assert "nvda-openai-equity" in capsys.readouterr().out
    cf = load_deal_book(out)
    assert cf.contract("nvda-openai-equity").payer == "outside_investors"
    d = run_json(capsys, "counterfactual", BOOK)
    assert d["links"][0]["route"] == ["openai", "oracle", "nvidia"]
    assert d["deal_book"]["name"] == "three-party-loop-counterfactual"
    assert main(["counterfactual", BOOK]) == 0
    assert capsys.readouterr().out.startswith("name: three-party-loop-counterfactual")


def test_no_break_even_names_the_firms_that_still_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a builder with no revenue owes a bullet loan: no end demand saves it
    book = DealBook.model_validate({"name": "doomed", "start": "2025Q1", "horizon": "2026Q4", "firms": [
        {"id": "dev", "name": "Dev", "role": "model_developer", "end_revenue": 10e9, "cash": 1e9},
        {"id": "builder", "name": "Builder", "role": "spv"},
        {"id": "bank", "name": "Bank", "role": "lender", "cash": 50e9},
    ], "contracts": [
        {"id": "loan", "type": "loan", "payer": "bank", "payee": "builder", "amount": 20e9, "rate": 0.05,
         "schedule": {"start": "2025Q1"}, "maturity": "2025Q4"},
    ]})
    path = tmp_path / "doomed.yaml"
    write_deal_book(book, path)
    scenario = tmp_path / "tight.yaml"
    scenario.write_text("name: tight\ncredit: {refinance_share: 0, advance_compute: 0, advance_receivables: 0}\n"
                        "equity: {issuance_appetite: 0}\n")
    d = run_json(capsys, "break-even", str(path), "-s", str(scenario), "--paths", "4", "--target-year", "2026")
    assert d["converged"] is False and d["multiplier"] is None
    assert d["core_default_probability_at_max"] == {"builder": 1.0}
    assert main(["break-even", str(path), "-s", str(scenario), "--paths", "4", "--target-year", "2026"]) == 0
    assert "No break-even" in capsys.readouterr().out


def test_bad_input_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stress", BOOK, "-s", "no-such-scenario", "--paths", "2"]) == 2
    err = capsys.readouterr().err
    assert "no-such-scenario" in err and "Traceback" not in err
    assert main(["amplification", BOOK, "--shock-kind", "meteor"]) == 2
    assert main(["break-even", BOOK, "--target-year", "2030", "--paths", "2"]) == 2
    assert "outside the run" in capsys.readouterr().err
