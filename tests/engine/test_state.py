"""A chunk's state built over the last chunk's arrays equals a fresh one."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from loopwatch import load_deal_book, load_scenario
from loopwatch.engine.draws import draw, seed_sequence
from loopwatch.engine.events import EventLog
from loopwatch.engine.plan import compile_plan
from loopwatch.engine.state import State
from loopwatch.engine.step import step


def _arrays(st: State) -> dict[str, np.ndarray]:
    out = {k: v for k, v in vars(st).items() if isinstance(v, np.ndarray)}
    led = st.ledger
    out.update({"ledger.bal": led.bal, "ledger.world_cash": led.world_cash,
                "ledger.peak": led.peak})
    return out


@pytest.mark.parametrize("scenario", ["base", "credit-crunch"])
def test_a_reused_state_starts_as_a_fresh_one(scenario: str) -> None:
    plan = compile_plan(load_deal_book("ai-compute-2025"), load_scenario(scenario))
    P = 40
    old = State(plan, P, np.ones(P))
    dr = draw(plan, seed_sequence(5), 0, P, deterministic=False)
    for t in range(plan.Q):  # a whole run: defaults, losses, depreciation, stakes
        step(plan, old, t, dr, EventLog(False))
    assert not old.alive.all() or old.losses.any() or old.issued.any()
    before = {k: id(v) for k, v in _arrays(old).items()}
    dm = np.linspace(0.5, 1.5, P)
    got, want = State(plan, P, dm, reuse=old), State(plan, P, dm)
    a, b = _arrays(got), _arrays(want)
    assert a.keys() == b.keys()
    for k in a:
        if k in ("edge_due", "edge_paid", "raised_out"):  # (garbage: rows marked dirty)
            continue
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k
    # most arrays are the old ones, and no two attributes share memory
    assert sum(id(v) in before.values() for v in a.values()) >= 30
    for (k1, v1), (k2, v2) in itertools.combinations(a.items(), 2):
        assert not np.shares_memory(v1, v2), (k1, k2)
