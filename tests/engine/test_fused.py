"""The compiled kernels (:mod:`loopwatch.engine._fused`) against their numpy twins.

Each engine function that runs on compiled loops keeps its numpy version
(``*_reference``); here both run on copies of the same random state and must
leave the same numbers, bit for bit (``assert_array_equal``: NaN equals NaN,
and -0.0 equals 0.0, the one difference the kernels allow themselves). Where
a twin calls BLAS (the core-default share in :func:`revalue`), the tolerance
is a few ulps. A second family of tests runs a kernel on a chunk of paths and
on a sub-chunk and requires the sub-chunk's numbers unchanged: kernels treat
each path on its own.

States are random (money in USD spread over 10^6 to 10^12, signs and exact
zeros mixed in, flags random) on the bundled ``ai-compute-2025`` book (34
firms, equity and warrants) and on the ``three-party-loop`` book.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from tests.strategies import deal_books, scenarios

from loopwatch import load_deal_book, load_scenario
from loopwatch.engine import _fused, _kernels, funding, incidence, resolution, simulate, valuation
from loopwatch.engine import step as step_module
from loopwatch.engine.events import EventLog
from loopwatch.engine.funding import Market
from loopwatch.engine.incidence import Sum, Weighted, spmm_reference
from loopwatch.engine.ledger import Account, Ledger
from loopwatch.engine.plan import Plan, compile_plan
from loopwatch.engine.state import State
from loopwatch.errors import AccountingError
from loopwatch.model import DealBook, Scenario

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BOOKS = ("ai-compute-2025", "three-party-loop")
_PLANS: dict[str, Plan] = {}

seeds = st.integers(0, 2**32 - 1)
paths = st.integers(1, 40)
books = st.sampled_from(BOOKS)


def _plan(name: str) -> Plan:
    if name not in _PLANS:
        _PLANS[name] = compile_plan(load_deal_book(name), load_scenario("base"))
    return _PLANS[name]


def _money(rng: np.random.Generator, shape: tuple[int, ...], *, sign: bool = True,
           zeros: float = 0.3) -> NDArray[np.float64]:
    """USD amounts: log-uniform 10^6…10^12, a share exactly zero, some negative."""
    out = 10.0 ** rng.uniform(6, 12, shape)
    if sign:
        out = np.where(rng.random(shape) < 0.15, -out, out)
    out = np.where(rng.random(shape) < zeros, 0.0, out)
    return np.asarray(out, np.float64)


def _state(plan: Plan, P: int, rng: np.random.Generator) -> State:
    """A State whose every array is random (shapes as the engine's)."""
    s = State(plan, P, np.ones(P))
    for name, a in list(vars(s).items()):
        if not isinstance(a, np.ndarray):
            continue
        if a.dtype == np.bool_:
            new: NDArray[Any] = rng.random(a.shape) < (0.85 if name == "alive" else 0.5)
        elif a.dtype.kind == "i":
            new = rng.integers(-1, 4, a.shape)
        elif name in ("sentiment", "sent_eff", "price"):
            new = rng.uniform(0.0, 3.0, a.shape) * (rng.random(a.shape) < 0.9)
        elif name in ("ghat", "eta", "world_rate", "dem_x"):
            new = rng.normal(0.0, 0.5, a.shape)
        elif name in ("units", "stake_units", "wt_left", "wt_val", "stake_val", "mv", "facility"):
            new = _money(rng, a.shape, sign=False)
        else:
            new = _money(rng, a.shape)
        setattr(s, name, np.ascontiguousarray(new, a.dtype))
    led = s.ledger
    led.bal = _money(rng, led.bal.shape)
    led.world_cash = _money(rng, (P,))
    led.peak = np.abs(_money(rng, led.peak.shape))
    return s


def _assert_same(a: object, b: object, *, rtol: float = 0.0) -> None:
    """Every array attribute of two states (and their ledgers) equal (private attributes,
    such as :func:`~loopwatch.engine.state.owned`'s memory, aside)."""
    va = {k: v for k, v in vars(a).items() if not k.startswith("_")}
    vb = {k: v for k, v in vars(b).items() if not k.startswith("_")}
    assert va.keys() == vb.keys()
    for name, x in va.items():
        y = vb[name]
        if isinstance(x, Ledger):
            _assert_same(x, y, rtol=rtol)
        elif isinstance(x, np.ndarray):
            assert x.shape == y.shape, name
            if rtol and x.dtype.kind == "f":
                np.testing.assert_allclose(x, y, rtol=rtol, atol=1e-300, err_msg=name)
            else:
                np.testing.assert_array_equal(x, y, err_msg=name)


def _cols(P: int, rng: np.random.Generator) -> NDArray[np.int64]:
    return np.flatnonzero(rng.random(P) < 0.5).astype(np.int64) if P > 1 else np.arange(P)


def _slice(s: State, cols: NDArray[np.int64]) -> State:
    """A copy of ``s`` restricted to paths ``cols`` (every array's last axis; not the
    edge flags ``*_dirty`` or the column list ``w_accel_cols``, which have no path axis)."""
    out = copy.deepcopy(s)
    for obj in (out, out.ledger):
        for name, a in list(vars(obj).items()):
            if isinstance(a, np.ndarray) and a.ndim and not name.endswith(("_dirty", "_cols")):
                setattr(obj, name, np.ascontiguousarray(a[..., cols]))
        obj.P = len(cols)
    return out


# ---------------------------------------------------------------- sparse sums


@FAST
@given(seeds, st.integers(1, 12), st.integers(0, 30), st.integers(1, 50), st.booleans())
def test_sum_matches_scipy(seed: int, n: int, k: int, P: int, weighted: bool) -> None:
    rng = np.random.default_rng(seed)
    target = rng.integers(-1, n + 1, k)  # some outside [0, n): ignored
    w = rng.normal(size=k) if weighted else None
    s = Sum(target, n, w)
    A = _money(rng, (k, P))
    np.testing.assert_array_equal(s @ A, spmm_reference(s.matrix, A))
    np.testing.assert_array_equal(s @ A[:, 0], spmm_reference(s.matrix, A[:, :1]))
    np.testing.assert_array_equal(s @ (A > 0), spmm_reference(s.matrix, (A > 0).astype(float)))
    nz = np.flatnonzero(rng.random(k) < 0.5)
    B = np.where(np.isin(np.arange(k), nz)[:, None], A, 0.0)
    np.testing.assert_array_equal(s.rows(nz) @ B[nz], spmm_reference(s.matrix, B))
    np.testing.assert_array_equal(s.over(B, nz), spmm_reference(s.matrix, B))  # rows read in place
    out = _money(rng, (n, P))
    ref = out.copy()
    ref[s.used] += spmm_reference(s.compact, A)
    s.add_into(out, A)
    np.testing.assert_array_equal(out, ref)
    # adding only the rows ``nz`` of an array that is zero elsewhere, read in place
    out2, ref2 = out.copy(), out.copy()
    s.add_into(ref2, B)
    s.add_into_over(out2, B, nz)
    np.testing.assert_array_equal(out2, ref2)


@FAST
@given(seeds, st.integers(1, 8), st.integers(1, 8), st.integers(1, 20))
def test_weighted_matches_scipy(seed: int, k: int, n: int, P: int) -> None:
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(k, n)) * (rng.random((k, n)) < 0.4)
    w = Weighted.dense(M)
    A = _money(rng, (k, P))
    np.testing.assert_array_equal(w @ A, spmm_reference(w.matrix, A))


