"""The engine's state for a chunk of paths: arrays with axes ``(firm, path)`` and ``(contract, path)``.

Entity-major (the path axis last and contiguous) so that per-entity rows are
contiguous and sums over entities are row operations; see
:mod:`loopwatch.engine.incidence`. Results leave the engine path-major.

Balance sheets live in the :class:`~loopwatch.engine.ledger.Ledger`; this
object adds the instrument registers the ledger's totals are made of (world
debt per firm, each loan's principal, each stake's units, each warrant
tranche), contract status, demand and market state, and the run's
cumulative losses.

The engine's compiled kernels (:mod:`loopwatch.engine._fused`) update these
arrays in place: :func:`owned` hands them an array the state owns, and
:func:`kernel_index` the plan's index arrays they read. :meth:`State.take`
and :meth:`State.put` (the sub-state of the paths that need default
resolution) are compiled gathers and scatters; their numpy twins are
:meth:`State.take_reference` and :meth:`State.put_reference`.
"""

from __future__ import annotations

import math
from typing import Any, TypeVar, cast

import numpy as np
from numpy.typing import NDArray

from loopwatch.engine import _fused
from loopwatch.engine.ledger import Account, Ledger
from loopwatch.engine.plan import Kind, Plan

__all__ = ["KernelIndex", "State", "contiguous", "gather", "kernel_index", "owned", "scatter"]

F64 = NDArray[np.float64]
B8 = NDArray[np.bool_]
I64 = NDArray[np.int64]


def owned(st: object, name: str, dtype: type = np.float64) -> NDArray[Any]:
    """``st.<name>`` as a C-contiguous array of ``dtype`` the state owns (copied if not).

    Kernels update state arrays in place; an array that arrived as a view of
    another array, a broadcast or another dtype is replaced by an own copy
    first, so that an in-place update never reaches an array shared with
    something else.

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> block = np.zeros((2, 3))
    >>> st = SimpleNamespace(x=block[0:1])
    >>> owned(st, "x")[0, 0] = 1.0
    >>> float(block[0, 0]), float(st.x[0, 0])
    (0.0, 1.0)
    """
    a: NDArray[Any] = getattr(st, name)
    # an array found fit before is fit now (an array keeps its dtype, layout and base): the
    # checks run once per array object, remembered per state and name (by identity)
    seen: dict[str, tuple[NDArray[Any], type]] | None = getattr(st, "_owned", None)
    if seen is not None:
        hit = seen.get(name)
        if hit is not None and hit[0] is a and hit[1] is dtype:
            return a
    if (a.dtype != dtype or not a.flags.c_contiguous or not a.flags.writeable
            or isinstance(a.base, np.ndarray)):
        a = np.array(a, dtype=dtype, order="C")
        setattr(st, name, a)
    if seen is None:
        seen = {}
        try:
            vars(st)["_owned"] = seen
        except TypeError:  # (an object with no ``__dict__``: no memory)
            return a
    seen[name] = (a, dtype)
    return a


def contiguous(a: NDArray[Any], dtype: type = np.float64) -> NDArray[Any]:
    """``a`` as a C-contiguous array of ``dtype``: the layout kernels are compiled for.

    No copy when it already is one (kernels only read it).
    """
    out: NDArray[Any] = np.ascontiguousarray(a, dtype)
    return out


