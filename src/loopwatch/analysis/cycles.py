"""Cycles in the contract graph: where money goes round (DESIGN §3, the supply-chain loop).

The *contract graph* has a node per firm and an edge payer → payee (the
direction of money) for every pair of firms with contracts between them,
weighted by the amount due over the window (all contracts on the pair
summed). On it:

* strongly connected components (the loop's core is the largest);
* elementary cycles up to a length bound (Johnson 1975, as implemented by
  :func:`networkx.simple_cycles`), each weighted by its **bottleneck**, the
  smallest edge amount on it: the most money that can go all the way round;
* per-firm participation (cycles through the firm and their weight);
* significance against a degree-preserving null model: rewirings that keep
  every firm's in- and out-degree (and, since each edge keeps its payer's
  amount, every firm's total payments), compared by number of cycles and
  total bottleneck weight.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from loopwatch.analysis.flows import ALL_TYPES, PeriodLike, Window, as_flows, is_world
from loopwatch.model import ContractType, DealBook, Status

__all__ = [
    "CycleSignificance",
    "Cycles",
    "contract_graph",
    "cycle_significance",
    "find_cycles",
    "rewire",
]

_SERVICE_LEGS = ("interest", "repayment")

Seed = int | np.random.SeedSequence


def contract_graph(
    source: DealBook | pd.DataFrame,
    *,
    start: PeriodLike | None = None,
    end: PeriodLike | None = None,
    include: Iterable[ContractType | str] | str | None = None,
    binding: bool | None = None,
    status: Iterable[Status | str] | Status | str | None = None,
) -> tuple[nx.DiGraph, Window]:
    """The directed contract graph (money direction) over a window.

    Parameters
    ----------
    source : DealBook or pandas.DataFrame
        A deal book or a flows table.
    start, end : Period, str, int or None
        The window (a bare year covers the whole year).
    include : contract types, optional
        Types to keep; a book defaults to every type (LOIs, warrants and
        backstops count with their notional amounts), a table to every kind.
    binding, status : optional
        Keep only binding / non-binding contracts, or these statuses.

    Returns
    -------
    (networkx.DiGraph, Window)
        Nodes are firm ids; edge attributes ``amount`` (USD over the
        window), ``contracts`` and ``kinds`` (sorted tuples of str).

    Notes
    -----
    Outside-world flows are left out, and so are debt-service legs
    (``leg`` ``interest`` / ``repayment``): they run against the contract's
    direction and would turn every loan into a two-firm cycle.

    Examples
    --------
    >>> from loopwatch import load_deal_book
    >>> g, _ = contract_graph(load_deal_book("three-party-loop"))
    >>> sorted(g.edges)
    [('nvidia', 'openai'), ('openai', 'oracle'), ('oracle', 'nvidia')]
    """
    if isinstance(source, DealBook) and include is None:
        include = ALL_TYPES
    flows, win = as_flows(source, start=start, end=end, include=include, binding=binding,
                          status=status, world=False)
    if "leg" in flows:
        flows = flows[~flows["leg"].isin(_SERVICE_LEGS)]
    flows = flows[(flows["payer"] != flows["payee"]) & (flows["amount"] > 0)]
    g = nx.DiGraph()
    contract = flows["contract"] if "contract" in flows else pd.Series("", index=flows.index)
    grouped = flows.assign(contract=contract.fillna("")).groupby(["payer", "payee"], sort=True)
    for (payer, payee), rows in grouped:
        if is_world(str(payer)) or is_world(str(payee)):
            continue
        g.add_edge(
            str(payer), str(payee),
            amount=float(rows["amount"].sum()),
            contracts=tuple(sorted({str(c) for c in rows["contract"] if c})),
            kinds=tuple(sorted({str(k) for k in rows["kind"]})),
        )
    return g, win


def _enumerate(g: nx.DiGraph, length_bound: int) -> list[tuple[list[str], float]]:
    out = []
    for cyc in nx.simple_cycles(g, length_bound=length_bound):
        amounts = [g.edges[u, v]["amount"] for u, v in zip(cyc, cyc[1:] + cyc[:1], strict=True)]
        out.append((cyc, min(amounts)))
    return out


def _canonical(cyc: list[str]) -> list[str]:
    k = cyc.index(min(cyc))
    return cyc[k:] + cyc[:k]


@dataclass(frozen=True, eq=False)
class Cycles:
    """Result of :func:`find_cycles`.

    Attributes
    ----------
    window : Window
        The quarters whose amounts weight the edges.
    graph : networkx.DiGraph
        The contract graph (see :func:`contract_graph`).
    length_bound : int
        Longest cycle enumerated (edges).
    sccs : tuple of tuple of str
        Non-trivial strongly connected components (≥ 2 firms), largest first.
    cycles : pandas.DataFrame
        One row per elementary cycle, by bottleneck (largest first):
        ``cycle`` (``"a → b → c → a"``), ``firms`` (tuple, starting at the
        smallest id), ``length``, ``bottleneck`` (USD), ``bottleneck_edge``,
        ``total`` (USD, sum of the edges), ``contracts`` (tuple),
        ``kinds`` (tuple), ``binding`` (all its contracts binding, when known).
    participation : pandas.DataFrame
        Indexed by firm: ``cycles`` (count), ``weight`` (sum of bottlenecks
        of its cycles, USD), ``weight_share`` (of the total bottleneck
        weight), ``scc`` (index into :attr:`sccs`, -1 if on no cycle),
        ``scc_size``.
    """

    window: Window
    graph: nx.DiGraph
    length_bound: int
    sccs: tuple[tuple[str, ...], ...]
    cycles: pd.DataFrame
    participation: pd.DataFrame

    @property
    def core(self) -> tuple[str, ...]:
        """Members of the largest strongly connected component (the loop's core)."""
        return self.sccs[0] if self.sccs else ()

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        """Plain JSON-ready dict (``top`` cycles at most)."""
        cyc = self.cycles if top is None else self.cycles.head(top)
        return {
            "window": {"start": str(self.window.start), "end": str(self.window.end)},
            "length_bound": self.length_bound,
            "firms": self.graph.number_of_nodes(),
            "edges": self.graph.number_of_edges(),
            "sccs": [list(s) for s in self.sccs],
            "cycle_count": len(self.cycles),
            "bottleneck_weight": float(self.cycles["bottleneck"].sum()) if len(self.cycles) else 0.0,
            "cycles": [
                {"firms": list(r["firms"]), "length": int(r["length"]),
                 "bottleneck": float(r["bottleneck"]), "bottleneck_edge": r["bottleneck_edge"],
                 "total": float(r["total"]), "contracts": list(r["contracts"]),
                 "kinds": list(r["kinds"]), "binding": r["binding"]}
                for r in cyc.to_dict(orient="records")
            ],
            "participation": [
                {"firm": str(f), **{str(k): (float(v) if isinstance(v, float) else int(v))
                                     for k, v in row.items()}}
                for f, row in self.participation.to_dict(orient="index").items()
            ],
        }


def find_cycles(
    source: DealBook | pd.DataFrame,
    *,
    start: PeriodLike | None = None,
    end: PeriodLike | None = None,
    include: Iterable[ContractType | str] | str | None = None,
    binding: bool | None = None,
    status: Iterable[Status | str] | Status | str | None = None,
    length_bound: int = 6,
) -> Cycles:
    """Strongly connected components, elementary cycles by bottleneck, participation.

    Parameters
    ----------
    source : DealBook or pandas.DataFrame
        A deal book or a flows table.
    start, end : Period, str, int or None
        The window (a bare year covers the whole year).
    include : contract types, optional
        Types to keep (default: all; see :func:`contract_graph`).
    binding, status : optional
        Keep only binding / non-binding contracts, or these statuses.
    length_bound : int
        Longest cycle to enumerate, in edges (≥ 2).

    Returns
    -------
    Cycles

    Raises
    ------
    ValueError
        If ``length_bound`` < 2, or on bad filters or window.

    Notes
    -----
    Enumeration is Johnson's algorithm with a length bound (Gupta & Suzumura
    2021 in networkx), O((c + 1)(n + e)) for c cycles; the number of cycles
    can grow exponentially with the bound on dense graphs.

    References
    ----------
    Johnson, "Finding all the elementary circuits of a directed graph",
    SIAM J. Comput. 4(1) (1975). Tarjan, "Depth-first search and linear
    graph algorithms", SIAM J. Comput. 1(2) (1972).

    Examples
    --------
    >>> from loopwatch import load_deal_book
    >>> c = find_cycles(load_deal_book("three-party-loop"))
    >>> c.core
    ('nvidia', 'openai', 'oracle')
    >>> c.cycles.loc[0, "cycle"], float(c.cycles.loc[0, "bottleneck"]) / 1e9
    ('nvidia → openai → oracle → nvidia', 10.0)
    """
    if length_bound < 2:
        raise ValueError(f"length_bound must be ≥ 2, not {length_bound}")
    g, win = contract_graph(source, start=start, end=end, include=include, binding=binding,
                            status=status)
    binding_of = _binding_map(source)

    comps = sorted((tuple(sorted(c)) for c in nx.strongly_connected_components(g) if len(c) > 1),
                   key=lambda c: (-len(c), c))
    rows = []
    for cyc, neck in _enumerate(g, length_bound):
        cyc = _canonical(cyc)
        edges = list(zip(cyc, cyc[1:] + cyc[:1], strict=True))
        amounts = [g.edges[e]["amount"] for e in edges]
        weakest = edges[int(np.argmin(amounts))]
        contracts = tuple(c for e in edges for c in g.edges[e]["contracts"])
        flags = [binding_of[c] for c in contracts if c in binding_of]
        rows.append({
            "cycle": " → ".join([*cyc, cyc[0]]),
            "firms": tuple(cyc),
            "length": len(cyc),
            "bottleneck": neck,
            "bottleneck_edge": f"{weakest[0]} → {weakest[1]}",
            "total": float(sum(amounts)),
            "contracts": contracts,
            "kinds": tuple(sorted({k for e in edges for k in g.edges[e]["kinds"]})),
            "binding": bool(all(flags)) if flags else None,
        })
    cols = ["cycle", "firms", "length", "bottleneck", "bottleneck_edge", "total", "contracts",
            "kinds", "binding"]
    table = pd.DataFrame(rows, columns=cols)
    if len(table):
        table = table.sort_values(["bottleneck", "length", "cycle"], ascending=[False, True, True],
                                  ignore_index=True)
    return Cycles(win, g, length_bound, tuple(comps), table, _participation(g, table, comps))


def _binding_map(source: DealBook | pd.DataFrame) -> dict[str, bool]:
    if isinstance(source, DealBook):
        return {c.id: c.binding for c in source.contracts}
    if "contract" in source and "binding" in source:
        rows = source.dropna(subset=["contract"])
        return {str(c): bool(b) for c, b in zip(rows["contract"], rows["binding"], strict=True)}
    return {}


def _participation(g: nx.DiGraph, table: pd.DataFrame,
                   comps: list[tuple[str, ...]]) -> pd.DataFrame:
    firms = sorted(g.nodes)
    count = dict.fromkeys(firms, 0)
    weight = dict.fromkeys(firms, 0.0)
    for members, neck in zip(table["firms"], table["bottleneck"], strict=True):
        for f in members:
            count[f] += 1
            weight[f] += float(neck)
    total = float(table["bottleneck"].sum()) if len(table) else 0.0
    scc = {f: k for k, c in enumerate(comps) for f in c}
    out = pd.DataFrame(
        {
            "cycles": [count[f] for f in firms],
            "weight": [weight[f] for f in firms],
            "weight_share": [weight[f] / total if total > 0 else 0.0 for f in firms],
            "scc": [scc.get(f, -1) for f in firms],
            "scc_size": [len(comps[scc[f]]) if f in scc else 1 for f in firms],
        },
        index=pd.Index(firms, name="firm"),
    )
    return out.sort_values(["weight", "cycles"], ascending=False, kind="stable")


def rewire(
    g: nx.DiGraph, *, seed: Seed = 0, swaps_per_edge: float = 10.0, triple_share: float = 0.5
) -> nx.DiGraph:
    """A random rewiring of ``g`` with every node's in- and out-degree kept.

    Two moves, tried ``swaps_per_edge`` × edges times: the double-edge swap
    (a → b, c → d) ⇒ (a → d, c → b) of Maslov & Sneppen, and the three-edge
    swap on a path u → v → x → y ⇒ u → x → v → y of Erdős, Miklós &
    Toroczkai (the move :func:`networkx.directed_edge_swap` makes; double
    swaps alone cannot reach every digraph with a degree sequence, e.g. the
    reverse of a triangle). Moves creating self-loops or parallel edges are
    rejected. Each edge keeps its *payer's* attributes (amount, contracts),
    so every firm's total payments are kept too. networkx's own swap is not
    used because it drops edge attributes and raises on graphs too small to
    swap.

    Parameters
    ----------
    g : networkx.DiGraph
        The graph (not modified).
    seed : int or numpy.random.SeedSequence
        Seed of the move sequence.
    swaps_per_edge : float
        Attempted moves per edge.
    triple_share : float
        Share of attempts that are three-edge swaps.

    Returns
    -------
    networkx.DiGraph

    References
    ----------
    Maslov & Sneppen, "Specificity and stability in topology of protein
    networks", Science 296 (2002). Erdős, Miklós & Toroczkai, "A simple
    Havel–Hakimi type algorithm to realize graphical degree sequences of
    directed graphs", Electron. J. Combin. 17 (2010) R66.

    Examples
    --------
    >>> g = nx.DiGraph([(0, 1), (1, 2), (2, 0)])
    >>> sorted(rewire(g, seed=3).edges)  # the only other 3-cycle on {0, 1, 2}
    [(0, 2), (1, 0), (2, 1)]
    """
    rng = np.random.default_rng(seed)
    edges: list[tuple[Any, Any]] = list(g.edges)
    m = len(edges)
    if m < 2:
        return g.copy()
    attrs = {e: g.edges[e] for e in edges}  # attributes of the payer's edge
    where = {e: k for k, e in enumerate(edges)}
    succ: dict[Any, list[Any]] = {u: list(g.successors(u)) for u in g.nodes}

    def move(old: tuple[Any, Any], new: tuple[Any, Any]) -> None:
        k = where.pop(old)
        edges[k] = new
        where[new] = k
        succ[old[0]].remove(old[1])
        succ[new[0]].append(new[1])
        attrs[new] = attrs.pop(old)  # same payer: old[0] == new[0]

    for kind, a, b, c in rng.random((int(swaps_per_edge * m), 4)):
        if kind >= triple_share:  # double swap (u→v, x→y) ⇒ (u→y, x→v)
            (u, v), (x, y) = edges[int(a * m)], edges[int(b * m)]
            if u == x or u == y or x == v or (u, y) in where or (x, v) in where:
                continue
            move((u, v), (u, y))
            move((x, y), (x, v))
        else:  # three-edge swap u→v→x→y ⇒ u→x→v→y
            u, v = edges[int(a * m)]
            if not succ[v]:
                continue
            x = succ[v][int(b * len(succ[v]))]
            if not succ[x]:
                continue
            y = succ[x][int(c * len(succ[x]))]
            if u == x or v == y or (u, x) in where or (x, v) in where or (v, y) in where:
                continue
            move((u, v), (u, x))
            move((v, x), (v, y))
            move((x, y), (x, v))
    out = nx.DiGraph()
    out.add_nodes_from(g.nodes(data=True))
    out.add_edges_from((u, v, dict(attrs[(u, v)])) for u, v in edges)
    return out


@dataclass(frozen=True, eq=False)
class CycleSignificance:
    """Result of :func:`cycle_significance`.

    Attributes
    ----------
    samples : int
        Null graphs drawn.
    table : pandas.DataFrame
        One row per statistic (``cycles``, ``bottleneck_weight`` in USD,
        ``cycles_len_2`` ... ``cycles_len_L``): ``observed``, ``null_mean``,
        ``null_std``, ``z`` (0 when the null has no spread) and ``p_value``,
        the upper-tail Monte Carlo p-value (1 + #{null ≥ observed}) / (1 + samples).
    """

    samples: int
    table: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return {"samples": self.samples,
                "statistics": [{"statistic": str(k), **{c: float(v) for c, v in row.items()}}
                               for k, row in self.table.to_dict(orient="index").items()]}


def _statistics(g: nx.DiGraph, length_bound: int) -> list[float]:
    found = _enumerate(g, length_bound)
    by_len = [sum(1 for c, _ in found if len(c) == k) for k in range(2, length_bound + 1)]
    return [float(len(found)), float(sum(b for _, b in found)), *map(float, by_len)]


def cycle_significance(
    source: DealBook | pd.DataFrame | nx.DiGraph,
    *,
    samples: int = 200,
    seed: Seed = 0,
    length_bound: int = 6,
    swaps_per_edge: float = 10.0,
    **filters: Any,
) -> CycleSignificance:
    """Are there more cycles, and more money on them, than degrees alone explain?

    Draws ``samples`` degree-preserving rewirings of the contract graph
    (:func:`rewire`, each from the observed graph with its own spawned
    random stream) and compares the number of elementary cycles up to
    ``length_bound`` and their total bottleneck weight with the observed
    graph's.

    Parameters
    ----------
    source : DealBook, pandas.DataFrame or networkx.DiGraph
        A deal book or flows table (with ``filters`` as in :func:`find_cycles`:
        ``start``, ``end``, ``include``, ``binding``, ``status``), or a
        contract graph with ``amount`` edge attributes.
    samples : int
        Number of null graphs (≥ 1).
    seed : int or numpy.random.SeedSequence
        Root seed.
    length_bound : int
        Longest cycle counted.
    swaps_per_edge : float
        Rewiring moves attempted per edge in each sample.

    Returns
    -------
    CycleSignificance

    Raises
    ------
    ValueError
        If ``samples`` < 1 or ``length_bound`` < 2.

    Notes
    -----
    Holding each edge's amount with its payer keeps every firm's total
    payments as well as its degrees, so the weight test asks whether money
    is arranged in loops more than chance would arrange it. Small graphs
    have few rewirings (a lone triangle has one other), so p-values near 1
    there mean "no evidence", not "no loop". Cost: samples × (moves + cycle
    enumeration).

    References
    ----------
    Maslov & Sneppen (2002), see :func:`rewire`. North, Curtis & Sham, "A
    note on the calculation of empirical P values from Monte Carlo
    procedures", Am. J. Hum. Genet. 71 (2002).

    Examples
    --------
    >>> from loopwatch import load_deal_book
    >>> s = cycle_significance(load_deal_book("three-party-loop"), samples=20, seed=1)
    >>> float(s.table.loc["cycles", "p_value"])  # every rewiring of a triangle is a triangle
    1.0
    """
    if samples < 1:
        raise ValueError(f"samples must be ≥ 1, not {samples}")
    if length_bound < 2:
        raise ValueError(f"length_bound must be ≥ 2, not {length_bound}")
    g = source if isinstance(source, nx.DiGraph) else contract_graph(source, **filters)[0]
    observed = np.array(_statistics(g, length_bound))
    root = np.random.SeedSequence(seed) if isinstance(seed, int) else seed
    null = np.array([
        _statistics(rewire(g, seed=ss, swaps_per_edge=swaps_per_edge), length_bound)
        for ss in root.spawn(samples)
    ])
    mean, std = null.mean(axis=0), null.std(axis=0, ddof=1) if samples > 1 else np.zeros(len(observed))
    z = np.divide(observed - mean, std, out=np.zeros_like(mean), where=std > 0)
    p = (1.0 + (null >= observed - 1e-9 * np.abs(observed)).sum(axis=0)) / (1.0 + samples)
    names = ["cycles", "bottleneck_weight", *[f"cycles_len_{k}" for k in range(2, length_bound + 1)]]
    table = pd.DataFrame({"observed": observed, "null_mean": mean, "null_std": std, "z": z,
                          "p_value": p}, index=pd.Index(names, name="statistic"))
    return CycleSignificance(samples, table)
