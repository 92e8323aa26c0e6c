"""One test per validation rule: each asserts its one-line message, file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopwatch import DealBookError, ScenarioError, load_deal_book, load_scenario
from loopwatch.cli import main

BASE = """\
name: t
start: 2025Q1
horizon: 2026Q4
firms:
  - id: a
    name: A
    role: cloud
    shares_outstanding: 100
    share_price: 10
  - id: b
    name: B
    role: model_developer
contracts:
  - id: c1
    type: compute_commitment
    payer: b
    payee: a
    amount: 10bn
    schedule: {start: 2025Q1, quarters: 4}
"""


def write(tmp_path: Path, extra: str = "", base: str = BASE) -> Path:
    path = tmp_path / "book.yaml"
    path.write_text(base + extra, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(DealBookError) as info:
        load_deal_book(path)
    return str(info.value).splitlines()


def only(path: Path) -> str:
    lines = problems(path)
    assert len(lines) == 1, lines
    return lines[0]


def test_valid_book_loads(tmp_path: Path) -> None:
    book = load_deal_book(write(tmp_path))
    assert book.contracts[0].amount == 10e9


def test_unknown_firm_reference(tmp_path: Path) -> None:
    path = write(tmp_path, """\
  - id: c2
    type: chip_purchase
    payer: a
    payee: nvidia
    amount: 1bn
    schedule: {start: 2025Q2}
""")
    assert only(path) == f"{path}:23: contracts[1].payee: unknown firm 'nvidia'"


def test_duplicate_ids(tmp_path: Path) -> None:
    path = write(tmp_path, """\
  - id: c1
    type: chip_purchase
    payer: a
    payee: b
    amount: 1bn
    schedule: {start: 2025Q2}
""")
    assert only(path) == f"{path}:20: contracts[1].id: duplicate contract id 'c1'"


def test_duplicate_firm_ids(tmp_path: Path) -> None:
    base = BASE.replace("  - id: b\n    name: B", "  - id: a\n    name: B")
    lines = problems(write(tmp_path, base=base))
    assert any("firms[1].id: duplicate firm id 'a'" in line for line in lines)


def test_negative_amount(tmp_path: Path) -> None:
    path = write(tmp_path, base=BASE.replace("amount: 10bn", "amount: -5bn"))
    assert only(path) == f"{path}:18: contracts[0].amount: negative value -5000000000.0 (must be ≥ 0)"


def test_unparsable_amount(tmp_path: Path) -> None:
    path = write(tmp_path, base=BASE.replace("amount: 10bn", "amount: ten billion"))
    assert only(path) == (
        f"{path}:18: contracts[0].amount: cannot read 'ten billion' as an amount "
        "(try '12.5bn' or '$300B')"
    )


def test_schedule_before_start(tmp_path: Path) -> None:
    path = write(tmp_path, base=BASE.replace("{start: 2025Q1, quarters: 4}", "{start: 2019Q1, quarters: 4}"))
    assert only(path) == f"{path}:19: contracts[0].schedule.start: 2019Q1 is before the book's start 2025Q1"


def test_schedule_past_horizon(tmp_path: Path) -> None:
    path = write(tmp_path, base=BASE.replace("quarters: 4}", "quarters: 12}"))
    assert only(path) == (
        f"{path}:19: contracts[0].schedule.quarters: schedule ends 2027Q4, after the book's horizon 2026Q4"
    )


def test_tranches_past_amount(tmp_path: Path) -> None:
    path = write(tmp_path, """\
  - id: eq
    type: equity_investment
    payer: a
    payee: b
    amount: 10bn
    schedule: {start: 2025Q1}
    tranches:
      - {amount: 6bn, at: 2025Q2}
      - {amount: 6bn, at: 2025Q3}
""")
    assert only(path) == (
        f"{path}:26: contracts[1].tranches: tranches sum to 12,000,000,000, more than the amount 10,000,000,000"
    )


def test_milestone_unknown_metric(tmp_path: Path) -> None:
    path = write(tmp_path, """\
  - id: eq
    type: equity_investment
    payer: a
    payee: b
    amount: 10bn
    schedule: {start: 2025Q1}
    tranches:
      - amount: 5bn
        at: 2025Q2
        conditions: [{metric: gw_dreamed, threshold: 1}]
""")
    line = only(path)
    assert line.startswith(f"{path}:29: contracts[1].tranches[0].conditions[0].metric: "
                           "milestone on unknown metric 'gw_dreamed' (known: gw_deployed")


def test_warrant_issuer_without_shares(tmp_path: Path) -> None:
    path = write(tmp_path, """\
  - id: w
    type: warrant
    payer: b
    payee: a
    amount: 1bn
    shares: 1000
    strike: 0.01
    schedule: {start: 2025Q1}
""")
    assert only(path) == f"{path}:22: contracts[1].payer: warrant issuer 'b' has no shares_outstanding"


def test_payer_is_payee(tmp_path: Path) -> None:
    path = write(tmp_path, base=BASE.replace("payer: b", "payer: a"))
    assert only(path) == f"{path}:17: contracts[0].payee: payer and payee are the same firm 'a'"


def test_malformed_yaml_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, base=BASE.replace("quarters: 4}", "quarters: 4"))
    line = only(path)
    assert line.startswith(f"{path}:20: <root>: malformed YAML: while parsing a flow mapping")
    assert line.endswith("(the construct starts on line 19)")


def test_unknown_field_and_missing_field(tmp_path: Path) -> None:
    path = write(tmp_path, base=BASE.replace("    name: B\n", "    nmae: B\n"))
    lines = problems(path)
    assert f"{path}:10: firms[1].name: required field is missing" in lines
    assert f"{path}:11: firms[1].nmae: unknown field" in lines


def test_unknown_contract_type(tmp_path: Path) -> None:
    path = write(tmp_path, base=BASE.replace("type: compute_commitment", "type: lease"))
    assert only(path).startswith(f"{path}:15: contracts[0].type: unknown contract type 'lease'")


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    bad = (BASE.replace("payee: a", "payee: zz").replace("amount: 10bn", "amount: -1")
           .replace("2025Q1, quarters", "2019Q1, quarters"))
    lines = problems(write(tmp_path, base=bad))
    assert len(lines) == 2  # the amount error stops that contract; the other item errors remain
    assert any("amount: negative" in line for line in lines)
    lines2 = problems(write(tmp_path, """\
  - id: c2
    type: chip_purchase
    payer: a
    payee: ghost
    amount: 1bn
    schedule: {start: 2019Q2}
  - id: c2
    type: chip_purchase
    payer: a
    payee: a
    amount: 1bn
    schedule: {start: 2025Q2}
""", base=BASE.replace("payee: a", "payee: zz")))
    assert len(lines2) == 5
    assert [int(line.split(":")[1]) for line in lines2] == sorted(int(line.split(":")[1]) for line in lines2)


def test_cli_validate_exit_status_and_no_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, base=BASE.replace("payee: a", "payee: zz"))
    assert main(["deals", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{path}:17: contracts[0].payee: unknown firm 'zz'" in err.replace("\n", "")
    assert main(["deals", "validate", str(write(tmp_path))]) == 0


def test_bad_scenario_reports_line(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: s\ncredit:\n  base_rate: -0.5\n  spred: 0.01\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    lines = str(info.value).splitlines()
    assert f"{path}:3: credit.base_rate: negative value -0.5 (must be ≥ 0)" in lines
    assert f"{path}:4: credit.spred: unknown field" in lines