def test_sum_rejects_a_mismatched_array() -> None:
    with pytest.raises(ValueError, match="3 rows"):
        Sum(np.array([0, 1, 0]), 2) @ np.ones((4, 2))


# ---------------------------------------------------------------- ledger


@FAST
@given(seeds, paths, st.sampled_from(list(Account)), st.sampled_from(list(Account)))
def test_post_and_world_legs(seed: int, P: int, debit: Account, credit: Account) -> None:
    rng = np.random.default_rng(seed)
    a, b = Ledger(P, 5), Ledger(P, 5)
    a.bal = _money(rng, a.bal.shape)
    a.world_cash = _money(rng, (P,))
    b.bal, b.world_cash = a.bal.copy(), a.world_cash.copy()
    amount = _money(rng, (5, P))
    a.post(amount, debit, credit)
    b.post_reference(amount, debit, credit)
    a.from_world(amount, debit)
    b.from_world_reference(amount, debit)
    a.to_world(amount[::-1], credit)
    b.to_world_reference(amount[::-1], credit)
    a.post(amount > 0, credit, debit)  # a bool amount is promoted, as numpy would
    b.post_reference((amount > 0).astype(float), credit, debit)
    _assert_same(a, b)


@FAST
@given(seeds, paths, st.integers(1, 30), st.booleans())
def test_transfer_legs(seed: int, P: int, E: int, restrict: bool) -> None:
    rng = np.random.default_rng(seed)
    F = 4
    a = Ledger(P, F)
    a.bal = _money(rng, a.bal.shape)
    a.world_cash = _money(rng, (P,))
    b = copy.deepcopy(a)
    payer, payee = rng.integers(0, F + 1, E), rng.integers(0, F + 1, E)
    leg_out = rng.choice([Account.compute, Account.debt, Account.equity], E)
    leg_in = rng.choice([Account.loans, Account.equity], E)
    out_inc, in_inc = Sum(payer, F + 1), Sum(payee, F + 1)
    payer_legs = {Account(x): Sum(np.where(leg_out == x, payer, -1), F) for x in set(leg_out)}
    payee_legs = {Account(x): Sum(np.where(leg_in == x, payee, -1), F) for x in set(leg_in)}
    amount = _money(rng, (E, P))
    nz = np.arange(E)
    full = (out_inc, in_inc, payer_legs, payee_legs)
    if restrict:
        nz = np.flatnonzero(rng.random(E) < 0.6)
        amount[np.setdiff1d(np.arange(E), nz)] = 0.0
        out_inc, in_inc = out_inc.rows(nz), in_inc.rows(nz)
        payer_legs = {x: m.rows(nz) for x, m in payer_legs.items()}
        payee_legs = {x: m.rows(nz) for x, m in payee_legs.items()}
    c = copy.deepcopy(a)
    a.transfer_legs(amount[nz], out_inc, in_inc, payer_legs, payee_legs)
    b.transfer_legs_reference(amount[nz], out_inc, in_inc, payer_legs, payee_legs)
    _assert_same(a, b)
    c.transfer_legs_over(amount, nz, *full)  # the rows ``nz`` read in place: the same bits
    _assert_same(a, c)
    with pytest.raises(ValueError, match="does not fit"):
        a.transfer_legs(np.zeros((len(nz) + 1, P)), out_inc, in_inc, payer_legs, payee_legs)


