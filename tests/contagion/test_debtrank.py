"""DebtRank (Battiston et al. 2012; Bardoscia et al. 2015).

As for the clearing tests: the small networks below are *constructed* from the
papers' definitions (the update rules for ``h`` and the node states, the
system value ``R``) and their numbers *derived by hand* in the comments; they
are not quotations of published tables.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from loopwatch.contagion import debtrank, debtrank_reference
from loopwatch.errors import ConvergenceError

RING = [[0, 5, 0], [0, 0, 5], [5, 0, 0]]  # A exposed to B, B to C, C to A
CAPITAL = [10.0, 10.0, 10.0]  # every impact W = 5 / 10 = 0.5


def test_battiston_ring_propagates_once_per_node() -> None:
    # Battiston et al. (2012): h_i(t) = min(1, h_i(t-1) + sum_{j in D} W_ij h_j(t-1)),
    # a distressed node becomes inactive after one round. Hand derivation with
    # h(1) = (0.4, 0, 0):
    #   round 1: A (D) hits C, the node exposed to it: h_C = 0.5 * 0.4 = 0.2
    #   round 2: C hits B: h_B = 0.5 * 0.2 = 0.1
    #   round 3: B hits A: h_A = 0.4 + 0.5 * 0.1 = 0.45; A is inactive, stop.
    # v = equal shares of exposures = 1/3: R = (0.05 + 0.1 + 0.2) / 3.
    r = debtrank(RING, CAPITAL, [0.4, 0.0, 0.0])
    np.testing.assert_allclose(r.h, [0.45, 0.1, 0.2], rtol=1e-15)
    assert r.rounds == 3
    assert r.debtrank == pytest.approx(0.35 / 3, rel=1e-14)


def test_bardoscia_ring_keeps_propagating_increments() -> None:
    # Bardoscia et al. (2015): h(t+1) = min(1, h(t) + Lambda (h(t) - h(t-1))).
    # Uncapped, this sums the loop: h = h(1) + Lambda h, so with loop gain
    # 0.5^3 = 1/8: h_A = 0.4 / (1 - 1/8) = 16/35, h_C = h_A / 2, h_B = h_A / 4
    # (derived) -- more than Battiston's 0.45, the underestimation on cycles
    # that the 2015 paper's abstract points out.
    r = debtrank(RING, CAPITAL, [0.4, 0.0, 0.0], variant="bardoscia2015")
    h_a = 16 / 35
    np.testing.assert_allclose(r.h, [h_a, h_a / 4, h_a / 2], rtol=1e-11)
    assert r.h[0] > 0.45


def test_battiston_impact_is_capped_at_one_and_hubs_default() -> None:
    # A star: banks 1..3 each lent 15 to hub 0 and hold capital 10, so
    # W_i0 = min(1, 15 / 10) = 1. The hub's default (h = 1) defaults them all.
    A = np.zeros((4, 4))
    A[1:, 0] = 15.0
    r = debtrank(A, [10, 10, 10, 10], [1.0, 0, 0, 0])
    assert r.h.tolist() == [1.0, 1.0, 1.0, 1.0]
    assert r.debtrank == pytest.approx(1.0)  # v = 1/3 each for the lenders
    assert r.rounds == 2


def test_zero_capital() -> None:
    # Battiston caps the impact at W = min(1, A / 0) = 1: node 0 inherits
    # node 1's distress. Bardoscia's leverage A / 0 is infinite: any loss
    # defaults node 0.
    A, capital, h0 = [[0, 1e-6], [0, 0]], [0.0, 5.0], [0.0, 1e-3]
    assert debtrank(A, capital, h0).h.tolist() == [1e-3, 1e-3]
    assert debtrank(A, capital, h0, variant="bardoscia2015").h.tolist() == [1.0, 1e-3]


def _network(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    A = rng.lognormal(0.0, 1.0, (n, n)) * (rng.random((n, n)) < 0.3)
    np.fill_diagonal(A, 0.0)
    capital = A.sum(axis=1) * rng.uniform(0.2, 3.0, n)
    capital[rng.random(n) < 0.1] = 0.0
    h0 = rng.random(n) * (rng.random(n) < 0.3)
    return A, capital, h0


@pytest.mark.parametrize("variant", ["battiston2012", "bardoscia2015"])
@pytest.mark.parametrize("seed", range(15))
def test_matches_reference_twin_and_batch(variant: str, seed: int) -> None:
    A, capital, h0 = _network(seed, 2 + seed)
    fast = debtrank(sp.csr_array(A), capital, h0, variant=variant)  # type: ignore[arg-type]
    twin = debtrank_reference(A, capital, h0, variant=variant)
    np.testing.assert_allclose(fast.h, twin.h, rtol=0, atol=1e-10)
    assert fast.debtrank == pytest.approx(twin.debtrank, abs=1e-10)
    if variant == "battiston2012":
        assert fast.rounds == twin.rounds
    H0 = np.vstack([h0, np.zeros_like(h0), np.roll(h0, 1)] * 25)  # 75 > one block
    batch = debtrank(A, capital, H0, variant=variant)  # type: ignore[arg-type]
    for b in (0, 1, 2, 74):
        one = debtrank(A, capital, H0[b], variant=variant)  # type: ignore[arg-type]
        np.testing.assert_allclose(batch.h[b], one.h, atol=1e-12)
        assert batch.debtrank[b] == pytest.approx(one.debtrank, abs=1e-12)  # type: ignore[index]


def test_custom_values_and_bardoscia_non_convergence() -> None:
    r = debtrank(RING, CAPITAL, [0.4, 0, 0], values=[0, 0, 1])
    assert r.debtrank == pytest.approx(0.2)
    with pytest.raises(ConvergenceError) as info:
        debtrank(RING, CAPITAL, [0.4, 0, 0], variant="bardoscia2015", max_rounds=5)
    assert info.value.iterations == 5


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda n: st.tuples(
            st.lists(st.floats(0, 50), min_size=n * n, max_size=n * n),
            st.lists(st.floats(0, 20), min_size=n, max_size=n),
            st.lists(st.floats(0, 1), min_size=n, max_size=n),
        )
    ),
    st.sampled_from(["battiston2012", "bardoscia2015"]),
)
def test_distress_stays_in_unit_interval(
    case: tuple[list[float], list[float], list[float]], variant: str
) -> None:
    flat, capital, h0 = case
    n = len(capital)
    A = np.array(flat).reshape(n, n)
    np.fill_diagonal(A, 0.0)
    r = debtrank(A, capital, h0, variant=variant, max_rounds=100_000)  # type: ignore[arg-type]
    assert ((r.h >= 0) & (r.h <= 1)).all()
    assert (r.h >= np.array(h0)).all()  # distress never falls
    assert r.debtrank >= -1e-12
