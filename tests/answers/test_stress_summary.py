"""Stress figures from hand-built default and loss arrays."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from loopwatch.analysis.stress import MECHANISMS, stress_summary

FIRMS = ["openai", "oracle", "nvidia"]


def dataset(default_period: list[list[int]], losses: np.ndarray | None = None,
            mech: np.ndarray | None = None) -> xr.Dataset:
    dp = np.array(default_period)
    n = dp.shape[0]
    return xr.Dataset(
        {"default_period": (("path", "firm"), dp),
         "losses": (("path", "firm", "counterparty"), np.zeros((n, 3, 3)) if losses is None else losses),
         "losses_by_mechanism": (("path", "firm", "mechanism"), np.zeros((n, 3, 4)) if mech is None else mech)},
        coords={"path": np.arange(n), "period": [f"{2025 + q // 4}Q{q % 4 + 1}" for q in range(8)],
                "firm": FIRMS, "counterparty": FIRMS, "mechanism": list(MECHANISMS)},
    )


def test_no_defaults() -> None:
    s = stress_summary(dataset([[-1, -1, -1]] * 5), scenario="calm")
    assert s.any_default == 0 and s.first_to_fail is None
    assert s.default_probability.tolist() == [0, 0, 0]
    assert s.median_failure_quarter.tolist() == [None, None, None]
    d = s.to_dict()
    assert d["scenario"] == "calm" and d["first_to_fail"] is None
    assert d["firms"]["oracle"]["median_failure_quarter"] is None


def test_order_of_failure() -> None:
    # openai fails first on three of four paths; oracle follows a quarter later twice;
    # on path 3 nvidia fails alone
    s = stress_summary(dataset([[2, 3, -1], [4, 5, -1], [1, -1, -1], [-1, -1, 6]]))
    assert s.default_probability.to_dict() == {"openai": 0.75, "oracle": 0.5, "nvidia": 0.25}
    assert s.first_failure.to_dict() == {"openai": 0.75, "oracle": 0.0, "nvidia": 0.25}
    assert s.first_to_fail == "openai"
    assert s.median_failure_quarter.to_dict() == {"openai": "2025Q3", "oracle": "2025Q4", "nvidia": "2026Q3"}
    assert s.any_default == 1.0


def test_same_quarter_cascade_counts_both_as_first() -> None:
    s = stress_summary(dataset([[3, 3, -1], [-1, -1, -1]]))
    assert s.first_failure.to_dict() == {"openai": 0.5, "oracle": 0.5, "nvidia": 0.0}


def test_expected_losses() -> None:
    losses = np.zeros((2, 3, 3))
    losses[0, 1, 0] = 40e9  # oracle loses 40bn on openai on path 0
    losses[1, 1, 0] = 20e9
    losses[1, 2, 0] = 10e9  # nvidia loses 10bn on openai on path 1
    mech = np.zeros((2, 3, 4))
    mech[0, 1, 0] = 30e9  # unpaid contracts
    mech[0, 1, 3] = 10e9  # stranded capacity
    mech[1, 1, 0] = 20e9
    mech[1, 2, 1] = 10e9  # stakes
    s = stress_summary(dataset([[2, -1, -1], [2, -1, -1]], losses, mech))
    assert s.expected_loss.to_dict() == pytest.approx({"openai": 0.0, "oracle": 30e9, "nvidia": 5e9})
    assert s.expected_loss_by_debtor.loc["oracle", "openai"] == pytest.approx(30e9)
    assert s.mechanism_totals.to_dict() == pytest.approx(
        {"unpaid_contracts": 25e9, "stakes": 5e9, "loans": 0.0, "stranded_capacity": 5e9})
    d = s.to_dict()
    assert d["firms"]["nvidia"]["expected_loss_by_debtor"] == {"openai": 5e9}
    assert d["losses_by_mechanism"]["unpaid_contracts"] == 25e9
    # mechanisms add up to the losses per creditor here
    np.testing.assert_allclose(s.losses_by_mechanism.sum(axis=1).values, s.expected_loss.values)


def test_missing_variables_are_named() -> None:
    with pytest.raises(KeyError, match="losses_by_mechanism"):
        stress_summary(dataset([[-1, -1, -1]]).drop_vars("losses_by_mechanism"))
