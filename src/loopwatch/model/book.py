"""The deal book: firms, contracts and the assumptions behind unsourced figures."""

from __future__ import annotations

from functools import cached_property

from pydantic import Field

from loopwatch.model.common import Frozen, Source
from loopwatch.model.contracts import Contract, ContractType
from loopwatch.model.firm import ID_PATTERN, Firm
from loopwatch.model.units import Period

__all__ = ["Assumption", "DealBook"]


class Assumption(Frozen):
    """A figure the book uses that no source gives, with its rationale.

    ``applies_to`` lists the contract or firm ids that use it; ``alternatives``
    names the other figures sources give where they conflict.
    """

    id: str = Field(pattern=ID_PATTERN)
    statement: str = Field(min_length=1)
    rationale: str = Field(min_length=1)
    applies_to: tuple[str, ...] = ()
    alternatives: str | None = None
    sources: tuple[Source, ...] = ()


class DealBook(Frozen):
    """Firms and the contracts that bind them, over ``start``–``horizon`` (quarters).

    Examples
    --------
    >>> from loopwatch import load_deal_book
    >>> book = load_deal_book("three-party-loop")
    >>> sorted(f.id for f in book.firms)
    ['nvidia', 'openai', 'oracle']
    """

    name: str = Field(pattern=ID_PATTERN)
    title: str | None = None
    description: str | None = None
    start: Period = Field(default_factory=lambda: Period.parse("2025Q1"))
    horizon: Period = Field(default_factory=lambda: Period.parse("2032Q4"))
    firms: tuple[Firm, ...] = ()
    contracts: tuple[Contract, ...] = ()
    assumptions: tuple[Assumption, ...] = ()

    @property
    def quarters(self) -> int:
        """Number of quarters from start to horizon, inclusive."""
        quarters: int = self.horizon - self.start + 1
        return quarters

    @cached_property
    def firm_index(self) -> dict[str, int]:
        """Firm id → position in :attr:`firms`."""
        return {f.id: i for i, f in enumerate(self.firms)}

    @cached_property
    def contract_index(self) -> dict[str, int]:
        """Contract id → position in :attr:`contracts`."""
        return {c.id: i for i, c in enumerate(self.contracts)}

    def firm(self, firm_id: str) -> Firm:
        return self.firms[self.firm_index[firm_id]]

    def contract(self, contract_id: str) -> Contract:
        return self.contracts[self.contract_index[contract_id]]

    def of_type(self, *types: ContractType) -> list[Contract]:
        """Contracts of the given types, in book order."""
        return [c for c in self.contracts if c.type in types]
