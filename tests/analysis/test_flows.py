"""flows_from_book: schedules into quarterly flows, closed by the outside world."""

from __future__ import annotations

import math
from typing import Any

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from loopwatch import load_deal_book
from loopwatch.analysis import WORLD, as_flows, filter_flows, flows_from_book
from loopwatch.analysis.flows import COLUMNS, Window, resolve_window
from loopwatch.model import DealBook, Period


def _balance(f: pd.DataFrame) -> dict[str, float]:
    firms = set(f.payer) | set(f.payee)
    return {x: float(f.loc[f.payee == x, "amount"].sum() - f.loc[f.payer == x, "amount"].sum())
            for x in firms if not x.startswith("world:")}


def test_columns_types_and_order(loop_book: DealBook) -> None:
    f = flows_from_book(loop_book)
    assert list(f.columns) == list(COLUMNS)
    assert f["amount"].dtype == np.float64 and f["binding"].dtype == bool
    assert (f["amount"] > 0).all()
    assert list(f["period"]) == sorted(f["period"], key=Period.parse)
    world = f[f.contract.isna()]
    assert set(world.kind) <= {"end_revenue", "non_loop_revenue", "opening_cash", "outside_equity",
                               "outside_debt", "interest", "opex", "closing_cash"}


def test_contract_amounts_follow_schedules(loop_book: DealBook) -> None:
    f = flows_from_book(loop_book)
    cc = f[f.contract == "cc"]
    assert len(cc) == 12 and cc.amount.sum() == pytest.approx(24e9)
    assert cc.amount.tolist() == pytest.approx([2e9] * 12)
    assert f[f.contract == "chips"].period.tolist() == ["2025Q1", "2025Q2", "2025Q3", "2025Q4"]
    # LOIs, warrants and backstops move no cash by default
    assert "loi" not in set(f.contract.dropna())


def test_every_firm_budget_closes(loop_book: DealBook) -> None:
    for window in [(None, None), ("2025", "2025"), ("2026Q2", "2027Q1")]:
        f = flows_from_book(loop_book, start=window[0], end=window[1])
        for firm, residual in _balance(f).items():
            assert abs(residual) < 1e-3, (window, firm, residual)


def test_loan_legs(loop_book: DealBook) -> None:
    f = flows_from_book(loop_book, world=False)
    proj = f[f.contract == "proj"]
    draw = proj[proj.leg == "drawdown"]
    assert draw[["period", "payer", "payee"]].values.tolist() == [["2025Q3", "bank", "cloud"]]
    interest = proj[proj.leg == "interest"]
    # 6bn at 8 % a year, quarterly from the quarter after the drawdown to maturity
    assert interest.period.tolist() == [str(Period.parse("2025Q4") + k) for k in range(7)]
    assert interest.amount.tolist() == pytest.approx([6e9 * 0.08 / 4] * 7)
    assert (interest.payer == "cloud").all()
    repay = proj[proj.leg == "repayment"]
    assert repay.period.tolist() == ["2027Q2"] and repay.amount.sum() == pytest.approx(6e9)
    term = f[(f.contract == "term") & (f.leg == "repayment")]
    assert len(term) == 7 and term.amount.sum() == pytest.approx(2e9)
    assert term.amount.tolist() == pytest.approx([2e9 / 7] * 7)
    # interest falls as the linear loan amortises
    ti = f[(f.contract == "term") & (f.leg == "interest")].amount.to_numpy()
    assert np.all(np.diff(ti) < 0)


def test_contingent_types_on_request(loop_book: DealBook) -> None:
    f = flows_from_book(loop_book, include="all", world=False)
    loi = f[f.contract == "loi"]
    assert loi.amount.sum() == pytest.approx(50e9) and not loi.binding.any()
    assert set(loi.status) == {"announced"}
    only = flows_from_book(loop_book, include=["letter_of_intent"], world=False)
    assert set(only.contract) == {"loi"}
    with pytest.raises(ValueError, match="unknown contract type"):
        flows_from_book(loop_book, include=["swap"])