@FAST
@given(seeds, paths, st.booleans())
def test_check(seed: int, P: int, broken: bool) -> None:
    rng = np.random.default_rng(seed)
    led = Ledger(P, 4)
    led.bal = _money(rng, led.bal.shape)
    bal = led.bal
    bal[Account.equity] = (bal[:6].sum(axis=0) - bal[Account.debt]
                           - bal[Account.warrant_liability])
    led.peak = np.abs(_money(rng, led.peak.shape))
    f, p = int(rng.integers(4)), int(rng.integers(P))
    if broken:
        bal[int(rng.integers(9)), f, p] += 10.0 + 1e-3 * (led.peak[f, p]
                                                          + np.abs(bal[:, f, p]).sum())
    twin = copy.deepcopy(led)
    errors = []
    for fn in (led.check, twin.check_reference):
        try:
            fn("2025Q1", ["a", "b", "c", "d"])
            errors.append(None)
        except AccountingError as exc:
            errors.append((exc.period, exc.firm, exc.residual))
    assert errors[0] == errors[1]
    assert (errors[0] is not None) == broken
    np.testing.assert_array_equal(led.peak, twin.peak)


def test_check_catches_nan() -> None:
    led = Ledger(3, 2)
    led.bal[Account.cash, 1, 2] = np.nan
    with pytest.raises(AccountingError, match="at b"):
        led.check("2025Q1", ["a", "b"])


# ---------------------------------------------------------------- state


@FAST
@given(seeds, paths, books)
def test_take_and_put(seed: int, P: int, book: str) -> None:
    rng = np.random.default_rng(seed)
    plan = _plan(book)
    s = _state(plan, P, rng)
    cols = _cols(P, rng)
    sub, ref = s.take(cols), s.take_reference(cols)
    _assert_same(sub, ref)
    for x in (sub, sub.ledger):  # new values, and losses to add back
        for name, a in list(vars(x).items()):
            if isinstance(a, np.ndarray) and a.dtype == np.float64:
                setattr(x, name, _money(rng, a.shape))
    ref = copy.deepcopy(sub)
    t = copy.deepcopy(s)
    s.put(cols, sub)
    t.put_reference(cols, ref)
    _assert_same(s, t)


# ---------------------------------------------------------------- valuation


