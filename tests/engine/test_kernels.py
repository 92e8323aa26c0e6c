"""The step's compiled blocks (``engine/_kernels.py``) against their numpy twins, exactly."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from loopwatch.engine import _kernels as K
from loopwatch.engine import resolution
from loopwatch.engine.funding import Raised
from loopwatch.engine.incidence import Sum
from loopwatch.engine.ledger import Account, Ledger

SMALL = settings(max_examples=40, deadline=None)


def _money(rng: np.random.Generator, shape: tuple[int, ...], zeros: float = 0.3) -> np.ndarray:
    """Amounts over many magnitudes, some exactly zero, some negative (balances can be)."""
    x = rng.standard_normal(shape) * 10.0 ** rng.uniform(-3, 12, shape)
    x[rng.random(shape) < zeros] = 0.0
    return x


def _poisoned(alloc: Any) -> Any:
    """``alloc`` (``np.empty``, ``np.empty_like``) whose arrays come full of NaN (or True):
    a cell a kernel forgets to write shows."""
    def filled(*a: object, **k: object) -> np.ndarray:
        out: np.ndarray = alloc(*a, **k)
        out.fill(np.nan if out.dtype.kind == "f" else 1)
        return out
    return filled


def _same(a: tuple[np.ndarray, ...] | np.ndarray, b: tuple[np.ndarray, ...] | np.ndarray) -> None:
    for x, y in zip(np.atleast_1d(a) if isinstance(a, np.ndarray) else a,
                    np.atleast_1d(b) if isinstance(b, np.ndarray) else b, strict=True):
        np.testing.assert_array_equal(x, y)


@SMALL
@given(st.integers(1, 6), st.integers(1, 9), st.integers(0, 2**32 - 1))
def test_market_equals_its_twin(F: int, P: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    bal = np.abs(_money(rng, (9, F, P)))
    cr = SimpleNamespace(advance_compute=rng.random(), advance_receivables=rng.random(),
                         stress_response=rng.uniform(0, 2), base_rate=rng.random() / 10,
                         spread=rng.random() / 10, spread_per_leverage=rng.random() / 10,
                         stress_spread=rng.random() / 10, max_debt_to_revenue=rng.uniform(0, 8))
    recv, loi, stress = np.abs(_money(rng, (F, P))), np.abs(_money(rng, (F, P))), rng.random((1, P))
    shock, revenue = rng.uniform(-0.05, 0.05, F), np.abs(_money(rng, (F, P)))
    coll, share, cap, rate, fac = K.market_reference(bal, recv, loi, stress, shock, cr, revenue)
    np.testing.assert_array_equal(K.new_rate(bal, stress, shock, cr), rate)
    rows = np.flatnonzero(rng.random(F) < 0.6)  # some firms, in order
    _same(K.market_rows(bal, recv[rows], loi[rows], stress, shock, cr, revenue, rows),
          (coll[rows], share[rows], cap[rows], fac[rows]))


@SMALL
@given(st.integers(1, 6), st.integers(1, 9), st.integers(0, 2**32 - 1))
def test_cash_position_blocks_equal_their_twins(F: int, P: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    alive = rng.random((F, P)) < 0.8
    debt, rate = np.abs(_money(rng, (F, P))), rng.random((F, P)) / 10
    called = np.abs(_money(rng, (F, P), zeros=0.7))
    ladder = rng.random(F) / 4
    c1, c2 = called.copy(), called.copy()
    _same(K.world_debt_due(debt, rate, c1, ladder, alive),
          K.world_debt_due_reference(debt, rate, c2, ladder, alive))
    assert not c1.any() and not c2.any()  # called credit falls due: none is left
    flows = [np.abs(_money(rng, (F, P))) for _ in range(4)]
    fixed, ratio = np.abs(_money(rng, (F,))), rng.random(F)
    _same(K.opex(fixed, ratio, *flows, alive), K.opex_reference(fixed, ratio, *flows, alive))
    cash, inn, out = _money(rng, (F, P)), np.abs(_money(rng, (F, P))), np.abs(_money(rng, (F, P)))
    opex, w_int, w_prin = (np.abs(_money(rng, (F, P))) for _ in range(3))
    min_cash = np.abs(_money(rng, (F,)))
    pos = K.position(cash, inn, out, opex, w_int, w_prin, min_cash, alive)
    _same(pos, K.position_reference(cash, inn, out, opex, w_int, w_prin, min_cash, alive))
    raised = Raised(*(np.abs(_money(rng, (F, P), zeros=0.8)) for _ in range(5)))
    x, wo = pos[0], pos[1]
    _same(K.short(x, raised, out, wo, cash, alive),
          K.short_reference(x, raised, out, wo, cash, alive))
    # the waterfall's shortcut: ``short0`` from the position, then only the rows whose
    # funding or cash moved are worked out again; every other row raised nothing
    short0, twin0 = np.empty((F, P), bool), np.empty((F, P), bool)
    _same(K.position(cash, inn, out, opex, w_int, w_prin, min_cash, alive, short0),
          K.position_reference(cash, inn, out, opex, w_int, w_prin, min_cash, alive, twin0))
    np.testing.assert_array_equal(short0, twin0)
    moved = np.flatnonzero(rng.random(F) < 0.5)
    still = np.setdiff1d(np.arange(F), moved)
    for name in ("facility", "debt", "equity", "warrant", "stake_sale"):
        getattr(raised, name)[still] = 0.0
    cash_after = cash.copy()
    cash_after[moved] += np.abs(_money(rng, (len(moved), P)))
    _same(K.short(x, raised, out, wo, cash_after, alive, short0, moved),
          K.short_reference(x, raised, out, wo, cash_after, alive))


@SMALL
@given(st.integers(1, 6), st.integers(1, 12), st.integers(1, 9), st.integers(0, 2**32 - 1))
def test_pay_equals_its_twin(F: int, E: int, P: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    A = np.abs(_money(rng, (E, P), zeros=0.5))
    r = rng.random((F + 1, P))
    payer = rng.integers(0, F + 1, E)
    rows = np.flatnonzero(rng.random(E) < 0.6)
    with mock.patch.object(np, "empty_like", _poisoned(np.empty_like)):  # ``paid`` uninitialised
        got = K.pay(A, r, payer, rows)
    _same(got, K.pay_reference(A, r, payer, rows))
    dirty = rng.random(E) < 0.5  # a reused array: garbage on the dirty rows, zero elsewhere
    reused = np.where(dirty[:, None], np.nan, 0.0) * np.ones((1, P))
    _same(K.pay(A, r, payer, rows, reused, dirty), K.pay_reference(A, r, payer, rows))
    off = np.setdiff1d(np.arange(E), rows)
    assert not got[off].any()  # rows outside ``rows`` carry nothing


@SMALL
@given(st.integers(0, 5), st.integers(1, 9), st.booleans(), st.integers(0, 2**32 - 1))
def test_demand_equals_its_twin(D: int, P: int, first: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    F = D + 3
    dev = rng.permutation(F)[:D]
    args = dict(z=rng.normal(size=(1 + D, P)), corr=rng.random(D), phi=rng.random(D),
                vol=rng.random(D), mu=rng.normal(0, 0.3, D), sat=rng.uniform(1, 1e3, D),
                x=rng.normal(size=(D, P)), level=rng.uniform(0, 2e3, (D, P)), first=first,
                mult=rng.uniform(0, 2, D), shock=rng.uniform(0, 2, D),
                dem_mult=rng.uniform(0, 2, (D, P)), alive=rng.random((F, P)) < 0.8, dev=dev)
    e1, e2 = np.zeros((F, P)), np.zeros((F, P))
    _same(K.demand(**args, end=e1), K.demand_reference(**args, end=e2))
    np.testing.assert_array_equal(e1, e2)


@SMALL
@given(st.integers(1, 6), st.integers(1, 9), st.integers(0, 2**32 - 1))
def test_quarter_glue_equals_its_twins(F: int, P: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    parts = [_money(rng, (F, P)) for _ in range(4)]
    _same(K.revenue(*parts), K.revenue_reference(*parts))
    ratio, alive, base = rng.random(F), rng.random((F, P)) < 0.8, _money(rng, (F, P))
    d1, d2 = parts[0].copy(), parts[0].copy()
    _same(K.contract_opex(d1, ratio, alive, base), K.contract_opex_reference(d2, ratio, alive, base))
    np.testing.assert_array_equal(d1, d2)  # in place
    lo = np.abs(_money(rng, (F, P)))
    flows = [np.abs(_money(rng, (F, P), zeros=0.6)) for _ in range(5)]
    l1, l2 = lo.copy(), lo.copy()
    K.repay_loans(l1, *flows)
    K.repay_loans_reference(l2, *flows)
    np.testing.assert_array_equal(l1, l2)
    assert (l1 >= 0).all()


@SMALL
@given(st.integers(1, 12), st.integers(1, 9), st.integers(0, 2**32 - 1))
def test_flag_rows_equals_its_twin(E: int, P: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = np.where(rng.random((E, P)) < 0.8, 0.0, rng.normal(size=(E, P)))
    a[rng.random((E, P)) < 0.05] = np.nan  # ``any`` counts NaN as set
    lo = int(rng.integers(0, E))
    rows = slice(lo, int(rng.integers(lo, E + 1)))
    f1 = rng.random(E) < 0.3
    f2, f3, f4 = f1.copy(), f1.copy(), f1.copy()
    K.flag_rows(a, rows, f1)
    K.flag_rows_reference(a, rows, f2)
    np.testing.assert_array_equal(f1, f2)
    cols = np.flatnonzero(rng.random(P) < 0.5)  # on some columns only
    K.flag_rows(a, rows, f3, cols)
    K.flag_rows_reference(a, rows, f4, cols)
    np.testing.assert_array_equal(f3, f4)


@SMALL
@given(st.integers(1, 5), st.integers(1, 8), st.integers(1, 9), st.integers(0, 2**32 - 1))
def test_backstop_equals_its_twin(n_bk: int, n_cc: int, P: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    F, C = 4, n_cc + n_bk + 2
    cc = rng.permutation(C)[:n_cc]
    args = dict(
        live=rng.random((C, P)) < 0.7, stranded=np.abs(_money(rng, (n_cc, P), zeros=0.7)),
        sched_t=np.abs(_money(rng, (n_cc,))), a_cc=np.abs(_money(rng, (n_cc, P))),
        rerent_cc=np.abs(_money(rng, (n_cc, P), zeros=0.6)), cc=cc,
        cc_payee=rng.integers(0, F, n_cc), covers=rng.integers(-1, n_cc, n_bk),
        beneficiary=rng.integers(0, F, n_bk), threshold=rng.random(n_bk) * 1.2,
        active=rng.random(n_bk) < 0.8, left=np.abs(_money(rng, (n_bk, P))),
        bk_live=rng.random((n_bk, P)) < 0.8, residual=rng.random(n_bk) < 0.5,
        opened=rng.random((C, P)) < 0.5)
    got = K.backstop(**args)
    _same(got, K.backstop_reference(**args))
    assert (got >= 0).all() and (got <= args["left"]).all()


@SMALL
@given(st.integers(1, 6), st.integers(0, 7), st.integers(1, 9), st.floats(0.0, 1.0),
       st.integers(0, 2**32 - 1))
def test_income_equals_its_twin(F: int, n_cc: int, P: int, stranded_share: float,
                                seed: int) -> None:
    rng = np.random.default_rng(seed)
    stranded = np.abs(_money(rng, (n_cc, P))) * (rng.random((n_cc, P)) < stranded_share)
    args = (np.abs(_money(rng, (F,))), rng.random(F), rng.random((F, P)) * 2, rng.random(F) * 2,
            rng.random((F, P)) < 0.8, np.abs(_money(rng, (F, P))), stranded,
            np.abs(_money(rng, (n_cc,))), rng.integers(0, F, n_cc),
            np.abs(_money(rng, (n_cc,))) * rng.random(n_cc))
    got, ref = K.income(*args), K.income_reference(*args)
    assert (got[3] is None) == (ref[3] is None) == (not stranded.any())
    _same(tuple(x for x in got if x is not None), tuple(x for x in ref if x is not None))
    l1, l2 = Ledger(P, F), Ledger(P, F)  # paid by the world in the same pass
    l1.bal[:] = l2.bal[:] = _money(rng, (len(Account), F, P))
    l1.world_cash[:] = l2.world_cash[:] = _money(rng, (P,))
    _same(K.income(*args, l1), K.income_reference(*args, l2))
    _same((l1.bal, l1.world_cash), (l2.bal, l2.world_cash))


def test_a_short_firm_is_found_and_a_dead_one_is_not() -> None:
    # hand case: cash 1, owes 3 to the world, raised 1 → short by 1 (beyond the 1e-3 slack)
    one = np.ones((2, 1))
    x = np.array([[-2.0], [-2.0]])
    raised = Raised(one, 0 * one, 0 * one, 0 * one, 0 * one)
    alive = np.array([[True], [False]])
    got = K.short(x, raised, 0 * one, 3 * one, one, alive)
    assert got.tolist() == [[True], [False]]


@SMALL
@given(st.integers(1, 6), st.integers(1, 9), st.integers(0, 5), st.integers(0, 5),
       st.integers(0, 2**32 - 1))
def test_flex_equals_its_twin(F: int, P: int, n_cc: int, n_it: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    alive = rng.random((F, P)) < 0.8
    cash = _money(rng, (F, P))
    inn, out, opex, w_int, w_prin = (np.abs(_money(rng, (F, P))) for _ in range(5))
    min_cash = np.abs(_money(rng, (F,)))
    a_cc = np.abs(_money(rng, (n_cc, P)))
    top = np.where(rng.random(n_cc) < 0.3, 1.0, rng.random(n_cc))
    # payers and payees are firms or, for some, the world (index F): never totalled
    cc_payer, cc_payee = rng.integers(0, F + 1, n_cc), rng.integers(0, F + 1, n_cc)
    items_due = rng.random((n_it, P)) < 0.6
    milestone = rng.random(n_it) < 0.6
    amount = np.abs(_money(rng, (n_it,)))
    it_payer, it_payee = rng.integers(0, F + 1, n_it), rng.integers(0, F + 1, n_it)
    def run(fn, reuse=None):  # type: ignore[no-untyped-def]
        # ``a_cc``, ``inn`` and ``out`` are cut in place: each twin gets its own copies
        mine = [x.copy() for x in (inn, out, a_cc)]
        cut = fn(cash, mine[0], mine[1], opex, w_int, w_prin, min_cash, alive, mine[2], top,
                 cc_payer, cc_payee, items_due, milestone, amount, it_payer, it_payee, reuse)
        assert reuse is None or cut is reuse
        return (cut, *mine)

    got, ref = run(K.flex), run(K.flex_reference)
    _same(got, ref)
    # a reused array: last quarter's cuts (garbage) on the milestone rows, zero elsewhere
    reused = np.where(milestone[:, None], np.nan, 0.0) * np.ones((1, P))
    _same(run(K.flex, reused), ref)
    items_cut, _, _, a_after = got
    less = a_cc - a_after  # (up to the rounding of the subtraction)
    assert (less >= 0).all()
    assert (less <= a_cc * (1.0 - top)[:, None] * (1 + 1e-12) + 1e-6).all()
    assert (items_cut >= 0).all()


@SMALL
@given(st.integers(1, 5), st.integers(1, 9), st.lists(st.integers(0, 4), min_size=5, max_size=5),
       st.integers(0, 2**32 - 1))
def test_schedule_equals_its_twin(F: int, P: int, sizes: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_cc, n_cp, n_eq, n_ln, C_extra = sizes
    n_cap = rng.integers(0, 2 * n_cc + 1) if n_cc else 0
    cap_cc = rng.integers(0, n_cc, n_cap) if n_cc else np.zeros(0, np.int64)
    vendor = rng.integers(0, F + 1, n_cap)  # F: the rest of the mix goes to the world
    n_items = rng.integers(0, 2 * n_eq + 1) if n_eq else 0
    C = n_cc + n_cp + n_eq + n_ln + C_extra + 1
    sizes_in_order = {"cc": n_cc, "cp": n_cp, "capex": n_cap,
                      "capex_twin": int((vendor < F).sum()), "eq": n_eq, "draw": n_ln,
                      "interest": n_ln, "interest_twin": n_ln, "principal": n_ln,
                      "principal_twin": n_ln, "accelerated": n_ln}
    groups, at = {}, 0
    for name, n in sizes_in_order.items():
        groups[name] = slice(at, at + n)
        at += n
    contracts = rng.permutation(C)
    cc, cp, ln = contracts[:n_cc], contracts[n_cc:n_cc + n_cp], contracts[-n_ln:] if n_ln else \
        np.zeros(0, np.int64)
    loan_out = np.abs(_money(rng, (n_ln, P)))
    args = dict(
        n_edges=at, groups=groups, live=rng.random((C, P)) < 0.8, alive=rng.random((F, P)) < 0.8,
        cc=cc, sched_cc=np.abs(_money(rng, (n_cc,))), cap_cc=cap_cc,
        cap_amount=np.abs(_money(rng, (n_cap,))), vendor=vendor, cp=cp,
        sched_cp=np.abs(_money(rng, (n_cp,))), item_due_now=rng.random(n_items) < 0.7,
        item_paid=rng.random((n_items, P)) < 0.3,
        failing=(rng.random((n_items, P)) < 0.2).astype(float),
        item_contract=rng.integers(0, C, n_items),
        item_amount=np.abs(_money(rng, (n_items,))),
        item_eq=rng.integers(0, max(n_eq, 1), n_items), ln=ln,
        sched_ln=np.abs(_money(rng, (n_ln,))), borrower=rng.integers(0, F, n_ln),
        rate_q=rng.random(n_ln) / 40, mat_now=rng.random(n_ln) < 0.3,
        linear=rng.random(n_ln) < 0.5, denom=rng.integers(1, 9, n_ln).astype(float),
        loan_out=loan_out, sold=rng.random((n_ln, P)) < 0.3)
    accel = rng.random((n_ln, P)) < 0.2
    a1, a2 = accel.copy(), accel.copy()
    K.schedule(**args, accel=accel.copy())  # compiled first (numba types ``np.empty`` itself)
    with mock.patch.object(np, "empty", _poisoned(np.empty)):  # uninitialised arrays
        got = K.schedule(**args, accel=a1)
    ref = K.schedule_reference(**args, accel=a2)
    _same(got, ref)
    # last quarter's array reused: garbage on the dirty rows, zero on the others
    dirty = rng.random(args["n_edges"]) < 0.5
    reused = np.where(dirty[:, None], np.nan, 0.0) * np.ones((1, P))
    _same(K.schedule(**args, accel=accel.copy(), out=reused, dirty=dirty), ref)
    np.testing.assert_array_equal(a1, a2)
    assert not a1.any()
    A, _, prin, maturing, _ = got
    assert (A >= 0).all() and (maturing <= prin).all()
    # every amount due on a loan leaves once: to the lender or, sold, to the world
    np.testing.assert_array_equal(A[groups["principal"]] + A[groups["principal_twin"]], prin)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 7), st.integers(1, 9), st.floats(0.0, 0.99), st.integers(0, 2**32 - 1))
def test_clearing_kernel_equals_the_batched_twin(F: int, P: int, beta: float, seed: int) -> None:
    """Path by path (compiled) and batched (numpy, padded systems): the same bits, even
    where paths have different numbers of defaulters and cascades of several rounds."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3 * F + 2))
    payer, payee = rng.integers(0, F + 1, n), rng.integers(0, F + 1, n)
    A = np.abs(_money(rng, (n, P), zeros=0.4))
    claims = (np.bincount(payer, minlength=F + 1)[:F, None] > 0) * np.abs(_money(rng, (F, P)))
    claims += np.stack([A[payer == i].sum(axis=0) for i in range(F)])
    estate = claims * rng.uniform(0.0, 1.5, (F, P))
    default = rng.random((F, P)) < 0.9
    fast = resolution.clear(A, payer, payee, estate, claims, default, beta)
    twin = resolution._clear_batch(A, payer, payee, estate, claims, default, beta)
    _same(fast, twin)