def test_binding_and_status_filters(loop_book: DealBook) -> None:
    f = flows_from_book(loop_book, include="all", binding=False, world=False)
    assert set(f.contract) == {"loi"}
    f = flows_from_book(loop_book, status="announced", world=False)
    assert set(f.contract) == {"vc"}
    with pytest.raises(ValueError, match="unknown status"):
        flows_from_book(loop_book, status="maybe")


def test_outside_funding_by_role_and_capital_structure(loop_book: DealBook) -> None:
    f = flows_from_book(loop_book)
    raised = f[f.kind.isin(["outside_equity", "outside_debt"])]
    by = raised.groupby(["payee", "kind"]).amount.sum()
    # the lender funds its loans with outside debt only, the investor with outside equity
    # (less than the 8bn it lends: the term loan's early repayments fund part of the project loan)
    assert 6e9 < by.get(("bank", "outside_debt"), 0) < 8e9
    assert ("bank", "outside_equity") not in by.index
    assert by.get(("fund", "outside_equity"), 0) == pytest.approx(3e9)
    # the developer has no debt: all equity; the cloud splits by debt / (debt + value) = 0.25
    assert ("dev", "outside_debt") not in by.index and by[("dev", "outside_equity")] > 0
    if ("cloud", "outside_equity") in by.index:
        share = by[("cloud", "outside_debt")] / (by[("cloud", "outside_debt")] + by[("cloud", "outside_equity")])
        assert share == pytest.approx(0.25)


def test_credit_facility_is_drawn_first(build_book: Any) -> None:
    book = build_book(
        [{"id": "a", "role": "cloud", "credit_facility": 1e9, "valuation": 10e9},
         {"id": "b", "role": "chip_vendor"}],
        [{"id": "c", "type": "chip_purchase", "payer": "a", "payee": "b", "amount": 3e9,
          "schedule": {"start": "2025Q1"}}],
    )
    f = flows_from_book(book)
    assert f[(f.payee == "a") & (f.kind == "outside_debt")].amount.sum() == pytest.approx(1e9)
    assert f[(f.payee == "a") & (f.kind == "outside_equity")].amount.sum() == pytest.approx(2e9)


def test_opening_cash_is_carried_into_a_later_window(loop_book: DealBook) -> None:
    full = flows_from_book(loop_book)
    late = flows_from_book(loop_book, start="2026")
    assert set(late.period) <= {str(Period.parse("2026Q1") + k) for k in range(8)}
    open_late = late[late.kind == "opening_cash"].set_index("payee").amount
    # vendor's cash at the start of 2026 = its 2025 flows through the closing of 2025
    v25 = flows_from_book(loop_book, end="2025")
    closing = v25[v25.kind == "closing_cash"].set_index("payer").amount
    for firm in open_late.index:
        assert open_late[firm] == pytest.approx(closing[firm])
    assert full[full.kind == "opening_cash"].period.unique().tolist() == ["2025Q1"]


def test_flat_end_revenue_unless_grown(loop_book: DealBook) -> None:
    f = flows_from_book(loop_book)
    end = f[f.kind == "end_revenue"].amount
    assert end.tolist() == pytest.approx([2e9] * 12)
    g = flows_from_book(loop_book, end_revenue_growth=0.5)
    grown = g[g.kind == "end_revenue"].amount.to_numpy()
    assert grown[4] == pytest.approx(2e9 * 1.5) and grown[8] == pytest.approx(2e9 * 2.25)


def test_bundled_three_party_loop() -> None:
    f = flows_from_book(load_deal_book("three-party-loop"))
    assert f.loc[f.kind == "equity_investment", "amount"].sum() == pytest.approx(10e9)
    assert all(abs(r) < 1e-3 for r in _balance(f).values())
    assert WORLD.OPEX in set(f.payee) and WORLD.END_CUSTOMERS in set(f.payer)


def test_resolve_window() -> None:
    d = Window(Period.parse("2025Q1"), Period.parse("2032Q4"))
    w = resolve_window(2026, "2027", default=d)
    assert (str(w.start), str(w.end), w.quarters, w.years) == ("2026Q1", "2027Q4", 8, 2.0)
    assert str(resolve_window(None, "2028Q2", default=d)) == "2025Q1–2028Q2"
    with pytest.raises(ValueError, match="empty window"):
        resolve_window("2030", "2029", default=d)
    with pytest.raises(ValueError):
        resolve_window("20x", None, default=d)


