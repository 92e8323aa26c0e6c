"""Scenarios: the drivers of a simulation (DESIGN §1).

A scenario holds end-demand paths per model developer, credit conditions,
equity-market behaviour, re-rent terms for stranded capacity, LOI
conversion, and shocks. Rates are annual unless the name says quarterly;
shares are fractions (0.05 = 5 %).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from loopwatch.model.common import Frozen, Source
from loopwatch.model.firm import ID_PATTERN
from loopwatch.model.units import Money, Period

__all__ = [
    "CreditConditions",
    "DemandPath",
    "EquityMarket",
    "LoiBehaviour",
    "Rerent",
    "Scenario",
    "Shock",
    "ShockKind",
]


class DemandPath(Frozen):
    """End-customer revenue of one model developer (or the default for all).

    Annual log growth ``g_t`` mean-reverts to ``growth`` with ``persistence``
    (AR(1) per quarter) and decays as revenue nears ``saturation`` (logistic
    cap, annual USD; none = no cap). Quarterly shocks have annual volatility
    ``volatility``, of which a share ``correlation`` is the common factor
    shared by all developers. ``level`` overrides the book's opening
    ``end_revenue``; ``multiplier`` scales the whole path (break-even solves for it).
    """

    level: Money | None = Field(default=None, ge=0)
    multiplier: float = Field(default=1.0, ge=0)
    growth: float = Field(default=0.6, ge=-1, le=10)
    growth_decay: float = Field(default=0.15, ge=0, le=1)
    long_run_growth: float = Field(default=0.05, ge=-1, le=2)
    persistence: float = Field(default=0.7, ge=0, lt=1)
    saturation: Money | None = Field(default=None, gt=0)
    volatility: float = Field(default=0.25, ge=0, le=5)
    correlation: float = Field(default=0.6, ge=0, le=1)


class CreditConditions(Frozen):
    """What lenders charge and how much they lend against what.

    New borrowing pays ``base_rate`` + ``spread`` + ``spread_per_leverage`` ×
    (debt / assets) + ``stress_spread`` × system stress (0–1: share of core
    value in default). Lenders advance ``advance_compute`` of compute assets,
    ``advance_receivables`` of binding contract receivables and ``advance_loi``
    of LOI value; stress scales advance rates down by ``stress_response``.
    ``refinance_share`` of maturing debt rolls over in calm conditions.
    Debt is capped at ``max_debt_to_revenue`` × annual revenue. In default
    resolution (Rogers–Veraart) a defaulter realises ``recovery_assets`` (α)
    of its non-cash assets and ``recovery_receivables`` (β) of what the
    network pays it.
    """

    base_rate: float = Field(default=0.04, ge=0, le=1)
    spread: float = Field(default=0.02, ge=0, le=1)
    spread_per_leverage: float = Field(default=0.04, ge=0, le=1)
    stress_spread: float = Field(default=0.06, ge=0, le=1)
    advance_compute: float = Field(default=0.6, ge=0, le=1)
    advance_receivables: float = Field(default=0.3, ge=0, le=1)
    advance_loi: float = Field(default=0.1, ge=0, le=1)
    stress_response: float = Field(default=1.0, ge=0, le=5)
    refinance_share: float = Field(default=0.9, ge=0, le=1)
    max_debt_to_revenue: float = Field(default=6.0, gt=0)
    recovery_assets: float = Field(default=0.5, ge=0, le=1)
    recovery_receivables: float = Field(default=0.9, ge=0, le=1)


class EquityMarket(Frozen):
    """How equity is valued and how much new equity the market takes.

    Market value = revenue multiple × revenue run-rate × sentiment; the
    multiple rises by ``growth_premium`` per unit of annual revenue growth.
    Sentiment (1 = neutral) moves by ``sentiment_growth`` × (demand growth −
    expected growth) a year, where expected growth starts at
    ``growth_expectation`` and decays by ``expectation_decay`` a year, and falls by ``sentiment_default`` per unit of
    core value defaulting, mean-reverting at ``sentiment_reversion`` a quarter.
    A firm can issue up to ``issuance_appetite`` of its market value per
    quarter; stakes sell at a ``stake_haircut``.
    """

    revenue_multiple: float = Field(default=8.0, ge=0)
    growth_premium: float = Field(default=10.0, ge=0)
    sentiment_growth: float = Field(default=0.8, ge=0)
    growth_expectation: float = Field(default=0.5, ge=-1)
    expectation_decay: float = Field(default=0.15, ge=0, le=1)
    sentiment_default: float = Field(default=1.5, ge=0)
    sentiment_reversion: float = Field(default=0.1, ge=0, le=1)
    sentiment_floor: float = Field(default=0.2, gt=0)
    issuance_appetite: float = Field(default=0.02, ge=0, le=1)
    stake_haircut: float = Field(default=0.25, ge=0, le=1)
    price_volatility: float = Field(default=0.45, ge=0)


class Rerent(Frozen):
    """Stranded capacity: re-rented at ``spot_price`` (share of the contract price) × ``utilisation``."""

    spot_price: float = Field(default=0.5, ge=0, le=2)
    utilisation: float = Field(default=0.6, ge=0, le=1)


class LoiBehaviour(Frozen):
    """LOI conversion: ``conversion_probability`` overrides each LOI's own when set."""

    conversion_probability: float | None = Field(default=None, ge=0, le=1)
    lapse_withdraws_credit: bool = True


class ShockKind(StrEnum):
    demand = "demand"  # multiply end revenue by (1 + size)
    non_loop = "non_loop"  # multiply non-loop AI revenue by (1 + size)
    credit = "credit"  # add size to spreads
    equity = "equity"  # multiply sentiment by (1 + size)
    loi_lapse = "loi_lapse"  # every open LOI lapses; size ignored
    rerent = "rerent"  # multiply spot re-rent price by (1 + size)


class Shock(Frozen):
    """A one-off change from ``period`` on (``quarters`` long; 0 = permanent)."""

    kind: ShockKind
    period: Period
    size: float = 0.0
    quarters: int = Field(default=0, ge=0)
    firms: tuple[str, ...] = ()


class Scenario(Frozen):
    """All drivers of one simulation. ``demand`` maps developer id → path; key ``default`` applies to the rest."""

    name: str = Field(pattern=ID_PATTERN)
    title: str | None = None
    description: str | None = None
    demand: dict[str, DemandPath] = Field(default_factory=lambda: {"default": DemandPath()})
    credit: CreditConditions = CreditConditions()
    equity: EquityMarket = EquityMarket()
    rerent: Rerent = Rerent()
    loi: LoiBehaviour = LoiBehaviour()
    shocks: tuple[Shock, ...] = ()
    deterministic: bool = False
    sources: tuple[Source, ...] = ()

    def demand_for(self, firm_id: str) -> DemandPath:
        """The demand path of a developer: its own entry, else ``default``."""
        return self.demand.get(firm_id) or self.demand.get("default") or DemandPath()
