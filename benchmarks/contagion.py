"""Benchmark the contagion kernels (``python benchmarks/contagion.py [--quick]``).

Pins BLAS/OpenMP to one thread (before numpy loads), builds random sparse
networks (uniform random endpoints, lognormal amounts, self-loops dropped) and
prints one table row per case: best and median wall time over the repeats,
the target, and a correctness check for the case.

Cases (full size; ``--quick`` shrinks every one for a smoke run):

* Eisenberg–Noe, 1,000,000 nodes / 10,000,000 edges, external assets
  ``e = 0.3 * pbar * U(0, 1)`` (about 59% of nodes default); check: the
  fixed-point residual ``max|min(pbar, e + Pi^T p) - p| / max(pbar)``.
* Rogers–Veraart (alpha = beta = 0.9) on the same network (no target).
* DebtRank (both variants) on the same network used as exposures
  (``A = L^T``), capital ``0.2 * interbank assets + U(0, 1)``, 1% of nodes
  shocked to ``h = 1``; check: DebtRank value.
* Furfine cascade on the same exposures, loss given default 0.6.
* A batch of 10,000 external-asset scenarios on a 1,000-node / 20,000-edge
  network: ``e_b = e0 * (1 - clip(s_b * U * 1.6, 0, 1))`` with severity
  ``s_b ~ U(0, 1)`` per scenario (30-70% of nodes default); check: 20
  scenarios against the exact solver; and the plain fixed-point iteration
  on the whole batch as one ``(n, B)`` block, for comparison.
* n = 2,000 (40,000 edges): the library against its plain-Python reference
  twin and a dense numpy fixed-point iteration, answers compared.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from loopwatch.contagion import (  # noqa: E402
    debtrank,
    eisenberg_noe,
    eisenberg_noe_reference,
    furfine_cascade,
    rogers_veraart,
)

ROWS: list[tuple[str, str, str, str, str]] = []


def network(n: int, m: int, seed: int) -> sp.csr_array:
    """Random directed network: ``m`` draws of (i, j), lognormal(0, 1) amounts."""
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, m).astype(np.int32)
    j = rng.integers(0, n, m).astype(np.int32)
    keep = i != j
    w = rng.lognormal(0.0, 1.0, m)[keep]
    L = sp.csr_array((w, (i[keep], j[keep])), shape=(n, n))
    L.sum_duplicates()
    return L


def timed(fn: Callable[[], Any], repeats: int) -> tuple[Any, float, float]:
    times = []
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, min(times), statistics.median(times)


def row(case: str, size: str, best: float, median: float, target: str, check: str) -> None:
    ROWS.append((case, size, f"{best:.3f} / {median:.3f}", target, check))
    print(f"  {case}: {best:.3f} s best, {median:.3f} s median  [{check}]", flush=True)


def residual(L: sp.csr_array, e: np.ndarray, p: np.ndarray) -> float:
    pbar = np.asarray(L.sum(axis=1)).ravel()
    den = np.where(pbar > 0, pbar, 1.0)
    return float(np.abs(np.minimum(pbar, e + L.T @ (p / den)) - p).max() / pbar.max())


def big_network_cases(n: int, m: int, repeats: int) -> None:
    print(f"building {n:,}-node / {m:,}-edge network ...", flush=True)
    L = network(n, m, seed=0)
    pbar = np.asarray(L.sum(axis=1)).ravel()
    e = 0.3 * pbar * np.random.default_rng(1).random(n)
    size = f"{n:,} / {L.nnz:,}"

    r, best, med = timed(lambda: eisenberg_noe(L, e), repeats)
    row("eisenberg_noe", size, best, med, "<= 2 s",
        f"{r.defaulted.mean():.1%} default, {r.iterations} sweeps, "
        f"residual {residual(L, e, r.payments):.1e}")
    r, best, med = timed(lambda: rogers_veraart(L, e, alpha=0.9, beta=0.9), repeats)
    row("rogers_veraart a=b=0.9", size, best, med, "-",
        f"{r.defaulted.mean():.1%} default, {r.iterations} sweeps")

    A = sp.csr_array(L.T)  # exposures: creditor j holds a claim on debtor i
    rng = np.random.default_rng(2)
    capital = 0.2 * np.asarray(A.sum(axis=1)).ravel() + rng.random(n)
    h0 = np.zeros(n)
    h0[rng.choice(n, n // 100, replace=False)] = 1.0
    for variant in ("battiston2012", "bardoscia2015"):
        d, best, med = timed(lambda v=variant: debtrank(A, capital, h0, variant=v), repeats)
        row(f"debtrank {variant}", size, best, med,
            "<= 2 s" if variant == "battiston2012" else "-",
            f"R = {d.debtrank:.4f}, {(d.h >= 1).mean():.1%} at h=1, {d.rounds} rounds")
    shocked = h0 > 0
    c, best, med = timed(
        lambda: furfine_cascade(A, capital, shocked, loss_given_default=0.6), repeats
    )
    row("furfine_cascade lgd=0.6", size, best, med, "-",
        f"{c.defaulted.mean():.1%} default, {c.rounds} rounds")


def batch_case(n: int, m: int, scenarios: int, repeats: int) -> None:
    L = network(n, m, seed=3)
    pbar = np.asarray(L.sum(axis=1)).ravel()
    rng = np.random.default_rng(1)
    e0 = 0.5 * pbar * rng.random(n) + 0.05 * pbar
    severity = rng.random(scenarios)
    E = e0 * (1.0 - np.clip(severity[:, None] * rng.random((scenarios, n)) * 1.6, 0.0, 1.0))
    r, best, med = timed(lambda: eisenberg_noe(L, E), repeats)
    worst = 0.0
    for b in rng.choice(scenarios, 20, replace=False):
        exact = eisenberg_noe(L, E[b], method="exact").payments
        worst = max(worst, float(np.abs(exact - r.payments[b]).max() / pbar.max()))
    frac = r.defaulted.mean(axis=1)
    size = f"{scenarios:,} x ({n:,} / {L.nnz:,})"
    row("eisenberg_noe batch", size, best, med, "<= 5 s",
        f"{frac.min():.0%}-{frac.max():.0%} default, max err vs exact {worst:.1e}")

    # the plain fixed-point iteration over the whole batch at once, for comparison
    PiT = sp.csr_array((sp.diags_array(1.0 / pbar) @ L).T)

    def plain() -> np.ndarray:
        P = np.repeat(pbar[:, None], scenarios, axis=1)
        Et = E.T.copy()
        while True:
            P_new = np.minimum(pbar[:, None], Et + PiT @ P)
            if np.abs(P_new - P).max() <= 1e-10 * pbar.max():
                return P_new.T
            P = P_new

    P, best_p, med_p = timed(plain, 1)
    diff = float(np.abs(P - r.payments).max() / pbar.max())
    row("plain fixed point, whole batch", size, best_p, med_p, "-",
        f"speed-up of library {best_p / best:.1f}x, max diff {diff:.1e}")


def comparison_case(n: int, m: int) -> None:
    L = network(n, m, seed=4)
    pbar = np.asarray(L.sum(axis=1)).ravel()
    e = 0.4 * pbar * np.random.default_rng(5).random(n)
    size = f"{n:,} / {L.nnz:,}"
    ours, best, med = timed(lambda: eisenberg_noe(L, e), 5)
    row("eisenberg_noe (auto)", size, best, med, "-", f"{ours.defaulted.mean():.0%} default")
    exact, best_x, med_x = timed(lambda: eisenberg_noe(L, e, method="exact"), 3)
    twin, best_t, med_t = timed(lambda: eisenberg_noe_reference(L, e), 1)
    Pi_T = (L.toarray() / np.where(pbar > 0, pbar, 1.0)[:, None]).T

    def dense() -> np.ndarray:
        p = pbar.copy()
        while True:
            p_new = np.minimum(pbar, e + Pi_T @ p)
            if np.abs(p_new - p).max() <= 1e-15 * pbar.max():
                return p_new
            p = p_new

    p_dense, best_d, med_d = timed(dense, 3)
    scale = pbar.max()
    d_twin = np.abs(twin.payments - ours.payments).max() / scale
    d_dense = np.abs(p_dense - ours.payments).max() / scale
    d_exact = np.abs(exact.payments - ours.payments).max() / scale
    row("  exact (fictitious default)", size, best_x, med_x, "-",
        f"time / auto {best_x / best:.1f}, diff {d_exact:.1e}")
    row("  reference twin (Python)", size, best_t, med_t, "-",
        f"speed-up of library {best_t / best:.0f}x, diff {d_twin:.1e}")
    row("  dense numpy fixed point", size, best_d, med_d, "-",
        f"speed-up of library {best_d / best:.1f}x, diff {d_dense:.1e}")
    assert max(d_twin, d_dense, d_exact) <= 1e-9, "answers differ by more than 1e-9"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke-test sizes")
    args = parser.parse_args()
    if args.quick:
        big_network_cases(10_000, 100_000, repeats=2)
        batch_case(200, 4_000, 500, repeats=2)
        comparison_case(300, 6_000)
    else:
        big_network_cases(1_000_000, 10_000_000, repeats=3)
        batch_case(1_000, 20_000, 10_000, repeats=3)
        comparison_case(2_000, 40_000)
    print()
    head = ("case", "nodes / edges", "time s (best / median)", "target", "check")
    widths = [max(len(x[k]) for x in [head, *ROWS]) for k in range(5)]
    for line in [head, tuple("-" * w for w in widths), *ROWS]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")


if __name__ == "__main__":
    main()