class KernelIndex:
    """Index arrays of a plan that the compiled kernels read (built once per plan).

    ``eq_payer``/``eq_payee`` (n_eq,): investor and investee of each equity
    contract; ``wt_holder``/``wt_issuer`` (n_wt,): holder and issuer of each
    warrant tranche, ``wt_strike`` its strike (USD a share), ``wt_expiry``
    its warrant's expiry (run quarter), ``wt_contract`` its warrant contract;
    then the parties of loans (``ln_*``), compute commitments (``cc_*``), every
    contract (``c_*``) and every edge (``e_*``), and per quarter (rows) the
    commitments' remaining value and built share, as the resolution and
    settlement kernels read them.
    """

    def __init__(self, plan: Plan) -> None:
        c = np.ascontiguousarray
        self.eq_payer: I64 = c(plan.payer[plan.eq], np.int64)
        self.eq_payee: I64 = c(plan.payee[plan.eq], np.int64)
        w = plan.wr[plan.wt_warrant]
        self.wt_contract: I64 = c(w, np.int64)
        self.wt_holder: I64 = c(plan.payee[w], np.int64)
        self.wt_issuer: I64 = c(plan.payer[w], np.int64)
        self.wt_strike: F64 = c(plan.wr_strike[plan.wt_warrant], np.float64)
        self.wt_expiry: I64 = c(plan.wr_expiry[plan.wt_warrant], np.int64)
        self.wt_cond: F64 = c(plan.wt_cond, np.float64)
        self.has_shares: B8 = c(plan.has_shares, np.bool_)
        self.listed: I64 = c(np.flatnonzero(plan.has_shares), np.int64)
        # each firm's row among the listed ones (-1: not listed)
        self.listed_pos: I64 = np.full(plan.F, -1, np.int64)
        self.listed_pos[self.listed] = np.arange(len(self.listed))
        self.by_book: B8 = c(plan.by_book, np.bool_)
        # the parties of loans, compute commitments and every contract and edge, as the
        # resolution and settlement kernels take them (built here, not on every call)
        E, F = plan.edges, plan.F
        self.ln: I64 = c(plan.ln, np.int64)
        self.ln_payer: I64 = c(plan.payer[plan.ln], np.int64)
        self.ln_payee: I64 = c(plan.payee[plan.ln], np.int64)
        self.cc: I64 = c(plan.cc, np.int64)
        self.cc_payer: I64 = c(plan.payer[plan.cc], np.int64)
        self.c_payer: I64 = c(plan.payer, np.int64)
        self.c_payee: I64 = c(plan.payee, np.int64)
        self.c_loan: B8 = c(plan.kind == Kind.loan, np.bool_)
        self.e_payer: I64 = c(E.payer, np.int64)
        self.e_payee: I64 = c(E.payee, np.int64)
        self.e_keep: F64 = c(plan.edge_keep, np.float64)
        self.e_mech: I64 = c(E.loss_mechanism, np.int64)
        self.e_inside: B8 = c((E.payer < F) & (E.payee < F), np.bool_)
        g = E.groups
        # first rows of the edge groups that a default rewrites (``resolve_calm``)
        self.calm_groups: I64 = np.array(
            [g[k].start for k in ("draw", "accelerated", "accelerated_twin", "eq", "penalty")],
            np.int64)
        # per quarter (rows): what is left of each compute commitment, and its built share
        self.cc_remaining_t: F64 = c(plan.remaining[plan.cc].T, np.float64)
        self.cc_built_t: F64 = c(plan.cc_built.T, np.float64)


_INDEX: dict[int, tuple[Plan, KernelIndex]] = {}


def kernel_index(plan: Plan) -> KernelIndex:
    """The :class:`KernelIndex` of ``plan``, cached per plan object."""
    hit = _INDEX.get(id(plan))
    if hit is None or hit[0] is not plan:
        if len(_INDEX) > 64:
            _INDEX.clear()
        hit = _INDEX[id(plan)] = (plan, KernelIndex(plan))
    return hit[1]


