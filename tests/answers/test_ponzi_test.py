"""The Ponzi test on hand-built yearly funding and end revenue."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

from loopwatch.analysis.ponzi import FUNDING_SOURCES, ponzi_test
from loopwatch.model import DealBook

B = 1e9
YEARS = (2025, 2026, 2027, 2028)
PERIODS = [f"{y}Q{q}" for y in YEARS for q in (1, 2, 3, 4)]


def dataset(need: list[list[float]], revenue: list[list[float]], firms: tuple[str, ...] = ("loop",)) -> xr.Dataset:
    """Yearly need and revenue per path (spread evenly over quarters) on the first firm."""
    n = len(need)
    dims = ("path", "period", "firm")
    ds = xr.Dataset({k: (dims, np.zeros((n, 16, len(firms)))) for k in (*FUNDING_SOURCES, "revenue_end")},
                    coords={"path": np.arange(n), "period": PERIODS, "firm": list(firms)})
    ds["funding_equity"].values[:, :, 0] = np.repeat(np.array(need) / 4, 4, axis=1)
    ds["revenue_end"].values[:, :, 0] = np.repeat(np.array(revenue) / 4, 4, axis=1)
    return ds


def test_need_growing_faster_than_revenue_is_ponzi() -> None:
    t = ponzi_test(dataset([[1 * B, 2 * B, 4 * B, 8 * B]], [[10 * B, 12 * B, 14.4 * B, 17.28 * B]]))
    assert t.ponzi and t.verdict == "ponzi"
    assert t.need_growth == pytest.approx(1.0) and t.revenue_growth == pytest.approx(0.2)
    assert t.dependency_growth == pytest.approx(2.0 / 1.2 - 1) and "rises +66.7%/yr" in t.reason
    assert t.need_cagr == pytest.approx(1.0) and t.revenue_cagr == pytest.approx(0.2)
    assert t.window == list(YEARS)
    assert t.yearly["need"].tolist() == pytest.approx([1 * B, 2 * B, 4 * B, 8 * B])
    assert t.yearly["need_per_revenue"].iloc[0] == pytest.approx(0.1)
    assert t.share_of_paths == 1.0
    d = t.to_dict()
    assert d["verdict"] == "ponzi" and d["yearly"]["2028"]["need"] == 8 * B


def test_need_growing_slower_is_not_ponzi() -> None:
    t = ponzi_test(dataset([[4 * B, 5 * B, 6 * B, 7 * B]], [[10 * B, 20 * B, 40 * B, 80 * B]]))
    assert not t.ponzi and "falls" in t.reason
    assert t.need_growth < t.revenue_growth and t.dependency_growth < 0


def test_shrinking_need_against_faster_shrinking_revenue_is_ponzi() -> None:
    t = ponzi_test(dataset([[8 * B, 6 * B, 4.5 * B, 3.375 * B]], [[10 * B, 5 * B, 2.5 * B, 1.25 * B]]))
    assert t.need_growth == pytest.approx(-0.25) and t.revenue_growth == pytest.approx(-0.5)
    assert t.ponzi and t.dependency_growth == pytest.approx(0.5)


def test_need_that_stops_is_not_ponzi() -> None:
    t = ponzi_test(dataset([[1 * B, 3 * B, 9 * B, 0.0]], [[10 * B, 11 * B, 12 * B, 13 * B]]))
    assert t.window == [2025, 2026, 2027]
    assert t.need_growth == pytest.approx(2.0)
    assert not t.ponzi and "stops" in t.reason


def test_no_need_is_not_ponzi() -> None:
    t = ponzi_test(dataset([[0.0] * 4], [[10 * B] * 4]))
    assert not t.ponzi and t.window == [] and np.isnan(t.need_growth)
    assert t.to_dict()["need_growth"] is None


def test_share_of_paths_and_mean_verdict() -> None:
    # path 0: Ponzi; path 1: need shrinking; the mean need still grows faster than revenue
    t = ponzi_test(dataset([[1 * B, 2 * B, 4 * B, 8 * B], [2 * B, 1.5 * B, 1 * B, 0.5 * B]],
                           [[10 * B, 11 * B, 12 * B, 13 * B]] * 2))
    assert t.share_of_paths == 0.5
    assert t.ponzi


def test_only_core_firms_and_outside_contract_capital_count() -> None:
    firms = ("openai", "nvidia", "softbank")
    ds = dataset([[1 * B, 2 * B, 4 * B, 8 * B]], [[10 * B, 12 * B, 14 * B, 16 * B]], firms)
    ds["funding_debt"].values[:, :, 2] = 100 * B  # raised by a non-core firm: ignored
    contracts = ["sb-equity", "nvda-equity", "bank-loan"]
    paid = np.zeros((1, 16, 3))
    paid[0, 0, 0] = 3 * B   # SoftBank → OpenAI, outside: counted as contract equity in 2025
    paid[0, 4, 1] = 50 * B  # Nvidia → OpenAI, inside the loop: not counted
    paid[0, 8, 2] = 5 * B   # bank → Nvidia loan: contract debt in 2027
    ds["paid"] = (("path", "period", "contract"), paid)
    ds = ds.assign_coords(contract=contracts)
    book = DealBook.model_validate({
        "name": "t", "firms": [{"id": f, "name": f, "role": r} for f, r in
                               zip(firms, ("model_developer", "chip_vendor", "investor"), strict=True)]
        + [{"id": "bank", "name": "bank", "role": "lender"}],
        "contracts": [
            {"id": "sb-equity", "type": "equity_investment", "payer": "softbank", "payee": "openai",
             "amount": 3 * B, "schedule": {"start": "2025Q1"}},
            {"id": "nvda-equity", "type": "equity_investment", "payer": "nvidia", "payee": "openai",
             "amount": 50 * B, "schedule": {"start": "2026Q1"}},
            {"id": "bank-loan", "type": "loan", "payer": "bank", "payee": "nvidia",
             "amount": 5 * B, "schedule": {"start": "2027Q1"}, "maturity": "2028Q4"},
        ],
    })
    t = ponzi_test(SimpleNamespace(data=ds, book=book, scenario=SimpleNamespace(name="base")),
                   core=["openai", "nvidia"])
    assert t.scenario == "base" and t.core == ["openai", "nvidia"]
    assert t.yearly["contract_equity"].tolist() == pytest.approx([3 * B, 0, 0, 0])
    assert t.yearly["contract_debt"].tolist() == pytest.approx([0, 0, 5 * B, 0])
    assert t.yearly["need"].tolist() == pytest.approx([4 * B, 2 * B, 9 * B, 8 * B])


def test_partial_years_are_dropped_and_no_year_is_an_error() -> None:
    ds = dataset([[1 * B, 2 * B, 4 * B, 8 * B]], [[10 * B] * 4]).isel(period=slice(1, 16))
    assert ponzi_test(ds).yearly.index.tolist() == [2026, 2027, 2028]
    with pytest.raises(ValueError, match="complete calendar year"):
        ponzi_test(ds.isel(period=slice(0, 3)))
