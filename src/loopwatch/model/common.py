"""Shared pieces of the domain model: the frozen base, sources, enums."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Frozen", "Source", "Status"]


class Frozen(BaseModel):
    """Base of every domain type: immutable, strict about unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


class Status(StrEnum):
    """How far a deal has gone, from talk to a definitive contract."""

    rumoured = "rumoured"
    announced = "announced"
    signed = "signed"
    definitive = "definitive"


class Source(Frozen):
    """Where a figure comes from.

    ``figures`` names the fields this source backs (``["cash", "debt"]``); an
    empty list means the source backs the whole record.
    """

    title: str = Field(min_length=1)
    url: str | None = None
    figures: tuple[str, ...] = ()
    note: str | None = None
