"""Firms: agents with an opening balance sheet and an operating model."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from loopwatch.model.common import Frozen, Source
from loopwatch.model.units import Money

__all__ = ["Firm", "Role"]

ID_PATTERN = r"^[a-z0-9][a-z0-9_\-]*$"


class Role(StrEnum):
    """What a firm does in the AI-compute web."""

    chip_vendor = "chip_vendor"
    cloud = "cloud"
    model_developer = "model_developer"
    investor = "investor"
    lender = "lender"
    spv = "spv"


class Firm(Frozen):
    """A firm with its opening balance sheet (at the book's start) and operating model.

    All money is USD; flows (revenue, costs) are **annual** rates at the book's
    start and the engine converts them to quarters. Growth rates are annual.

    Notes
    -----
    ``non_loop_revenue`` is revenue from outside the modelled deals (Oracle's
    licence business, Nvidia's other customers). ``ai_share`` is the part of it
    that follows the scenario's AI sentiment (other hyperscalers' capex rises
    and falls with the same cycle). ``end_revenue`` is what end customers pay a
    model developer for AI; scenarios grow it along their demand paths.
    Operating costs are ``opex_fixed`` (grows with ``opex_growth``) plus
    ``opex_ratio`` of revenue; they are uncommitted (Minsky's income nets them).
    """

    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1)
    role: Role
    public: bool = False
    # opening balance sheet
    cash: Money = Field(default=0.0, ge=0)
    compute_assets: Money = Field(default=0.0, ge=0)
    useful_life_years: float = Field(default=5.0, gt=0, le=30)
    other_assets: Money = Field(default=0.0, ge=0)
    debt: Money = Field(default=0.0, ge=0)
    debt_rate: float = Field(default=0.05, ge=0, le=1)
    debt_maturity_years: float = Field(default=5.0, gt=0, le=100)
    credit_facility: Money = Field(default=0.0, ge=0)
    shares_outstanding: float | None = Field(default=None, gt=0)
    share_price: float | None = Field(default=None, gt=0)
    valuation: Money | None = Field(default=None, ge=0)
    # operating model (annual rates)
    end_revenue: Money = Field(default=0.0, ge=0)
    non_loop_revenue: Money = Field(default=0.0, ge=0)
    non_loop_growth: float = Field(default=0.0, ge=-1, le=5)
    ai_share: float = Field(default=0.0, ge=0, le=1)
    opex_fixed: Money = Field(default=0.0, ge=0)
    opex_ratio: float = Field(default=0.0, ge=0, le=5)
    opex_growth: float = Field(default=0.0, ge=-1, le=5)
    min_cash: Money = Field(default=0.0, ge=0)
    sources: tuple[Source, ...] = ()
    notes: str | None = None

    @property
    def market_value(self) -> float:
        """Opening equity value: shares × price if public, else the private valuation."""
        if self.shares_outstanding and self.share_price:
            return self.shares_outstanding * self.share_price
        return self.valuation or 0.0