@SMALL
@given(st.integers(1, 6), st.integers(1, 12), st.integers(1, 9), st.floats(0.0, 2.0),
       st.integers(0, 2**32 - 1))
def test_masked_total_equals_its_twin(F: int, C: int, P: int, scale: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    mask = rng.random((C, P)) < 0.6
    rows = np.sort(rng.choice(C, int(rng.integers(0, C + 1)), replace=False)).astype(np.int64)
    s = Sum(rng.integers(0, F + 1, len(rows)), F)  # some rows to no target (F is outside)
    weight = np.abs(_money(rng, (len(rows),)))
    _same(K.masked_total(s, mask, rows, weight, scale),
          K.masked_total_reference(s, mask, rows, weight, scale))
    targets = np.flatnonzero(rng.random(F) < 0.5)  # some totals only
    _same(K.masked_total(s, mask, rows, weight, scale, targets),
          K.masked_total_reference(s, mask, rows, weight, scale)[targets])


@SMALL
@given(st.integers(1, 6), st.integers(1, 12), st.integers(1, 9), st.integers(0, 2**32 - 1))
def test_costs_on_the_short_paths_equal_their_twin(F: int, E: int, P: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    payee = rng.integers(-1, F, E)  # -1: an edge that is not operating revenue
    revenue = Sum(payee, F)
    nz = np.flatnonzero(rng.random(E) < 0.7)
    paid = np.zeros((E, P))
    paid[nz] = np.abs(_money(rng, (len(nz), P)))  # rows outside ``nz`` are zero
    base, rf = np.abs(_money(rng, (F, P))), rng.random((F, P))
    ratio, alive = rng.random(F), rng.random((F, P)) < 0.8
    cols = np.flatnonzero(rng.random(P) < 0.5)
    opex = _money(rng, (F, P))
    fast, twin = opex.copy(), opex.copy()
    K.opex_cols(fast, base, rf, ratio, paid, alive, cols, revenue, nz)
    K.opex_cols_reference(twin, base, rf, ratio, paid, alive, cols, revenue, nz)
    np.testing.assert_array_equal(fast, twin)
    off = np.setdiff1d(np.arange(P), cols)
    np.testing.assert_array_equal(fast[:, off], opex[:, off])  # other paths untouched
