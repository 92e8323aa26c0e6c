"""Cases hypothesis found, kept as plain examples."""

from __future__ import annotations

from typing import Any

import numpy as np

from loopwatch.engine import simulate
from loopwatch.io import validate_deal_book, validate_scenario


def _quiet_scenario(*, advance_loi: float = 0.0, issuance_appetite: float = 0.0,
                    deterministic: bool = True) -> Any:
    """No growth, no shocks, no credit but what is asked for: every flow is worked by hand."""
    return validate_scenario({
        "name": "quiet", "deterministic": deterministic,
        "demand": {"default": {"growth": 0, "growth_decay": 0, "long_run_growth": 0,
                               "persistence": 0, "volatility": 0, "correlation": 0}},
        "credit": {"base_rate": 0, "spread": 0, "advance_compute": 0, "advance_receivables": 0,
                   "advance_loi": advance_loi, "stress_response": 0, "refinance_share": 0,
                   "max_debt_to_revenue": 1, "recovery_assets": 0, "recovery_receivables": 0},
        "equity": {"sentiment_default": 0, "issuance_appetite": issuance_appetite,
                   "stake_haircut": 0, "price_volatility": 0},
        "rerent": {"spot_price": 0, "utilisation": 0},
    })


def test_called_loi_credit_and_the_world_ladder_do_not_repay_one_dollar_twice() -> None:
    # f0 borrows 0.25 against an LOI (advance 25 %) to hold its 1.0 buffer; the LOI lapses in
    # 2025Q2 and its credit is called while the world ladder also amortises that same debt.
    # Before the fix, debt went to -0.0625 (called 0.25 + ladder 0.0625 on a 0.25 balance).
    book = validate_deal_book({
        "name": "lapse", "start": "2025Q1", "horizon": "2025Q4",
        "firms": [
            {"id": "f0", "name": "F0", "role": "chip_vendor", "valuation": 0, "opex_ratio": 0.5,
             "min_cash": 1.0, "useful_life_years": 1, "debt_maturity_years": 1},
            {"id": "f1", "name": "F1", "role": "chip_vendor", "public": True,
             "shares_outstanding": 1e8, "share_price": 1.0, "useful_life_years": 1,
             "debt_maturity_years": 1},
        ],
        "contracts": [
            {"id": "c0", "type": "chip_purchase", "payer": "f0", "payee": "f1", "amount": 0,
             "schedule": {"start": "2025Q1"}, "capacity_gw": 0, "useful_life_years": 1},
            {"id": "c5", "type": "letter_of_intent", "payer": "f1", "payee": "f0", "amount": 1,
             "schedule": {"start": "2025Q1"}, "confidence": 0, "depends_on": "c0",
             "converts_to": "compute_commitment", "decision": "2025Q2", "conversion_probability": 0},
            {"id": "c7", "type": "chip_purchase", "payer": "f1", "payee": "f0", "amount": 1,
             "schedule": {"start": "2025Q1"}, "confidence": 0, "depends_on": "c0",
             "capacity_gw": 0, "useful_life_years": 1},
        ],
    })
    scenario = _quiet_scenario(advance_loi=0.25, issuance_appetite=0.0625, deterministic=False)
    d = simulate(book, scenario, paths=3, seed=11, variables="all").data
    assert (d["debt"].values >= -1e-12).all()
    np.testing.assert_allclose(d["debt"].values, d["world_debt"].values, atol=1e-12)


def _supplier_book(*, binding: bool, take_or_pay: float) -> Any:
    # f0 (debt 1 due within the year, end revenue 1/yr) buys 1.0 of compute from f1 in
    # 2025Q2; f1 has no cash and a variable cost of ``opex_ratio`` × revenue
    return validate_deal_book({
        "name": "supplier", "start": "2025Q1", "horizon": "2025Q4",
        "firms": [
            {"id": "f0", "name": "F0", "role": "chip_vendor", "public": True,
             "shares_outstanding": 1e8, "share_price": 1.0, "debt": 1.0, "end_revenue": 1.0,
             "useful_life_years": 1, "debt_maturity_years": 1},
            {"id": "f1", "name": "F1", "role": "chip_vendor", "valuation": 0,
             "opex_ratio": 0.75, "useful_life_years": 1, "debt_maturity_years": 1},
        ],
        "contracts": [
            {"id": "c2", "type": "compute_commitment", "payer": "f0", "payee": "f1",
             "amount": 1.0, "schedule": {"start": "2025Q2"}, "binding": binding,
             "confidence": 1.0, "capacity_gw": 0, "take_or_pay": take_or_pay,
             "cancellation_penalty": 0, "capex_intensity": 0},
        ],
    })