class State:
    """Mutable state of ``P`` paths at the start of a quarter; see the attribute comments.

    Every array has the path axis last.
    """

    def __init__(self, plan: Plan, P: int, demand_multiplier: F64,
                 reuse: State | None = None) -> None:
        """``reuse``: a finished state of the same plan whose arrays this one takes over,
        overwritten with the starting values, instead of allocating and first-touching
        fresh memory (≈ 40 MB at 1,536 paths, most of it the depreciation schedule and the
        loss matrix); ``reuse`` must not be used afterwards.

        An old array is taken only if it has the shape and dtype wanted, is C-contiguous,
        writeable and its own (not a view of another array), and was not already taken
        for another attribute: two attributes never share memory.
        """
        F, C, Q = plan.F, plan.C, plan.Q
        taken: set[int] = set()

        def buf(name: str, shape: tuple[int, ...], dtype: type = np.float64,
                owner: object = reuse) -> NDArray[Any]:
            old = getattr(owner, name, None) if owner is not None else None
            if (isinstance(old, np.ndarray) and old.shape == shape and old.dtype == dtype
                    and old.flags.c_contiguous and old.flags.writeable
                    and not isinstance(old.base, np.ndarray) and id(old) not in taken):
                taken.add(id(old))
                return old
            return np.empty(shape, dtype)

        def full(name: str, shape: tuple[int, ...], value: float | bool | int,
                 dtype: type = np.float64) -> NDArray[Any]:
            a = buf(name, shape, dtype)
            a.fill(value)
            return a

        def zeros(name: str, shape: tuple[int, ...]) -> F64:
            return full(name, shape, 0.0)

        def col(name: str, v: F64) -> F64:  # (n,) → (n, P)
            v = np.asarray(v, float)
            out: F64 = np.multiply(v[:, None], ones, out=buf(name, (len(v), P)))
            return out

        self.P = P
        # whether a quarter keeps its opening cash (for the ``cash_change`` variable only: a
        # copy of a (F, P) array a quarter, which a run that does not record it skips)
        self.keep_cash_start = True
        ones = np.ones((1, P))
        old_led = getattr(reuse, "ledger", None)
        led = self.ledger = Ledger(P, F, reuse=old_led if isinstance(old_led, Ledger) else None)
        bal = led.bal
        for a, v in ((Account.cash, plan.cash0), (Account.compute, plan.compute0),
                     (Account.other, plan.other0), (Account.debt, plan.debt0),
                     (Account.equity, plan.cash0 + plan.compute0 + plan.other0 - plan.debt0)):
            np.multiply(np.asarray(v, float)[:, None], ones, out=bal[a])
        self.alive: B8 = full("alive", (F, P), True, np.bool_)
        self.default_t: I64 = full("default_t", (F, P), -1, np.int64)
        # contracts in force; conditional ones wait, undecided, in ``open``
        self.live: B8 = buf("live", (C, P), np.bool_)
        self.live[...] = ~plan.conditional[:, None]
        self.open: B8 = buf("open", (C, P), np.bool_)
        self.open[...] = plan.conditional[:, None]
        self.cum_paid = zeros("cum_paid", (C, P))  # payer → payee money paid so far
        # world debt per firm (opening debt, facility draws, new borrowing)
        self.world_debt: F64 = col("world_debt", plan.debt0)
        self.world_rate: F64 = col("world_rate", plan.debt_rate0)
        # the part lent against open conditional deals
        self.loi_debt = zeros("loi_debt", (F, P))
        self.called = zeros("called", (F, P))  # LOI-secured debt called, due next quarter
        self.facility: F64 = col("facility", plan.facility0)
        # book loans
        n_ln = len(plan.ln)
        self.loan_out = zeros("loan_out", (n_ln, P))
        # lender defaulted: held by the world
        self.loan_sold: B8 = full("loan_sold", (n_ln, P), False, np.bool_)
        # due in full next quarter
        self.loan_accel: B8 = full("loan_accel", (n_ln, P), False, np.bool_)
        # equity
        self.units: F64 = col("units", plan.units0)
        self.stake_units = zeros("stake_units", (len(plan.eq), P))
        self.stake_val = zeros("stake_val", (len(plan.eq), P))
        self.item_paid: B8 = full("item_paid", (len(plan.item_amount), P), False, np.bool_)
        self.wt_vested: B8 = full("wt_vested", (len(plan.wt_shares), P), False, np.bool_)
        self.wt_left: F64 = col("wt_left", plan.wt_shares)
        self.wt_val = zeros("wt_val", (len(plan.wt_shares), P))
        self.bk_left: F64 = col("bk_left", plan.bk_cap)
        # built share of a commitment left idle
        self.stranded = zeros("stranded", (len(plan.cc), P))
        # straight-line depreciation: the rate per quarter and its scheduled changes
        # (a vintage bought in t adds to the rate from t + 1 for ``life`` quarters)
        life = np.maximum(np.rint(plan.life0_q).astype(np.int64), 1)
        self.dep_rate: F64 = col("dep_rate", plan.compute0 / life)
        self.dep_change = zeros("dep_change", (Q + 1, F, P))
        for f in range(F):
            if life[f] <= Q:
                self.dep_change[life[f], f] = -plan.compute0[f] / life[f]
        # demand (latent, before multipliers) and markets
        D = len(plan.dev_firm)
        self.dem_x = zeros("dem_x", (D, P))  # growth deviation from the expected path (annual)
        self.dem_level: F64 = col("dem_level", plan.dev_level)  # annual USD
        self.dem_mult = plan.dev_multiplier[:, None] * demand_multiplier.reshape(1, P)
        self.demand_prev = ones[0] * (plan.dev_level * plan.dev_multiplier
                                      * np.exp(-plan.dev_mu[0] / 4.0)).sum()
        self.sentiment: F64 = np.ones(P)
        self.sent_eff = full("sent_eff", (F, P), 1.0)  # sentiment × equity shocks, per firm
        self.eta = zeros("eta", (F, P))
        self.mv: F64 = col("mv", plan.mv0)
        self.price: F64 = col("price", np.where(plan.has_shares, plan.mv0 / plan.units0, 0.0))
        self.ghat: F64 = col("ghat", plan.growth0)
        self.rev_prev: F64 = col("rev_prev", plan.rev0_q)
        self.cond_ok: B8 = full("cond_ok", (len(plan.cond_metric), P), False, np.bool_)
        self.issued = zeros("issued", (F, P))  # equity issued this quarter
        # world debt accelerated by a default this quarter (written on the short paths of
        # the quarter only, ``w_accel_cols``; zero elsewhere)
        self.w_accel = zeros("w_accel", (F, P))
        self.w_accel_cols: I64 = np.empty(0, np.int64)
        # the quarter's funding by source (the waterfall's result, then the roll-over and
        # any cascade's funding added in), kept from quarter to quarter: a firm's rows may
        # be nonzero only where ``raised_dirty``, and are zeroed by the next waterfall there
        self.raised_out = buf("raised_out", (5, F, P))
        self.raised_dirty: B8 = np.ones(F, np.bool_)
        # end revenue of the quarter: the developers' rows are written every quarter, the
        # others are zero (kept from quarter to quarter, not allocated and zeroed each time)
        self.end = zeros("end", (F, P))
        # what the flex cut from each tranche this quarter (only milestone rows are ever
        # written, and the flex zeroes them first: kept from quarter to quarter)
        self.items_cut = zeros("items_cut", (len(plan.item_amount), P))
        # losses over the run: (sufferer × counterparty incl. world), mechanisms
        self.losses = zeros("losses", (F * (F + 1), P))
        self.loss_mech = zeros("loss_mech", (F * 4, P))
        self.world_losses = zeros("world_losses", (F, P))
        # the quarter's edge arrays (due, paid), kept from quarter to quarter so that rows
        # that stay zero are not written again; ``*_dirty``: rows that may be nonzero
        E = plan.edges.n
        self.edge_due, self.edge_paid = buf("edge_due", (E, P)), buf("edge_paid", (E, P))
        self.due_dirty, self.paid_dirty = np.ones(E, np.bool_), np.ones(E, np.bool_)

    #: Arrays default resolution reads or writes (everything else stays out of a sub-state).
    RESOLUTION = ("alive", "default_t", "live", "open", "loan_out", "loan_sold", "loan_accel",
                  "stake_val", "stake_units", "units", "wt_val", "wt_left", "wt_vested",
                  "world_debt", "world_rate", "loi_debt", "called", "facility", "mv", "price",
                  "issued", "dep_rate", "stranded")
    #: Accumulators a sub-state starts at zero and adds back.
    ACCUMULATORS = ("losses", "loss_mech", "world_losses")

    def take(self, cols: I64) -> State:
        """The resolution-relevant state of paths ``cols`` (copies; see :meth:`put`).

        Only :attr:`RESOLUTION` arrays and the ledger are copied; the loss
        accumulators start at zero. Reading any other array of the sub-state
        raises ``AttributeError``. The copies are compiled gathers
        (:func:`~loopwatch.engine._fused.take_cols`); the twin is
        :meth:`take_reference`.
        """
        cols = np.ascontiguousarray(cols, np.int64)
        S = len(cols)
        sub = object.__new__(State)
        sub.P = S
        for name in self.RESOLUTION:
            setattr(sub, name, gather(getattr(self, name), cols))
        for name in self.ACCUMULATORS:
            setattr(sub, name, np.zeros((getattr(self, name).shape[0], S)))
        led = self.ledger
        sub.ledger = object.__new__(Ledger)
        sub.ledger.P, sub.ledger.F = S, led.F
        sub.ledger.bal = gather(led.bal, cols)
        sub.ledger.world_cash = led.world_cash[cols]
        return sub

    def put(self, cols: I64, sub: State) -> None:
        """Write back a sub-state from :meth:`take`; add its losses (compiled scatters)."""
        cols = np.ascontiguousarray(cols, np.int64)
        for name in self.RESOLUTION:
            scatter(getattr(self, name), cols, getattr(sub, name))
        for name in self.ACCUMULATORS:
            a = getattr(self, name)
            _fused.add_cols(a, cols, _c64(getattr(sub, name)))
        led, sl = self.ledger, sub.ledger
        scatter(led.bal, cols, sl.bal)
        led.world_cash[cols] = sl.world_cash

    def take_reference(self, cols: I64) -> State:
        """:meth:`take` in numpy (the twin)."""
        sub = object.__new__(State)
        sub.P = len(cols)
        for name in self.RESOLUTION:
            setattr(sub, name, np.take(getattr(self, name), cols, axis=-1))
        for name in self.ACCUMULATORS:
            setattr(sub, name, np.zeros((*getattr(self, name).shape[:-1], len(cols))))
        led = self.ledger
        sub.ledger = object.__new__(Ledger)
        sub.ledger.P, sub.ledger.F = len(cols), led.F
        sub.ledger.bal = np.take(led.bal, cols, axis=-1)
        sub.ledger.world_cash = led.world_cash[cols]
        return sub

    def put_reference(self, cols: I64, sub: State) -> None:
        """:meth:`put` in numpy (the twin)."""
        for name in self.RESOLUTION:
            getattr(self, name)[..., cols] = getattr(sub, name)
        for name in self.ACCUMULATORS:
            part = getattr(sub, name)
            rows = np.flatnonzero(part.any(axis=1))
            if len(rows):
                getattr(self, name)[rows[:, None], cols] += part[rows]
        led, sl = self.ledger, sub.ledger
        led.bal[..., cols] = sl.bal
        led.world_cash[cols] = sl.world_cash