def test_filter_flows_checks_and_windows(build_flows: Any) -> None:
    f = build_flows([("world:end_customers", "a", 5.0), ("a", "b", 5.0), ("b", "world:opex", 5.0)])
    f2 = f.assign(period="2025Q2")
    both = pd.concat([f, f2], ignore_index=True)
    out, win = filter_flows(both, start="2025Q2")
    assert str(win) == "2025Q2–2025Q2" and len(out) == 3
    # pandas periods work as labels
    pp = both.assign(period=[pd.Period(p, freq="Q") for p in both.period])
    assert len(filter_flows(pp, end="2025Q1")[0]) == 3
    with pytest.raises(ValueError, match="lacks column"):
        filter_flows(f.drop(columns=["kind"]))
    with pytest.raises(ValueError, match="negative"):
        filter_flows(f.assign(amount=-1.0))
    with pytest.raises(ValueError, match="empty"):
        filter_flows(f.iloc[0:0])
    # world rows pass contract filters
    kept, _ = filter_flows(f, include=["chip_purchase"])
    assert len(kept) == 2
    with pytest.raises(TypeError):
        as_flows("book")  # type: ignore[arg-type]


# --- property: any small random book closes every budget ------------------------------

_ROLES = ["chip_vendor", "cloud", "model_developer", "investor", "lender", "spv"]


@st.composite
def books(draw: st.DrawFn) -> DealBook:
    n = draw(st.integers(2, 5))
    firms = [{"id": f"f{i}", "name": f"f{i}", "role": draw(st.sampled_from(_ROLES)),
              "cash": draw(st.floats(0, 1e10)), "debt": draw(st.floats(0, 1e10)),
              "valuation": draw(st.floats(1, 1e11)), "min_cash": draw(st.floats(0, 1e9)),
              "end_revenue": draw(st.floats(0, 1e10)), "non_loop_revenue": draw(st.floats(0, 1e10)),
              "opex_fixed": draw(st.floats(0, 1e10)), "opex_ratio": draw(st.floats(0, 1.5))}
             for i in range(n)]
    contracts = []
    for k in range(draw(st.integers(0, 8))):
        a, b = draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True))
        kind = draw(st.sampled_from(["compute_commitment", "chip_purchase", "equity_investment",
                                     "loan", "bond", "letter_of_intent", "backstop"]))
        c: dict[str, Any] = {
            "id": f"c{k}", "type": kind, "payer": f"f{a}", "payee": f"f{b}",
            "amount": draw(st.floats(0, 1e11)),
            "schedule": {"start": str(Period.parse("2024Q3") + draw(st.integers(0, 16))),
                         "quarters": draw(st.integers(1, 12)),
                         "shape": draw(st.sampled_from(["flat", "ramp", "bullet", "upfront"]))},
        }
        if kind in ("loan", "bond"):
            c["maturity"] = str(Period.parse("2025Q1") + draw(st.integers(0, 24)))
            c["amortisation"] = draw(st.sampled_from(["bullet", "linear"]))
        if kind == "letter_of_intent":
            c["decision"] = "2026Q1"
        contracts.append(c)
    return DealBook.model_validate({"name": "h", "start": "2025Q1", "horizon": "2027Q4",
                                    "firms": firms, "contracts": contracts})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=books(), include=st.sampled_from(["money", "all"]), end=st.sampled_from([None, "2026"]))
def test_property_budgets_close(book: DealBook, include: str, end: str | None) -> None:
    f = flows_from_book(book, include=include, end=end)
    assert np.isfinite(f.amount).all() and (f.amount > 0).all()
    labels = {str(Period.parse("2025Q1") + k) for k in range(12)}
    assert set(f.period) <= labels
    for firm, residual in _balance(f).items():
        scale = max(1.0, f.loc[(f.payer == firm) | (f.payee == firm), "amount"].sum())
        assert abs(residual) <= 1e-9 * scale, (firm, residual)
    # closing cash never below zero and opening cash at the window's first quarter
    assert (f.loc[f.kind == "opening_cash", "period"] == "2025Q1").all()
    assert math.isfinite(float(f.amount.sum()))
