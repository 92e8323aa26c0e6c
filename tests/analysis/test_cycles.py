"""Contract graph, cycles by bottleneck, participation, degree-preserving null model."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from loopwatch import load_deal_book
from loopwatch.analysis import contract_graph, cycle_significance, find_cycles, rewire
from loopwatch.model import DealBook


def test_three_party_loop() -> None:
    c = find_cycles(load_deal_book("three-party-loop"))
    assert c.core == ("nvidia", "openai", "oracle") and len(c.sccs) == 1
    assert len(c.cycles) == 1
    row = c.cycles.iloc[0]
    assert row["bottleneck"] == pytest.approx(10e9)
    assert row["bottleneck_edge"] == "nvidia → openai"
    assert row["total"] == pytest.approx(10e9 + 40e9 + 16e9)
    assert bool(row["binding"])
    assert (c.participation["cycles"] == 1).all()
    assert c.participation["weight_share"].tolist() == [1.0, 1.0, 1.0]


def test_enumeration_bottlenecks_and_bound(build_flows: Any) -> None:
    f = build_flows([("a", "b", 5.0), ("b", "a", 2.0), ("b", "c", 7.0), ("c", "a", 3.0),
                     ("c", "d", 1.0), ("d", "e", 9.0), ("e", "c", 4.0), ("x", "a", 50.0)])
    c = find_cycles(f)
    got = {r: b for r, b in zip(c.cycles["cycle"], c.cycles["bottleneck"], strict=True)}
    assert got == {"a → b → c → a": 3.0, "a → b → a": 2.0, "c → d → e → c": 1.0}
    assert c.cycles["cycle"].tolist() == ["a → b → c → a", "a → b → a", "c → d → e → c"]
    assert c.core == ("a", "b", "c", "d", "e")
    assert c.participation.loc["x", "scc"] == -1 and c.participation.loc["x", "cycles"] == 0
    assert c.participation.loc["c", "weight"] == pytest.approx(4.0)
    short = find_cycles(f, length_bound=2)
    assert short.cycles["cycle"].tolist() == ["a → b → a"]
    with pytest.raises(ValueError, match="length_bound"):
        find_cycles(f, length_bound=1)


def test_amounts_sum_over_contracts_and_window(build_flows: Any) -> None:
    f = build_flows([("a", "b", 5.0), ("b", "a", 2.0)])
    g = f.assign(period="2025Q2", amount=[1.0, 4.0])
    both = pd.concat([f, g], ignore_index=True)
    c = find_cycles(both)
    assert c.graph.edges["b", "a"]["amount"] == 6.0 and c.cycles.loc[0, "bottleneck"] == 6.0
    assert find_cycles(both, end="2025Q1").cycles.loc[0, "bottleneck"] == 2.0


def test_filters_binding_status_type(loop_book: DealBook) -> None:
    full = find_cycles(loop_book)
    edges = set(full.graph.edges)
    assert ("dev", "cloud") in edges and ("vendor", "dev") in edges
    # debt service never makes lender ↔ borrower two-cycles
    assert ("cloud", "bank") not in edges
    assert any("letter_of_intent" in k for k in full.cycles["kinds"])
    non_binding = find_cycles(loop_book, binding=False)
    assert set(non_binding.graph.edges) == {("dev", "cloud")} and non_binding.cycles.empty
    chips_only = find_cycles(loop_book, include=["chip_purchase"])
    assert set(chips_only.graph.edges) == {("cloud", "vendor")}
    announced = find_cycles(loop_book, status=["announced"])
    assert set(announced.graph.edges) == {("dev", "cloud"), ("fund", "dev")}
    # the loop survives with binding contracts only, its bottleneck is the 4bn equity
    binding = find_cycles(loop_book, binding=True)
    assert binding.cycles["bottleneck"].max() == pytest.approx(4e9)


def test_json_round_trip(loop_book: DealBook) -> None:
    d = find_cycles(loop_book).to_dict(top=1)
    assert len(d["cycles"]) == 1 and d["cycle_count"] >= 1
    json.dumps(d, allow_nan=False)


def _degrees(g: nx.DiGraph) -> tuple[Counter[Any], Counter[Any], dict[Any, float]]:
    strength = {u: sum(d["amount"] for _, _, d in g.out_edges(u, data=True)) for u in g}
    return Counter(dict(g.in_degree())), Counter(dict(g.out_degree())), strength


@pytest.mark.parametrize("seed", range(4))
def test_rewire_keeps_degrees_and_payments(seed: int) -> None:
    rng = np.random.default_rng(seed)
    g = nx.gnp_random_graph(25, 0.15, directed=True, seed=seed)
    nx.set_edge_attributes(g, {e: float(rng.integers(1, 100)) for e in g.edges}, "amount")
    r = rewire(g, seed=seed)
    assert _degrees(r) == _degrees(g)
    assert nx.number_of_selfloops(r) == 0 and r.number_of_edges() == g.number_of_edges()
    assert set(r.edges) != set(g.edges)
    assert set(g.edges) == set(rewire(g, seed=seed, swaps_per_edge=0).edges)


def test_rewire_reaches_every_orientation_of_a_triangle() -> None:
    g = nx.DiGraph([(0, 1), (1, 2), (2, 0)])
    seen = {frozenset(rewire(g, seed=s, swaps_per_edge=3).edges) for s in range(20)}
    assert seen == {frozenset(g.edges), frozenset({(0, 2), (2, 1), (1, 0)})}
    # double swaps alone cannot turn it round
    assert {frozenset(rewire(g, seed=s, triple_share=0.0).edges) for s in range(10)} == {
        frozenset(g.edges)}


def test_reciprocal_ring_is_significant() -> None:
    g = nx.DiGraph()
    for i in range(10):
        g.add_edge(i, (i + 1) % 10, amount=5.0)
        g.add_edge((i + 1) % 10, i, amount=5.0)
    s = cycle_significance(g, samples=99, seed=2, length_bound=3)
    assert s.table.loc["cycles_len_2", "observed"] == 10
    assert s.table.loc["cycles_len_2", "p_value"] <= 0.05
    assert s.table.loc["cycles_len_2", "z"] > 2
    again = cycle_significance(g, samples=99, seed=2, length_bound=3)
    assert again.table.equals(s.table)
    json.dumps(s.to_dict(), allow_nan=False)


def test_significance_on_books(loop_book: DealBook) -> None:
    s = cycle_significance(loop_book, samples=30, seed=0, end="2026")
    assert set(s.table.index) >= {"cycles", "bottleneck_weight", "cycles_len_6"}
    assert ((s.table.p_value > 0) & (s.table.p_value <= 1)).all()
    with pytest.raises(ValueError):
        cycle_significance(loop_book, samples=0)


def test_contract_graph_from_book_counts_contingent_types(loop_book: DealBook) -> None:
    g, win = contract_graph(loop_book)
    assert "loi" in g.edges["dev", "cloud"]["contracts"]
    assert g.edges["dev", "cloud"]["amount"] == pytest.approx(24e9 + 50e9 + 10e9)
    assert str(win) == "2025Q1–2027Q4"
