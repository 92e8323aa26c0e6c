"""Units of the domain: money (USD, float64) and quarterly periods.

Money is stored in USD (not billions). Input accepts plain numbers and the
strings analysts write: ``"$300B"``, ``"12.5bn"``, ``"750M"``, ``"1.4T"``,
``"40k"``, ``"1,300,000"``. A period is a calendar quarter written ``2027Q1``.

Both are pure value types: parsing a literal is not file IO, so they live in
``model/`` and every layer can use them.
"""

from __future__ import annotations

import re
from functools import total_ordering
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

__all__ = ["Money", "Period", "format_money", "parse_money", "parse_period"]

_SUFFIX = {
    "": 1.0,
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "mn": 1e6,
    "mm": 1e6,
    "million": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "billion": 1e9,
    "t": 1e12,
    "tn": 1e12,
    "trillion": 1e12,
}
_MONEY_RE = re.compile(
    r"^\s*(?P<sign>-)?\s*(?:US)?\$?\s*(?P<num>\d[\d,]*(?:\.\d*)?|\.\d+)(?:e(?P<exp>[+-]?\d+))?"
    r"\s*(?P<suffix>[a-z]*)\s*(?:usd)?\s*$",
    re.IGNORECASE,
)


def parse_money(value: Any) -> float:
    """Parse a money amount into USD.

    Parameters
    ----------
    value : float, int or str
        A number (USD) or a string such as ``"$300B"``, ``"12.5bn"``,
        ``"750M"``, ``"1.4T"``.

    Returns
    -------
    float
        The amount in USD.

    Raises
    ------
    ValueError
        If the value cannot be read as an amount, or is not finite.

    Examples
    --------
    >>> parse_money("$300B")
    300000000000.0
    >>> parse_money("12.5bn"), parse_money("750M"), parse_money("1.4T")
    (12500000000.0, 750000000.0, 1400000000000.0)
    >>> parse_money(42)
    42.0
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an amount")
    if isinstance(value, int | float):
        out = float(value)
    elif isinstance(value, str):
        m = _MONEY_RE.match(value)
        if m is None or m.group("suffix").lower() not in _SUFFIX:
            raise ValueError(f"cannot read {value!r} as an amount (try '12.5bn' or '$300B')")
        digits = m.group("num").replace(",", "")
        num = float(f"{digits}e{m.group('exp')}" if m.group("exp") else digits)
        scale = _SUFFIX[m.group("suffix").lower()]
        out = num * scale if scale != 1.0 else num
        if m.group("sign"):
            out = -out
    else:
        raise ValueError(f"{value!r} is not an amount")
    if out != out or out in (float("inf"), float("-inf")):
        raise ValueError(f"{value!r} is not a finite amount")
    return out


def format_money(usd: float) -> str:
    """Format USD compactly, the way analysts write it.

    Examples
    --------
    >>> format_money(3e11), format_money(1.25e10), format_money(7.5e8), format_money(1.4e12)
    ('$300B', '$12.5B', '$750M', '$1.4T')
    """
    sign = "-" if usd < 0 else ""
    a = abs(usd)
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if a >= size:
            return f"{sign}${a / size:.4g}{suffix}"
    return f"{sign}${a:.4g}"


_PERIOD_RE = re.compile(r"^\s*(\d{4})\s*-?\s*Q([1-4])\s*$", re.IGNORECASE)


@total_ordering
class Period:
    """A calendar quarter such as ``2027Q1``; ordered, hashable, with integer arithmetic.

    Examples
    --------
    >>> p = Period.parse("2027Q1")
    >>> p + 5, p.year, p.quarter, (p + 5) - p
    (Period('2028Q2'), 2027, 1, 5)
    """

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = int(index)  # quarters since year 0, Q1

    @classmethod
    def of(cls, year: int, quarter: int) -> Period:
        if not 1 <= quarter <= 4:
            raise ValueError(f"quarter must be 1..4, not {quarter}")
        return cls(year * 4 + quarter - 1)

    @classmethod
    def parse(cls, value: Any) -> Period:
        """Read ``"2027Q1"`` (also ``2027-Q1``, ``2027q1``) or a bare year (its Q1)."""
        if isinstance(value, Period):
            return value
        if isinstance(value, int) and not isinstance(value, bool) and 1900 <= value <= 2200:
            return cls.of(value, 1)
        if isinstance(value, str):
            m = _PERIOD_RE.match(value)
            if m:
                return cls.of(int(m.group(1)), int(m.group(2)))
            if value.strip().isdigit() and len(value.strip()) == 4:
                return cls.of(int(value), 1)
        raise ValueError(f"cannot read {value!r} as a quarter (write it like 2027Q1)")

    @property
    def year(self) -> int:
        return self.index // 4

    @property
    def quarter(self) -> int:
        return self.index % 4 + 1

    def __add__(self, quarters: int) -> Period:
        return Period(self.index + int(quarters))

    def __sub__(self, other: Period | int) -> Any:
        if isinstance(other, Period):
            return self.index - other.index
        return Period(self.index - int(other))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Period) and other.index == self.index

    def __lt__(self, other: Period) -> bool:
        return self.index < other.index

    def __hash__(self) -> int:
        return hash(self.index)

    def __str__(self) -> str:
        return f"{self.year}Q{self.quarter}"

    def __repr__(self) -> str:
        return f"Period('{self}')"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_plain_validator_function(
            cls.parse, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, core: Any, handler: Any) -> dict[str, Any]:
        return {"type": "string", "pattern": r"^\d{4}Q[1-4]$", "description": "a quarter, e.g. 2027Q1"}


def parse_period(value: Any) -> Period:
    """Parse a quarter; see :meth:`Period.parse`."""
    return Period.parse(value)


Money = Annotated[
    float,
    BeforeValidator(parse_money),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number"},
                {"type": "string", "pattern": r"^\s*-?\$?\s*[\d.,]+\s*([kKmMbBtT][a-zA-Z]*)?\s*$"},
            ],
            "description": "USD: a number or a string such as '$300B', '12.5bn', '750M', '1.4T'",
        }
    ),
]
"""USD amount field: accepts numbers and strings like ``"$300B"``."""
