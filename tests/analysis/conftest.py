"""Small deal books and flows tables for the analysis tests."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from loopwatch.model import DealBook


def make_book(firms: list[dict[str, Any]], contracts: list[dict[str, Any]], **extra: Any) -> DealBook:
    """A validated deal book from plain dicts (firms need only id and role)."""
    data = {
        "name": "t",
        "start": "2025Q1",
        "horizon": "2027Q4",
        "firms": [{"name": f["id"], **f} for f in firms],
        "contracts": contracts,
        **extra,
    }
    return DealBook.model_validate(data)


def flows(rows: list[tuple[str, str, float]], kind: str = "compute_commitment") -> pd.DataFrame:
    """A one-quarter flows table from (payer, payee, amount) rows; world rows get world kinds."""
    world_kind = {
        "world:end_customers": "end_revenue",
        "world:non_loop": "non_loop_revenue",
        "world:equity": "outside_equity",
        "world:debt": "outside_debt",
        "world:opening_cash": "opening_cash",
    }
    out = []
    for payer, payee, amount in rows:
        if payer.startswith("world:"):
            k = world_kind[payer]
        elif payee.startswith("world:"):
            k = "opex"
        else:
            k = kind
        contract = None if "world:" in payer + payee else f"{payer}-{payee}"
        out.append({"period": "2025Q1", "payer": payer, "payee": payee, "amount": amount,
                    "kind": k, "binding": True, "status": None, "contract": contract,
                    "leg": "payment" if contract else k})
    return pd.DataFrame(out)


@pytest.fixture
def loop_book() -> DealBook:
    """Vendor → developer equity, developer → cloud compute, cloud → vendor chips; an LOI and loans."""
    return make_book(
        [
            {"id": "vendor", "role": "chip_vendor", "cash": 10e9, "non_loop_revenue": 40e9,
             "opex_ratio": 0.5, "debt": 0, "shares_outstanding": 1e9, "share_price": 100},
            {"id": "dev", "role": "model_developer", "cash": 2e9, "end_revenue": 8e9,
             "opex_fixed": 4e9},
            {"id": "cloud", "role": "cloud", "cash": 1e9, "non_loop_revenue": 20e9,
             "opex_ratio": 0.7, "debt": 30e9, "valuation": 90e9, "debt_rate": 0.05},
            {"id": "bank", "role": "lender"},
            {"id": "fund", "role": "investor"},
        ],
        [
            {"id": "eq", "type": "equity_investment", "payer": "vendor", "payee": "dev",
             "amount": 4e9, "schedule": {"start": "2025Q1", "shape": "upfront"}},
            {"id": "cc", "type": "compute_commitment", "payer": "dev", "payee": "cloud",
             "amount": 24e9, "schedule": {"start": "2025Q1", "quarters": 12}},
            {"id": "chips", "type": "chip_purchase", "payer": "cloud", "payee": "vendor",
             "amount": 8e9, "schedule": {"start": "2025Q1", "quarters": 4}, "capacity_gw": 1.0,
             "serves": "cc"},
            {"id": "loi", "type": "letter_of_intent", "payer": "dev", "payee": "cloud",
             "amount": 50e9, "schedule": {"start": "2026Q1", "quarters": 8},
             "decision": "2025Q4", "converts_to": "compute_commitment", "status": "announced"},
            {"id": "cc2", "type": "compute_commitment", "payer": "dev", "payee": "cloud",
             "amount": 10e9, "schedule": {"start": "2026Q1", "quarters": 8}, "depends_on": "loi",
             "binding": True},
            {"id": "proj", "type": "loan", "payer": "bank", "payee": "cloud", "amount": 6e9,
             "schedule": {"start": "2025Q3"}, "maturity": "2027Q2", "rate": 0.08,
             "collateral": ["cc2"]},
            {"id": "term", "type": "loan", "payer": "bank", "payee": "cloud", "amount": 2e9,
             "schedule": {"start": "2025Q1"}, "maturity": "2026Q4", "rate": 0.06,
             "amortisation": "linear"},
            {"id": "vc", "type": "equity_investment", "payer": "fund", "payee": "dev",
             "amount": 3e9, "schedule": {"start": "2025Q2", "shape": "upfront"},
             "status": "announced"},
        ],
    )


@pytest.fixture
def build_book() -> Any:
    """:func:`make_book`, as a fixture (test modules cannot import conftest)."""
    return make_book


@pytest.fixture
def build_flows() -> Any:
    """:func:`flows`, as a fixture."""
    return flows
