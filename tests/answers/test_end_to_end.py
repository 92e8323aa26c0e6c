"""The answers through the engine, on small hand-built books whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from loopwatch.analysis import (
    MinskyClass,
    amplification,
    break_even,
    counterfactual_book,
    minsky_classes,
    ponzi_test,
    stress,
)
from loopwatch.engine import simulate
from loopwatch.io import load_deal_book
from loopwatch.model import DealBook, Scenario, Shock

B = 1e9

FLAT = {"growth": 0, "long_run_growth": 0, "volatility": 0}
NO_FUNDING = {"credit": {"advance_compute": 0, "advance_receivables": 0, "advance_loi": 0},
              "equity": {"issuance_appetite": 0}}


def test_income_never_covering_interest_is_ponzi_every_quarter() -> None:
    book = DealBook.model_validate({"name": "p", "start": "2025Q1", "horizon": "2027Q4", "firms": [
        # interest 10bn a year against income 5bn: Ponzi, but the cash pile keeps it alive
        {"id": "borrower", "name": "Borrower", "role": "cloud", "cash": 1e12, "debt": 100 * B,
         "debt_rate": 0.10, "debt_maturity_years": 100, "non_loop_revenue": 5 * B},
        {"id": "solid", "name": "Solid", "role": "cloud", "cash": 1 * B, "debt": 10 * B,
         "debt_rate": 0.05, "debt_maturity_years": 100, "non_loop_revenue": 50 * B},
    ]})
    res = minsky_classes(simulate(book, Scenario(name="s"), paths=8, seed=3))
    assert (res.classes.sel(firm="borrower").values == MinskyClass.ponzi).all()
    assert (res.classes.sel(firm="solid").values == MinskyClass.hedge).all()
    assert float(res.share("borrower", MinskyClass.ponzi).min()) == 1.0
    # the borrower owes 100bn of the system's 110bn
    np.testing.assert_allclose(res.system_ponzi_share.values[:, 0], 100 / 110, rtol=1e-3)


def one_contract_book(revenue: float, amount: float, quarters: int) -> DealBook:
    return DealBook.model_validate({"name": "one", "start": "2025Q1", "horizon": "2030Q4", "firms": [
        {"id": "dev", "name": "Dev", "role": "model_developer", "end_revenue": revenue},
        {"id": "cloud", "name": "Cloud", "role": "cloud"},
    ], "contracts": [
        {"id": "cc", "type": "compute_commitment", "payer": "dev", "payee": "cloud", "amount": amount,
         "schedule": {"start": "2025Q1", "quarters": quarters}, "capex_intensity": 0, "lead_time": 0},
    ]})


@pytest.mark.parametrize("deterministic", [False, True])
def test_break_even_of_a_one_contract_book_is_its_closed_form(deterministic: bool) -> None:
    # a developer without cash, credit or equity must pay amount/quarters each quarter
    # from end revenue m × revenue / 4: m* = 4 × amount / (quarters × revenue)
    revenue, amount, quarters = 30 * B, 80 * B, 8
    closed = 4 * amount / (quarters * revenue)
    scenario = Scenario.model_validate({"name": "flat", "demand": {"default": FLAT}, **NO_FUNDING})
    r = break_even(one_contract_book(revenue, amount, quarters), scenario, paths=16, seed=5,
                   tol=0.005, deterministic=deterministic)
    assert closed <= r.multiplier <= closed + 0.005
    assert r.lower < closed and r.multiplier - r.lower <= 0.005
    assert r.probability == 1.0 and r.probability_lower == 0.0
    assert r.core == ["dev", "cloud"]  # no cycle: every firm must survive
    assert r.iterations == math.ceil(math.log2(1 / 0.005)) and r.evaluations == r.iterations + 2
    assert r.end_revenue == pytest.approx(r.multiplier * revenue)
    assert r.cagr == pytest.approx((r.multiplier * revenue / revenue) ** (1 / 5) - 1)
    assert {x["id"] for x in r.to_dict()["references"]} == {"bain-2030", "sequoia-600b"}


def test_break_even_zero_when_nothing_is_owed() -> None:
    scenario = Scenario.model_validate({"name": "flat", "demand": {"default": FLAT}, **NO_FUNDING})
    book = one_contract_book(30 * B, 0.0, 8)
    r = break_even(book, scenario, paths=4, seed=0)
    assert r.multiplier == 0.0 and r.probability == 1.0 and r.trials[-1] == (0.0, 1.0, 4)


def test_coarse_bracketing_gives_a_full_path_bracket_with_fewer_full_runs() -> None:
    book, scenario = load_deal_book("three-party-loop"), Scenario(name="s")
    plain = break_even(book, scenario, paths=2000, seed=7, target_year=2026, coarse=False)
    fast = break_even(book, scenario, paths=2000, seed=7, target_year=2026)
    assert plain.coarse_paths == 0 and fast.coarse_paths == 250
    for r in (plain, fast):
        full = {m: p for m, p, n in r.trials if n == 2000}
        assert full[r.multiplier] >= 0.95 > full[r.lower]  # both ends evaluated on every path
        assert r.multiplier - r.lower <= r.tolerance
    # p(m) on 2000 common paths crosses 95 % once: both searches find the same crossing
    assert abs(fast.multiplier - plain.multiplier) <= plain.tolerance
    assert fast.evaluations < plain.evaluations
    assert fast.to_dict()["coarse"]["evaluations"] == fast.coarse_evaluations > 0


def test_no_vendor_financing_means_amplification_one() -> None:
    q = {"start": "2025Q1", "quarters": 8}
    book = DealBook.model_validate({"name": "plain", "start": "2025Q1", "horizon": "2026Q4", "firms": [
        {"id": "dev", "name": "Dev", "role": "model_developer", "cash": 5 * B, "end_revenue": 20 * B,
         "valuation": 100 * B, "opex_ratio": 0.2},
        {"id": "cloud", "name": "Cloud", "role": "cloud", "cash": 5 * B, "public": True,
         "shares_outstanding": 1e9, "share_price": 50, "non_loop_revenue": 10 * B},
        {"id": "vendor", "name": "Vendor", "role": "chip_vendor", "cash": 5 * B, "public": True,
         "shares_outstanding": 1e9, "share_price": 100, "non_loop_revenue": 20 * B},
        {"id": "fund", "name": "Fund", "role": "investor", "cash": 20 * B},
    ], "contracts": [
        {"id": "dev-cloud", "type": "compute_commitment", "payer": "dev", "payee": "cloud",
         "amount": 30 * B, "schedule": q, "vendor_mix": {"vendor": 1.0}, "capex_intensity": 0.5},
        {"id": "fund-dev", "type": "equity_investment", "payer": "fund", "payee": "dev",
         "amount": 5 * B, "schedule": {"start": "2025Q2"}},
    ]})
    assert counterfactual_book(book).contracts == book.contracts
    a = amplification(book, Scenario(name="s"), paths=40, seed=2)
    assert a.links == []
    responding = a.table[a.table["response_counterfactual"] != 0]
    assert "market_value" in responding.index
    np.testing.assert_array_equal(responding["amplification"].to_numpy(), 1.0)


def test_amplification_runs_both_books_on_the_same_shock() -> None:
    book = load_deal_book("three-party-loop")
    shock = Shock(kind="demand", period="2025Q3", size=-0.5)
    a = amplification(book, Scenario(name="s"), shock=shock, paths=20, seed=1)
    assert a.links == ["nvda-openai-equity"]
    t = a.table
    assert list(t.index) == ["loop_revenue", "market_value", "losses", "outside_losses"]
    np.testing.assert_allclose(t["response_circular"], t["circular_shocked"] - t["circular_base"])
    assert t.loc["market_value", "response_circular"] < 0  # a demand cut lowers values
    d = a.to_dict()
    assert d["shock"]["shocks"][0]["size"] == -0.5 and set(d["metrics"]) == set(t.index)


def test_demand_far_above_commitments_has_no_defaults() -> None:
    book = load_deal_book("three-party-loop")
    rich = Scenario.model_validate({"name": "boom", "demand": {"default": {"level": 500 * B, "volatility": 0.3}}})
    s = stress(book, [rich], paths=200, seed=4).scenarios["boom"]
    assert s.any_default == 0.0 and s.first_to_fail is None
    assert (s.default_probability == 0).all()
    assert s.mechanism_totals.sum() == 0.0


def test_ponzi_test_through_the_engine() -> None:
    # a developer whose commitments outgrow a flat end revenue must raise ever more
    book = DealBook.model_validate({"name": "gap", "start": "2025Q1", "horizon": "2028Q4", "firms": [
        {"id": "dev", "name": "Dev", "role": "model_developer", "end_revenue": 20 * B, "valuation": 500 * B},
        {"id": "cloud", "name": "Cloud", "role": "cloud", "cash": 100 * B},
    ], "contracts": [
        {"id": "cc", "type": "compute_commitment", "payer": "dev", "payee": "cloud", "amount": 200 * B,
         "schedule": {"start": "2025Q1", "quarters": 16, "shape": "ramp"}, "capex_intensity": 0},
    ]})
    scenario = Scenario.model_validate({"name": "flat", "demand": {"default": FLAT},
                                        "equity": {"issuance_appetite": 0.5}})
    res = simulate(book, scenario, paths=4, seed=0)
    t = ponzi_test(res)
    assert t.core == ["dev", "cloud"]
    assert t.ponzi, t.reason
    assert t.yearly["end_revenue"].tolist() == pytest.approx([20 * B] * 4)
    assert t.need_growth > 0 and t.revenue_growth == pytest.approx(0.0, abs=1e-9)
    assert t.yearly["need"].is_monotonic_increasing


def test_minsky_tail_commitments_beyond_the_horizon() -> None:
    book = one_contract_book(30 * B, 80 * B, 8).model_copy(update={"horizon": "2025Q4"})
    book = DealBook.model_validate(book.model_dump())
    res = simulate(book, Scenario(name="s"), paths=2, seed=0, variables=[
        "revenue_end", "revenue_loop", "revenue_non_loop", "opex", "interest_due",
        "commitments_due", "principal_due", "defaulted", "debt"])
    with_book = minsky_classes(res)
    without = minsky_classes(res.data)
    # 40bn fall due after 2025Q4 and count toward what the developer owes
    last = dict(period="2025Q4", firm="dev")
    assert float(with_book.obligations.sel(**last).max() - without.obligations.sel(**last).max()) == pytest.approx(40 * B)
