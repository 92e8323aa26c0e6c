"""Write → read round trips: a deal book written as YAML reads back equal."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from loopwatch.io import dump_deal_book, validate_deal_book
from loopwatch.io.yamlfile import read_yaml_text
from loopwatch.model import ContractType, DealBook, Metric, Period, Role, Status, parse_money

START, HORIZON = Period.parse("2025Q1"), Period.parse("2030Q4")
QUARTERS = HORIZON - START + 1

money = st.floats(min_value=0, max_value=5e12, allow_nan=False, allow_infinity=False)
share = st.floats(min_value=0, max_value=1, allow_nan=False)
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=20)


@st.composite
def books(draw: st.DrawFn) -> DealBook:
    n = draw(st.integers(2, 6))
    ids = [f"f{i}" for i in range(n)]
    firms = [
        {
            "id": fid,
            "name": draw(text),
            "role": draw(st.sampled_from(list(Role))).value,
            "cash": draw(money),
            "debt": draw(money),
            "shares_outstanding": draw(st.floats(1e6, 1e11)),
            "share_price": draw(st.floats(0.01, 5000)),
            "end_revenue": draw(money),
            "non_loop_growth": draw(st.floats(-0.5, 1)),
            "sources": [{"title": draw(text), "url": "https://example.org/x", "figures": ["cash"]}],
        }
        for fid in ids
    ]
    contracts: list[dict[str, Any]] = []
    for k in range(draw(st.integers(0, 10))):
        payer, payee = draw(st.lists(st.sampled_from(ids), min_size=2, max_size=2, unique=True))
        q = draw(st.integers(1, 8))
        start = START + draw(st.integers(0, QUARTERS - q))
        kind = draw(st.sampled_from(list(ContractType)))
        c: dict[str, Any] = {
            "id": f"c{k}", "type": kind.value, "payer": payer, "payee": payee,
            "amount": draw(money),
            "schedule": {"start": str(start), "quarters": q,
                         "shape": draw(st.sampled_from(["flat", "ramp", "bullet", "upfront"]))},
            "binding": draw(st.booleans()), "status": draw(st.sampled_from(list(Status))).value,
            "confidence": draw(share),
        }
        if kind in (ContractType.loan, ContractType.bond):
            c["maturity"] = str(start + draw(st.integers(q, 60)))
            c["rate"] = draw(st.floats(0, 0.2))
        if kind is ContractType.warrant:
            c["shares"] = draw(st.floats(1, 1e9))
            c["strike"] = draw(st.floats(0, 1000))
            c["tranches"] = [{"shares": c["shares"] / 2, "conditions": [
                {"metric": draw(st.sampled_from(list(Metric))).value, "threshold": draw(st.floats(0, 1e3))}]}]
        if kind is ContractType.letter_of_intent:
            c["decision"] = str(start)
        if kind is ContractType.equity_investment:
            c["tranches"] = [{"amount": c["amount"] / 3, "at": str(start)}]
        if kind is ContractType.compute_commitment:
            c["vendor_mix"] = {payer: 1.0}
        contracts.append(c)
    return validate_deal_book({"name": "gen", "start": str(START), "horizon": str(HORIZON),
                               "firms": firms, "contracts": contracts})


@settings(max_examples=60, deadline=None)
@given(books())
def test_written_book_reads_back_equal(book: DealBook) -> None:
    data, lines, problems = read_yaml_text(dump_deal_book(book), "roundtrip.yaml")
    assert problems == []
    assert validate_deal_book(data, file="roundtrip.yaml", lines=lines) == book


@given(st.floats(min_value=0, max_value=1e15, allow_nan=False))
def test_money_numbers_parse_to_themselves(x: float) -> None:
    assert parse_money(x) == x
    assert parse_money(repr(x)) == x


@given(st.integers(0, 10_000), st.sampled_from(["k", "M", "bn", "B", "T"]))
def test_money_suffixes(n: int, suffix: str) -> None:
    scale = {"k": 1e3, "M": 1e6, "bn": 1e9, "B": 1e9, "T": 1e12}[suffix]
    assert parse_money(f"${n}{suffix}") == n * scale


@given(st.integers(1990 * 4, 2100 * 4))
def test_period_text_round_trip(index: int) -> None:
    p = Period(index)
    assert Period.parse(str(p)) == p
