"""Warrant valuation: Galai–Schneller without conditions, vesting on GW and price hurdles."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from scipy.optimize import brentq

from loopwatch import load_deal_book
from loopwatch.analysis import black_scholes_call, value_warrant, value_warrants
from loopwatch.model import DealBook

N, M = 1.0e9, 1.0e8


def _book(build_book: Any, warrant: dict[str, Any], contracts: list[dict[str, Any]] = ()) -> DealBook:  # type: ignore[assignment]
    return build_book(
        [{"id": "vend", "role": "chip_vendor", "shares_outstanding": N, "share_price": 100.0},
         {"id": "dev", "role": "model_developer"}],
        [{"id": "w", "type": "warrant", "payer": "vend", "payee": "dev", "amount": 1e10,
          "schedule": {"start": "2025Q1"}, "shares": M, **warrant}, *contracts],
    )


@pytest.mark.parametrize(("strike", "vol"), [(30.0, 0.45), (100.0, 0.3), (0.01, 0.6)])
def test_no_conditions_is_galai_schneller(build_book: Any, strike: float, vol: float) -> None:
    book = _book(build_book, {"strike": strike, "expiry": "2026Q4"})
    v = value_warrant(book, paths=40_000, seed=11, volatility=vol, rate=0.04)
    # Galai & Schneller (1978): N/(N+M) × Black–Scholes on the pre-dilution value per share
    gs = M * N / (N + M) * black_scholes_call(100.0, strike, 2.0, 0.04, vol)
    assert abs(v.value - gs) < 4 * v.std_error
    assert v.dilution == pytest.approx(M / (N + M)) == v.expected_dilution
    assert v.tranches["vest_probability"].tolist() == [1.0]


def test_dilution_feedback_solves_the_hull_fixed_point(build_book: Any) -> None:
    book = _book(build_book, {"strike": 80.0, "expiry": "2026Q4"})
    v = value_warrant(book, paths=40_000, seed=5, volatility=0.4, dilution_feedback=True)
    k = N / (N + M)
    x = brentq(lambda s: s - 100.0 - M * k * black_scholes_call(s, 80.0, 2.0, 0.04, 0.4) / N, 100, 200)
    assert v.start_price == pytest.approx(x, rel=5e-3)
    assert abs(v.value - M * k * black_scholes_call(x, 80.0, 2.0, 0.04, 0.4)) < 4 * v.std_error
    plain = value_warrant(book, paths=40_000, seed=5, volatility=0.4)
    assert v.value > plain.value


def test_given_paths_are_used_exactly(build_book: Any) -> None:
    book = _book(build_book, {"strike": 10.0, "expiry": "2025Q4"})
    v = value_warrant(book, price_paths=np.full((3, 4), 100.0), rate=0.04)
    expect = M * N / (N + M) * 90.0 * math.exp(-0.04)
    assert v.value == pytest.approx(expect) and v.std_error == 0.0 and v.paths == 3
    with pytest.raises(ValueError, match="price_paths"):
        value_warrant(book, price_paths=np.full((3, 2), 100.0))


def test_gw_and_price_must_hold_together(build_book: Any) -> None:
    cond = lambda gw, px: [{"metric": "gw_bought", "threshold": gw, "vendor": "vend"},  # noqa: E731
                           {"metric": "share_price", "threshold": px}]
    book = _book(
        build_book,
        {"strike": 0.0, "expiry": "2026Q4",
         "tranches": [{"shares": 6e7, "conditions": cond(1, 150)},
                      {"shares": 4e7, "conditions": cond(2, 150)}]},
        [{"id": "chips", "type": "chip_purchase", "payer": "dev", "payee": "vend", "amount": 4e10,
          "capacity_gw": 2.0, "schedule": {"start": "2025Q1", "quarters": 4}}],
    )
    # GW bought: 0.5, 1, 1.5, 2, 2, ... at the quarter ends
    a = [160, 120, 120, 120, 160, 160, 160, 160]  # hurdle met again only in 2026Q1
    b = [160, 160, 100, 100, 100, 100, 100, 100]  # 1 GW with the price up in 2025Q2; never 2 GW
    v = value_warrant(book, price_paths=np.array([a, b], dtype=float), rate=0.0)
    assert v.tranches["vest_probability"].tolist() == [1.0, 0.5]
    assert v.tranches["median_vesting"].tolist() == ["2025Q2", "2026Q1"]
    pay_a = 1e8 * N / (N + 1e8) * 160.0
    pay_b = 6e7 * N / (N + 6e7) * 100.0
    assert v.value == pytest.approx((pay_a + pay_b) / 2)
    assert v.tranches["value"].sum() == pytest.approx(v.value)
    assert v.order is None and v.implied_discount is None
    # a given GW schedule replaces the book's
    late = value_warrant(book, price_paths=np.array([a, b], dtype=float), gw={"2026Q2": 3.0})
    assert late.tranches["vest_probability"].tolist() == [0.5, 0.5]


def test_lois_vest_on_the_paths_where_they_convert(build_book: Any) -> None:
    book = _book(
        build_book,
        {"strike": 0.01, "expiry": "2027Q4", "order": "first",
         "tranches": [{"shares": M, "conditions": [{"metric": "gw_bought", "threshold": 3,
                                                    "vendor": "vend"}]}]},
        [{"id": "first", "type": "chip_purchase", "payer": "dev", "payee": "vend", "amount": 1e10,
          "capacity_gw": 1.0, "schedule": {"start": "2025Q1"}},
         {"id": "more", "type": "letter_of_intent", "payer": "dev", "payee": "vend",
          "amount": 3e10, "capacity_gw": 3.0, "schedule": {"start": "2026Q1", "quarters": 4},
          "decision": "2025Q4", "converts_to": "chip_purchase", "conversion_probability": 0.3}],
    )
    assert value_warrant(book, paths=2000, loi_conversion=0.0).value == 0.0
    always = value_warrant(book, paths=2000, loi_conversion=1.0)
    assert always.tranches.loc[0, "vest_probability"] == 1.0
    assert always.tranches.loc[0, "median_vesting"] == "2026Q3"  # 1 + 3 × 2/4 GW
    own = value_warrant(book, paths=4000, seed=2)
    assert own.tranches.loc[0, "vest_probability"] == pytest.approx(0.3, abs=0.03)
    assert own.order_value == 1e10 and own.implied_discount == pytest.approx(own.value / 1e10)
    assert own.programme_value == 4e10
    assert own.programme_discount == pytest.approx(own.value / 4e10)
    again = value_warrant(book, paths=4000, seed=2)
    assert again.value == own.value
    json.dumps(own.to_dict(), allow_nan=False)


def test_errors(build_book: Any) -> None:
    book = _book(build_book, {"strike": 1.0})
    with pytest.raises(ValueError, match="no warrant 'x'"):
        value_warrant(book, "x")
    with pytest.raises(ValueError, match="has no warrant"):
        value_warrant(load_deal_book("three-party-loop"))
    bare = build_book([{"id": "vend", "role": "chip_vendor"}, {"id": "dev", "role": "model_developer"}],
                      [{"id": "w", "type": "warrant", "payer": "vend", "payee": "dev", "amount": 0,
                        "schedule": {"start": "2025Q1"}, "shares": 1.0, "strike": 0.0}])
    with pytest.raises(ValueError, match="shares_outstanding"):
        value_warrant(bare)


def test_black_scholes_reference_values() -> None:
    # Hull's textbook example: S=42, K=40, r=10 %, σ=20 %, T=0.5 → 4.76
    assert black_scholes_call(42, 40, 0.5, 0.10, 0.20) == pytest.approx(4.7594, abs=1e-4)
    assert black_scholes_call(100, 0, 1, 0.05, 0.2) == 100
    assert black_scholes_call(100, 90, 0, 0.05, 0.2) == 10


def test_bundled_book_warrants_run() -> None:
    book = load_deal_book("ai-compute-2025")
    values = value_warrants(book, paths=2000, seed=1)
    assert all(v.value >= 0 and 0 < v.dilution < 1 for v in values)
    amd = [v for v in values if v.issuer == "amd"]
    if amd:  # the equity-for-orders case the seed describes
        assert amd[0].shares == pytest.approx(160e6)
        assert amd[0].dilution == pytest.approx(160e6 / (book.firm("amd").shares_outstanding + 160e6))
