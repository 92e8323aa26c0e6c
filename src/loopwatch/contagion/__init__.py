"""Contagion on financial networks: clearing vectors, DebtRank, default cascades.

Kernels (sparse, vectorised over a leading batch axis of scenarios):

* :func:`eisenberg_noe` — greatest clearing vector (Eisenberg & Noe 2001);
* :func:`rogers_veraart` — the same with default costs (Rogers & Veraart 2013);
* :func:`debtrank` — DebtRank (Battiston et al. 2012; Bardoscia et al. 2015);
* :func:`furfine_cascade` — sequential default cascade (Furfine 2003).

Each has a plain-Python reference twin (``*_reference``) used to test it.
Only numpy and scipy are imported.
"""

from __future__ import annotations

from loopwatch.contagion._validate import NetworkError
from loopwatch.contagion.cascade import CascadeResult, furfine_cascade
from loopwatch.contagion.clearing import ClearingResult, eisenberg_noe, rogers_veraart
from loopwatch.contagion.debtrank import DebtRankResult, debtrank
from loopwatch.contagion.reference import (
    debtrank_reference,
    eisenberg_noe_reference,
    furfine_cascade_reference,
    rogers_veraart_reference,
)

__all__ = [
    "CascadeResult",
    "ClearingResult",
    "DebtRankResult",
    "NetworkError",
    "debtrank",
    "debtrank_reference",
    "eisenberg_noe",
    "eisenberg_noe_reference",
    "furfine_cascade",
    "furfine_cascade_reference",
    "rogers_veraart",
    "rogers_veraart_reference",
]
