"""Furfine (2003) sequential default cascades."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from loopwatch.contagion import furfine_cascade, furfine_cascade_reference


def test_chain_cascade_by_hand() -> None:
    # Furfine (2003)'s rule, on a constructed chain, derived by hand: node 0
    # lent 6 to node 1, node 1 lent 6 to node 2, node 3 lent 2 to node 2;
    # capital 5 each, loss given default 1. Node 2 fails at round 0; round 1:
    # node 1 loses 6 >= 5 and fails, node 3 loses 2 < 5; round 2: node 0 loses
    # 6 >= 5 and fails; round 3: nothing new.
    A = np.zeros((4, 4))
    A[0, 1] = A[1, 2] = 6.0
    A[3, 2] = 2.0
    r = furfine_cascade(A, [5, 5, 5, 5], [False, False, True, False], loss_given_default=1.0)
    assert r.default_round.tolist() == [2, 1, 0, -1]
    assert r.defaulted.tolist() == [True, True, True, False]
    assert r.losses.tolist() == [6.0, 6.0, 0.0, 2.0]
    assert r.rounds == 2
    # with 40% recovery (lgd 0.6) the loss is 3.6 < 5: the cascade stops at once
    r = furfine_cascade(A, [5, 5, 5, 5], [0, 0, 1, 0], loss_given_default=0.6)
    assert r.default_round.tolist() == [-1, -1, 0, -1]
    assert r.rounds == 0


def test_losses_accumulate_over_rounds() -> None:
    # node 0 lent 3 to node 1 and 3 to node 2; node 1 lent 10 to node 2.
    # Round 0: node 2 fails; node 0 loses 3 < 5, node 1 loses 10 -> fails (1).
    # Round 2: node 0 loses 3 + 3 = 6 >= 5 -> fails.
    A = [[0, 3, 3], [0, 0, 10], [0, 0, 0]]
    r = furfine_cascade(A, [5, 5, 5], [0, 0, 1], loss_given_default=1)
    assert r.default_round.tolist() == [2, 1, 0]


def _network(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    A = rng.lognormal(0.0, 1.0, (n, n)) * (rng.random((n, n)) < 0.3)
    np.fill_diagonal(A, 0.0)
    capital = A.sum(axis=1) * rng.uniform(0.05, 0.8, n)
    shocked = rng.random(n) < 0.15
    lgd = rng.uniform(0.2, 1.0, n)
    return A, capital, shocked, lgd


@pytest.mark.parametrize("seed", range(20))
def test_matches_reference_twin_and_batch(seed: int) -> None:
    A, capital, shocked, lgd = _network(seed, 3 + 2 * seed)
    for loss in (lgd, 0.5):
        fast = furfine_cascade(sp.csr_array(A), capital, shocked, loss_given_default=loss)
        twin = furfine_cascade_reference(A, capital, shocked, loss_given_default=loss)
        assert fast.default_round.tolist() == twin.default_round.tolist()
        np.testing.assert_allclose(fast.losses, twin.losses, rtol=1e-12)
        assert fast.rounds == twin.rounds
    flags = np.vstack([shocked, np.roll(shocked, 1), np.zeros_like(shocked)] * 30)
    batch = furfine_cascade(A, capital, flags, loss_given_default=lgd)
    assert batch.default_round.shape == flags.shape
    for b in (0, 1, 2, 89):
        one = furfine_cascade(A, capital, flags[b], loss_given_default=lgd)
        assert batch.default_round[b].tolist() == one.default_round.tolist()
        np.testing.assert_allclose(batch.losses[b], one.losses)