def _twins(book: str, P: int, seed: int) -> tuple[Plan, State, State, np.random.Generator]:
    rng = np.random.default_rng(seed)
    plan = _plan(book)
    s = _state(plan, P, rng)
    return plan, s, copy.deepcopy(s), rng


@FAST
@given(seeds, paths, st.integers(1, 30), st.integers(1, 12))
def test_add_rows(seed: int, P: int, E: int, C: int) -> None:
    rng = np.random.default_rng(seed)
    src = _money(rng, (E, P))
    to = np.full(E, -1, np.int64)
    hit = rng.permutation(E)[: min(E, C)]
    to[hit] = rng.permutation(C)[: len(hit)]  # each target once
    rows = np.flatnonzero(rng.random(E) < 0.7)
    dst = _money(rng, (C, P))
    fast, twin = dst.copy(), dst.copy()
    _fused.add_rows(fast, src, rows, to)
    _fused.add_rows_reference(twin, src, rows, to)
    np.testing.assert_array_equal(fast, twin)


@FAST
@given(seeds, st.integers(1, 100), st.integers(1, 100), st.sampled_from(["bool", "f4", "f8"]))
def test_transpose_into(seed: int, R: int, P: int, dtype: str) -> None:
    # shapes that are not multiples of the 32 × 32 tile, and every dtype the record stores
    rng = np.random.default_rng(seed)
    src = (rng.random((R, P)) < 0.5) if dtype == "bool" else _money(rng, (R, P)).astype(dtype)
    fast, twin = np.empty((P, R), src.dtype), np.empty((P, R), src.dtype)
    _fused.transpose_into(src, fast)
    _fused.transpose_into_reference(src, twin)
    np.testing.assert_array_equal(fast, twin)
    np.testing.assert_array_equal(fast, src.T)


@FAST
@given(seeds, paths, books)
def test_pay_world(seed: int, P: int, book: str) -> None:
    plan, a, b, rng = _twins(book, P, seed)
    opex, interest, principal, accel = (_money(rng, (plan.F, P), sign=False) for _ in range(4))
    step_module._pay_world(a, opex, interest, principal)
    step_module._pay_world_reference(b, opex, interest, principal)
    _assert_same(a, b)
    ratio = np.where(rng.random((plan.F, P)) < 0.5, 1.0, rng.random((plan.F, P)))
    step_module._pay_world(a, opex, interest, principal, accel, ratio)  # at clearing ratios
    step_module._pay_world_reference(b, opex, interest, principal, accel, ratio)
    _assert_same(a, b)


@FAST
@given(seeds, paths, books, st.integers(0, 31))
def test_refinance(seed: int, P: int, book: str, t: int) -> None:
    plan, a, b, rng = _twins(book, P, seed)
    at = plan.at(min(t, plan.Q - 1))
    maturing = _money(rng, (len(plan.ln), P), sign=False, zeros=0.5)
    w_sched = _money(rng, (plan.F, P), sign=False, zeros=0.5)
    stress = rng.uniform(0, 1, (1, P)) * (rng.random((1, P)) < 0.5)
    rate = rng.uniform(0, 0.2, (plan.F, P))
    got = step_module._refinance(plan, a, at, maturing, w_sched, stress, rate)
    ref = step_module._refinance_reference(plan, b, at, maturing, w_sched, stress, rate)
    np.testing.assert_array_equal(got[0], ref[0])
    assert got[1] == ref[1]
    _assert_same(a, b)


@FAST
@given(seeds, paths, books)
def test_cut_tranches(seed: int, P: int, book: str) -> None:
    plan, _, _, rng = _twins(book, P, seed)
    A = _money(rng, (plan.edges.n, P), sign=False)
    cut = _money(rng, (len(plan.item_amount), P), sign=False, zeros=0.6)
    a, b = A.copy(), A.copy()
    step_module._cut_tranches(plan, a, cut)
    step_module._cut_tranches_reference(plan, b, cut)
    np.testing.assert_array_equal(a, b)


@FAST
@given(seeds, paths, books)
def test_depreciate_and_add_vintage(seed: int, P: int, book: str) -> None:
    plan, a, b, rng = _twins(book, P, seed)
    t = int(rng.integers(plan.Q))
    np.testing.assert_array_equal(valuation.depreciate(plan, a, t),
                                  valuation.depreciate_reference(plan, b, t))
    amount = _money(rng, (plan.F, P)) * (rng.random((plan.F, 1)) < 0.5)
    life = rng.uniform(0.2, 1.5 * plan.Q, plan.F)
    for when in (t, plan.Q - 1, plan.Q):
        valuation.add_vintage(a, when, amount, life)
        valuation.add_vintage_reference(b, when, amount, life)
    _assert_same(a, b)


