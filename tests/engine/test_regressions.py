"""Cases hypothesis found, kept as plain examples."""

from __future__ import annotations

import numpy as np

from loopwatch.engine import simulate
from loopwatch.io import validate_deal_book, validate_scenario


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
    scenario = validate_scenario({
        "name": "lapse",
        "demand": {"default": {"growth": 0, "growth_decay": 0, "long_run_growth": 0,
                               "persistence": 0, "volatility": 0, "correlation": 0}},
        "credit": {"base_rate": 0, "spread": 0, "advance_compute": 0, "advance_receivables": 0,
                   "advance_loi": 0.25, "stress_response": 0, "refinance_share": 0,
                   "max_debt_to_revenue": 1, "recovery_assets": 0, "recovery_receivables": 0},
        "equity": {"sentiment_default": 0, "issuance_appetite": 0.0625, "stake_haircut": 0,
                   "price_volatility": 0},
        "rerent": {"spot_price": 0, "utilisation": 0},
    })
    d = simulate(book, scenario, paths=3, seed=11, variables="all").data
    assert (d["debt"].values >= -1e-12).all()
    np.testing.assert_allclose(d["debt"].values, d["world_debt"].values, atol=1e-12)
