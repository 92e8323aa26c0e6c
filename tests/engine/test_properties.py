"""Invariants of the engine as properties on random deal books (DESIGN §2).

Each property runs 200 examples; books are small (≤ 5 firms, ≤ 8 contracts,
≤ 8 quarters, a few paths) so that the whole file takes well under a minute.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.strategies import deal_books, scenarios

from loopwatch.contagion import rogers_veraart
from loopwatch.engine import simulate
from loopwatch.engine.resolution import clear
from loopwatch.model import DealBook, Scenario

PROPERTY = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _close(a: np.ndarray, b: np.ndarray, scale: float) -> bool:
    return bool(np.all(np.abs(a - b) <= 1e-9 * scale + 1e-3))


@PROPERTY
@given(deal_books(), scenarios())
def test_books_balance_and_cash_is_conserved(book: DealBook, sc: Scenario) -> None:
    res = simulate(book, sc, paths=3, seed=11, variables="all")
    d = res.data
    # no NaN or inf anywhere
    for name, v in d.data_vars.items():
        if v.dtype.kind == "f":
            assert np.isfinite(v.values).all(), name
    scale = float(np.abs(d["cash"]).max() + np.abs(d["debt"]).max() + 1.0)
    # the sum of cash changes over the firms and the world is zero every quarter
    total = d["cash_change"].sum("firm") + d["world_cash_change"]
    assert _close(total.values, 0.0, scale)
    # every firm's books balance (the engine checks too; this reads the output)
    assets = sum(d[v] for v in ("cash", "compute_assets", "other_assets", "loan_assets",
                                "stake_assets", "warrant_assets"))
    assert _close((assets - d["debt"] - d["warrant_liabilities"] - d["book_equity"]).values, 0.0,
                  float(np.abs(assets).max()) + scale)
    # every instrument's asset equals its liability
    out = d["outstanding"]
    # a letter of intent behaves as the contract it converts to
    kinds = {c.id: getattr(c, "converts_to", c.type).value for c in book.contracts}
    loans = [c for c in book.contracts if kinds[c.id] in ("loan", "bond")]
    borrowed = d["world_debt"].copy()
    for c in loans:
        borrowed.loc[{"firm": c.payee}] += out.sel(contract=c.id)
    assert _close(d["debt"].values, borrowed.values, scale)
    assert _close(d["debt"].sum("firm").values,
                  (d["loan_assets"].sum("firm") + d["world_loan_assets"]).values, scale)
    stakes = 0.0 * d["stake_assets"]
    for c in book.contracts:
        if kinds[c.id] == "equity_investment":
            stakes.loc[{"firm": c.payer}] += out.sel(contract=c.id)
    assert _close(d["stake_assets"].values, stakes.values, scale + float(np.abs(stakes).max()))
    wa, wl = d["warrant_assets"].sum("firm"), d["warrant_liabilities"].sum("firm")
    assert _close(wa.values, wl.values, float(np.abs(wa).max()) + 1.0)
    # defaults are absorbing and dated
    dfl = d["defaulted"].values
    assert (dfl[:, 1:] >= dfl[:, :-1]).all()
    first = np.where(dfl.any(axis=1), dfl.argmax(axis=1), -1)
    assert (first == d["default_period"].values).all()
    # losses are never negative
    assert (d["losses"].values >= -1e-6).all() and (d["world_losses"].values >= -1e-6).all()


@PROPERTY
@given(deal_books(), scenarios(), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_same_seed_same_arrays_whatever_the_chunk(book: DealBook, sc: Scenario, chunk: int,
                                                  seed: int) -> None:
    a = simulate(book, sc, paths=6, seed=seed, variables="all")
    b = simulate(book, sc, paths=6, seed=seed, variables="all", chunk=chunk)
    for name in a.data.data_vars:
        assert np.array_equal(a.data[name].values, b.data[name].values), name
    assert a.events.equals(b.events)


@PROPERTY
@given(deal_books(), scenarios(deterministic=True), st.floats(0, 3), st.floats(0, 3))
def test_more_end_demand_never_more_defaults(book: DealBook, sc: Scenario, m1: float,
                                             m2: float) -> None:
    lo, hi = sorted((m1, m2))
    few = simulate(book, sc, paths=1, demand_multiplier=lo, variables=[], events=False)
    more = simulate(book, sc, paths=1, demand_multiplier=hi, variables=[], events=False)
    assert (more.data["default_period"] >= 0).sum() <= (few.data["default_period"] >= 0).sum()


@st.composite
def _networks(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, float]:
    n = draw(st.integers(2, 6))
    amount = st.floats(0, 100, allow_nan=False)
    L = np.array([[draw(amount) if i != j and draw(st.booleans()) else 0.0 for j in range(n)]
                  for i in range(n)])
    e = np.array([draw(amount) for _ in range(n)])
    return L, e, draw(st.sampled_from([1.0, 0.9, 0.5, 0.0]))


@PROPERTY
@given(_networks())
def test_edge_clearing_matches_the_contagion_library(net: tuple[np.ndarray, np.ndarray, float]) -> None:
    L, e, beta = net
    n = len(e)
    i, j = np.nonzero(L)
    A = L[i, j][:, None]  # edges × one path
    r, _ = clear(A, i, j, e[:, None], L.sum(axis=1)[:, None], np.ones((n, 1), bool), beta)
    ref = rogers_veraart(L, e, alpha=1.0, beta=beta)
    np.testing.assert_allclose(r[:n, 0] * L.sum(axis=1), ref.payments, rtol=1e-9, atol=1e-9)