@FAST
@given(seeds, paths, books, st.booleans())
def test_revalue(seed: int, P: int, book: str, one_default: bool) -> None:
    plan, a, b, rng = _twins(book, P, seed)
    t = int(rng.integers(plan.Q))
    revenue = np.abs(_money(rng, (plan.F, P)))
    demand = np.abs(_money(rng, (P,)))
    newly = rng.random((plan.F, P)) < 0.1
    if one_default:  # at most one new default a path: the core share is then exact
        newly &= np.arange(plan.F)[:, None] == rng.integers(plan.F, size=P)
    z = rng.normal(size=(int(plan.has_shares.sum()), P))  # (listed firms only)
    valuation.revalue(plan, a, t, revenue, demand, newly, z)
    valuation.revalue_reference(plan, b, t, revenue, demand, newly, z)
    _assert_same(a, b, rtol=0.0 if one_default else 1e-12)


@FAST
@given(seeds, paths, books)
def test_mark(seed: int, P: int, book: str) -> None:
    plan, a, b, rng = _twins(book, P, seed)
    t = int(rng.integers(plan.Q + 1))
    valuation.mark(plan, a, t)
    valuation.mark_reference(plan, b, t)
    _assert_same(a, b)


@FAST
@given(seeds, paths, books)
def test_milestones(seed: int, P: int, book: str) -> None:
    plan, a, b, rng = _twins(book, P, seed)
    t = int(rng.integers(plan.Q + 1))
    a.cum_paid = np.abs(a.cum_paid)
    b.cum_paid = a.cum_paid.copy()
    end = np.abs(_money(rng, (plan.F, P)))
    np.testing.assert_array_equal(valuation.metrics(plan, a, end),
                                  valuation.metrics_reference(plan, b, end))
    ea, eb = EventLog(True), EventLog(True)
    valuation.evaluate_milestones(plan, a, t, end, ea)
    valuation.evaluate_milestones_reference(plan, b, t, end, eb)
    _assert_same(a, b)
    pd_a, pd_b = (e.frame([*plan.periods, "after"], plan.firm_ids) for e in (ea, eb))
    assert pd_a.equals(pd_b)


# ---------------------------------------------------------------- funding


def _market(rng: np.random.Generator, F: int, P: int) -> Market:
    rate = rng.uniform(0.0, 0.2, (F, P))
    return Market(collateral=np.abs(_money(rng, (F, P))), loi_share=rng.uniform(0, 1, (F, P)),
                  debt_cap=np.abs(_money(rng, (F, P))), new_rate=rate, facility_rate=rate / 2)


def _needs(rng: np.random.Generator, F: int, P: int) -> tuple[NDArray[np.float64], ...]:
    need = np.abs(_money(rng, (F, P))) * (rng.random((F, P)) < 0.4) * (rng.random((F, 1)) < 0.6)
    deficit = need * np.where(rng.random((F, P)) < 0.3, 1.0, rng.uniform(0, 1, (F, P)))
    return need, deficit


def _poisoned(empty: Any) -> Any:
    """``np.empty`` full of NaN: a cell a kernel forgets to write shows."""
    def filled(*a: object, **k: object) -> NDArray[Any]:
        out: NDArray[Any] = empty(*a, **k)
        out.fill(np.nan)
        return out
    return filled


@FAST
@given(seeds, paths, books)
def test_waterfall(seed: int, P: int, book: str) -> None:
    plan, a, b, rng = _twins(book, P, seed)
    need, deficit = _needs(rng, plan.F, P)
    mkt = _market(rng, plan.F, P)
    funding.waterfall(plan, copy.deepcopy(a), need, deficit, mkt)  # compiled before the patch
    with mock.patch.object(np, "empty", _poisoned(np.empty)):  # ``out`` arrives uninitialised
        got = funding.waterfall(plan, a, need, deficit, mkt)
    with np.errstate(divide="ignore", invalid="ignore"):  # the twin divides by zero units
        ref = funding.waterfall_reference(plan, b, need, deficit, mkt)
    _assert_same(got, ref)
    _assert_same(a, b)