def _c64(a: F64) -> F64:
    out: F64 = np.ascontiguousarray(a, np.float64)
    return out


def _bits(a: NDArray[np.generic]) -> NDArray[np.generic]:
    """A 2-D view of ``a`` (…, P) with one of two kernel dtypes: int64 (8-byte items) or uint8."""
    v = a.reshape(math.prod(a.shape[:-1]), a.shape[-1]) if a.ndim != 2 else a
    if v.dtype.itemsize == 8:
        return v.view(np.int64)
    if v.dtype.itemsize == 1:
        return v.view(np.uint8)
    raise TypeError(f"no column kernel for dtype {a.dtype}")


_Arr = TypeVar("_Arr", bound=NDArray[Any])


def gather(a: _Arr, cols: I64) -> _Arr:
    """``a[..., cols]`` (a new C-contiguous array; a compiled gather for C-contiguous ``a``)."""
    if not a.flags.c_contiguous or a.ndim < 2:
        return cast(_Arr, np.ascontiguousarray(np.take(a, cols, axis=-1)))
    out = np.empty((*a.shape[:-1], len(cols)), a.dtype)
    _fused.take_cols(_bits(a), cols, _bits(out))
    return cast(_Arr, out)


def scatter(a: NDArray[np.generic], cols: I64, values: NDArray[np.generic]) -> None:
    """``a[..., cols] = values`` (a compiled scatter where the shapes and dtypes allow)."""
    if (not a.flags.c_contiguous or a.ndim < 2 or values.dtype != a.dtype
            or values.shape != (*a.shape[:-1], len(cols))):
        a[..., cols] = values
        return
    _fused.put_cols(_bits(a), cols, _bits(np.ascontiguousarray(values)))
