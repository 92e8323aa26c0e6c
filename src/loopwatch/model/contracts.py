"""Contracts: the seven kinds of deal that bind the firms (DESIGN §1).

Every contract has an id, a payer and a payee (the direction of money; for a
warrant the issuer is the payer of shares, for a backstop the guarantor pays),
an amount in USD, a schedule, a binding flag, a status, a confidence (0–1) and
its sources. The type-specific fields follow the engine meaning in DESIGN §1.

A contract is one of :data:`Contract` (a union discriminated by ``type``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from loopwatch.model.common import Frozen, Source, Status
from loopwatch.model.firm import ID_PATTERN
from loopwatch.model.units import Money, Period

__all__ = [
    "Amortisation",
    "BackstopContract",
    "BondContract",
    "ChipPurchase",
    "ComputeCommitment",
    "Condition",
    "Contract",
    "ContractType",
    "EquityInvestment",
    "EquityTranche",
    "LetterOfIntent",
    "LoanContract",
    "Metric",
    "Schedule",
    "Shape",
    "Warrant",
    "WarrantTranche",
]


class ContractType(StrEnum):
    compute_commitment = "compute_commitment"
    chip_purchase = "chip_purchase"
    equity_investment = "equity_investment"
    warrant = "warrant"
    loan = "loan"
    bond = "bond"
    letter_of_intent = "letter_of_intent"
    backstop = "backstop"


class Metric(StrEnum):
    """Milestone metrics a tranche can wait for.

    ``gw_deployed``: GW of capacity delivered to the firm under its compute
    commitments and chip purchases; ``gw_bought``: GW of chips the firm has
    paid for; ``share_price``: the firm's share price in USD;
    ``end_revenue``: the firm's annualised end-customer revenue in USD.
    """

    gw_deployed = "gw_deployed"
    gw_bought = "gw_bought"
    share_price = "share_price"
    end_revenue = "end_revenue"


class Shape(StrEnum):
    """How a schedule spreads the amount over its quarters."""

    flat = "flat"
    ramp = "ramp"  # linearly rising weights 1, 2, ..., n
    bullet = "bullet"  # everything in the last quarter
    upfront = "upfront"  # everything in the first quarter


class Schedule(Frozen):
    """When money falls due: ``quarters`` quarters from ``start``, spread by ``shape``.

    ``weights`` (one per quarter, any positive scale) overrides ``shape``.
    """

    start: Period
    quarters: int = Field(default=1, ge=1, le=400)
    shape: Shape = Shape.flat
    weights: tuple[float, ...] | None = None

    @property
    def end(self) -> Period:
        """The last quarter in which money falls due."""
        return self.start + (self.quarters - 1)

    def fractions(self) -> tuple[float, ...]:
        """Share of the amount due in each quarter (sums to 1).

        Examples
        --------
        >>> Schedule(start="2026Q1", quarters=4, shape="ramp").fractions()
        (0.1, 0.2, 0.3, 0.4)
        """
        n = self.quarters
        if self.weights is not None:
            w = list(self.weights)
        elif self.shape is Shape.ramp:
            w = [float(k + 1) for k in range(n)]
        elif self.shape is Shape.bullet:
            w = [0.0] * (n - 1) + [1.0]
        elif self.shape is Shape.upfront:
            w = [1.0] + [0.0] * (n - 1)
        else:
            w = [1.0] * n
        total = sum(w)
        return tuple(x / total for x in w)


class Condition(Frozen):
    """A milestone: ``metric`` of ``firm`` ≥ ``threshold``.

    ``firm`` defaults to the contract's natural subject: the investee for an
    equity tranche (GW deployed), the holder for a warrant's GW metrics and
    the issuer for its share price. ``vendor`` restricts ``gw_bought`` /
    ``gw_deployed`` to chips from one vendor (AMD's warrant counts AMD GW only).
    """

    metric: Metric
    threshold: float = Field(ge=0)
    firm: str | None = Field(default=None, pattern=ID_PATTERN)
    vendor: str | None = Field(default=None, pattern=ID_PATTERN)


class _Base(Frozen):
    id: str = Field(pattern=ID_PATTERN)
    payer: str = Field(pattern=ID_PATTERN)
    payee: str = Field(pattern=ID_PATTERN)
    amount: Money = Field(ge=0)
    schedule: Schedule
    binding: bool = True
    status: Status = Status.signed
    confidence: float = Field(default=1.0, ge=0, le=1)
    name: str | None = None
    date: str | None = None
    sources: tuple[Source, ...] = ()
    assumptions: tuple[str, ...] = ()
    depends_on: str | None = Field(default=None, pattern=ID_PATTERN)
    notes: str | None = None


class ComputeCommitment(_Base):
    """Buyer (payer) → cloud (payee): scheduled payments for capacity.

    The cloud builds capacity ahead of delivery: capex = ``capex_intensity`` ×
    amount, bought from chip vendors by ``vendor_mix`` (vendor id → share),
    ``lead_time`` quarters before each payment. ``take_or_pay`` is the share
    owed even if the buyer uses less; on early termination the buyer owes
    ``cancellation_penalty`` × remaining value. On the buyer's default the
    cloud keeps the capacity (``capacity_gw``) stranded and re-rents it.
    """

    type: Literal[ContractType.compute_commitment] = ContractType.compute_commitment
    capacity_gw: float | None = Field(default=None, ge=0)
    take_or_pay: float = Field(default=1.0, ge=0, le=1)
    cancellation_penalty: float = Field(default=0.0, ge=0, le=1)
    capex_intensity: float = Field(default=0.6, ge=0, le=3)
    vendor_mix: dict[str, float] = Field(default_factory=dict)
    lead_time: int = Field(default=2, ge=0, le=20)


class ChipPurchase(_Base):
    """Buyer (payer) → vendor (payee): payment on delivery; the buyer books compute assets.

    ``serves`` names the compute commitment whose build-out this purchase is
    part of (its capex then is not counted twice).
    """

    type: Literal[ContractType.chip_purchase] = ContractType.chip_purchase
    capacity_gw: float | None = Field(default=None, ge=0)
    useful_life_years: float = Field(default=5.0, gt=0, le=30)
    serves: str | None = Field(default=None, pattern=ID_PATTERN)


class EquityTranche(Frozen):
    """One tranche of an equity investment: paid at ``at`` once its conditions hold."""

    amount: Money = Field(ge=0)
    at: Period
    conditions: tuple[Condition, ...] = ()


class EquityInvestment(_Base):
    """Investor (payer) → investee (payee): cash for a stake.

    Without ``tranches`` the amount follows the schedule unconditionally. The
    stake is amount / ``post_money_valuation`` of the investee, marked to its value.
    """

    type: Literal[ContractType.equity_investment] = ContractType.equity_investment
    post_money_valuation: Money | None = Field(default=None, gt=0)
    tranches: tuple[EquityTranche, ...] = ()


class WarrantTranche(Frozen):
    """Shares that vest once every condition holds (e.g. GW bought and a price hurdle)."""

    shares: float = Field(gt=0)
    conditions: tuple[Condition, ...] = ()


class Warrant(_Base):
    """Issuer (payer of shares) → holder (payee): ``shares`` at ``strike`` USD, vesting in tranches.

    ``amount`` is the notional at issue (shares × issue-day price) used for
    size comparisons; the value is computed. ``expiry`` bounds exercise.
    ``order`` names the purchase the warrant pays for (equity-for-orders).
    """

    type: Literal[ContractType.warrant] = ContractType.warrant
    shares: float = Field(gt=0)
    strike: float = Field(ge=0)
    tranches: tuple[WarrantTranche, ...] = ()
    expiry: Period | None = None
    order: str | None = Field(default=None, pattern=ID_PATTERN)


class Amortisation(StrEnum):
    bullet = "bullet"
    linear = "linear"


class LoanContract(_Base):
    """Lender (payer) → borrower (payee): principal drawn on the schedule, repaid by maturity.

    The rate is ``rate`` if given, else the scenario's base rate + ``spread``.
    ``collateral`` lists contract ids (receivables, LOIs) or ``"compute_assets"``;
    ``advance_rate`` is the share of the collateral's value lent against it.
    ``serves`` ties a project loan to the compute commitment it funds.
    """

    type: Literal[ContractType.loan] = ContractType.loan
    rate: float | None = Field(default=None, ge=0, le=1)
    spread: float = Field(default=0.02, ge=0, le=1)
    maturity: Period
    amortisation: Amortisation = Amortisation.bullet
    collateral: tuple[str, ...] = ()
    advance_rate: float | None = Field(default=None, ge=0, le=1)
    max_leverage: float | None = Field(default=None, gt=0)
    serves: str | None = Field(default=None, pattern=ID_PATTERN)


class BondContract(LoanContract):
    """A bond: a loan held by the bond market (usually the ``bond_market`` firm)."""

    type: Literal[ContractType.bond] = ContractType.bond  # type: ignore[assignment]


class LetterOfIntent(_Base):
    """A non-binding intent: no cash by itself; converts to ``converts_to`` or lapses.

    At ``decision`` it converts with probability ``conversion_probability``
    (the scenario may override it) into a contract of type ``converts_to``
    with the same parties, amount and schedule, else lapses. Lenders may
    advance credit against it at the scenario's LOI advance rate.
    """

    type: Literal[ContractType.letter_of_intent] = ContractType.letter_of_intent
    binding: bool = False
    converts_to: ContractType = ContractType.equity_investment
    decision: Period
    conversion_probability: float = Field(default=0.5, ge=0, le=1)
    capacity_gw: float | None = Field(default=None, ge=0)
    tranches: tuple[EquityTranche, ...] = ()


class BackstopContract(_Base):
    """Guarantor (payer) → beneficiary (payee): pays for unused capacity.

    When the utilisation of ``covers`` (a compute commitment, or the
    beneficiary's capacity) falls below ``threshold``, the guarantor pays for
    the shortfall, up to ``amount`` in total over the schedule.

    ``covers`` may also name a letter of intent that converts to a compute
    commitment (a lease renewal, say): the backstop is then a residual value
    guarantee on that capacity. If the deal lapses, its scheduled capacity
    counts as covered and unused, so the guarantor pays for it; if it
    converts, the backstop works as on any commitment.
    """

    type: Literal[ContractType.backstop] = ContractType.backstop
    threshold: float = Field(default=1.0, ge=0, le=1)
    covers: str | None = Field(default=None, pattern=ID_PATTERN)


Contract = Annotated[
    ComputeCommitment
    | ChipPurchase
    | EquityInvestment
    | Warrant
    | LoanContract
    | BondContract
    | LetterOfIntent
    | BackstopContract,
    Field(discriminator="type"),
]
"""Any contract; the ``type`` key picks the kind."""

CONTRACT_CLASSES: dict[ContractType, type[_Base]] = {
    ContractType.compute_commitment: ComputeCommitment,
    ContractType.chip_purchase: ChipPurchase,
    ContractType.equity_investment: EquityInvestment,
    ContractType.warrant: Warrant,
    ContractType.loan: LoanContract,
    ContractType.bond: BondContract,
    ContractType.letter_of_intent: LetterOfIntent,
    ContractType.backstop: BackstopContract,
}
