"""Eisenberg–Noe and Rogers–Veraart clearing: worked examples, twins, LP, properties.

About the worked examples. We could not retrieve the papers' own numerical
tables, so every example below is *constructed from the paper's stated setup*
(its definitions and algorithm) and its numbers are *derived by hand* in the
comments; the comments say which is which. Do not read them as quotations of
published figures.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from loopwatch.contagion import _clearing_kernels as K
from loopwatch.contagion import (
    eisenberg_noe,
    eisenberg_noe_reference,
    rogers_veraart,
    rogers_veraart_reference,
)
from loopwatch.errors import ConvergenceError


def _network(seed: int, n: int, density: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    L = rng.lognormal(0.0, 1.0, (n, n)) * (rng.random((n, n)) < density)
    np.fill_diagonal(L, 0.0)
    pbar = L.sum(axis=1)
    # a mix of well-funded, thin and zero external assets
    e = pbar * rng.uniform(0.0, 1.2) * rng.random(n) * (rng.random(n) < 0.8)
    return L, e


def _scale(L: np.ndarray) -> float:
    return max(float(L.sum(axis=1).max()), 1.0)


# ----------------------------------------------------------------- worked examples


def test_eisenberg_noe_three_bank_cascade_by_hand() -> None:
    # Setup from Eisenberg & Noe (2001), Section 2 (Definitions 1-2) and the
    # fictitious default algorithm of Section 3; the network and numbers are
    # ours, derived by hand:
    #   A owes B 10, B owes C 10, C owes A 5; e = (2, 2, 1); pbar = (10, 10, 5).
    #   Round 1, everyone pays in full: A holds 2 + 5 = 7 < 10 -> A defaults.
    #   Round 2, D = {A}: p_A = 2 + 5 = 7; B now holds 2 + 7 = 9 < 10 -> B defaults.
    #   Round 3, D = {A, B}: p_A = 2 + p_C = 7, p_B = 2 + p_A = 9;
    #   C holds 1 + 9 = 10 >= 5: solvent, equity 5. Nothing changes: done.
    L = np.array([[0, 10, 0], [0, 0, 10], [5, 0, 0]], dtype=float)
    e = [2.0, 2.0, 1.0]
    for method in ("exact", "iterative"):
        r = eisenberg_noe(L, e, method=method)
        np.testing.assert_allclose(r.payments, [7.0, 9.0, 5.0], rtol=0, atol=1e-9)
        assert r.defaulted.tolist() == [True, True, False]
        np.testing.assert_allclose(r.equity, [0.0, 0.0, 5.0], atol=1e-9)
    assert eisenberg_noe(L, e, method="exact").iterations == 2  # two linear solves


def test_eisenberg_noe_exact_tie_counts_as_solvent() -> None:
    # Same network, e = (2, 3, 1): B then holds exactly 3 + 7 = 10 = pbar_B.
    # Definition 1 of Eisenberg & Noe: B pays in full, so it is not in default.
    r = eisenberg_noe([[0, 10, 0], [0, 0, 10], [5, 0, 0]], [2.0, 3.0, 1.0])
    assert r.payments.tolist() == [7.0, 10.0, 5.0]
    assert r.defaulted.tolist() == [True, False, False]


def test_eisenberg_noe_greatest_vector_when_not_unique() -> None:
    # Eisenberg & Noe (2001), Theorem 2 needs regularity; a ring with no
    # external assets is the standard irregular case: every p = t * (1, 1, 1)
    # with t <= 4 clears. The *greatest* clearing vector is t = min pbar = 4
    # (derived: p_{i+1} = min(pbar_{i+1}, p_i) around the ring).
    L = [[0, 6, 0], [0, 0, 4], [9, 0, 0]]
    for method in ("exact", "iterative"):
        r = eisenberg_noe(L, [0.0, 0.0, 0.0], method=method)
        np.testing.assert_allclose(r.payments, [4.0, 4.0, 4.0], atol=1e-9)
        assert r.defaulted.tolist() == [True, False, True]


def test_rogers_veraart_default_costs_create_defaults_by_hand() -> None:
    # Setup from Rogers & Veraart (2013), Section 2 (clearing with default
    # costs alpha, beta) and their greatest-clearing-vector algorithm
    # (Section 3); the network and numbers are ours, derived by hand:
    #   ring A -> B -> C -> A, L_AB = 12, L_BC = 10, L_CA = 10; e = (0, 1, 2).
    # Without costs (alpha = beta = 1, Eisenberg-Noe): A holds 0 + 10 < 12 and
    #   pays 10; B holds 1 + 10 >= 10, C holds 2 + 10 >= 10: only A defaults.
    # With alpha = beta = 0.8: round 1, A pays 0.8 * 10 = 8; B holds 1 + 8 = 9
    #   < 10 -> defaults. Round 2, p_A = 0.8 * 10 = 8, p_B = 0.8 * (1 + 8) = 7.2;
    #   C holds 2 + 7.2 < 10 -> defaults. Round 3 solves
    #   p_A = 0.8 p_C, p_B = 0.8 (1 + p_A), p_C = 0.8 (2 + p_B)
    #   => p = (224, 228, 280) / 61: everyone defaults.
    L = [[0, 12, 0], [0, 0, 10], [10, 0, 0]]
    e = [0.0, 1.0, 2.0]
    en = rogers_veraart(L, e, alpha=1.0, beta=1.0)
    assert en.payments.tolist() == [10.0, 10.0, 10.0]
    assert en.defaulted.tolist() == [True, False, False]
    assert en.equity.tolist() == [0.0, 1.0, 2.0]
    expected = [float(Fraction(k, 61)) for k in (224, 228, 280)]
    for method in ("exact", "iterative"):
        rv = rogers_veraart(L, e, alpha=0.8, beta=0.8, method=method)
        # exact: to rounding; iterative: to its tol (1e-10 of max pbar)
        np.testing.assert_allclose(rv.payments, expected, rtol=1e-12, atol=1e-10 * 12)
        assert rv.defaulted.all()
    assert rogers_veraart(L, e, alpha=0.8, beta=0.8, method="exact").iterations == 3


def test_rogers_veraart_chain_with_separate_alpha_beta() -> None:
    # Derived by hand: A owes B 10, B owes C 10; e = (6, 5, 0).
    # alpha = 0.5, beta = 1: A pays 0.5 * 6 = 3; B holds 5 + 3 = 8 < 10 and
    # pays 0.5 * 5 + 1 * 3 = 5.5.
    r = rogers_veraart([[0, 10, 0], [0, 0, 10], [0, 0, 0]], [6, 5, 0], alpha=0.5, beta=1.0)
    assert r.payments.tolist() == [3.0, 5.5, 0.0]
    assert r.defaulted.tolist() == [True, True, False]


# ------------------------------------------------------- twins, LP, batch, methods


@pytest.mark.parametrize("seed", range(40))
def test_fast_kernels_match_reference_twin_and_linear_programme(seed: int) -> None:
    n = 3 + seed % 17
    L, e = _network(seed, n, density=0.15 + 0.02 * (seed % 20))
    scale = _scale(L)
    exact = eisenberg_noe(L, e, method="exact")
    iterative = eisenberg_noe(sp.csr_array(L), e, method="iterative", tol=1e-13)
    twin = eisenberg_noe_reference(L, e)
    for other in (iterative, twin):
        np.testing.assert_allclose(other.payments, exact.payments, rtol=0, atol=1e-10 * scale)
        np.testing.assert_allclose(other.equity, exact.equity, rtol=0, atol=1e-9 * scale)
    # greatest clearing vector = argmax sum(p) s.t. 0 <= p <= pbar, p <= e + Pi^T p
    pbar = L.sum(axis=1)
    Pi = np.divide(L, pbar[:, None], out=np.zeros_like(L), where=pbar[:, None] > 0)
    lp = linprog(
        -np.ones(n), A_ub=np.eye(n) - Pi.T, b_ub=e, bounds=[(0.0, float(b)) for b in pbar],
        method="highs",
    )
    assert lp.status == 0
    np.testing.assert_allclose(lp.x, exact.payments, rtol=0, atol=1e-7 * scale)


@pytest.mark.parametrize("seed", range(30))
def test_rogers_veraart_matches_reference_twin(seed: int) -> None:
    n = 2 + seed % 14
    L, e = _network(100 + seed, n, density=0.3)
    alpha, beta = np.random.default_rng(seed).uniform(0.0, 1.0, 2)
    exact = rogers_veraart(L, e, alpha=alpha, beta=beta, method="exact")
    iterative = rogers_veraart(L, e, alpha=alpha, beta=beta, method="iterative", tol=1e-13)
    twin = rogers_veraart_reference(L, e, alpha=alpha, beta=beta)
    for other in (iterative, twin):
        np.testing.assert_allclose(other.payments, exact.payments, atol=1e-10 * _scale(L))
        assert (other.defaulted == exact.defaulted).all()
    # default costs can only lower the greatest clearing vector
    en = eisenberg_noe(L, e)
    assert (exact.payments <= en.payments + 1e-10 * _scale(L)).all()


@pytest.mark.parametrize("method", ["exact", "iterative"])
def test_batch_equals_scenario_by_scenario(method: str) -> None:
    L, e = _network(7, 30, density=0.2)
    rng = np.random.default_rng(1)
    E = e[None, :] * rng.uniform(0.0, 1.5, (70, 30))  # more than one block of 64
    E[3] = 0.0
    batch = eisenberg_noe(L, E, method=method, tol=1e-13)  # type: ignore[arg-type]
    rv = rogers_veraart(L, E, alpha=0.7, beta=0.9, method=method, tol=1e-13)  # type: ignore[arg-type]
    assert batch.payments.shape == batch.defaulted.shape == batch.equity.shape == (70, 30)
    for b in range(70):
        one = eisenberg_noe(L, E[b], method="exact")
        np.testing.assert_allclose(batch.payments[b], one.payments, atol=1e-10 * _scale(L))
        assert (batch.defaulted[b] == one.defaulted).all()
        one_rv = rogers_veraart(L, E[b], alpha=0.7, beta=0.9, method="exact")
        np.testing.assert_allclose(rv.payments[b], one_rv.payments, atol=1e-10 * _scale(L))
    assert batch.n_defaults.shape == (70,)  # type: ignore[union-attr]


def test_compacted_subsystem_path_matches_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    # the large-n path (compacting the defaulting subsystem) normally starts
    # at 200k stored entries; force it on a small network
    monkeypatch.setattr(K, "COMPACT_MIN_NNZ", 0)
    for seed in range(8):
        L, e = _network(200 + seed, 150, density=0.05)
        fast = eisenberg_noe(L, e * 0.5, method="iterative", tol=1e-13)
        exact = eisenberg_noe(L, e * 0.5, method="exact")
        np.testing.assert_allclose(fast.payments, exact.payments, atol=1e-10 * _scale(L))
        rv = rogers_veraart(L, e, alpha=0.5, beta=0.7, method="iterative", tol=1e-13)
        rv_exact = rogers_veraart(L, e, alpha=0.5, beta=0.7, method="exact")
        np.testing.assert_allclose(rv.payments, rv_exact.payments, atol=1e-10 * _scale(L))


def test_sparse_dense_and_list_inputs_agree() -> None:
    L, e = _network(3, 12, density=0.4)
    a = eisenberg_noe(L, e)
    for form in (sp.csr_matrix(L), sp.coo_array(L), sp.csc_array(L), L.tolist()):
        np.testing.assert_array_equal(eisenberg_noe(form, e).payments, a.payments)


def test_auto_hands_a_slow_iteration_to_the_exact_solver() -> None:
    # A 700-node ring without external assets converges one node per sweep
    # (irregular, spectral radius 1). "auto" finishes it exactly; the answer
    # (derived as above) is min(pbar) everywhere.
    n = 700
    rng = np.random.default_rng(0)
    pbar = rng.uniform(5.0, 10.0, n)
    L = sp.csr_array((pbar, (np.arange(n), (np.arange(n) + 1) % n)), shape=(n, n))
    r = eisenberg_noe(L, np.zeros(n))
    np.testing.assert_allclose(r.payments, np.full(n, pbar.min()), rtol=1e-12)
    assert r.n_defaults == n - 1
    with pytest.raises(ConvergenceError) as info:
        eisenberg_noe(L, np.zeros(n), method="iterative", max_iter=50)
    assert info.value.iterations == 50
    assert info.value.residual > 0
    batch = eisenberg_noe(L, np.zeros((2, n)))
    np.testing.assert_allclose(batch.payments, np.full((2, n), pbar.min()), rtol=1e-12)


def test_no_obligations_and_empty_network() -> None:
    r = eisenberg_noe(np.zeros((3, 3)), [1.0, 0.0, 2.0])
    assert r.payments.tolist() == [0.0, 0.0, 0.0]
    assert r.equity.tolist() == [1.0, 0.0, 2.0]
    assert not r.defaulted.any()
    assert eisenberg_noe(np.zeros((0, 0)), np.zeros(0)).payments.shape == (0,)


# ---------------------------------------------------------------------- properties

_entry = st.one_of(st.just(0.0), st.floats(0.0, 100.0, allow_nan=False))


@st.composite
def _clearing_case(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 7))
    L = np.array(draw(st.lists(_entry, min_size=n * n, max_size=n * n))).reshape(n, n)
    np.fill_diagonal(L, 0.0)
    e = np.array(draw(st.lists(st.floats(0.0, 50.0), min_size=n, max_size=n)))
    bump = np.array(draw(st.lists(st.floats(0.0, 20.0), min_size=n, max_size=n)))
    return L, e, bump


@settings(max_examples=80, deadline=None)
@given(_clearing_case())
def test_clearing_properties(case: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    L, e, bump = case
    pbar = L.sum(axis=1)
    tol = 1e-9 * _scale(L)
    # "auto" rather than "iterative": a plain fixed point may legitimately stop with
    # ConvergenceError on a nearly closed ring (spectral radius ~ 1); "auto" finishes it exactly
    for method in ("exact", "auto"):
        r = eisenberg_noe(L, e, method=method)  # type: ignore[arg-type]
        p = r.payments
        assert (p >= -tol).all() and (p <= pbar + tol).all()
        # solvent nodes pay in full; clearing equation p = min(pbar, e + Pi^T p)
        np.testing.assert_allclose(p[~r.defaulted], pbar[~r.defaulted], atol=tol)
        Pi = np.divide(L, pbar[:, None], out=np.zeros_like(L), where=pbar[:, None] > 0)
        np.testing.assert_allclose(p, np.minimum(pbar, e + Pi.T @ p), atol=tol)
        # more external assets never lower any payment
        richer = eisenberg_noe(L, e + bump, method=method)  # type: ignore[arg-type]
        assert (richer.payments >= p - tol).all()
        rv = rogers_veraart(L, e, alpha=0.6, beta=0.9, method=method)  # type: ignore[arg-type]
        assert (rv.payments <= p + tol).all() and (rv.payments >= -tol).all()


def test_nearly_closed_ring_auto_finishes_exactly_iterative_reports() -> None:
    # found by hypothesis: 3 and 4 owe each other 1, 4 also owes 1/256 to 0, no outside assets.
    # The greatest clearing vector is 0 (nothing ever enters the ring); Picard iteration from
    # full payment shrinks only by 1/(1 + 1/256) a sweep.
    L = np.zeros((5, 5))
    L[3, 4] = 1.0
    L[4, 3] = 1.0
    L[4, 0] = 1.0 / 256
    e = np.zeros(5)
    exact = eisenberg_noe(L, e, method="exact")
    np.testing.assert_allclose(exact.payments, 0.0, atol=1e-12)
    np.testing.assert_allclose(eisenberg_noe(L, e).payments, exact.payments, atol=1e-12)
    with pytest.raises(ConvergenceError) as info:
        eisenberg_noe(L, e, method="iterative", max_iter=500)
    assert info.value.iterations == 500
