"""LOI leverage: debt resting on unconverted letters of intent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loopwatch import load_deal_book
from loopwatch.analysis import flows_from_book, loi_dependencies, loi_leverage
from loopwatch.model import DealBook


def test_chain_through_depends_on_and_collateral(loop_book: DealBook) -> None:
    deps = loi_dependencies(loop_book)
    assert set(deps) == {"loi", "cc2", "proj"}
    assert deps["proj"] == (frozenset({"loi"}), "secured by cc2")
    assert deps["cc2"][1] == "depends on loi"


def test_leverage_figures(loop_book: DealBook) -> None:
    r = loi_leverage(loop_book)
    assert r.debt == pytest.approx(6e9) and r.debt_at_end == 0.0
    # binding compute, chips and equity due in 2025–2027: 4 + 24 + 8 + 10 + 3 bn
    assert r.binding_value == pytest.approx(49e9)
    assert r.end_revenue == pytest.approx(8e9)
    assert r.per_binding_dollar == pytest.approx(6 / 49)
    assert r.per_end_revenue_dollar == pytest.approx(0.75)
    assert r.loans.index.tolist() == ["proj"]
    assert r.loans.loc["proj", "lois"] == ("loi",)
    assert r.lois.loc["loi", "debt"] == pytest.approx(6e9)
    assert r.lois.loc["loi", "dependents"] == 2
    assert r.outstanding["2025Q2"] == 0 and r.outstanding["2025Q3"] == pytest.approx(6e9)
    assert r.outstanding["2027Q2"] == 0
    json.dumps(r.to_dict(), allow_nan=False)


def test_window_changes_what_is_outstanding(loop_book: DealBook) -> None:
    late = loi_leverage(loop_book, start="2027Q2")
    assert late.debt == 0.0
    mid = loi_leverage(loop_book, start="2026", end="2026")
    assert mid.debt == pytest.approx(6e9) and mid.debt_at_end == pytest.approx(6e9)
    assert mid.per_end_revenue_dollar == pytest.approx(0.75)


def test_flows_give_the_same_answer(loop_book: DealBook) -> None:
    f = flows_from_book(loop_book)
    a, b = loi_leverage(loop_book), loi_leverage(loop_book, flows=f)
    assert (a.debt, a.binding_value, a.end_revenue) == pytest.approx((b.debt, b.binding_value, b.end_revenue))
    # without legs, principal is what the lender paid
    no_legs = loi_leverage(loop_book, flows=f.drop(columns=["leg"]))
    assert no_legs.debt == pytest.approx(6e9)


def test_transitive_serves_and_backstop(build_book: Any) -> None:
    book = build_book(
        [{"id": "a", "role": "model_developer", "end_revenue": 4e9}, {"id": "b", "role": "cloud"},
         {"id": "v", "role": "chip_vendor"}, {"id": "bank", "role": "lender"}],
        [
            {"id": "loi", "type": "letter_of_intent", "payer": "a", "payee": "b", "amount": 20e9,
             "schedule": {"start": "2025Q1"}, "decision": "2025Q4"},
            {"id": "cc", "type": "compute_commitment", "payer": "a", "payee": "b", "amount": 20e9,
             "schedule": {"start": "2026Q1", "quarters": 4}, "depends_on": "loi"},
            {"id": "chips", "type": "chip_purchase", "payer": "b", "payee": "v", "amount": 8e9,
             "schedule": {"start": "2025Q3"}, "serves": "cc"},
            {"id": "l1", "type": "loan", "payer": "bank", "payee": "b", "amount": 5e9,
             "schedule": {"start": "2025Q2"}, "maturity": "2029Q4", "serves": "cc"},
            {"id": "l2", "type": "bond", "payer": "bank", "payee": "b", "amount": 3e9,
             "schedule": {"start": "2025Q2"}, "maturity": "2029Q4", "collateral": ["chips"]},
            {"id": "l3", "type": "loan", "payer": "bank", "payee": "b", "amount": 7e9,
             "schedule": {"start": "2025Q2"}, "maturity": "2029Q4",
             "collateral": ["compute_assets"]},
        ],
    )
    r = loi_leverage(book)
    assert set(r.loans.index) == {"l1", "l2"}
    assert r.loans.loc["l2", "via"] == "secured by chips"
    assert r.debt == pytest.approx(8e9)
    # binding: 20bn compute + 8bn chips
    assert r.per_binding_dollar == pytest.approx(8 / 28)
    assert r.per_end_revenue_dollar == pytest.approx(2.0)


def test_a_guarantee_on_an_loi_does_not_rest_on_it(build_book: Any) -> None:
    # a residual value guarantee pays if the renewal lapses: the bond it secures stands
    # on the guarantee, not on the renewal; a backstop on a commitment resting on an LOI
    # does rest on it
    book = build_book(
        [{"id": "a", "role": "model_developer", "end_revenue": 4e9}, {"id": "b", "role": "spv"},
         {"id": "g", "role": "investor"}, {"id": "bank", "role": "lender"}],
        [
            {"id": "renewal", "type": "letter_of_intent", "payer": "a", "payee": "b",
             "amount": 8e9, "schedule": {"start": "2026Q1", "quarters": 4},
             "decision": "2025Q4", "converts_to": "compute_commitment"},
            {"id": "rvg", "type": "backstop", "payer": "g", "payee": "b", "amount": 9e9,
             "covers": "renewal", "schedule": {"start": "2026Q1", "quarters": 4}},
            {"id": "bond", "type": "bond", "payer": "bank", "payee": "b", "amount": 5e9,
             "schedule": {"start": "2025Q2"}, "maturity": "2029Q4", "collateral": ["rvg"]},
            {"id": "cc", "type": "compute_commitment", "payer": "a", "payee": "b", "amount": 4e9,
             "schedule": {"start": "2026Q1", "quarters": 4}, "depends_on": "renewal"},
            {"id": "bk", "type": "backstop", "payer": "g", "payee": "b", "amount": 1e9,
             "covers": "cc", "schedule": {"start": "2026Q1", "quarters": 4}},
        ],
    )
    deps = loi_dependencies(book)
    assert "rvg" not in deps and "bond" not in deps
    assert deps["bk"] == (frozenset({"renewal"}), "covers cc")
    assert loi_leverage(book).debt == 0.0


def test_no_lois_no_leverage() -> None:
    r = loi_leverage(load_deal_book("three-party-loop"))
    assert r.debt == 0.0 and r.loans.empty and r.lois.empty
    assert r.per_binding_dollar == 0.0