@FAST
@given(seeds, paths, books)
def test_the_waterfall_into_a_reused_array_writes_what_a_fresh_one_gets(seed: int, P: int,
                                                                       book: str) -> None:
    plan, a, b, rng = _twins(book, P, seed)
    need, deficit = _needs(rng, plan.F, P)
    mkt = _market(rng, plan.F, P)
    dirty = rng.random(plan.F) < 0.5
    out = np.zeros((5, plan.F, P))
    out[:, dirty] = np.nan  # rows flagged dirty may hold anything; the others are zero
    got = funding.waterfall(plan, a, need, deficit, mkt, out, dirty)
    want = funding.waterfall(plan, b, need, deficit, mkt)
    for name in funding.SOURCES:
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), name)
    assert np.shares_memory(got.debt, out)
    # afterwards, the rows flagged are the firms that wanted money (the others are zero)
    np.testing.assert_array_equal(dirty, (need > 0).any(axis=1))
    _assert_same(a, b)


@FAST
@given(seeds, paths, books)
def test_the_waterfall_moves_the_cash_of_the_firms_it_says_only(seed: int, P: int,
                                                                book: str) -> None:
    plan, st, _, rng = _twins(book, P, seed)
    need, deficit = _needs(rng, plan.F, P)
    need[plan.warrant_issuer] = 0.0  # issuers that want nothing: only an exercise moves them
    st.wt_vested[:] = True  # every tranche exercisable: holders that want money exercise
    cash = st.ledger[Account.cash].copy()
    funding.waterfall(plan, st, need, deficit, _market(rng, plan.F, P))
    changed = np.flatnonzero((st.ledger[Account.cash] != cash).any(axis=1))
    assert set(changed) <= set(funding.moved_by_waterfall(plan, need))


@FAST
@given(seeds, paths, books)
def test_exercise_and_world_debt(seed: int, P: int, book: str) -> None:
    plan, a, b, rng = _twins(book, P, seed)
    frac = rng.uniform(0, 1, (len(plan.wt_shares), P)) * (rng.random((len(plan.wt_shares), P))
                                                          < 0.3)
    np.testing.assert_array_equal(funding.exercise_warrants(plan, a, frac),
                                  funding.exercise_warrants_reference(plan, b, frac))
    amount, rate = _money(rng, (plan.F, P)), rng.uniform(0, 0.2, (plan.F, P))
    funding.add_world_debt(a, amount, rate)
    funding.add_world_debt_reference(b, amount, rate)
    _assert_same(a, b)


# ---------------------------------------------------------------- each path on its own


def _market_cols(m: Market, cols: np.ndarray) -> Market:
    return Market(*(getattr(m, f)[:, cols] for f in
                    ("collateral", "loi_share", "debt_cap", "new_rate", "facility_rate")))


@FAST
@given(seeds, st.integers(2, 40))
def test_kernels_treat_each_path_on_its_own(seed: int, P: int) -> None:
    plan, s, _, rng = _twins("ai-compute-2025", P, seed)
    cols = _cols(P, rng)
    if not len(cols):
        return
    part = _slice(s, cols)
    t = int(rng.integers(plan.Q))
    need, deficit = _needs(rng, plan.F, P)
    mkt = _market(rng, plan.F, P)
    revenue, demand = np.abs(_money(rng, (plan.F, P))), np.abs(_money(rng, (P,)))
    newly, z = rng.random((plan.F, P)) < 0.1, rng.normal(size=(int(plan.has_shares.sum()), P))
    end = np.abs(_money(rng, (plan.F, P)))
    for x, c in ((s, slice(None)), (part, cols)):
        got = funding.waterfall(plan, x, need[:, c], deficit[:, c], _market_cols(mkt, np.arange(P)[c]))
        valuation.depreciate(plan, x, t)
        valuation.revalue(plan, x, t, revenue[:, c], demand[c], newly[:, c], z[:, c])
        valuation.mark(plan, x, t)
        valuation.evaluate_milestones(plan, x, t, end[:, c], EventLog(False))
        try:  # random books do not balance: what matters is the peak it keeps
            x.ledger.check("2025Q1", plan.firm_ids)
        except AccountingError:
            pass
        x.raised = np.stack([got.facility, got.debt, got.equity, got.warrant, got.stake_sale])
    _assert_same(_slice(s, cols), part)


# ---------------------------------------------------------------- whole runs


