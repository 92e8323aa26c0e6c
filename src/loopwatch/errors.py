"""The loopwatch exception tree.

::

    LoopwatchError
     ├── DealBookError        bad deal-book input (file, line, dotted path)
     ├── ScenarioError        bad scenario input
     ├── AccountingError      a posting broke double entry (period, firm, residual)
     ├── ConvergenceError     an iterative kernel did not converge (iterations, residual)
     └── StoreError           the run store could not read or write

Users see ``str(error)``: one line per problem, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AccountingError",
    "ConvergenceError",
    "DealBookError",
    "LoopwatchError",
    "Problem",
    "ScenarioError",
    "StoreError",
]


class LoopwatchError(Exception):
    """Base class of every error loopwatch raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One problem in an input file: ``FILE:LINE: dotted.path: message``."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.path or '<root>'}: {self.message}"


class DealBookError(LoopwatchError):
    """Invalid deal-book (or other input-file) content.

    Carries every :class:`Problem` found; ``str()`` prints one per line.
    """

    def __init__(self, problems: list[Problem] | Problem) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))



class ScenarioError(DealBookError):
    """Invalid scenario content (same one-line-per-problem format)."""


class AccountingError(LoopwatchError):
    """A posting broke double entry: raised instead of producing numbers."""

    def __init__(self, period: str, firm: str, residual: float) -> None:
        self.period, self.firm, self.residual = period, firm, residual
        super().__init__(
            f"accounting break in {period} at {firm}: residual {residual:.6g} USD"
        )


class ConvergenceError(LoopwatchError):
    """An iterative kernel stopped before reaching its tolerance."""

    def __init__(self, iterations: int, residual: float) -> None:
        self.iterations, self.residual = iterations, residual
        super().__init__(
            f"did not converge after {iterations} iterations (residual {residual:.3g})"
        )


class StoreError(LoopwatchError):
    """The run store could not be read or written."""
