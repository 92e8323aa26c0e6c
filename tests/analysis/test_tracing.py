"""Origin tracing, return probability and round-trip share: closed forms and the twin."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from loopwatch import load_deal_book
from loopwatch.analysis import (
    flow_network,
    flows_from_book,
    origin_shares,
    random_flow_network,
    return_probability,
    round_trip_share,
    trace,
    trace_reference,
)
from loopwatch.analysis.tracing import _chain
from loopwatch.analysis.tracing_reference import (
    origin_shares_mc,
    return_probability_exact,
    return_probability_mc,
)
from loopwatch.model import DealBook


def _loop(a: float, e1: float = 3.0, e2: float = 1.0) -> list[tuple[str, str, float]]:
    """a → b → c → a; end customers pay a, non-loop revenue reaches b; c keeps 1 − a."""
    tc = (e1 + e2) / (1.0 - a)  # c's throughput: the injections summed over every round
    ta = e1 + a * tc
    return [("world:end_customers", "a", e1), ("world:non_loop", "b", e2), ("a", "b", ta),
            ("b", "c", ta + e2), ("c", "a", a * tc), ("c", "world:opex", (1 - a) * tc)]


@pytest.mark.parametrize("a", [0.1, 0.6, 0.95])
def test_three_firm_loop_with_one_leak_matches_geometric_series(a: float, build_flows: Any) -> None:
    e1, e2 = 3.0, 1.0
    net = flow_network(build_flows(_loop(a, e1, e2)))
    assert net.firms == ("a", "b", "c")
    # a dollar paid by a or b comes back with probability a; c pays into the network only to a
    assert return_probability(net) == pytest.approx([a, a, 1.0], abs=1e-12)
    # expected visits to a from a: the geometric series 1 + a + a² + ... = 1 / (1 − a)
    ch = _chain(net)
    g_aa = ch.lu.solve(np.array([1.0, 0.0, 0.0]))[0]
    assert g_aa == pytest.approx(sum(a**k for k in range(2000)), rel=1e-12)
    # dollars of each origin in a's pool: e1 (1 + a + a² ...) and a e2 (1 + a + ...)
    mix = origin_shares(net)
    ta = e1 + a * (e1 + e2) / (1 - a)
    end, non_loop = net.sources.index("world:end_customers"), net.sources.index("world:non_loop")
    assert mix[0, end] * ta == pytest.approx(e1 / (1 - a), rel=1e-12)
    assert mix[0, non_loop] * ta == pytest.approx(a * e2 / (1 - a), rel=1e-12)
    # round trip of a: its receipts come from c, whose pool is b's, of which ta/(ta+e2) passed a
    t = trace(build_flows(_loop(a, e1, e2)))
    assert t.firms.loc["a", "round_trip_share"] == pytest.approx(ta / (ta + e2), rel=1e-12)
    assert t.firms.loc["c", "round_trip_share"] == pytest.approx(a, rel=1e-12)


def test_loop_twin_agrees_within_sampling_error(build_flows: Any) -> None:
    f = build_flows(_loop(0.6))
    fast = trace(f)
    ref = trace_reference(f, walks=40_000, seed=7)
    se = ref.firms["rho_se"].clip(lower=1e-9)
    assert ((ref.firms["rho"] - fast.firms["rho"]).abs() <= 5 * se + 1e-12).all()
    p = fast.pool_origin.to_numpy()
    se_o = np.sqrt(p * (1 - p) / 40_000) + 1e-9
    assert (np.abs(ref.pool_origin.to_numpy() - p) <= 5 * se_o).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_matches_exact_first_passage_on_random_networks(seed: int) -> None:
    net = flow_network(random_flow_network(60, degree=3.0, seed=seed))
    assert return_probability(net) == pytest.approx(return_probability_exact(net), abs=1e-10)


@pytest.mark.parametrize("seed", [3, 4])
def test_fast_matches_monte_carlo_twin_on_random_networks(seed: int) -> None:
    net = flow_network(random_flow_network(25, degree=2.5, leak=(0.05, 0.3), seed=seed))
    rho = return_probability(net)
    mc, se = return_probability_mc(net, walks=20_000, seed=seed)
    assert (np.abs(mc - rho) <= 5 * np.maximum(se, 1e-4)).all()
    for revenue in (False, True):
        shares = origin_shares(net, revenue=revenue)
        est, se2 = origin_shares_mc(net, walks=20_000, seed=seed + 10, revenue=revenue)
        assert (np.abs(est - shares) <= 5 * np.maximum(se2, 1e-3)).all()


def test_origin_solution_solves_the_mixing_equations() -> None:
    net = flow_network(random_flow_network(300, seed=5))
    mix = origin_shares(net)
    Y = mix * net.T[:, None]
    Q = net.Q()
    # Y = B + Qᵀ Y: every pool is its direct outside inflows plus what its payers passed on
    assert np.allclose(Y, net.B + Q.T @ Y, rtol=1e-9, atol=1e-3)
    assert np.allclose(mix.sum(axis=1), 1.0)


def test_closed_class_returns_for_sure(build_flows: Any) -> None:
    f = build_flows([("a", "b", 10.0), ("b", "a", 10.0), ("world:end_customers", "c", 5.0),
                     ("c", "world:opex", 5.0)])
    t = trace(f)
    assert t.firms.loc[["a", "b"], "rho"].tolist() == [1.0, 1.0]
    assert t.pool_origin.loc["a", "unattributed"] == 1.0
    assert t.pool_origin.loc["c", "end_customers"] == 1.0
    rho, _ = return_probability_mc(flow_network(f), walks=500, seed=0)
    assert rho.tolist() == [1.0, 1.0, 0.0]


def test_payments_beyond_inflows_are_unattributed(build_flows: Any) -> None:
    f = build_flows([("world:end_customers", "a", 4.0), ("a", "b", 10.0), ("b", "world:opex", 10.0)])
    t = trace(f)
    assert t.pool_origin.loc["a", "unattributed"] == pytest.approx(0.6)
    assert t.revenue_origin.loc["b", "end_customers"] == pytest.approx(0.4)


def test_no_cycle_no_return(build_flows: Any) -> None:
    f = build_flows([("world:equity", "a", 4.0), ("a", "b", 4.0), ("b", "world:opex", 4.0)])
    t = trace(f)
    assert (t.firms["rho"] == 0).all() and (t.firms["round_trip_share"] == 0).all()
    assert t.revenue_origin.loc["b", "equity"] == 1.0


def test_book_and_its_flows_give_the_same_trace(loop_book: DealBook) -> None:
    a = trace(loop_book, end="2026")
    b = trace(flows_from_book(loop_book, end="2026"))
    pd.testing.assert_frame_equal(a.firms, b.firms)
    pd.testing.assert_frame_equal(a.revenue_origin, b.revenue_origin)
    assert str(a.window) == str(b.window) == "2025Q1–2026Q4"


def test_book_trace_reads_sensibly(loop_book: DealBook) -> None:
    t = trace(loop_book)
    # the vendor's equity comes back to it through the developer and the cloud
    assert 0 < t.firms.loc["vendor", "rho"] < 1
    assert 0 < t.firms.loc["vendor", "round_trip_share"] < 1
    # the developer's revenue is all end customers; the vendor's chip revenue is mixed
    assert t.revenue_origin.loc["dev", "end_customers"] == pytest.approx(1.0)
    assert t.revenue_origin.loc["vendor", "non_loop"] < 1.0
    # the bank lends outside debt: the cloud's pool holds some
    assert t.pool_origin.loc["cloud", "debt"] > 0
    receiving = t.firms.network_receipts > 0
    assert np.allclose(t.network_origin[receiving].sum(axis=1), 1.0)
    assert (t.network_origin[~receiving] == 0).all().all()
    # the developer's loop receipts are the vendor's and the fund's money
    assert t.network_origin.loc["dev", "end_customers"] < 0.5
    s = round_trip_share(loop_book, binding=True)
    assert ((s >= 0) & (s <= 1)).all()
    d = t.to_dict()
    assert {r["firm"] for r in d["firms"]} == set(t.firms.index)


def test_three_party_loop_twin() -> None:
    book = load_deal_book("three-party-loop")
    fast = trace(book)
    ref = trace_reference(book, walks=20_000, seed=3)
    assert ((ref.firms.rho - fast.firms.rho).abs() <= 5 * ref.firms.rho_se + 1e-9).all()
    assert fast.firms.loc["nvidia", "rho"] > 0


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 12), degree=st.floats(1.0, 4.0), seed=st.integers(0, 10_000))
def test_property_bounds(n: int, degree: float, seed: int) -> None:
    t = trace(random_flow_network(n, degree=degree, seed=seed))
    f = t.firms
    assert ((f.rho >= 0) & (f.rho <= 1)).all()
    assert ((f.round_trip_share >= 0) & (f.round_trip_share <= 1 + 1e-12)).all()
    assert (f.own_money_back <= f.network_receipts * (1 + 1e-9) + 1e-6).all()
    assert np.allclose(t.pool_origin.sum(axis=1), 1.0)
    assert np.isfinite(f.to_numpy()).all()


def test_sparse_input_is_not_densified() -> None:
    net = flow_network(random_flow_network(500, seed=9))
    assert sp.issparse(net.W) and net.W.nnz < 500 * 20
