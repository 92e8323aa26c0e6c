"""Bad input is rejected with a NetworkError that names the problem."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from loopwatch.contagion import (
    NetworkError,
    debtrank,
    eisenberg_noe,
    furfine_cascade,
    rogers_veraart,
)
from loopwatch.errors import LoopwatchError

L2 = [[0.0, 1.0], [2.0, 0.0]]


@pytest.mark.parametrize(
    ("liabilities", "assets", "message"),
    [
        ([[0, -1], [0, 0]], [1, 1], r"liabilities has 1 negative entry \(first at \[0, 1\]: -1\)"),
        ([[0, np.nan], [0, 0]], [1, 1], r"liabilities has 1 NaN or infinite entry \(first at \[0, 1\]"),
        ([[0, np.inf], [1, 0]], [1, 1], r"NaN or infinite entry"),
        (sp.csr_array(np.array([[0, -2.0], [-1, 0]])), [1, 1], r"2 negative entries"),
        (sp.csr_array(np.array([[0, np.nan], [1, 0]])), [1, 1], r"NaN or infinite entry \(first at \[0, 1\]"),
        ([[0, 1, 2], [1, 0, 1]], [1, 1], r"must be square \(n, n\), got shape 2x3"),
        (sp.csr_array((2, 3)), [1, 1], r"must be square \(n, n\), got shape 2x3"),
        ([1.0, 2.0], [1, 1], r"must be a 2-D \(n, n\) matrix, got 1-D"),
        ([[1, 1], [1, 0]], [1, 1], r"non-zero diagonal entry \(first at \[0, 0\]: 1\)"),
        ([["a", "b"], ["c", "d"]], [1, 1], r"must be a numeric \(n, n\) matrix"),
        (L2, [1, 1, 1], r"external_assets has shape \(3,\), expected \(2,\) or \(B, 2\)"),
        (L2, [[1, 1, 1]], r"external_assets has shape \(1, 3\)"),
        (L2, [1, -1], r"external_assets must be non-negative: entry 1 is -1"),
        (L2, [[1, 1], [1, np.nan]], r"external_assets has a NaN or infinite entry \(first at \(1, 1\)\)"),
    ],
)
def test_clearing_rejects_bad_input(liabilities: object, assets: object, message: str) -> None:
    with pytest.raises(NetworkError, match=message) as info:
        eisenberg_noe(liabilities, assets)
    assert isinstance(info.value, ValueError) and isinstance(info.value, LoopwatchError)


def test_bad_options() -> None:
    with pytest.raises(NetworkError, match=r"alpha must be in \[0, 1\], got 1.5"):
        rogers_veraart(L2, [1, 1], alpha=1.5, beta=0.5)
    with pytest.raises(NetworkError, match="beta must be a number"):
        rogers_veraart(L2, [1, 1], alpha=0.5, beta="x")  # type: ignore[arg-type]
    with pytest.raises(NetworkError, match="tol must be in"):
        eisenberg_noe(L2, [1, 1], tol=0)
    with pytest.raises(NetworkError, match="max_iter must be a positive integer"):
        eisenberg_noe(L2, [1, 1], max_iter=0)
    with pytest.raises(NetworkError, match="method must be"):
        eisenberg_noe(L2, [1, 1], method="fast")  # type: ignore[arg-type]


def test_debtrank_and_cascade_reject_bad_input() -> None:
    with pytest.raises(NetworkError, match=r"initial_distress must be in \[0, 1\]: entry 0 is 1.5"):
        debtrank(L2, [1, 1], [1.5, 0])
    with pytest.raises(NetworkError, match=r"capital has shape \(3,\), expected \(2,\)"):
        debtrank(L2, [1, 1, 1], [0.5, 0])
    with pytest.raises(NetworkError, match="capital must be non-negative"):
        debtrank(L2, [1, -1], [0.5, 0])
    with pytest.raises(NetworkError, match="variant must be"):
        debtrank(L2, [1, 1], [0.5, 0], variant="other")  # type: ignore[arg-type]
    with pytest.raises(NetworkError, match="exposures has 1 negative entry"):
        debtrank([[0, -1], [0, 0]], [1, 1], [0.5, 0])
    with pytest.raises(NetworkError, match=r"initial_defaults must hold booleans"):
        furfine_cascade(L2, [1, 1], [0.5, 0], loss_given_default=1)
    with pytest.raises(NetworkError, match=r"loss_given_default must be in \[0, 1\]"):
        furfine_cascade(L2, [1, 1], [1, 0], loss_given_default=2)
    with pytest.raises(NetworkError, match=r"loss_given_default has shape \(3,\)"):
        furfine_cascade(L2, [1, 1], [1, 0], loss_given_default=[1, 1, 1])


def test_caller_matrix_is_never_modified() -> None:
    # duplicates and stored zeros are canonicalised on a copy, not in place
    m = sp.csr_array(
        (np.array([1.0, 2.0, 0.0, 3.0]), np.array([1, 1, 0, 0]), np.array([0, 2, 4])),
        shape=(2, 2),
    )
    before = (m.data.copy(), m.indices.copy(), m.indptr.copy())
    r = eisenberg_noe(m, [0.0, 0.0])
    assert r.payments.tolist() == [3.0, 3.0]
    for old, new in zip(before, (m.data, m.indices, m.indptr), strict=True):
        np.testing.assert_array_equal(old, new)
