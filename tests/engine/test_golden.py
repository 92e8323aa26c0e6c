"""Golden tests: cash flows and a default cascade worked out by hand.

Every expected number below is arithmetic on the inputs, written out; the
engine must reproduce it to rounding.
"""

from __future__ import annotations

import numpy as np
import pytest

from loopwatch import load_deal_book
from loopwatch.engine import simulate
from loopwatch.io import validate_deal_book, validate_scenario

B = 1e9

# A deterministic scenario with flat demand and sentiment that cannot move:
# demand does not grow (growth = long-run growth = 0), the market expects no
# growth, maturing debt is repaid (no rollover).
FLAT = validate_scenario({
    "name": "flat", "deterministic": True,
    "demand": {"default": {"growth": 0.0, "long_run_growth": 0.0, "volatility": 0.0}},
    "credit": {"refinance_share": 0.0},
    "equity": {"growth_expectation": 0.0, "issuance_appetite": 0.02},
})


@pytest.fixture(scope="module")
def loop():
    book = load_deal_book("three-party-loop")
    return simulate(book, FLAT, paths=1, variables="all")


def test_three_party_loop_nvidia_cash_by_hand(loop):
    # Nvidia: non-loop revenue 160bn/yr = 40bn a quarter; Oracle pays 16bn for
    # chips over 2025 (4bn a quarter); opex = 0.4 × revenue; Q1 also pays the
    # 10bn equity investment in OpenAI.
    q1 = 40 + 40 + 4 - 0.4 * (40 + 4) - 10  # 56.4
    chips = 40 + 4 - 0.4 * 44  # +26.4 a quarter while the chips are delivered
    after = 40 - 0.4 * 40  # +24 a quarter afterwards
    expected = [q1, q1 + chips, q1 + 2 * chips, q1 + 3 * chips,
                q1 + 3 * chips + after, q1 + 3 * chips + 2 * after,
                q1 + 3 * chips + 3 * after, q1 + 3 * chips + 4 * after]
    got = loop.data["cash"].sel(firm="nvidia").isel(path=0).values / B
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert expected[-1] == pytest.approx(231.6)
    np.testing.assert_allclose(loop.data["revenue_loop"].sel(firm="nvidia").isel(path=0) / B,
                               [4, 4, 4, 4, 0, 0, 0, 0], atol=1e-9)


def test_three_party_loop_openai_cash_and_equity_by_hand(loop):
    # OpenAI: end customers pay 12bn/yr = 3bn a quarter, fixed opex 8bn/yr =
    # 2bn, the Oracle commitment is 40bn over 8 quarters = 5bn; Nvidia's 10bn
    # arrives in Q1. Burn = 3 - 2 - 5 = -4bn a quarter.
    cash = [10 + 3 - 2 - 5 + 10]  # 16
    for _ in range(7):
        cash.append(max(cash[-1] - 4, 0.0))
    assert cash == [16, 12, 8, 4, 0, 0, 0, 0]
    d = loop.data.isel(path=0).sel(firm="openai")
    np.testing.assert_allclose(d["cash"].values / B, cash, atol=1e-9)
    # from 2026Q2 the 4bn gap is raised as equity: 2% of a 300bn value (6bn) is available
    np.testing.assert_allclose(d["funding_equity"].values / B, [0, 0, 0, 0, 0, 4, 4, 4], atol=1e-9)
    # the value stays at the book's 300bn (flat revenue, neutral sentiment)
    np.testing.assert_allclose(d["market_value"].values / B, 300, rtol=1e-12)
    # Nvidia bought 10/300 of OpenAI post-money (worth 10bn at 300bn); each 4bn
    # issue at 300bn adds 4/300 to the share count, so the stake is diluted by
    # 300/304 each time
    stake = loop.data["stake_assets"].isel(path=0).sel(firm="nvidia").values / B
    np.testing.assert_allclose(stake, [10, 10, 10, 10, 10, 10 * (300 / 304),
                                       10 * (300 / 304) ** 2, 10 * (300 / 304) ** 3], rtol=1e-12)


def test_three_party_loop_oracle_cash_and_compute_by_hand(loop):
    # Oracle: non-loop 56bn/yr = 14bn, OpenAI pays 5bn: revenue 19bn, opex 0.6 ×
    # 19 = 11.4bn; chips 4bn a quarter in 2025; debt 90bn at 4 % on a 10-year
    # ladder (1/40 matures each quarter, no rollover in this scenario).
    debt, cash, expected = 90.0, 10.0, []
    for q in range(8):
        interest, principal = debt * 0.04 / 4, debt / 40
        cash += 14 + 5 - 11.4 - (4 if q < 4 else 0) - interest - principal
        debt -= principal
        expected.append(cash)
    assert expected[0] == pytest.approx(10.45)
    d = loop.data.isel(path=0).sel(firm="oracle")
    np.testing.assert_allclose(d["cash"].values / B, expected, rtol=1e-12)
    np.testing.assert_allclose(d["debt"].values / B, [90 * (39 / 40) ** (q + 1) for q in range(8)],
                               rtol=1e-12)
    # chips are compute assets depreciated over 5 years (0.2bn a quarter per 4bn
    # vintage, from the quarter after delivery); the build-out the commitment
    # implies (0.4 × 5bn a quarter = 16bn over 8 quarters) is covered by the
    # 16bn chip purchase that serves it, so there is no further capex
    np.testing.assert_allclose(d["compute_assets"].values / B,
                               [4, 7.8, 11.4, 14.8, 14.0, 13.2, 12.4, 11.6], rtol=1e-12)
    np.testing.assert_allclose(d["capex"].values / B, [4, 4, 4, 4, 0, 0, 0, 0], atol=1e-9)


