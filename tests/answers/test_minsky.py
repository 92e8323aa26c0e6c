"""Minsky classification on hand-built arrays whose classes are known."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from loopwatch.analysis.minsky import MinskyClass, classify, minsky_classes

B = 1e9
FLOWS = ("revenue_end", "revenue_loop", "revenue_non_loop", "opex", "interest_due",
         "commitments_due", "principal_due", "debt")


def dataset(paths: int = 1, periods: int = 8, firms: tuple[str, ...] = ("a",), **values: object) -> xr.Dataset:
    """A (path, period, firm) dataset: every flow zero unless given (scalar or array)."""
    dims = ("path", "period", "firm")
    shape = (paths, periods, len(firms))
    ds = xr.Dataset(coords={
        "path": np.arange(paths),
        "period": [f"{2025 + q // 4}Q{q % 4 + 1}" for q in range(periods)],
        "firm": list(firms),
    })
    for name in (*FLOWS, "defaulted"):
        v = values.get(name, 0)
        ds[name] = (dims, np.broadcast_to(np.asarray(v, dtype=bool if name == "defaulted" else float), shape).copy())
    return ds


def names(codes: np.ndarray) -> list[str]:
    return [MinskyClass(int(c)).name for c in np.ravel(codes)]


def test_income_never_covering_interest_is_ponzi_every_quarter() -> None:
    ds = dataset(revenue_end=3 * B, opex=2 * B, interest_due=1.5 * B, debt=100 * B)
    res = minsky_classes(ds)
    assert names(res.classes.values) == ["ponzi"] * 8
    assert res.share("a", MinskyClass.ponzi).values.tolist() == [1.0] * 8
    assert res.system_ponzi_share.values.tolist() == [[1.0] * 8]


@pytest.mark.parametrize(
    ("income", "interest", "commitments", "principal", "expected"),
    [
        (10, 1, 1, 3, "hedge"),          # 10 ≥ 5
        (5, 1, 1, 3, "hedge"),           # exactly covers full: hedge
        (4, 1, 1, 3, "speculative"),     # 2 ≤ 4 < 5
        (2, 1, 1, 3, "speculative"),     # exactly covers carrying
        (1.9, 1, 1, 3, "ponzi"),         # 1.9 < 2
        (1, 0, 2, 0, "ponzi"),           # commitments count like interest (lease payments)
        (3, 0, 2, 5, "speculative"),
        (-1, 0, 0, 0, "hedge"),          # nothing owed: hedge even with losses
        (0, 0, 0, 0, "hedge"),
    ],
)
def test_thresholds(income: float, interest: float, commitments: float, principal: float, expected: str) -> None:
    ds = dataset(revenue_non_loop=income * B, interest_due=interest * B,
                 commitments_due=commitments * B, principal_due=principal * B)
    assert names(minsky_classes(ds).classes.values) == [expected] * 8


def test_opex_is_netted_and_revenue_sources_add() -> None:
    ds = dataset(revenue_end=1 * B, revenue_loop=2 * B, revenue_non_loop=3 * B, opex=4 * B,
                 interest_due=1 * B, principal_due=0.5 * B)
    # income 2 ≥ full 1.5
    assert set(names(minsky_classes(ds).classes.values)) == {"hedge"}
    ds["opex"] = ds["opex"] + 0.8 * B  # income 1.2: speculative
    assert set(names(minsky_classes(ds).classes.values)) == {"speculative"}


def test_trailing_four_quarter_window() -> None:
    # income 4 a quarter except a loss of 10 in Q3; interest 3 a quarter
    income = np.array([4, 4, -10, 4, 4, 4, 4, 4], float)[None, :, None] * B
    ds = dataset(revenue_non_loop=income, interest_due=3 * B)
    res = minsky_classes(ds)
    # trailing sums of income: 4, 8, -2, 2, 2, 2, 16, 16; of interest: 3, 6, 9, 12, 12, 12, 12, 12
    np.testing.assert_allclose(res.income.values[0, :, 0] / B, [4, 8, -2, 2, 2, 2, 16, 16])
    np.testing.assert_allclose(res.carrying.values[0, :, 0] / B, [3, 6, 9, 12, 12, 12, 12, 12])
    assert names(res.classes.values) == ["hedge", "hedge", "ponzi", "ponzi", "ponzi", "ponzi", "hedge", "hedge"]


def test_defaulted_is_its_own_class_and_leaves_the_system_share() -> None:
    defaulted = np.zeros((1, 8, 2), bool)
    defaulted[0, 4:, 0] = True
    ds = dataset(firms=("weak", "strong"), defaulted=defaulted,
                 revenue_end=np.array([1.0, 10.0]) * B, interest_due=np.array([2.0, 1.0]) * B,
                 debt=np.array([30.0, 10.0]) * B)
    res = minsky_classes(ds)
    assert names(res.classes.sel(firm="weak").values) == ["ponzi"] * 4 + ["defaulted"] * 4
    assert names(res.classes.sel(firm="strong").values) == ["hedge"] * 8
    # weights: debt 30 and 10 -> 0.75 while weak is alive, 0 after
    np.testing.assert_allclose(res.system_ponzi_share.values[0], [0.75] * 4 + [0.0] * 4)
    shares = res.shares.sum("minsky_class").values
    np.testing.assert_allclose(shares, 1.0)


def test_system_share_weights_remaining_commitments() -> None:
    # firm p: Ponzi, no debt, commitments 1/quarter for 8 quarters; firm h: hedge, debt 4
    commitments = np.zeros((1, 8, 2))
    commitments[0, :, 0] = 1 * B
    ds = dataset(firms=("p", "h"), commitments_due=commitments,
                 revenue_end=np.array([0.5, 5.0]) * B, debt=np.array([0.0, 4.0]) * B)
    res = minsky_classes(ds)
    remaining = np.array([7, 6, 5, 4, 3, 2, 1, 0], float)
    np.testing.assert_allclose(res.obligations.sel(firm="p").values[0] / B, remaining)
    np.testing.assert_allclose(res.system_ponzi_share.values[0], remaining / (remaining + 4))


def test_shares_of_paths() -> None:
    # three paths: income 10, 3, 1 against carrying 2, full 5
    rev = np.array([10.0, 3.0, 1.0])[:, None, None] * B
    ds = dataset(paths=3, revenue_end=rev, interest_due=2 * B, principal_due=3 * B)
    res = minsky_classes(ds)
    for cls in (MinskyClass.hedge, MinskyClass.speculative, MinskyClass.ponzi):
        np.testing.assert_allclose(res.share("a", cls).values, 1 / 3)
    d = res.to_dict()
    assert d["classes"] == ["hedge", "speculative", "ponzi", "defaulted"]
    assert d["shares"]["a"]["ponzi"] == [pytest.approx(1 / 3, abs=1e-6)] * 8
    assert len(d["system_ponzi_share"]["mean"]) == 8


def test_classify_tolerance_and_shape() -> None:
    out = classify(np.array([[5.0 - 0.5]]), np.array([[1.0]]), np.array([[5.0]]))
    assert out.shape == (1, 1) and out.dtype == np.int8
    assert names(out) == ["hedge"]  # within the 1 USD tolerance
    assert names(classify(np.array([4.0]), np.array([1.0]), np.array([5.0]), atol=0.0)) == ["speculative"]


def test_missing_variable_is_named() -> None:
    ds = dataset().drop_vars("interest_due")
    with pytest.raises(KeyError, match="interest_due"):
        minsky_classes(ds)