def _with_twins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Swap every kernel-backed function the quarter calls for its numpy twin."""
    for mod, name, twin in (
            (step_module, "waterfall", funding.waterfall_reference),
            (resolution, "waterfall", funding.waterfall_reference),
            (step_module, "exercise_warrants", funding.exercise_warrants_reference),
            (step_module, "add_world_debt", funding.add_world_debt_reference),
            (step_module, "revalue", valuation.revalue_reference),
            (step_module, "mark", valuation.mark_reference),
            (step_module, "depreciate", valuation.depreciate_reference),
            (step_module, "add_vintage", valuation.add_vintage_reference),
            (step_module, "evaluate_milestones", valuation.evaluate_milestones_reference),
            (Ledger, "post", Ledger.post_reference), (Ledger, "check", Ledger.check_reference),
            (Ledger, "transfer", Ledger.transfer_reference),
            (Ledger, "transfer_legs", Ledger.transfer_legs_reference),
            (Ledger, "transfer_legs_over", Ledger.transfer_legs_over_reference),
            (Ledger, "from_world", Ledger.from_world_reference),
            (Ledger, "to_world", Ledger.to_world_reference),
            (State, "take", State.take_reference), (State, "put", State.put_reference),
            (incidence, "_spmm", incidence.spmm_reference),
            (step_module, "_market", step_module._market_reference),
            (step_module, "position", _kernels.position_reference),
            (step_module, "world_debt_due", _kernels.world_debt_due_reference),
            (step_module, "opex_kernel", _kernels.opex_reference),
            (step_module, "short_after", _kernels.short_reference),
            (step_module, "flex_kernel", _kernels.flex_reference),
            (step_module, "schedule", _kernels.schedule_reference),
            (step_module, "pay", _kernels.pay_reference),
            (step_module, "backstop_kernel", _kernels.backstop_reference),
            (step_module, "income_kernel", _kernels.income_reference),
            (step_module, "demand_kernel", _kernels.demand_reference),
            (step_module, "flag_rows", _kernels.flag_rows_reference),
            (step_module, "_refinance", step_module._refinance_reference),
            (step_module, "_cut_tranches", step_module._cut_tranches_reference),
            (step_module, "revenue_kernel", _kernels.revenue_reference),
            (step_module, "contract_opex", _kernels.contract_opex_reference),
            (step_module, "repay_loans", _kernels.repay_loans_reference),
            (_fused, "transpose_into", _fused.transpose_into_reference),
            (step_module, "opex_cols", _kernels.opex_cols_reference)):
        monkeypatch.setattr(mod, name, twin)
    monkeypatch.setattr(step_module, "add_rows", _fused.add_rows_reference)
    monkeypatch.setattr(step_module, "_pay_world", step_module._pay_world_reference)
    monkeypatch.setattr(step_module, "masked_total", _kernels.masked_total_reference)
    monkeypatch.setattr(resolution, "_compiled_clearing", False)
    monkeypatch.setattr(step_module, "_compiled_settlement", False)


def _same_run(book: DealBook, sc: Scenario, paths: int, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = simulate(book, sc, paths=paths, seed=5, variables="all")
    with monkeypatch.context() as m:
        _with_twins(m)
        slow = simulate(book, sc, paths=paths, seed=5, variables="all")
    for name in fast.data.data_vars:
        np.testing.assert_array_equal(fast.data[name].values, slow.data[name].values, name)
    assert fast.events.equals(slow.events)


@pytest.mark.parametrize("scenario", ["base", "credit-crunch", "bear"])
def test_a_run_on_kernels_equals_the_run_on_twins(scenario: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _same_run(load_deal_book("ai-compute-2025"), load_scenario(scenario), 24, monkeypatch)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(book=deal_books(), sc=scenarios())
def test_random_books_run_the_same_on_twins(book: DealBook, sc: Scenario,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _same_run(book, sc, 3, monkeypatch)


def test_funding_kept_in_the_states_array_equals_fresh_arrays(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The quarter's funding goes into the state's array, whose rows the waterfall zeroes
    only where they may be nonzero (the roll-over's rows, a cascade's funding added in):
    every quarter's funding equals a run where each waterfall returns fresh arrays. In
    the bear scenario cascades raise money on some paths (``Raised.added``)."""
    book, sc = load_deal_book("ai-compute-2025"), load_scenario("bear")
    kw: dict[str, Any] = {"paths": 2048, "seed": 5, "events": False,
                          "variables": [f"funding_{s}" for s in funding.SOURCES]}
    fast = simulate(book, sc, **kw)
    added = []
    real_add = funding.Raised.add

    def add(self: funding.Raised, other: funding.Raised) -> None:
        added.append(True)
        real_add(self, other)

    with monkeypatch.context() as m:
        m.setattr(step_module, "waterfall", lambda plan, st, need, deficit, mkt, out, dirty:
                  funding.waterfall(plan, st, need, deficit, mkt))
        m.setattr(funding.Raised, "add", add)
        slow = simulate(book, sc, **kw)
    assert added  # (the case the test is for)
    for name in fast.data.data_vars:
        np.testing.assert_array_equal(fast.data[name].values, slow.data[name].values, name)