def test_three_party_loop_is_closed(loop):
    d = loop.data.isel(path=0)
    total = d["cash_change"].sum("firm") + d["world_cash_change"]
    np.testing.assert_allclose(total.values, 0.0, atol=1e-3)
    # world: end customers + non-loop buyers pay in, opex and Oracle's debt service go out
    q1_world = -(3 + 40 + 14) + (0.4 * 44 + 2 + 11.4 + 0.9 + 2.25)
    assert float(d["world_cash_change"][0]) / B == pytest.approx(q1_world)
    assert not bool(d["defaulted"].any())


def _cascade_book():
    firms = [
        {"id": "dev", "name": "Developer", "role": "model_developer", "cash": 2e9},
        {"id": "cloud", "name": "Cloud", "role": "cloud", "cash": 1e9},
        {"id": "vendor", "name": "Vendor", "role": "chip_vendor", "cash": 0.5e9,
         "debt": 20e9, "debt_rate": 0.0, "debt_maturity_years": 1.0},
        {"id": "bystander", "name": "Bystander", "role": "investor", "cash": 5e9},
    ]
    contracts = [
        {"id": "dev-cloud", "type": "compute_commitment", "payer": "dev", "payee": "cloud",
         "amount": 40e9, "schedule": {"start": "2025Q1", "quarters": 4},
         "capex_intensity": 0.0, "lead_time": 0},
        {"id": "cloud-vendor", "type": "chip_purchase", "payer": "cloud", "payee": "vendor",
         "amount": 36e9, "schedule": {"start": "2025Q1", "quarters": 4}},
    ]
    return validate_deal_book({"name": "cascade", "start": "2025Q1", "horizon": "2025Q4",
                               "firms": firms, "contracts": contracts})


def _crunch(beta: float):
    # nobody can raise money: no collateral advances, no equity appetite
    return validate_scenario({
        "name": "crunch", "deterministic": True,
        "credit": {"advance_compute": 0, "advance_receivables": 0, "advance_loi": 0,
                   "refinance_share": 0, "recovery_assets": 1.0, "recovery_receivables": beta},
        "equity": {"issuance_appetite": 0},
    })


@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_default_cascade_order_and_recoveries_by_hand(beta):
    # 2025Q1. The developer owes the cloud 10bn (40bn over 4 quarters) and has
    # 2bn: it defaults first (round 0) and pays 2/10 of its claims.
    # The cloud counted on 10bn to pay the vendor 9bn; it gets 2bn, holds 1bn:
    # it defaults in round 1. In default it realises β of what it receives:
    # it pays (1 + β·2) / 9 of its claim.
    # The vendor owes the world 5bn (a quarter of its 20bn one-year ladder) and
    # had 0.5bn: short of what the cloud pays it, it defaults in round 2, when
    # all its 20bn of debt falls due: it pays (0.5 + β·paid_by_cloud) / 20.
    res = simulate(_cascade_book(), _crunch(beta), paths=1, variables="all")
    r_dev = 2 / 10
    r_cloud = (1 + beta * 2) / 9
    r_vendor = (0.5 + beta * 9 * r_cloud) / 20
    ev = res.events[res.events.event == "default"]
    assert ev[["firm", "period", "round"]].values.tolist() == [
        ["dev", "2025Q1", 0], ["cloud", "2025Q1", 1], ["vendor", "2025Q1", 2]]
    assert ev["amount"].tolist() == pytest.approx([10 * B, 9 * B, 20 * B])
    paid = res.data["paid"].isel(path=0, period=0)
    assert float(paid.sel(contract="dev-cloud")) / B == pytest.approx(10 * r_dev)
    assert float(paid.sel(contract="cloud-vendor")) / B == pytest.approx(9 * r_cloud)
    losses = res.data["losses"].isel(path=0) / B
    assert float(losses.sel(firm="cloud", counterparty="dev")) == pytest.approx(10 * (1 - r_dev))
    assert float(losses.sel(firm="vendor", counterparty="cloud")) == pytest.approx(9 * (1 - r_cloud))
    assert float(res.data["world_losses"].isel(path=0).sel(firm="vendor")) / B == pytest.approx(
        20 * (1 - r_vendor))
    mech = res.data["losses_by_mechanism"].isel(path=0) / B
    assert float(mech.sel(firm="cloud", mechanism="unpaid_contracts")) == pytest.approx(8)
    assert float(mech.sum()) == pytest.approx(10 * (1 - r_dev) + 9 * (1 - r_cloud))
    # the default period is recorded and absorbing; the bystander is untouched
    dp = res.data["default_period"].isel(path=0).to_series().to_dict()
    assert dp == {"dev": 0, "cloud": 0, "vendor": 0, "bystander": -1}
    assert bool(res.data["defaulted"].isel(path=0).sel(firm="vendor").all())
    # every defaulter's cash went to its creditors and, for β < 1, the world's
    # resolution costs: the system stays closed
    d = res.data.isel(path=0, period=0)
    assert float(d["cash"].sel(firm=["dev", "cloud", "vendor"]).sum()) == pytest.approx(0, abs=1)
    assert float(d["cash_change"].sum() + d["world_cash_change"]) == pytest.approx(0, abs=1e-3)
    assert float(d["world_cash_change"]) / B == pytest.approx(3.5)


def test_no_cascade_when_the_developer_can_pay():
    book = _cascade_book()
    rich = book.model_copy(update={"firms": (book.firms[0].model_copy(update={"cash": 50e9}),
                                             *book.firms[1:])})
    res = simulate(rich, _crunch(1.0), paths=1, variables=["cash"])
    assert (res.data["default_period"].values == -1).all()
    assert res.events[res.events.event == "default"].empty
