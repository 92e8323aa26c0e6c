"""Random draws: block streams, chunk independence and buffer reuse."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from loopwatch import load_deal_book, load_scenario
from loopwatch.engine.draws import BLOCK, Draws, _child, draw
from loopwatch.engine.plan import compile_plan


def _reference(plan, root, lo, hi):  # type: ignore[no-untyped-def]
    """Each block's arrays drawn whole with ``gen.standard_normal(shape)``, then cut."""
    D, L = len(plan.dev_firm), int(plan.has_shares.sum())
    parts = []
    for b in range(lo // BLOCK, (hi - 1) // BLOCK + 1):
        gen = np.random.Generator(np.random.PCG64(_child(root, b)))
        parts.append((gen.standard_normal((plan.Q, 1 + D, BLOCK)),
                      gen.standard_normal((plan.Q, L, BLOCK)), gen.random((plan.C, BLOCK))))
    whole = [np.concatenate(x, axis=-1) for x in zip(*parts, strict=True)]
    cut = slice(lo - (lo // BLOCK) * BLOCK, hi - (lo // BLOCK) * BLOCK)
    return [w[..., cut] for w in whole]


@pytest.fixture(scope="module")
def plan():  # type: ignore[no-untyped-def]
    return compile_plan(load_deal_book("ai-compute-2025"), load_scenario("base"))


@pytest.mark.parametrize(("lo", "hi"), [(0, 64), (0, 1), (5, 200), (64, 128), (100, 101)])
def test_draws_are_the_blocks_streams(plan, lo: int, hi: int) -> None:  # type: ignore[no-untyped-def]
    root = np.random.SeedSequence(11)
    got = draw(plan, root, lo, hi, deterministic=False)
    want = _reference(plan, root, lo, hi)
    assert got.price.shape == (plan.Q, int(plan.has_shares.sum()), hi - lo)
    for g, w in zip((got.demand, got.price, got.convert), want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_reused_buffers_give_the_same_draws(plan) -> None:  # type: ignore[no-untyped-def]
    root = np.random.SeedSequence(3)
    first = draw(plan, root, 0, 130, deterministic=False)
    ids = [id(a) for a in (first.demand, first.price, first.convert)]
    again = draw(plan, root, 130, 260, deterministic=False, reuse=first)
    assert [id(a) for a in (again.demand, again.price, again.convert)] == ids
    fresh = draw(plan, root, 130, 260, deterministic=False)
    for a, b in zip((again.demand, again.price, again.convert),
                    (fresh.demand, fresh.price, fresh.convert), strict=True):
        np.testing.assert_array_equal(a, b)
    # a deterministic draw into used buffers is all zero / one half
    det = draw(plan, root, 0, 130, deterministic=True, reuse=again)
    assert not det.demand.any() and not det.price.any() and (det.convert == 0.5).all()
    # other shapes: fresh arrays
    short = draw(plan, root, 0, 7, deterministic=False, reuse=det)
    assert short.demand.shape[-1] == 7 and id(short.demand) != ids[0]


def test_a_book_with_no_listed_firm_draws_no_price_shocks() -> None:
    plan = compile_plan(load_deal_book("three-party-loop"), load_scenario("base"))
    plan = dataclasses.replace(plan, has_shares=np.zeros(plan.F, bool))
    got = draw(plan, np.random.SeedSequence(1), 0, 70, deterministic=False)
    want = _reference(plan, np.random.SeedSequence(1), 0, 70)
    assert isinstance(got, Draws) and got.price.shape == (plan.Q, 0, 70)
    for g, w in zip((got.demand, got.price, got.convert), want, strict=True):
        np.testing.assert_array_equal(g, w)