def _same_settlement(book: DealBook, sc: Scenario, paths: int,
                     monkeypatch: pytest.MonkeyPatch) -> None:
    """With no events table the defaults are settled by the compiled kernel
    (``_settle.settle_paths``); the numpy route on a sub-state is its twin."""
    fast = simulate(book, sc, paths=paths, seed=5, variables="all", events=False)
    with monkeypatch.context() as m:
        m.setattr(step_module, "_compiled_settlement", False)
        slow = simulate(book, sc, paths=paths, seed=5, variables="all", events=False)
    for name in fast.data.data_vars:
        np.testing.assert_array_equal(fast.data[name].values, slow.data[name].values, name)


@pytest.mark.parametrize("scenario", ["base", "credit-crunch", "bear"])
def test_compiled_settlement_equals_the_substate_route(scenario: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    book = load_deal_book("ai-compute-2025")
    res = simulate(book, load_scenario(scenario), paths=64, seed=5, variables=["defaulted"],
                   events=False)
    assert float(res.data["defaulted"].values.max()) == 1.0  # defaults happen: the test bites
    _same_settlement(book, load_scenario(scenario), 64, monkeypatch)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(book=deal_books(), sc=scenarios())
def test_random_books_settle_the_same_compiled(book: DealBook, sc: Scenario,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _same_settlement(book, sc, 6, monkeypatch)


# ---------------------------------------------------------------- light import


def test_import_loopwatch_does_not_load_numba() -> None:
    code = "import sys, loopwatch; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("P", [5, 7])
def test_a_state_that_reuses_a_finished_ones_arrays_starts_as_a_fresh_one(P: int) -> None:
    plan = _plan("ai-compute-2025")
    used = _state(plan, 5, np.random.default_rng(1))  # a finished chunk: every array garbage
    used.losses[:] = np.nan
    used.dep_change[:] = np.nan
    big = (used.losses, used.dep_change)
    dm = np.linspace(0.5, 1.5, P)
    again, fresh = State(plan, P, dm, reuse=used), State(plan, P, dm)
    assert set(vars(again)) == set(vars(fresh))
    for name, a in vars(fresh).items():
        # (the edge and funding arrays start uninitialised: their dirty flags, compared,
        # say so)
        if isinstance(a, np.ndarray) and name not in ("edge_due", "edge_paid", "raised_out"):
            np.testing.assert_array_equal(getattr(again, name), a, name)
    # the same shape takes the buffers over; another shape (the last chunk) allocates
    assert (again.losses is big[0] and again.dep_change is big[1]) == (P == 5)


@FAST
@given(seeds, st.integers(1, 6), st.integers(1, 9))
def test_nonzero_tests_are_numpys_any(seed: int, n: int, P: int) -> None:
    rng = np.random.default_rng(seed)
    a = np.where(rng.random((n, P)) < 0.85, 0.0, rng.standard_normal((n, P)))
    a[rng.random((n, P)) < 0.05] = -0.0  # not nonzero
    a[rng.random((n, P)) < 0.02] = np.nan  # nonzero, as numpy's ``any`` has it
    rows = np.flatnonzero(rng.random(n) < 0.6)
    assert _fused.any_nonzero(a) == bool(a.any())
    np.testing.assert_array_equal(_fused.nonzero_rows(a, rows), a[rows].any(axis=1))
    b = rng.random((n, P)) < 0.1
    np.testing.assert_array_equal(_fused.cols_with_any(b), np.flatnonzero(b.any(axis=0)))
    np.testing.assert_array_equal(_fused.rows_with_positive(a), np.flatnonzero((a > 0).any(axis=1)))
    z = a.copy()
    _fused.zero_nonzero_rows(z)
    assert (z == 0.0).all()  # (NaN rows too; a -0.0 with nothing else in its row stays)
