"""Random draws of a run: independent streams per fixed block of paths.

Path ``i`` belongs to block ``i // BLOCK``; block ``b`` draws from
``numpy.random.PCG64`` seeded by the ``b``-th child of the run's
:class:`numpy.random.SeedSequence` (``spawn_key + (b,)``, exactly what
``SeedSequence.spawn`` would give). Every block draws the same arrays in the
same order whatever the state of the simulation, so

* a run is identical whatever its chunking or executor (a chunk draws the
  blocks it overlaps and keeps its own rows), and
* runs that differ only in ``demand_multiplier`` see the same shocks
  (common random numbers, which the break-even bisection relies on).

The block (64 paths) amortises generator construction; per-path streams
would cost more than the simulation at 10^5 paths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from loopwatch.engine.plan import Plan

__all__ = ["BLOCK", "Draws", "draw", "seed_sequence"]

BLOCK = 64

F64 = NDArray[np.float64]


@dataclass
class Draws:
    """Standard normal and uniform draws for paths ``lo`` to ``hi``.

    Attributes
    ----------
    demand : ndarray, shape (Q, 1 + D, P)
        Row 0 is the common demand factor, then one idiosyncratic shock per developer.
    price : ndarray, shape (Q, L, P)
        Idiosyncratic market-value shocks of the ``L`` firms with listed shares (in firm
        order: row ``j`` is firm ``flatnonzero(plan.has_shares)[j]``); the others have none.
    convert : ndarray, shape (C, P)
        Uniforms deciding the conversion of conditional contracts.
    """

    demand: F64
    price: F64
    convert: F64


def seed_sequence(seed: int | np.random.SeedSequence) -> np.random.SeedSequence:
    """The run's root :class:`~numpy.random.SeedSequence`."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int or a numpy SeedSequence, not {type(seed).__name__}")
    return np.random.SeedSequence(int(seed))


def _child(root: np.random.SeedSequence, block: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, block),
                                  pool_size=root.pool_size)


def draw(plan: Plan, root: np.random.SeedSequence, lo: int, hi: int, *,
         deterministic: bool, reuse: Draws | None = None) -> Draws:
    """Draws for paths ``lo`` ≤ path < ``hi`` (all zero / one half when deterministic).

    ``reuse``: the draws of an earlier chunk of the same plan, whose arrays are
    overwritten if they have the right shapes (a run's chunks draw into the same
    memory instead of first-touching fresh pages each time); it must not be used
    afterwards.

    Each block's generator draws straight into a block-sized scratch array
    (``out=``), whose part inside [lo, hi) is then copied into place: the
    numbers are those of ``gen.standard_normal(shape)``, without allocating.

    Examples
    --------
    >>> import numpy as np
    >>> from loopwatch import load_deal_book, load_scenario
    >>> from loopwatch.engine.plan import compile_plan
    >>> plan = compile_plan(load_deal_book("three-party-loop"), load_scenario("base"))
    >>> root = np.random.SeedSequence(7)
    >>> a = draw(plan, root, 0, 100, deterministic=False).demand
    >>> b = draw(plan, root, 60, 70, deterministic=False).demand
    >>> bool(np.array_equal(a[..., 60:70], b))
    True
    """
    P, Q, C = hi - lo, plan.Q, plan.C
    D = len(plan.dev_firm)
    L = int(np.count_nonzero(plan.has_shares))
    shapes = ((Q, 1 + D, P), (Q, L, P), (C, P))
    if reuse is not None and tuple(a.shape for a in (reuse.demand, reuse.price,
                                                     reuse.convert)) == shapes:
        demand, price, convert = reuse.demand, reuse.price, reuse.convert
    else:
        demand, price, convert = (np.empty(s) for s in shapes)
    if deterministic:
        demand.fill(0.0)
        price.fill(0.0)
        convert.fill(0.5)
        return Draws(demand, price, convert)
    zd, zp, u = np.empty((Q, 1 + D, BLOCK)), np.empty((Q, L, BLOCK)), np.empty((C, BLOCK))
    # each block's generator draws its three arrays in order; the part inside [lo, hi) is
    # copied straight into place (a block straddling ``lo`` or ``hi`` is drawn whole)
    for b in range(lo // BLOCK, (hi - 1) // BLOCK + 1):
        gen = np.random.Generator(np.random.PCG64(_child(root, b)))
        a, z = max(lo, b * BLOCK), min(hi, (b + 1) * BLOCK)
        src, dst = slice(a - b * BLOCK, z - b * BLOCK), slice(a - lo, z - lo)
        gen.standard_normal(out=zd)
        gen.standard_normal(out=zp)
        gen.random(out=u)
        demand[:, :, dst] = zd[:, :, src]
        price[:, :, dst] = zp[:, :, src]
        convert[:, dst] = u[:, src]
    return Draws(demand, price, convert)
