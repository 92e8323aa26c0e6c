"""Warrant valuation for equity-for-orders deals (DESIGN §3, Q6).

A warrant (issuer → holder) gives the holder ``shares`` of the issuer at
``strike``, vesting in tranches, each once all its conditions hold at the
same quarter end: GW bought or deployed by the holder (optionally from one
vendor), share-price hurdles of the issuer, end revenue. AMD's warrant to
OpenAI (160M shares at $0.01, vesting with 1 → 6 GW of AMD chips bought and
price hurdles up to $600) is the case in point.

Model
-----
* **Price.** The issuer's price follows geometric Brownian motion under the
  risk-neutral measure (drift = the risk-free rate ``rate``, volatility
  ``volatility``), observed at quarter ends from the valuation quarter to
  expiry; or given paths are used as they are.
* **Milestones.** GW come from the book's contracts: chip purchases by the
  holder (``gw_bought`` and ``gw_deployed``), compute commitments by the
  holder (``gw_deployed``, split by ``vendor_mix`` when a vendor is named),
  accruing with their schedules; LOIs count only on the paths where they
  convert (each path draws conversion with the LOI's probability, or
  ``loi_conversion``). A given ``gw`` schedule replaces all of this.
* **Exercise and dilution.** Vested shares are exercised at expiry (for a
  call on a stock without dividends, waiting is optimal — Merton 1973 — and
  with a near-zero strike it changes nothing). Exercising m new shares into
  N outstanding at strike K pays each ``(N S + m K)/(N + m) − K =
  N/(N + m) (S − K)``: the Galai–Schneller dilution adjustment, with S the
  value per pre-exercise share (the "post-dilution price process": the
  firm's equity value over N, which the exercise then dilutes).
* With ``dilution_feedback`` the book's quoted price is taken to already
  discount the warrant (Hull's treatment): S₀ solves ``S₀ = P + value(S₀)/N``
  for quoted price P, by fixed-point iteration with common random numbers.

Without conditions the value is therefore ``M N/(N + M) × BS(S₀, K, T, r, σ)``
(Galai & Schneller 1978), which the tests check within Monte Carlo error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from loopwatch.analysis.flows import PeriodLike, Window, resolve_window
from loopwatch.errors import ConvergenceError
from loopwatch.model import (
    ChipPurchase,
    ComputeCommitment,
    Condition,
    ContractType,
    DealBook,
    EquityMarket,
    LetterOfIntent,
    Metric,
    Period,
    Warrant,
    WarrantTranche,
)

__all__ = ["WarrantValuation", "black_scholes_call", "value_warrant", "value_warrants"]

Array = NDArray[np.float64]
Seed = int | np.random.SeedSequence

DEFAULT_VOLATILITY = EquityMarket().price_volatility
DEFAULT_RATE = 0.04


def black_scholes_call(spot: float, strike: float, years: float, rate: float, vol: float) -> float:
    """Black–Scholes value of a European call, USD per share.

    Examples
    --------
    >>> round(black_scholes_call(100.0, 100.0, 1.0, 0.05, 0.2), 4)
    10.4506
    """
    if years <= 0 or vol <= 0:
        return max(spot - strike * math.exp(-rate * max(years, 0.0)), 0.0)
    if strike <= 0:
        return spot
    d1 = (math.log(spot / strike) + (rate + 0.5 * vol * vol) * years) / (vol * math.sqrt(years))
    d2 = d1 - vol * math.sqrt(years)
    return spot * _normal_cdf(d1) - strike * math.exp(-rate * years) * _normal_cdf(d2)


def _normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


@dataclass(frozen=True, eq=False)
class WarrantValuation:
    """Result of :func:`value_warrant`. Money in USD, shares in shares.

    Attributes
    ----------
    warrant, issuer, holder : str
    shares : float
        Shares under the warrant (M).
    strike : float
    shares_outstanding : float
        Issuer's shares before exercise (N).
    start_price : float
        Price the paths start from (after the dilution fixed point, if any).
    valuation, expiry : str
        First and last quarter of the paths.
    paths : int
    volatility, rate : float
        Annual; ``volatility`` is None for given paths.
    value, std_error : float
        Monte Carlo value of the warrant and its standard error, USD.
    notional : float
        The contract's stated ``amount``.
    dilution : float
        M / (N + M) if everything vests.
    expected_dilution : float
        Mean over paths of m / (N + m) for the shares m that vest.
    order, order_value, implied_discount : str, float, float or None
        The order the warrant names (``order``), its value and the implied
        discount = value / order value.
    programme_value, programme_discount : float or None
        The whole purchase programme the warrant's GW milestones count: the
        named order plus the holder's other purchases from the issuer that
        count toward a GW condition (LOIs at face value), and value / it.
        AMD's warrant names the binding first GW but vests on all six.
    tranches : pandas.DataFrame
        Per tranche: ``shares``, ``conditions`` (text), ``vest_probability``,
        ``median_vesting`` (lower median quarter among paths that vest, or None) and
        ``value`` (USD; the tranches sum to ``value``).
    """

    warrant: str
    issuer: str
    holder: str
    shares: float
    strike: float
    shares_outstanding: float
    start_price: float
    valuation: str
    expiry: str
    paths: int
    volatility: float | None
    rate: float
    value: float
    std_error: float
    notional: float
    dilution: float
    expected_dilution: float
    order: str | None
    order_value: float | None
    implied_discount: float | None
    programme_value: float | None
    programme_discount: float | None
    tranches: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "tranches"}
        out["tranches"] = [
            {str(k): v for k, v in row.items()} for row in self.tranches.to_dict(orient="records")
        ]
        return out


def _describe(cond: Condition) -> str:
    who = f"{cond.firm} " if cond.firm else ""
    vendor = f" from {cond.vendor}" if cond.vendor else ""
    unit = {"gw_deployed": " GW", "gw_bought": " GW", "share_price": " USD",
            "end_revenue": " USD/yr"}[cond.metric.value]
    return f"{who}{cond.metric.value}{vendor} ≥ {cond.threshold:g}{unit}"


def _accrual(c: Any, grid: list[Period]) -> Array:
    """Cumulative share of a contract delivered by the end of each grid quarter, (K,)."""
    tranches = getattr(c, "tranches", ())
    if isinstance(c, LetterOfIntent) and tranches:
        total = sum(t.amount for t in tranches) or 1.0
        steps = [(t.at.index, t.amount / total) for t in tranches]
    else:
        steps = [(c.schedule.start.index + k, f) for k, f in enumerate(c.schedule.fractions())]
    done = np.array([sum(f for q, f in steps if q <= p.index) for p in grid])
    return np.asarray(np.round(done, 12), dtype=np.float64)  # a finished schedule is exactly 1


def _gw_contracts(book: DealBook, cond: Condition, firm: str) -> list[tuple[Any, float]]:
    """(contract, GW it counts for) toward a GW condition of ``firm``."""
    out: list[tuple[Any, float]] = []
    for c in book.contracts:
        if c.payer != firm:
            continue
        kind = c.converts_to if isinstance(c, LetterOfIntent) else c.type
        cap = getattr(c, "capacity_gw", None)
        if not cap:
            continue
        if kind is ContractType.chip_purchase:
            if cond.vendor is None or c.payee == cond.vendor:
                out.append((c, cap))
        elif kind is ContractType.compute_commitment and cond.metric is Metric.gw_deployed:
            mix = c.vendor_mix if isinstance(c, ComputeCommitment) else {}
            share = 1.0 if cond.vendor is None else mix.get(cond.vendor, 0.0)
            if share > 0:
                out.append((c, cap * share))
    return out


def _gw_paths(book: DealBook, cond: Condition, firm: str, grid: list[Period], n: int,
              rng: np.random.Generator, loi_conversion: float | None) -> Array:
    total = np.zeros((n, len(grid)))
    for c, gw in _gw_contracts(book, cond, firm):
        curve = gw * _accrual(c, grid)
        if isinstance(c, LetterOfIntent):
            p = c.conversion_probability if loi_conversion is None else loi_conversion
            converts = rng.random(n) < p
            total += converts[:, None] * curve[None, :]
        elif isinstance(c, ChipPurchase | ComputeCommitment):
            total += curve[None, :]
    return total


def _given_gw(gw: pd.Series | Mapping[str, float], grid: list[Period]) -> Array:
    series = pd.Series(gw, dtype=float)
    known = sorted((Period.parse(str(k)), float(v)) for k, v in series.items())
    out = np.zeros(len(grid))
    for i, p in enumerate(grid):
        past = [v for q, v in known if q <= p]
        out[i] = past[-1] if past else 0.0
    return out


def _gbm(s0: float, rate: float, vol: float, quarters: int, n: int,
         rng: np.random.Generator) -> Array:
    dt = 0.25
    z = rng.standard_normal((n, quarters))
    steps = (rate - 0.5 * vol * vol) * dt + vol * math.sqrt(dt) * z
    return np.asarray(s0 * np.exp(np.cumsum(steps, axis=1)), dtype=np.float64)


def value_warrant(
    book: DealBook,
    warrant: str | None = None,
    *,
    start: PeriodLike | None = None,
    end: PeriodLike | None = None,
    paths: int = 20_000,
    seed: Seed = 0,
    volatility: float = DEFAULT_VOLATILITY,
    rate: float = DEFAULT_RATE,
    price_paths: NDArray[np.float64] | pd.DataFrame | None = None,
    gw: pd.Series | Mapping[str, float] | None = None,
    loi_conversion: float | None = None,
    dilution_feedback: bool = False,
) -> WarrantValuation:
    """Monte Carlo value of a warrant with its vesting conditions; dilution; implied discount.

    Parameters
    ----------
    book : DealBook
        The deal book holding the warrant, its issuer and its order.
    warrant : str, optional
        Warrant id; default the book's first warrant.
    start : Period, str, int or None
        Valuation quarter (paths start at its beginning). The warrant is
        valued at issue (its schedule's start, when the book's price is
        dated) unless ``start`` is later; default the book's start.
    end : Period, str, int or None
        Last quarter, used only when the warrant has no ``expiry``
        (default the book's horizon).
    paths : int
        Simulated price paths (ignored with ``price_paths``).
    seed : int or numpy.random.SeedSequence
        Seed: one stream for prices, one for LOI conversions.
    volatility : float
        Annual volatility of the issuer's share price (default: the
        scenario default, ``EquityMarket().price_volatility``).
    rate : float
        Annual continuously compounded risk-free rate (the GBM drift and
        the discount rate).
    price_paths : ndarray (path, quarter) or DataFrame, optional
        Given issuer prices at each quarter end from the valuation quarter to
        expiry, USD; a DataFrame may name its columns by quarter label.
    gw : pandas.Series or mapping, optional
        Cumulative GW by quarter label (a step function) to use for every GW
        condition instead of the book's contracts.
    loi_conversion : float, optional
        Probability every LOI converts (default: each LOI's own).
    dilution_feedback : bool
        Take the book's price as already discounting the warrant (module
        docstring).

    Returns
    -------
    WarrantValuation

    Raises
    ------
    ValueError
        If there is no such warrant, the issuer lacks shares outstanding or
        a price, or the given paths do not cover the quarters.
    ConvergenceError
        If the dilution fixed point does not settle in 100 iterations.

    Notes
    -----
    Quarter-end monitoring: a hurdle touched and lost within a quarter does
    not count; a tranche vests at the first quarter end at which all its
    conditions hold together and stays vested. Conditions on a firm other
    than the issuer's price or the GW of firms use the book's opening
    figures (flat). Cost O(paths × quarters × conditions).

    References
    ----------
    Galai & Schneller, "Pricing of warrants and the value of the firm",
    Journal of Finance 33(5) (1978). Black & Scholes, "The pricing of
    options and corporate liabilities", JPE 81(3) (1973). Merton, "Theory of
    rational option pricing", Bell J. Econ. 4(1) (1973). Hull, *Options,
    Futures, and Other Derivatives*, "Warrants, employee stock options and
    convertibles".

    Examples
    --------
    >>> from loopwatch.model import DealBook
    >>> book = DealBook.model_validate({"name": "w", "start": "2025Q1", "firms": [
    ...     {"id": "amd", "name": "AMD", "role": "chip_vendor", "shares_outstanding": 1.6e9,
    ...      "share_price": 160}, {"id": "openai", "name": "OpenAI", "role": "model_developer"}],
    ...   "contracts": [{"id": "w", "type": "warrant", "payer": "amd", "payee": "openai",
    ...     "amount": 0, "schedule": {"start": "2025Q1"}, "shares": 1.6e8, "strike": 0.01,
    ...     "expiry": "2026Q4"}]})
    >>> v = value_warrant(book, paths=4000, seed=1)
    >>> round(v.dilution, 4), v.expiry
    (0.0909, '2026Q4')
    >>> bs = 1.6e8 * 1.6e9 / (1.6e9 + 1.6e8) * black_scholes_call(160, 0.01, 2.0, 0.04, 0.45)
    >>> abs(v.value - bs) < 4 * v.std_error
    True
    """
    warrants = [c for c in book.contracts if isinstance(c, Warrant)]
    if not warrants:
        raise ValueError(f"deal book {book.name!r} has no warrant")
    if warrant is None:
        w = warrants[0]
    else:
        found = [c for c in warrants if c.id == warrant]
        if not found:
            raise ValueError(f"no warrant {warrant!r} (warrants: {', '.join(c.id for c in warrants)})")
        w = found[0]
    win = resolve_window(start, end, default=Window(book.start, book.horizon))
    issuer = book.firm(w.payer) if w.payer in book.firm_index else None
    if issuer is None or not issuer.shares_outstanding:
        raise ValueError(f"warrant {w.id}: issuer {w.payer!r} needs shares_outstanding")
    N, M, K = float(issuer.shares_outstanding), float(w.shares), float(w.strike)
    expiry = w.expiry or win.end
    first = max(win.start, w.schedule.start)
    if expiry < first:
        raise ValueError(f"warrant {w.id} expires ({expiry}) before {first}")
    grid = [first + k for k in range(expiry - first + 1)]
    Q = len(grid)
    years = Q / 4.0
    root = np.random.SeedSequence(seed) if isinstance(seed, int) else seed
    s_price, s_loi = root.spawn(2)

    given: Array | None = None
    if price_paths is not None:
        if isinstance(price_paths, pd.DataFrame):
            cols = [str(p) for p in grid]
            missing = [c for c in cols if c not in price_paths.columns]
            arr = (price_paths[cols] if not missing else price_paths.iloc[:, :Q]).to_numpy(float)
        else:
            arr = np.asarray(price_paths, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] < Q:
            raise ValueError(f"price_paths must be (paths, ≥{Q} quarters), not {arr.shape}")
        given = arr[:, :Q]
        paths = given.shape[0]
    elif not issuer.share_price:
        raise ValueError(f"warrant {w.id}: issuer {w.payer!r} needs a share_price (or give price_paths)")

    tranches: list[WarrantTranche | None] = list(w.tranches) or [None]
    shares = np.array([t.shares if t is not None else M for t in tranches])
    conds = [t.conditions if t is not None else () for t in tranches]
    loi_rng = np.random.default_rng(s_loi)
    gw_cache: dict[tuple[str, str, str | None], Array] = {}

    def metric(cond: Condition, prices: Array) -> Array:
        if cond.metric is Metric.share_price:
            firm = cond.firm or w.payer
            if firm == w.payer:
                return prices
            return np.full((paths, Q), book.firm(firm).share_price or 0.0)
        firm = cond.firm or w.payee
        if cond.metric is Metric.end_revenue:
            return np.full((paths, Q), book.firm(firm).end_revenue)
        if gw is not None:
            return np.broadcast_to(_given_gw(gw, grid), (paths, Q))
        key = (cond.metric.value, firm, cond.vendor)
        if key not in gw_cache:
            gw_cache[key] = _gw_paths(book, cond, firm, grid, paths, loi_rng, loi_conversion)
        return gw_cache[key]

    disc = math.exp(-rate * years)

    def simulate(s0: float) -> tuple[Array, Array, Array]:
        prices = given if given is not None else _gbm(s0, rate, volatility, Q, paths,
                                                      np.random.default_rng(s_price))
        vested = np.zeros((paths, len(tranches)), dtype=bool)
        when = np.full((paths, len(tranches)), -1)
        for k, cs in enumerate(conds):
            ok = np.ones((paths, Q), dtype=bool)
            for cond in cs:
                ok &= metric(cond, prices) >= cond.threshold * (1.0 - 1e-12)
            hit = ok.any(axis=1)
            vested[:, k] = hit
            when[:, k] = np.where(hit, ok.argmax(axis=1), -1)
        m = vested.astype(float) @ shares
        per_share = disc * N / (N + m) * np.maximum(prices[:, -1] - K, 0.0)
        contrib = vested * shares[None, :] * per_share[:, None]  # (path, tranche), USD
        return contrib, when, m

    s0 = float(given[0, 0]) if given is not None else float(issuer.share_price or 0.0)
    contrib, when, m = simulate(s0)
    if dilution_feedback and given is None:
        quoted = s0
        for _ in range(100):
            nxt = quoted + float(contrib.sum(axis=1).mean()) / N
            residual = abs(nxt - s0)
            s0 = nxt
            contrib, when, m = simulate(s0)
            if residual <= 1e-10 * max(s0, 1.0):
                break
        else:
            raise ConvergenceError(100, residual)

    total = contrib.sum(axis=1)
    value = float(total.mean())
    se = float(total.std(ddof=1) / math.sqrt(paths)) if paths > 1 else 0.0
    rows = []
    for k in range(len(tranches)):
        hit = when[:, k] >= 0
        q = np.sort(when[hit, k])
        median = grid[int(q[(q.size - 1) // 2])] if q.size else None  # lower median: a real quarter
        rows.append({
            "shares": float(shares[k]),
            "conditions": "; ".join(_describe(c) for c in conds[k]) or "none",
            "vest_probability": float(hit.mean()),
            "median_vesting": str(median) if median is not None else None,
            "value": float(contrib[:, k].mean()),
        })
    order_value = None
    programme: dict[str, float] = {}
    if w.order and w.order in book.contract_index:
        order_value = float(book.contract(w.order).amount)
        programme[w.order] = order_value
    for cs in conds:
        for cond in cs:
            if cond.metric in (Metric.gw_bought, Metric.gw_deployed):
                for c, _ in _gw_contracts(book, cond, cond.firm or w.payee):
                    if c.payee == w.payer:
                        programme[c.id] = float(c.amount)
    programme_value = sum(programme.values()) if programme else None
    return WarrantValuation(
        warrant=w.id, issuer=w.payer, holder=w.payee, shares=M, strike=K,
        shares_outstanding=N, start_price=s0, valuation=str(grid[0]), expiry=str(grid[-1]),
        paths=paths, volatility=None if given is not None else volatility, rate=rate,
        value=value, std_error=se, notional=float(w.amount), dilution=M / (N + M),
        expected_dilution=float(np.mean(m / (N + m))), order=w.order, order_value=order_value,
        implied_discount=value / order_value if order_value else None,
        programme_value=programme_value,
        programme_discount=value / programme_value if programme_value else None,
        tranches=pd.DataFrame(rows, columns=["shares", "conditions", "vest_probability",
                                             "median_vesting", "value"]),
    )


def value_warrants(book: DealBook, **options: Any) -> list[WarrantValuation]:
    """:func:`value_warrant` for every warrant in the book (options as there), in book order.

    Examples
    --------
    >>> from loopwatch import load_deal_book
    >>> value_warrants(load_deal_book("three-party-loop"))
    []
    """
    return [value_warrant(book, c.id, **options) for c in book.contracts
            if isinstance(c, Warrant)]