def test_a_supplier_does_not_fail_on_the_cost_of_revenue_it_never_got() -> None:
    # With no demand f0 defaults at once, before the commitment starts: one default.
    # With demand f0 survives 2025Q1 and defaults in 2025Q2 owing f1 1.0 (paying 0:
    # recovery 0). f1's variable cost is owed only on what it is paid, so it survives.
    # Before the fix f1 owed 0.75 on the unpaid 1.0 and failed too (more demand, more
    # defaults); with take-or-pay 0.5 the cost was also charged on the cut half.
    for binding, top in ((True, 1.0), (False, 0.5)):
        book, sc = _supplier_book(binding=binding, take_or_pay=top), _quiet_scenario()
        counts = []
        for m in (0.0, 1.0, 2.0):
            d = simulate(book, sc, paths=1, demand_multiplier=m, variables=[], events=False).data
            counts.append(int((d["default_period"].values >= 0).sum()))
        assert counts == sorted(counts, reverse=True), (binding, counts)
        assert counts[0] == 1


def test_a_milestone_tranche_the_investor_cannot_fund_lapses_instead_of_bankrupting_it() -> None:
    # f2 (cash 1.0) owes f1 a 20.0 tranche once f1's annual end revenue reaches 12.0. With
    # demand × 0.5 (revenue 5) the milestone is never met: no default. With demand × 2
    # (revenue 20) it is met in 2025Q1 and the tranche falls due in 2025Q2: f2 funds what it
    # can (1.0) and the rest lapses. Before, f2 defaulted: more demand, more defaults.
    book = validate_deal_book({
        "name": "milestone", "start": "2025Q1", "horizon": "2025Q4",
        "firms": [
            {"id": "f1", "name": "F1", "role": "model_developer", "valuation": 50,
             "end_revenue": 10, "useful_life_years": 1, "debt_maturity_years": 1},
            {"id": "f2", "name": "F2", "role": "investor", "cash": 1.0,
             "useful_life_years": 1, "debt_maturity_years": 1},
        ],
        "contracts": [
            {"id": "c0", "type": "equity_investment", "payer": "f2", "payee": "f1",
             "amount": 20, "schedule": {"start": "2025Q1"},
             "tranches": [{"amount": 20, "at": "2025Q1",
                           "conditions": [{"metric": "end_revenue", "threshold": 12,
                                           "firm": "f1"}]}]},
        ],
    })
    sc = _quiet_scenario()
    counts = []
    for m in (0.5, 2.0):
        r = simulate(book, sc, paths=1, demand_multiplier=m, variables=["cash"])
        counts.append(int((r.data["default_period"].values >= 0).sum()))
        if m == 2.0:
            ev = r.events
            lapsed = ev[ev.event == "tranche_lapsed"]["amount"].sum()
            paid = ev[ev.event == "tranche_paid"]["amount"].sum()
            assert abs(paid - 1.0) < 1e-9 and abs(lapsed - 19.0) < 1e-9, (paid, lapsed)
    assert counts == [0, 0]


def test_a_chunk_with_no_events_leaves_the_events_tables_dtypes_alone() -> None:
    # hypothesis: on pandas 3 the text columns of a table built from object arrays are
    # ``str``, and joining an empty table with object columns (a chunk with no events)
    # made them object: a chunked run's events then differed from the same run in one chunk
    import pandas as pd

    from loopwatch.engine.events import EventLog, empty_events

    log = EventLog(True)
    log.add(0, "tranche_paid", np.array([[0.0, 2.0]]), firm=np.array([0]),
            counterparty=np.array([1]))
    one = log.frame(["2025Q1"], ["f0", "f1"])
    both = pd.concat([one, empty_events()], ignore_index=True)
    assert both.dtypes.to_dict() == one.dtypes.to_dict()
    assert both.equals(one)


def test_one_path_chunks_give_the_same_world_totals_on_a_book_of_many_firms() -> None:
    # numpy's ``sum(axis=0)`` adds pairwise along a contiguous axis: over 34 firms on a
    # one-path chunk, the world's loan assets differed in the last bit from the same path
    # in a larger chunk (totals over firms now add rows in order everywhere)
    from loopwatch import load_deal_book, load_scenario

    book, sc = load_deal_book("ai-compute-2025"), load_scenario("credit-crunch")
    kw: dict[str, Any] = {"paths": 4, "seed": 2, "variables": "all", "events": False}
    a, b = simulate(book, sc, chunk=1, **kw), simulate(book, sc, **kw)
    for name in a.data.data_vars:
        assert np.array_equal(a.data[name].values, b.data[name].values), name
